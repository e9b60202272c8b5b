
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'tezos-azure-signer' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'tezos-azure-signer'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'tezos-azure-signer' {
            [CompletionResult]::new('--vault-url', '--vault-url', [CompletionResultType]::ParameterName, 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the octez-compatible remote signer (`--dev`: with the bundled emulator)')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check tz2/tz3 public key hashes and signatures (for baker setup scripts)')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Import secret keys from files into the vault (HSM-protected unless --software)')
            [CompletionResult]::new('sign', 'sign', [CompletionResultType]::ParameterValue, 'Sign one request after you have seen it decoded and confirmed it')
            [CompletionResult]::new('watermarks', 'watermarks', [CompletionResultType]::ParameterValue, 'Show the high watermarks, or import another signer''s (never lowering one)')
            [CompletionResult]::new('emulator', 'emulator', [CompletionResultType]::ParameterValue, 'Run the bundled Azure Key Vault emulator (HTTPS on loopback) for development and tests')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'tezos-azure-signer;serve' {
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Address to listen on (loopback by default: expose the signer only to the baker)')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port of the signer API (octez''s default is 6732)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Directory of the high-watermark files and the lock [default: $STATE_DIRECTORY, else ~/.tezos-azure-signer; with --dev: that directory''s `dev` subdirectory]')
            [CompletionResult]::new('--magic-bytes', '--magic-bytes', [CompletionResultType]::ParameterName, 'Magic bytes (request kinds) allowed, comma-separated: 0x11 block, 0x12 preattestation, 0x13 attestation, 0x03 generic operation, 0x05 Michelson data, …')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Serve only these vault keys, by vault key name or pkh (repeat, or comma-separate in the variable). All usable keys when absent')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Policy file (TOML): per key, allowed request kinds and chain ids')
            [CompletionResult]::new('--authorized-keys', '--authorized-keys', [CompletionResultType]::ParameterName, 'Public keys allowed to authenticate requests (octez format); with it, unauthenticated requests are refused')
            [CompletionResult]::new('--tls-cert', '--tls-cert', [CompletionResultType]::ParameterName, 'TLS certificate chain (PEM); serves HTTPS with --tls-key')
            [CompletionResult]::new('--tls-key', '--tls-key', [CompletionResultType]::ParameterName, 'TLS private key (PEM)')
            [CompletionResult]::new('--metrics-address', '--metrics-address', [CompletionResultType]::ParameterName, 'Address of the `/metrics` (Prometheus), `/healthz` (liveness) and `/readyz` (readiness) listener, or `off` for none')
            [CompletionResult]::new('--shared-watermarks', '--shared-watermarks', [CompletionResultType]::ParameterName, 'Share high watermarks with other signers of the same keys through an Azure Blob Storage container: https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX], with a SAS token in the query string or, without one, the vault''s credential chain (the identity needs "Storage Blob Data Contributor" on the container). The local files stay the floor')
            [CompletionResult]::new('--min-level', '--min-level', [CompletionResultType]::ParameterName, 'Refuse every watermarked request below this level (migration from a signer whose watermarks cannot be imported: set it above the last level that signer signed)')
            [CompletionResult]::new('--confirm', '--confirm', [CompletionResultType]::ParameterName, 'Magic bytes (0x03 and/or 0x05) whose requests the policy refuses are held for a person instead (`sign --pending` on this machine approves or rejects them). What cannot be decoded or counted is refused, never held')
            [CompletionResult]::new('--confirm-timeout', '--confirm-timeout', [CompletionResultType]::ParameterName, 'How long a held request waits for its answer')
            [CompletionResult]::new('--max-held', '--max-held', [CompletionResultType]::ParameterName, 'Requests that may wait for a person at once (--confirm); more are refused at once (503)')
            [CompletionResult]::new('--max-held-per-client', '--max-held-per-client', [CompletionResultType]::ParameterName, 'Requests from one client address that may wait for a person at once (--confirm); more from it are refused at once (503)')
            [CompletionResult]::new('--max-queue-per-key', '--max-queue-per-key', [CompletionResultType]::ParameterName, 'Requests that may wait for one key while it signs; more are refused at once (503)')
            [CompletionResult]::new('--max-chains-per-key', '--max-chains-per-key', [CompletionResultType]::ParameterName, 'Chains one key may hold watermarks on; a request for another chain is refused (403)')
            [CompletionResult]::new('--max-connections', '--max-connections', [CompletionResultType]::ParameterName, 'Open connections served at once (API and metrics each); further ones are closed at once. Lowered to fit the file-descriptor limit')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'A connection with no request in progress for this long is closed (HTTP/1 and HTTP/2)')
            [CompletionResult]::new('--header-timeout', '--header-timeout', [CompletionResultType]::ParameterName, 'Time limit for a request''s head (and a new connection''s first request)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'Time limit of one request; a sign request is not sent to the vault once it is over')
            [CompletionResult]::new('--hedge-delay', '--hedge-delay', [CompletionResultType]::ParameterName, 'With several --vault-url: how long the preferred vault has to answer before the next one is asked too ("auto": about its recent 95th percentile, 10 ms to 1 s; or a duration). A vault that errors, throttles or is demoted hands over at once')
            [CompletionResult]::new('--hedge-max-ratio', '--hedge-max-ratio', [CompletionResultType]::ParameterName, 'With several --vault-url: at most this share of signatures sends a second vault request because the first was slow (a budget: the share plus a burst of 5)')
            [CompletionResult]::new('--demote-after', '--demote-after', [CompletionResultType]::ParameterName, 'With several --vault-url: failures in a row that demote a vault (it is then asked last and probed with one signature every 5 s until it signs again)')
            [CompletionResult]::new('--dev-latency-ms', '--dev-latency-ms', [CompletionResultType]::ParameterName, 'With --dev: the emulator answers each vault request after this many milliseconds (to see the signer under a real vault''s latency)')
            [CompletionResult]::new('--dev-vaults', '--dev-vaults', [CompletionResultType]::ParameterName, 'With --dev: emulate this many vaults (one tenant, one CA, the demo keys in each), used as several --vault-url are')
            [CompletionResult]::new('--auth', '--auth', [CompletionResultType]::ParameterName, 'How to authenticate to Azure (auto: client secret, workload identity, managed identity, Azure CLI — the first that is configured)')
            [CompletionResult]::new('--sign-deadline', '--sign-deadline', [CompletionResultType]::ParameterName, 'Total time for one signature, retries included (e.g. 3s, 1500ms)')
            [CompletionResult]::new('--read-deadline', '--read-deadline', [CompletionResultType]::ParameterName, 'Total time for one read or import (listing, get, import), retries included')
            [CompletionResult]::new('--vault-ca', '--vault-ca', [CompletionResultType]::ParameterName, 'An extra CA certificate (PEM) to trust for the vault and token endpoints (e.g. the emulator''s); the system roots stay trusted')
            [CompletionResult]::new('--vault-url', '--vault-url', [CompletionResultType]::ParameterName, 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('--known-keys', '--known-keys', [CompletionResultType]::ParameterName, 'Answer `GET /known_keys` with the pkhs this signer serves')
            [CompletionResult]::new('--reset-spending', '--reset-spending', [CompletionResultType]::ParameterName, 'Start although the 24-hour spending log is missing from a data directory that has signed before under a max_total_24h: the totals begin from zero (deliberately)')
            [CompletionResult]::new('--dev', '--dev', [CompletionResultType]::ParameterName, 'Development mode: run the bundled Key Vault emulator in-process, create a demo tz2 and tz3 key on first run, and serve them through the production code path')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tezos-azure-signer;verify' {
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Key file: PEM (SEC1, PKCS#8, encrypted, public key), DER, JWK JSON or a Tezos base58 key (spsk, p2sk, sppk, p2pk, edpk)')
            [CompletionResult]::new('--public-key', '--public-key', [CompletionResultType]::ParameterName, 'A Tezos public key (sppk…, p2pk…, edpk…)')
            [CompletionResult]::new('--passphrase-file', '--passphrase-file', [CompletionResultType]::ParameterName, 'File holding the passphrase of an encrypted --key (default: hidden prompt on a terminal)')
            [CompletionResult]::new('--vault-key', '--vault-key', [CompletionResultType]::ParameterName, 'A key in the vault, by name (its latest version)')
            [CompletionResult]::new('--auth', '--auth', [CompletionResultType]::ParameterName, 'How to authenticate to Azure (auto: client secret, workload identity, managed identity, Azure CLI — the first that is configured)')
            [CompletionResult]::new('--sign-deadline', '--sign-deadline', [CompletionResultType]::ParameterName, 'Total time for one signature, retries included (e.g. 3s, 1500ms)')
            [CompletionResult]::new('--read-deadline', '--read-deadline', [CompletionResultType]::ParameterName, 'Total time for one read or import (listing, get, import), retries included')
            [CompletionResult]::new('--vault-ca', '--vault-ca', [CompletionResultType]::ParameterName, 'An extra CA certificate (PEM) to trust for the vault and token endpoints (e.g. the emulator''s); the system roots stay trusted')
            [CompletionResult]::new('--pkh', '--pkh', [CompletionResultType]::ParameterName, 'Check that the key hashes to this public key hash (tz1…, tz2…, tz3…)')
            [CompletionResult]::new('--signature', '--signature', [CompletionResultType]::ParameterName, 'Check this Tezos signature (spsig1…, p2sig…, edsig…, sig…) over --data')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'The signed bytes, hex (an optional 0x prefix is ignored); the digest is BLAKE2b-256')
            [CompletionResult]::new('--vault-url', '--vault-url', [CompletionResultType]::ParameterName, 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('--vault-keys', '--vault-keys', [CompletionResultType]::ParameterName, 'List every usable key in the vault with curve, pkh and state')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object instead of text')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tezos-azure-signer;import' {
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Key file holding a secret key: PEM (SEC1, PKCS#8, encrypted), DER, JWK with d, or a Tezos spsk/p2sk. Repeat for several keys')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Vault key name (only with a single --key). Default: the key''s pkh')
            [CompletionResult]::new('--passphrase-file', '--passphrase-file', [CompletionResultType]::ParameterName, 'File holding the passphrase of encrypted keys (default: hidden prompt on a terminal)')
            [CompletionResult]::new('--auth', '--auth', [CompletionResultType]::ParameterName, 'How to authenticate to Azure (auto: client secret, workload identity, managed identity, Azure CLI — the first that is configured)')
            [CompletionResult]::new('--sign-deadline', '--sign-deadline', [CompletionResultType]::ParameterName, 'Total time for one signature, retries included (e.g. 3s, 1500ms)')
            [CompletionResult]::new('--read-deadline', '--read-deadline', [CompletionResultType]::ParameterName, 'Total time for one read or import (listing, get, import), retries included')
            [CompletionResult]::new('--vault-ca', '--vault-ca', [CompletionResultType]::ParameterName, 'An extra CA certificate (PEM) to trust for the vault and token endpoints (e.g. the emulator''s); the system roots stay trusted')
            [CompletionResult]::new('--vault-url', '--vault-url', [CompletionResultType]::ParameterName, 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('--software', '--software', [CompletionResultType]::ParameterName, 'Software-protected key instead of HSM-protected (HSM needs a Premium vault or a Managed HSM)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Import even when the name exists (Key Vault then adds a new version)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Read the keys and check the vault, but upload nothing')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout instead of text')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tezos-azure-signer;sign' {
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The vault key to sign with: its pkh or its vault name')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Read the hex from this file')
            [CompletionResult]::new('--approve', '--approve', [CompletionResultType]::ParameterName, 'With --pending and --key PKH: approve that key''s held request with this hash, without a prompt')
            [CompletionResult]::new('--reject', '--reject', [CompletionResultType]::ParameterName, 'With --pending and --key PKH: reject that key''s held request with this hash')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the high watermarks (the same default as `serve`)')
            [CompletionResult]::new('--auth', '--auth', [CompletionResultType]::ParameterName, 'How to authenticate to Azure (auto: client secret, workload identity, managed identity, Azure CLI — the first that is configured)')
            [CompletionResult]::new('--sign-deadline', '--sign-deadline', [CompletionResultType]::ParameterName, 'Total time for one signature, retries included (e.g. 3s, 1500ms)')
            [CompletionResult]::new('--read-deadline', '--read-deadline', [CompletionResultType]::ParameterName, 'Total time for one read or import (listing, get, import), retries included')
            [CompletionResult]::new('--vault-ca', '--vault-ca', [CompletionResultType]::ParameterName, 'An extra CA certificate (PEM) to trust for the vault and token endpoints (e.g. the emulator''s); the system roots stay trusted')
            [CompletionResult]::new('--vault-url', '--vault-url', [CompletionResultType]::ParameterName, 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Sign without asking (scripts). What would be shown is still printed on stderr')
            [CompletionResult]::new('--full', '--full', [CompletionResultType]::ParameterName, 'Show long Michelson strings and bytes whole (with --pending too); without it they are shortened to their start, length and blake2b-256 hash')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout: the decoded request, the signature and the signed operation ready for injection')
            [CompletionResult]::new('--blind', '--blind', [CompletionResultType]::ParameterName, 'Also offer to sign bytes that cannot be decoded, showing the base58 blake2b-256 hash of the whole payload for comparison on another screen')
            [CompletionResult]::new('--pending', '--pending', [CompletionResultType]::ParameterName, 'Answer the requests a running `serve --confirm` holds (same machine, its data directory): each is shown decoded, you approve or reject it. New ones appear as they come')
            [CompletionResult]::new('--list', '--list', [CompletionResultType]::ParameterName, 'With --pending: print the held requests and exit')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tezos-azure-signer;watermarks' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the high watermarks (the same default as `serve`)')
            [CompletionResult]::new('--vault-url', '--vault-url', [CompletionResultType]::ParameterName, 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Every mark: chain, key, kind, level, round, and signed, reserved or unreleased')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Raise this directory''s marks to another signer''s, never lowering one')
            [CompletionResult]::new('push', 'push', [CompletionResultType]::ParameterValue, 'Seed a shared-watermark container (`serve --shared-watermarks`) with this directory''s marks, raising each slot that is missing or lower there, never lowering one')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'tezos-azure-signer;watermarks;show' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the high watermarks (the same default as `serve`)')
            [CompletionResult]::new('--vault-url', '--vault-url', [CompletionResultType]::ParameterName, 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'One JSON object on stdout')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tezos-azure-signer;watermarks;import' {
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Whose files: octez (octez-signer''s base directory) or signatory (the directory holding `watermark_v2/`)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the high watermarks (the same default as `serve`)')
            [CompletionResult]::new('--vault-url', '--vault-url', [CompletionResultType]::ParameterName, 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tezos-azure-signer;watermarks;push' {
            [CompletionResult]::new('--auth', '--auth', [CompletionResultType]::ParameterName, 'How to authenticate to Azure (auto: client secret, workload identity, managed identity, Azure CLI — the first that is configured)')
            [CompletionResult]::new('--sign-deadline', '--sign-deadline', [CompletionResultType]::ParameterName, 'Total time for one signature, retries included (e.g. 3s, 1500ms)')
            [CompletionResult]::new('--read-deadline', '--read-deadline', [CompletionResultType]::ParameterName, 'Total time for one read or import (listing, get, import), retries included')
            [CompletionResult]::new('--vault-ca', '--vault-ca', [CompletionResultType]::ParameterName, 'An extra CA certificate (PEM) to trust for the vault and token endpoints (e.g. the emulator''s); the system roots stay trusted')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the high watermarks (the same default as `serve`)')
            [CompletionResult]::new('--vault-url', '--vault-url', [CompletionResultType]::ParameterName, 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tezos-azure-signer;watermarks;help' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Every mark: chain, key, kind, level, round, and signed, reserved or unreleased')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Raise this directory''s marks to another signer''s, never lowering one')
            [CompletionResult]::new('push', 'push', [CompletionResultType]::ParameterValue, 'Seed a shared-watermark container (`serve --shared-watermarks`) with this directory''s marks, raising each slot that is missing or lower there, never lowering one')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'tezos-azure-signer;watermarks;help;show' {
            break
        }
        'tezos-azure-signer;watermarks;help;import' {
            break
        }
        'tezos-azure-signer;watermarks;help;push' {
            break
        }
        'tezos-azure-signer;watermarks;help;help' {
            break
        }
        'tezos-azure-signer;emulator' {
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Keep keys and the CA/leaf certificates in DIR (created 0700; keys.json is 0600)')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'HTTPS port of the vault (and of the Entra token endpoint) on 127.0.0.1; 0 picks one')
            [CompletionResult]::new('--identity-port', '--identity-port', [CompletionResultType]::ParameterName, 'Plain-http port of the managed-identity endpoint on 127.0.0.1; 0 picks one')
            [CompletionResult]::new('--latency-ms', '--latency-ms', [CompletionResultType]::ParameterName, 'Delay every data-plane request by this many milliseconds')
            [CompletionResult]::new('--throttle-every', '--throttle-every', [CompletionResultType]::ParameterName, 'Answer every Nth authenticated data-plane request with 429 Throttled')
            [CompletionResult]::new('--retry-after', '--retry-after', [CompletionResultType]::ParameterName, 'Retry-After seconds sent with injected 429s')
            [CompletionResult]::new('--error-rate', '--error-rate', [CompletionResultType]::ParameterName, 'Fraction (0..1) of authenticated data-plane requests failing with 500')
            [CompletionResult]::new('--wrong-signature-rate', '--wrong-signature-rate', [CompletionResultType]::ParameterName, 'Fraction (0..1) of sign replies carrying a signature that does not verify')
            [CompletionResult]::new('--malformed-signature-rate', '--malformed-signature-rate', [CompletionResultType]::ParameterName, 'Fraction (0..1) of sign replies whose value is malformed (63 or 65 bytes, r = 0, s out of range, not base64url; in turn)')
            [CompletionResult]::new('--slow-rate', '--slow-rate', [CompletionResultType]::ParameterName, 'Fraction (0..1) of data-plane requests delayed by --slow-ms more (a latency tail)')
            [CompletionResult]::new('--slow-ms', '--slow-ms', [CompletionResultType]::ParameterName, 'The extra delay of a slow request (--slow-rate)')
            [CompletionResult]::new('--throttle-per-window', '--throttle-per-window', [CompletionResultType]::ParameterName, 'Key Vault''s own throttling: at most N authenticated data-plane requests per window (--throttle-window-ms); the rest get 429 without Retry-After, as the service answers')
            [CompletionResult]::new('--throttle-window-ms', '--throttle-window-ms', [CompletionResultType]::ParameterName, 'The window of --throttle-per-window (Key Vault counts per 10 seconds)')
            [CompletionResult]::new('--vaults', '--vaults', [CompletionResultType]::ParameterName, 'Serve this many vaults in one tenant (one CA, one token issuer: a token is good for each, as for two real vaults of one tenant), each with its own keys and port; the first on --port, the others on ports the OS picks, their state under --state-dir/vault-N. --print-env lists every URL in AZURE_KEYVAULT_URI, comma-separated; the faults apply to the first (the others'' through their /_emulator/faults endpoint)')
            [CompletionResult]::new('--token-lifetime-secs', '--token-lifetime-secs', [CompletionResultType]::ParameterName, 'Lifetime of minted access tokens (short values exercise clients'' token refresh)')
            [CompletionResult]::new('--tenant-id', '--tenant-id', [CompletionResultType]::ParameterName, 'Tenant named in the 401 challenge and accepted by /{tenant}/oauth2/v2.0/token')
            [CompletionResult]::new('--client-id', '--client-id', [CompletionResultType]::ParameterName, 'Client id of the one app registered for the client-credentials flow')
            [CompletionResult]::new('--client-secret', '--client-secret', [CompletionResultType]::ParameterName, 'Client secret of that app (a test value)')
            [CompletionResult]::new('--federated-token', '--federated-token', [CompletionResultType]::ParameterName, 'Federated token that app trusts as a workload identity''s client assertion (put the same text in the file named by AZURE_FEDERATED_TOKEN_FILE). Default: random, i.e. refused')
            [CompletionResult]::new('--vault-url', '--vault-url', [CompletionResultType]::ParameterName, 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('--ephemeral', '--ephemeral', [CompletionResultType]::ParameterName, 'Keep keys in memory only; the CA goes to a temporary directory removed on exit')
            [CompletionResult]::new('--print-env', '--print-env', [CompletionResultType]::ParameterName, 'Print shell `export` lines (AZURE_KEYVAULT_URI, SSL_CERT_FILE, IDENTITY_ENDPOINT, IDENTITY_HEADER) once listening, then keep serving')
            [CompletionResult]::new('--empty-pages', '--empty-pages', [CompletionResultType]::ParameterName, 'Page key listings as the service sometimes does: an empty page carrying a nextLink before every page, and an empty last page after the last full one')
            [CompletionResult]::new('--standard-tier', '--standard-tier', [CompletionResultType]::ParameterName, 'Answer as a Standard-tier vault: HSM-protected imports are refused with the service''s message (the default is Premium, which holds both)')
            [CompletionResult]::new('--managed-hsm', '--managed-hsm', [CompletionResultType]::ParameterName, 'Answer as a Managed HSM (its challenge resource and token audience, empty 401 bodies, no nextLink member on the last page, `alg` in sign replies, every key EC-HSM); reach it as https://NAME.managedhsm.azure.net:PORT resolved to 127.0.0.1')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tezos-azure-signer;help' {
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the octez-compatible remote signer (`--dev`: with the bundled emulator)')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check tz2/tz3 public key hashes and signatures (for baker setup scripts)')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Import secret keys from files into the vault (HSM-protected unless --software)')
            [CompletionResult]::new('sign', 'sign', [CompletionResultType]::ParameterValue, 'Sign one request after you have seen it decoded and confirmed it')
            [CompletionResult]::new('watermarks', 'watermarks', [CompletionResultType]::ParameterValue, 'Show the high watermarks, or import another signer''s (never lowering one)')
            [CompletionResult]::new('emulator', 'emulator', [CompletionResultType]::ParameterValue, 'Run the bundled Azure Key Vault emulator (HTTPS on loopback) for development and tests')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'tezos-azure-signer;help;serve' {
            break
        }
        'tezos-azure-signer;help;verify' {
            break
        }
        'tezos-azure-signer;help;import' {
            break
        }
        'tezos-azure-signer;help;sign' {
            break
        }
        'tezos-azure-signer;help;watermarks' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Every mark: chain, key, kind, level, round, and signed, reserved or unreleased')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Raise this directory''s marks to another signer''s, never lowering one')
            [CompletionResult]::new('push', 'push', [CompletionResultType]::ParameterValue, 'Seed a shared-watermark container (`serve --shared-watermarks`) with this directory''s marks, raising each slot that is missing or lower there, never lowering one')
            break
        }
        'tezos-azure-signer;help;watermarks;show' {
            break
        }
        'tezos-azure-signer;help;watermarks;import' {
            break
        }
        'tezos-azure-signer;help;watermarks;push' {
            break
        }
        'tezos-azure-signer;help;emulator' {
            break
        }
        'tezos-azure-signer;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
