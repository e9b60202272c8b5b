# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_tezos_azure_signer_global_optspecs
    string join \n vault-url= v/verbose log-format= h/help V/version
end

function __fish_tezos_azure_signer_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_tezos_azure_signer_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_tezos_azure_signer_using_subcommand
    set -l cmd (__fish_tezos_azure_signer_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_needs_command" -l vault-url -d 'Key Vault URL, e.g. https://myvault.vault.azure.net' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_needs_command" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_needs_command" -s v -l verbose -d 'More logging (-v debug, -vv trace). RUST_LOG overrides'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_needs_command" -s V -l version -d 'Print version'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_needs_command" -f -a "verify" -d 'Check tz2/tz3 public key hashes and signatures (for baker setup scripts)'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l key -d 'Key file: PEM (SEC1, PKCS#8, encrypted, public key), DER, JWK JSON or a Tezos base58 key (spsk, p2sk, sppk, p2pk, edpk)' -r -F
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l public-key -d 'A Tezos public key (sppk…, p2pk…, edpk…)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l passphrase-file -d 'File holding the passphrase of an encrypted --key (default: hidden prompt on a terminal)' -r -F
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l pkh -d 'Check that the key hashes to this public key hash (tz1…, tz2…, tz3…)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l signature -d 'Check this Tezos signature (spsig1…, p2sig…, edsig…, sig…) over --data' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l data -d 'The signed bytes, hex (an optional 0x prefix is ignored); the digest is BLAKE2b-256' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l vault-url -d 'Key Vault URL, e.g. https://myvault.vault.azure.net' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l json -d 'Print one JSON object instead of text'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -s v -l verbose -d 'More logging (-v debug, -vv trace). RUST_LOG overrides'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -s h -l help -d 'Print help'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand help; and not __fish_seen_subcommand_from verify help" -f -a "verify" -d 'Check tz2/tz3 public key hashes and signatures (for baker setup scripts)'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand help; and not __fish_seen_subcommand_from verify help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
