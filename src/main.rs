fn main() -> std::process::ExitCode {
    tezos_azure_signer::cli::main()
}
