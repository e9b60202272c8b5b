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

complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_needs_command" -l vault-url -d 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_needs_command" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_needs_command" -s v -l verbose -d 'More logging (-v debug, -vv trace). RUST_LOG overrides'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_needs_command" -s V -l version -d 'Print version'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_needs_command" -f -a "serve" -d 'Run the octez-compatible remote signer (`--dev`: with the bundled emulator)'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_needs_command" -f -a "verify" -d 'Check tz2/tz3 public key hashes and signatures (for baker setup scripts)'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_needs_command" -f -a "import" -d 'Import secret keys from files into the vault (HSM-protected unless --software)'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_needs_command" -f -a "sign" -d 'Sign one request after you have seen it decoded and confirmed it'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_needs_command" -f -a "watermarks" -d 'Show the high watermarks, or import another signer\'s (never lowering one)'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_needs_command" -f -a "emulator" -d 'Run the bundled Azure Key Vault emulator (HTTPS on loopback) for development and tests'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l address -d 'Address to listen on (loopback by default: expose the signer only to the baker)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l port -d 'Port of the signer API (octez\'s default is 6732)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l data-dir -d 'Directory of the high-watermark files and the lock [default: $STATE_DIRECTORY, else ~/.tezos-azure-signer; with --dev: that directory\'s `dev` subdirectory]' -r -F
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l magic-bytes -d 'Magic bytes (request kinds) allowed, comma-separated: 0x11 block, 0x12 preattestation, 0x13 attestation, 0x03 generic operation, 0x05 Michelson data, …' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l key -d 'Serve only these vault keys, by vault key name or pkh (repeat, or comma-separate in the variable). All usable keys when absent' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l policy -d 'Policy file (TOML): per key, allowed request kinds and chain ids' -r -F
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l authorized-keys -d 'Public keys allowed to authenticate requests (octez format); with it, unauthenticated requests are refused' -r -F
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l tls-cert -d 'TLS certificate chain (PEM); serves HTTPS with --tls-key' -r -F
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l tls-key -d 'TLS private key (PEM)' -r -F
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l metrics-address -d 'Address of the `/metrics` (Prometheus), `/healthz` (liveness) and `/readyz` (readiness) listener, or `off` for none' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l shared-watermarks -d 'Share high watermarks with other signers of the same keys through an Azure Blob Storage container: https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX], with a SAS token in the query string or, without one, the vault\'s credential chain (the identity needs "Storage Blob Data Contributor" on the container). The local files stay the floor' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l min-level -d 'Refuse every watermarked request below this level (migration from a signer whose watermarks cannot be imported: set it above the last level that signer signed)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l confirm -d 'Magic bytes (0x03 and/or 0x05) whose requests the policy refuses are held for a person instead (`sign --pending` on this machine approves or rejects them). What cannot be decoded or counted is refused, never held' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l confirm-timeout -d 'How long a held request waits for its answer' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l max-held -d 'Requests that may wait for a person at once (--confirm); more are refused at once (503)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l max-held-per-client -d 'Requests from one client address that may wait for a person at once (--confirm); more from it are refused at once (503)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l max-queue-per-key -d 'Requests that may wait for one key while it signs; more are refused at once (503)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l max-chains-per-key -d 'Chains one key may hold watermarks on; a request for another chain is refused (403)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l max-connections -d 'Open connections served at once (API and metrics each); further ones are closed at once. Lowered to fit the file-descriptor limit' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l idle-timeout -d 'A connection with no request in progress for this long is closed (HTTP/1 and HTTP/2)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l header-timeout -d 'Time limit for a request\'s head (and a new connection\'s first request)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l request-timeout -d 'Time limit of one request; a sign request is not sent to the vault once it is over' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l hedge-delay -d 'With several --vault-url: how long the preferred vault has to answer before the next one is asked too ("auto": about its recent 95th percentile, 10 ms to 1 s; or a duration). A vault that errors, throttles or is demoted hands over at once' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l hedge-max-ratio -d 'With several --vault-url: at most this share of signatures sends a second vault request because the first was slow (a budget: the share plus a burst of 5)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l demote-after -d 'With several --vault-url: failures in a row that demote a vault (it is then asked last and probed with one signature every 5 s until it signs again)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l dev-latency-ms -d 'With --dev: the emulator answers each vault request after this many milliseconds (to see the signer under a real vault\'s latency)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l dev-vaults -d 'With --dev: emulate this many vaults (one tenant, one CA, the demo keys in each), used as several --vault-url are' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l auth -d 'How to authenticate to Azure (auto: client secret, workload identity, managed identity, Azure CLI — the first that is configured)' -r -f -a "auto\t'Client secret, workload identity, managed identity, Azure CLI: the first that is configured'
managed-identity\t'Managed identity: App Service (IDENTITY_ENDPOINT) or the VM metadata endpoint'
client-secret\t'Service principal: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET'
workload-identity\t'Kubernetes workload identity: AZURE_FEDERATED_TOKEN_FILE (+ tenant and client id)'
azure-cli\t'The Azure CLI\'s login (`az login`)'"
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l sign-deadline -d 'Total time for one signature, retries included (e.g. 3s, 1500ms)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l read-deadline -d 'Total time for one read or import (listing, get, import), retries included' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l vault-ca -d 'An extra CA certificate (PEM) to trust for the vault and token endpoints (e.g. the emulator\'s); the system roots stay trusted' -r -F
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l vault-url -d 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l known-keys -d 'Answer `GET /known_keys` with the pkhs this signer serves'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l reset-spending -d 'Start although the 24-hour spending log is missing from a data directory that has signed before under a max_total_24h: the totals begin from zero (deliberately)'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -l dev -d 'Development mode: run the bundled Key Vault emulator in-process, create a demo tz2 and tz3 key on first run, and serve them through the production code path'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -s v -l verbose -d 'More logging (-v debug, -vv trace). RUST_LOG overrides'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l key -d 'Key file: PEM (SEC1, PKCS#8, encrypted, public key), DER, JWK JSON or a Tezos base58 key (spsk, p2sk, sppk, p2pk, edpk)' -r -F
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l public-key -d 'A Tezos public key (sppk…, p2pk…, edpk…)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l passphrase-file -d 'File holding the passphrase of an encrypted --key (default: hidden prompt on a terminal)' -r -F
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l vault-key -d 'A key in the vault, by name (its latest version)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l auth -d 'How to authenticate to Azure (auto: client secret, workload identity, managed identity, Azure CLI — the first that is configured)' -r -f -a "auto\t'Client secret, workload identity, managed identity, Azure CLI: the first that is configured'
managed-identity\t'Managed identity: App Service (IDENTITY_ENDPOINT) or the VM metadata endpoint'
client-secret\t'Service principal: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET'
workload-identity\t'Kubernetes workload identity: AZURE_FEDERATED_TOKEN_FILE (+ tenant and client id)'
azure-cli\t'The Azure CLI\'s login (`az login`)'"
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l sign-deadline -d 'Total time for one signature, retries included (e.g. 3s, 1500ms)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l read-deadline -d 'Total time for one read or import (listing, get, import), retries included' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l vault-ca -d 'An extra CA certificate (PEM) to trust for the vault and token endpoints (e.g. the emulator\'s); the system roots stay trusted' -r -F
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l pkh -d 'Check that the key hashes to this public key hash (tz1…, tz2…, tz3…)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l signature -d 'Check this Tezos signature (spsig1…, p2sig…, edsig…, sig…) over --data' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l data -d 'The signed bytes, hex (an optional 0x prefix is ignored); the digest is BLAKE2b-256' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l vault-url -d 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l vault-keys -d 'List every usable key in the vault with curve, pkh and state'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -l json -d 'Print one JSON object instead of text'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -s v -l verbose -d 'More logging (-v debug, -vv trace). RUST_LOG overrides'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand import" -l key -d 'Key file holding a secret key: PEM (SEC1, PKCS#8, encrypted), DER, JWK with d, or a Tezos spsk/p2sk. Repeat for several keys' -r -F
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand import" -l name -d 'Vault key name (only with a single --key). Default: the key\'s pkh' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand import" -l passphrase-file -d 'File holding the passphrase of encrypted keys (default: hidden prompt on a terminal)' -r -F
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand import" -l auth -d 'How to authenticate to Azure (auto: client secret, workload identity, managed identity, Azure CLI — the first that is configured)' -r -f -a "auto\t'Client secret, workload identity, managed identity, Azure CLI: the first that is configured'
managed-identity\t'Managed identity: App Service (IDENTITY_ENDPOINT) or the VM metadata endpoint'
client-secret\t'Service principal: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET'
workload-identity\t'Kubernetes workload identity: AZURE_FEDERATED_TOKEN_FILE (+ tenant and client id)'
azure-cli\t'The Azure CLI\'s login (`az login`)'"
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand import" -l sign-deadline -d 'Total time for one signature, retries included (e.g. 3s, 1500ms)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand import" -l read-deadline -d 'Total time for one read or import (listing, get, import), retries included' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand import" -l vault-ca -d 'An extra CA certificate (PEM) to trust for the vault and token endpoints (e.g. the emulator\'s); the system roots stay trusted' -r -F
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand import" -l vault-url -d 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand import" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand import" -l software -d 'Software-protected key instead of HSM-protected (HSM needs a Premium vault or a Managed HSM)'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand import" -l force -d 'Import even when the name exists (Key Vault then adds a new version)'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand import" -l dry-run -d 'Read the keys and check the vault, but upload nothing'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand import" -l json -d 'Print one JSON object on stdout instead of text'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand import" -s v -l verbose -d 'More logging (-v debug, -vv trace). RUST_LOG overrides'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand sign" -l key -d 'The vault key to sign with: its pkh or its vault name' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand sign" -l file -d 'Read the hex from this file' -r -F
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand sign" -l approve -d 'With --pending and --key PKH: approve that key\'s held request with this hash, without a prompt' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand sign" -l reject -d 'With --pending and --key PKH: reject that key\'s held request with this hash' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand sign" -l data-dir -d 'Data directory of the high watermarks (the same default as `serve`)' -r -F
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand sign" -l auth -d 'How to authenticate to Azure (auto: client secret, workload identity, managed identity, Azure CLI — the first that is configured)' -r -f -a "auto\t'Client secret, workload identity, managed identity, Azure CLI: the first that is configured'
managed-identity\t'Managed identity: App Service (IDENTITY_ENDPOINT) or the VM metadata endpoint'
client-secret\t'Service principal: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET'
workload-identity\t'Kubernetes workload identity: AZURE_FEDERATED_TOKEN_FILE (+ tenant and client id)'
azure-cli\t'The Azure CLI\'s login (`az login`)'"
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand sign" -l sign-deadline -d 'Total time for one signature, retries included (e.g. 3s, 1500ms)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand sign" -l read-deadline -d 'Total time for one read or import (listing, get, import), retries included' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand sign" -l vault-ca -d 'An extra CA certificate (PEM) to trust for the vault and token endpoints (e.g. the emulator\'s); the system roots stay trusted' -r -F
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand sign" -l vault-url -d 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand sign" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand sign" -l yes -d 'Sign without asking (scripts). What would be shown is still printed on stderr'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand sign" -l full -d 'Show long Michelson strings and bytes whole (with --pending too); without it they are shortened to their start, length and blake2b-256 hash'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand sign" -l json -d 'Print one JSON object on stdout: the decoded request, the signature and the signed operation ready for injection'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand sign" -l blind -d 'Also offer to sign bytes that cannot be decoded, showing the base58 blake2b-256 hash of the whole payload for comparison on another screen'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand sign" -l pending -d 'Answer the requests a running `serve --confirm` holds (same machine, its data directory): each is shown decoded, you approve or reject it. New ones appear as they come'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand sign" -l list -d 'With --pending: print the held requests and exit'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand sign" -s v -l verbose -d 'More logging (-v debug, -vv trace). RUST_LOG overrides'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand sign" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and not __fish_seen_subcommand_from show import push help" -l data-dir -d 'Data directory of the high watermarks (the same default as `serve`)' -r -F
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and not __fish_seen_subcommand_from show import push help" -l vault-url -d 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and not __fish_seen_subcommand_from show import push help" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and not __fish_seen_subcommand_from show import push help" -s v -l verbose -d 'More logging (-v debug, -vv trace). RUST_LOG overrides'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and not __fish_seen_subcommand_from show import push help" -s h -l help -d 'Print help'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and not __fish_seen_subcommand_from show import push help" -f -a "show" -d 'Every mark: chain, key, kind, level, round, and signed, reserved or unreleased'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and not __fish_seen_subcommand_from show import push help" -f -a "import" -d 'Raise this directory\'s marks to another signer\'s, never lowering one'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and not __fish_seen_subcommand_from show import push help" -f -a "push" -d 'Seed a shared-watermark container (`serve --shared-watermarks`) with this directory\'s marks, raising each slot that is missing or lower there, never lowering one'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and not __fish_seen_subcommand_from show import push help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from show" -l data-dir -d 'Data directory of the high watermarks (the same default as `serve`)' -r -F
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from show" -l vault-url -d 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from show" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from show" -l json -d 'One JSON object on stdout'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More logging (-v debug, -vv trace). RUST_LOG overrides'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from import" -l from -d 'Whose files: octez (octez-signer\'s base directory) or signatory (the directory holding `watermark_v2/`)' -r -f -a "octez\t''
signatory\t''"
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from import" -l data-dir -d 'Data directory of the high watermarks (the same default as `serve`)' -r -F
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from import" -l vault-url -d 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from import" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from import" -s v -l verbose -d 'More logging (-v debug, -vv trace). RUST_LOG overrides'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from push" -l auth -d 'How to authenticate to Azure (auto: client secret, workload identity, managed identity, Azure CLI — the first that is configured)' -r -f -a "auto\t'Client secret, workload identity, managed identity, Azure CLI: the first that is configured'
managed-identity\t'Managed identity: App Service (IDENTITY_ENDPOINT) or the VM metadata endpoint'
client-secret\t'Service principal: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET'
workload-identity\t'Kubernetes workload identity: AZURE_FEDERATED_TOKEN_FILE (+ tenant and client id)'
azure-cli\t'The Azure CLI\'s login (`az login`)'"
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from push" -l sign-deadline -d 'Total time for one signature, retries included (e.g. 3s, 1500ms)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from push" -l read-deadline -d 'Total time for one read or import (listing, get, import), retries included' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from push" -l vault-ca -d 'An extra CA certificate (PEM) to trust for the vault and token endpoints (e.g. the emulator\'s); the system roots stay trusted' -r -F
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from push" -l data-dir -d 'Data directory of the high watermarks (the same default as `serve`)' -r -F
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from push" -l vault-url -d 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from push" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from push" -s v -l verbose -d 'More logging (-v debug, -vv trace). RUST_LOG overrides'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from push" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from help" -f -a "show" -d 'Every mark: chain, key, kind, level, round, and signed, reserved or unreleased'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from help" -f -a "import" -d 'Raise this directory\'s marks to another signer\'s, never lowering one'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from help" -f -a "push" -d 'Seed a shared-watermark container (`serve --shared-watermarks`) with this directory\'s marks, raising each slot that is missing or lower there, never lowering one'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand watermarks; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l state-dir -d 'Keep keys and the CA/leaf certificates in DIR (created 0700; keys.json is 0600)' -r -F
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l port -d 'HTTPS port of the vault (and of the Entra token endpoint) on 127.0.0.1; 0 picks one' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l identity-port -d 'Plain-http port of the managed-identity endpoint on 127.0.0.1; 0 picks one' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l latency-ms -d 'Delay every data-plane request by this many milliseconds' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l throttle-every -d 'Answer every Nth authenticated data-plane request with 429 Throttled' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l retry-after -d 'Retry-After seconds sent with injected 429s' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l error-rate -d 'Fraction (0..1) of authenticated data-plane requests failing with 500' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l wrong-signature-rate -d 'Fraction (0..1) of sign replies carrying a signature that does not verify' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l malformed-signature-rate -d 'Fraction (0..1) of sign replies whose value is malformed (63 or 65 bytes, r = 0, s out of range, not base64url; in turn)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l slow-rate -d 'Fraction (0..1) of data-plane requests delayed by --slow-ms more (a latency tail)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l slow-ms -d 'The extra delay of a slow request (--slow-rate)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l throttle-per-window -d 'Key Vault\'s own throttling: at most N authenticated data-plane requests per window (--throttle-window-ms); the rest get 429 without Retry-After, as the service answers' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l throttle-window-ms -d 'The window of --throttle-per-window (Key Vault counts per 10 seconds)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l vaults -d 'Serve this many vaults in one tenant (one CA, one token issuer: a token is good for each, as for two real vaults of one tenant), each with its own keys and port; the first on --port, the others on ports the OS picks, their state under --state-dir/vault-N. --print-env lists every URL in AZURE_KEYVAULT_URI, comma-separated; the faults apply to the first (the others\' through their /_emulator/faults endpoint)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l token-lifetime-secs -d 'Lifetime of minted access tokens (short values exercise clients\' token refresh)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l tenant-id -d 'Tenant named in the 401 challenge and accepted by /{tenant}/oauth2/v2.0/token' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l client-id -d 'Client id of the one app registered for the client-credentials flow' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l client-secret -d 'Client secret of that app (a test value)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l federated-token -d 'Federated token that app trusts as a workload identity\'s client assertion (put the same text in the file named by AZURE_FEDERATED_TOKEN_FILE). Default: random, i.e. refused' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l vault-url -d 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)' -r
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l ephemeral -d 'Keep keys in memory only; the CA goes to a temporary directory removed on exit'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l print-env -d 'Print shell `export` lines (AZURE_KEYVAULT_URI, SSL_CERT_FILE, IDENTITY_ENDPOINT, IDENTITY_HEADER) once listening, then keep serving'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l empty-pages -d 'Page key listings as the service sometimes does: an empty page carrying a nextLink before every page, and an empty last page after the last full one'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l standard-tier -d 'Answer as a Standard-tier vault: HSM-protected imports are refused with the service\'s message (the default is Premium, which holds both)'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -l managed-hsm -d 'Answer as a Managed HSM (its challenge resource and token audience, empty 401 bodies, no nextLink member on the last page, `alg` in sign replies, every key EC-HSM); reach it as https://NAME.managedhsm.azure.net:PORT resolved to 127.0.0.1'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -s v -l verbose -d 'More logging (-v debug, -vv trace). RUST_LOG overrides'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand emulator" -s h -l help -d 'Print help'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand help; and not __fish_seen_subcommand_from serve verify import sign watermarks emulator help" -f -a "serve" -d 'Run the octez-compatible remote signer (`--dev`: with the bundled emulator)'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand help; and not __fish_seen_subcommand_from serve verify import sign watermarks emulator help" -f -a "verify" -d 'Check tz2/tz3 public key hashes and signatures (for baker setup scripts)'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand help; and not __fish_seen_subcommand_from serve verify import sign watermarks emulator help" -f -a "import" -d 'Import secret keys from files into the vault (HSM-protected unless --software)'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand help; and not __fish_seen_subcommand_from serve verify import sign watermarks emulator help" -f -a "sign" -d 'Sign one request after you have seen it decoded and confirmed it'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand help; and not __fish_seen_subcommand_from serve verify import sign watermarks emulator help" -f -a "watermarks" -d 'Show the high watermarks, or import another signer\'s (never lowering one)'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand help; and not __fish_seen_subcommand_from serve verify import sign watermarks emulator help" -f -a "emulator" -d 'Run the bundled Azure Key Vault emulator (HTTPS on loopback) for development and tests'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand help; and not __fish_seen_subcommand_from serve verify import sign watermarks emulator help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand help; and __fish_seen_subcommand_from watermarks" -f -a "show" -d 'Every mark: chain, key, kind, level, round, and signed, reserved or unreleased'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand help; and __fish_seen_subcommand_from watermarks" -f -a "import" -d 'Raise this directory\'s marks to another signer\'s, never lowering one'
complete -c tezos-azure-signer -n "__fish_tezos_azure_signer_using_subcommand help; and __fish_seen_subcommand_from watermarks" -f -a "push" -d 'Seed a shared-watermark container (`serve --shared-watermarks`) with this directory\'s marks, raising each slot that is missing or lower there, never lowering one'
