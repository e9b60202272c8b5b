fn main() -> std::process::ExitCode {
    tezos_azure_signer::commands::main()
}
