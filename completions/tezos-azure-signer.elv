
use builtin;
use str;

set edit:completion:arg-completer[tezos-azure-signer] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'tezos-azure-signer'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'tezos-azure-signer'= {
            cand --vault-url 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)'
            cand --log-format 'Log format on stderr'
            cand -v 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand serve 'Run the octez-compatible remote signer (`--dev`: with the bundled emulator)'
            cand verify 'Check tz2/tz3 public key hashes and signatures (for baker setup scripts)'
            cand import 'Import secret keys from files into the vault (HSM-protected unless --software)'
            cand sign 'Sign one request after you have seen it decoded and confirmed it'
            cand watermarks 'Show the high watermarks, or import another signer''s (never lowering one)'
            cand emulator 'Run the bundled Azure Key Vault emulator (HTTPS on loopback) for development and tests'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tezos-azure-signer;serve'= {
            cand --address 'Address to listen on (loopback by default: expose the signer only to the baker)'
            cand --port 'Port of the signer API (octez''s default is 6732)'
            cand --data-dir 'Directory of the high-watermark files and the lock [default: $STATE_DIRECTORY, else ~/.tezos-azure-signer; with --dev: that directory''s `dev` subdirectory]'
            cand --magic-bytes 'Magic bytes (request kinds) allowed, comma-separated: 0x11 block, 0x12 preattestation, 0x13 attestation, 0x03 generic operation, 0x05 Michelson data, …'
            cand --key 'Serve only these vault keys, by vault key name or pkh (repeat, or comma-separate in the variable). All usable keys when absent'
            cand --policy 'Policy file (TOML): per key, allowed request kinds and chain ids'
            cand --authorized-keys 'Public keys allowed to authenticate requests (octez format); with it, unauthenticated requests are refused'
            cand --tls-cert 'TLS certificate chain (PEM); serves HTTPS with --tls-key'
            cand --tls-key 'TLS private key (PEM)'
            cand --metrics-address 'Address of the `/metrics` (Prometheus), `/healthz` (liveness) and `/readyz` (readiness) listener, or `off` for none'
            cand --shared-watermarks 'Share high watermarks with other signers of the same keys through an Azure Blob Storage container: https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX], with a SAS token in the query string or, without one, the vault''s credential chain (the identity needs "Storage Blob Data Contributor" on the container). The local files stay the floor'
            cand --min-level 'Refuse every watermarked request below this level (migration from a signer whose watermarks cannot be imported: set it above the last level that signer signed)'
            cand --confirm 'Magic bytes (0x03 and/or 0x05) whose requests the policy refuses are held for a person instead (`sign --pending` on this machine approves or rejects them). What cannot be decoded or counted is refused, never held'
            cand --confirm-timeout 'How long a held request waits for its answer'
            cand --max-held 'Requests that may wait for a person at once (--confirm); more are refused at once (503)'
            cand --max-held-per-client 'Requests from one client address that may wait for a person at once (--confirm); more from it are refused at once (503)'
            cand --max-queue-per-key 'Requests that may wait for one key while it signs; more are refused at once (503)'
            cand --max-chains-per-key 'Chains one key may hold watermarks on; a request for another chain is refused (403)'
            cand --max-connections 'Open connections served at once (API and metrics each); further ones are closed at once. Lowered to fit the file-descriptor limit'
            cand --idle-timeout 'A connection with no request in progress for this long is closed (HTTP/1 and HTTP/2)'
            cand --header-timeout 'Time limit for a request''s head (and a new connection''s first request)'
            cand --request-timeout 'Time limit of one request; a sign request is not sent to the vault once it is over'
            cand --hedge-delay 'With several --vault-url: how long the preferred vault has to answer before the next one is asked too ("auto": about its recent 95th percentile, 10 ms to 1 s; or a duration). A vault that errors, throttles or is demoted hands over at once'
            cand --hedge-max-ratio 'With several --vault-url: at most this share of signatures sends a second vault request because the first was slow (a budget: the share plus a burst of 5)'
            cand --demote-after 'With several --vault-url: failures in a row that demote a vault (it is then asked last and probed with one signature every 5 s until it signs again)'
            cand --dev-latency-ms 'With --dev: the emulator answers each vault request after this many milliseconds (to see the signer under a real vault''s latency)'
            cand --dev-vaults 'With --dev: emulate this many vaults (one tenant, one CA, the demo keys in each), used as several --vault-url are'
            cand --auth 'How to authenticate to Azure (auto: client secret, workload identity, managed identity, Azure CLI — the first that is configured)'
            cand --sign-deadline 'Total time for one signature, retries included (e.g. 3s, 1500ms)'
            cand --read-deadline 'Total time for one read or import (listing, get, import), retries included'
            cand --vault-ca 'An extra CA certificate (PEM) to trust for the vault and token endpoints (e.g. the emulator''s); the system roots stay trusted'
            cand --vault-url 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)'
            cand --log-format 'Log format on stderr'
            cand --known-keys 'Answer `GET /known_keys` with the pkhs this signer serves'
            cand --reset-spending 'Start although the 24-hour spending log is missing from a data directory that has signed before under a max_total_24h: the totals begin from zero (deliberately)'
            cand --dev 'Development mode: run the bundled Key Vault emulator in-process, create a demo tz2 and tz3 key on first run, and serve them through the production code path'
            cand -v 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tezos-azure-signer;verify'= {
            cand --key 'Key file: PEM (SEC1, PKCS#8, encrypted, public key), DER, JWK JSON or a Tezos base58 key (spsk, p2sk, sppk, p2pk, edpk)'
            cand --public-key 'A Tezos public key (sppk…, p2pk…, edpk…)'
            cand --passphrase-file 'File holding the passphrase of an encrypted --key (default: hidden prompt on a terminal)'
            cand --vault-key 'A key in the vault, by name (its latest version)'
            cand --auth 'How to authenticate to Azure (auto: client secret, workload identity, managed identity, Azure CLI — the first that is configured)'
            cand --sign-deadline 'Total time for one signature, retries included (e.g. 3s, 1500ms)'
            cand --read-deadline 'Total time for one read or import (listing, get, import), retries included'
            cand --vault-ca 'An extra CA certificate (PEM) to trust for the vault and token endpoints (e.g. the emulator''s); the system roots stay trusted'
            cand --pkh 'Check that the key hashes to this public key hash (tz1…, tz2…, tz3…)'
            cand --signature 'Check this Tezos signature (spsig1…, p2sig…, edsig…, sig…) over --data'
            cand --data 'The signed bytes, hex (an optional 0x prefix is ignored); the digest is BLAKE2b-256'
            cand --vault-url 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)'
            cand --log-format 'Log format on stderr'
            cand --vault-keys 'List every usable key in the vault with curve, pkh and state'
            cand --json 'Print one JSON object instead of text'
            cand -v 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tezos-azure-signer;import'= {
            cand --key 'Key file holding a secret key: PEM (SEC1, PKCS#8, encrypted), DER, JWK with d, or a Tezos spsk/p2sk. Repeat for several keys'
            cand --name 'Vault key name (only with a single --key). Default: the key''s pkh'
            cand --passphrase-file 'File holding the passphrase of encrypted keys (default: hidden prompt on a terminal)'
            cand --auth 'How to authenticate to Azure (auto: client secret, workload identity, managed identity, Azure CLI — the first that is configured)'
            cand --sign-deadline 'Total time for one signature, retries included (e.g. 3s, 1500ms)'
            cand --read-deadline 'Total time for one read or import (listing, get, import), retries included'
            cand --vault-ca 'An extra CA certificate (PEM) to trust for the vault and token endpoints (e.g. the emulator''s); the system roots stay trusted'
            cand --vault-url 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)'
            cand --log-format 'Log format on stderr'
            cand --software 'Software-protected key instead of HSM-protected (HSM needs a Premium vault or a Managed HSM)'
            cand --force 'Import even when the name exists (Key Vault then adds a new version)'
            cand --dry-run 'Read the keys and check the vault, but upload nothing'
            cand --json 'Print one JSON object on stdout instead of text'
            cand -v 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tezos-azure-signer;sign'= {
            cand --key 'The vault key to sign with: its pkh or its vault name'
            cand --file 'Read the hex from this file'
            cand --approve 'With --pending and --key PKH: approve that key''s held request with this hash, without a prompt'
            cand --reject 'With --pending and --key PKH: reject that key''s held request with this hash'
            cand --data-dir 'Data directory of the high watermarks (the same default as `serve`)'
            cand --auth 'How to authenticate to Azure (auto: client secret, workload identity, managed identity, Azure CLI — the first that is configured)'
            cand --sign-deadline 'Total time for one signature, retries included (e.g. 3s, 1500ms)'
            cand --read-deadline 'Total time for one read or import (listing, get, import), retries included'
            cand --vault-ca 'An extra CA certificate (PEM) to trust for the vault and token endpoints (e.g. the emulator''s); the system roots stay trusted'
            cand --vault-url 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)'
            cand --log-format 'Log format on stderr'
            cand --yes 'Sign without asking (scripts). What would be shown is still printed on stderr'
            cand --full 'Show long Michelson strings and bytes whole (with --pending too); without it they are shortened to their start, length and blake2b-256 hash'
            cand --json 'Print one JSON object on stdout: the decoded request, the signature and the signed operation ready for injection'
            cand --blind 'Also offer to sign bytes that cannot be decoded, showing the base58 blake2b-256 hash of the whole payload for comparison on another screen'
            cand --pending 'Answer the requests a running `serve --confirm` holds (same machine, its data directory): each is shown decoded, you approve or reject it. New ones appear as they come'
            cand --list 'With --pending: print the held requests and exit'
            cand -v 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tezos-azure-signer;watermarks'= {
            cand --data-dir 'Data directory of the high watermarks (the same default as `serve`)'
            cand --vault-url 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)'
            cand --log-format 'Log format on stderr'
            cand -v 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
            cand show 'Every mark: chain, key, kind, level, round, and signed, reserved or unreleased'
            cand import 'Raise this directory''s marks to another signer''s, never lowering one'
            cand push 'Seed a shared-watermark container (`serve --shared-watermarks`) with this directory''s marks, raising each slot that is missing or lower there, never lowering one'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tezos-azure-signer;watermarks;show'= {
            cand --data-dir 'Data directory of the high watermarks (the same default as `serve`)'
            cand --vault-url 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)'
            cand --log-format 'Log format on stderr'
            cand --json 'One JSON object on stdout'
            cand -v 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tezos-azure-signer;watermarks;import'= {
            cand --from 'Whose files: octez (octez-signer''s base directory) or signatory (the directory holding `watermark_v2/`)'
            cand --data-dir 'Data directory of the high watermarks (the same default as `serve`)'
            cand --vault-url 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)'
            cand --log-format 'Log format on stderr'
            cand -v 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tezos-azure-signer;watermarks;push'= {
            cand --auth 'How to authenticate to Azure (auto: client secret, workload identity, managed identity, Azure CLI — the first that is configured)'
            cand --sign-deadline 'Total time for one signature, retries included (e.g. 3s, 1500ms)'
            cand --read-deadline 'Total time for one read or import (listing, get, import), retries included'
            cand --vault-ca 'An extra CA certificate (PEM) to trust for the vault and token endpoints (e.g. the emulator''s); the system roots stay trusted'
            cand --data-dir 'Data directory of the high watermarks (the same default as `serve`)'
            cand --vault-url 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)'
            cand --log-format 'Log format on stderr'
            cand -v 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tezos-azure-signer;watermarks;help'= {
            cand show 'Every mark: chain, key, kind, level, round, and signed, reserved or unreleased'
            cand import 'Raise this directory''s marks to another signer''s, never lowering one'
            cand push 'Seed a shared-watermark container (`serve --shared-watermarks`) with this directory''s marks, raising each slot that is missing or lower there, never lowering one'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tezos-azure-signer;watermarks;help;show'= {
        }
        &'tezos-azure-signer;watermarks;help;import'= {
        }
        &'tezos-azure-signer;watermarks;help;push'= {
        }
        &'tezos-azure-signer;watermarks;help;help'= {
        }
        &'tezos-azure-signer;emulator'= {
            cand --state-dir 'Keep keys and the CA/leaf certificates in DIR (created 0700; keys.json is 0600)'
            cand --port 'HTTPS port of the vault (and of the Entra token endpoint) on 127.0.0.1; 0 picks one'
            cand --identity-port 'Plain-http port of the managed-identity endpoint on 127.0.0.1; 0 picks one'
            cand --latency-ms 'Delay every data-plane request by this many milliseconds'
            cand --throttle-every 'Answer every Nth authenticated data-plane request with 429 Throttled'
            cand --retry-after 'Retry-After seconds sent with injected 429s'
            cand --error-rate 'Fraction (0..1) of authenticated data-plane requests failing with 500'
            cand --wrong-signature-rate 'Fraction (0..1) of sign replies carrying a signature that does not verify'
            cand --malformed-signature-rate 'Fraction (0..1) of sign replies whose value is malformed (63 or 65 bytes, r = 0, s out of range, not base64url; in turn)'
            cand --slow-rate 'Fraction (0..1) of data-plane requests delayed by --slow-ms more (a latency tail)'
            cand --slow-ms 'The extra delay of a slow request (--slow-rate)'
            cand --throttle-per-window 'Key Vault''s own throttling: at most N authenticated data-plane requests per window (--throttle-window-ms); the rest get 429 without Retry-After, as the service answers'
            cand --throttle-window-ms 'The window of --throttle-per-window (Key Vault counts per 10 seconds)'
            cand --vaults 'Serve this many vaults in one tenant (one CA, one token issuer: a token is good for each, as for two real vaults of one tenant), each with its own keys and port; the first on --port, the others on ports the OS picks, their state under --state-dir/vault-N. --print-env lists every URL in AZURE_KEYVAULT_URI, comma-separated; the faults apply to the first (the others'' through their /_emulator/faults endpoint)'
            cand --token-lifetime-secs 'Lifetime of minted access tokens (short values exercise clients'' token refresh)'
            cand --tenant-id 'Tenant named in the 401 challenge and accepted by /{tenant}/oauth2/v2.0/token'
            cand --client-id 'Client id of the one app registered for the client-credentials flow'
            cand --client-secret 'Client secret of that app (a test value)'
            cand --federated-token 'Federated token that app trusts as a workload identity''s client assertion (put the same text in the file named by AZURE_FEDERATED_TOKEN_FILE). Default: random, i.e. refused'
            cand --vault-url 'Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault holding the same keys (another region): the first is preferred, the others take over when it fails or is slow (in the environment: a comma-separated list)'
            cand --log-format 'Log format on stderr'
            cand --ephemeral 'Keep keys in memory only; the CA goes to a temporary directory removed on exit'
            cand --print-env 'Print shell `export` lines (AZURE_KEYVAULT_URI, SSL_CERT_FILE, IDENTITY_ENDPOINT, IDENTITY_HEADER) once listening, then keep serving'
            cand --empty-pages 'Page key listings as the service sometimes does: an empty page carrying a nextLink before every page, and an empty last page after the last full one'
            cand --standard-tier 'Answer as a Standard-tier vault: HSM-protected imports are refused with the service''s message (the default is Premium, which holds both)'
            cand --managed-hsm 'Answer as a Managed HSM (its challenge resource and token audience, empty 401 bodies, no nextLink member on the last page, `alg` in sign replies, every key EC-HSM); reach it as https://NAME.managedhsm.azure.net:PORT resolved to 127.0.0.1'
            cand -v 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tezos-azure-signer;help'= {
            cand serve 'Run the octez-compatible remote signer (`--dev`: with the bundled emulator)'
            cand verify 'Check tz2/tz3 public key hashes and signatures (for baker setup scripts)'
            cand import 'Import secret keys from files into the vault (HSM-protected unless --software)'
            cand sign 'Sign one request after you have seen it decoded and confirmed it'
            cand watermarks 'Show the high watermarks, or import another signer''s (never lowering one)'
            cand emulator 'Run the bundled Azure Key Vault emulator (HTTPS on loopback) for development and tests'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tezos-azure-signer;help;serve'= {
        }
        &'tezos-azure-signer;help;verify'= {
        }
        &'tezos-azure-signer;help;import'= {
        }
        &'tezos-azure-signer;help;sign'= {
        }
        &'tezos-azure-signer;help;watermarks'= {
            cand show 'Every mark: chain, key, kind, level, round, and signed, reserved or unreleased'
            cand import 'Raise this directory''s marks to another signer''s, never lowering one'
            cand push 'Seed a shared-watermark container (`serve --shared-watermarks`) with this directory''s marks, raising each slot that is missing or lower there, never lowering one'
        }
        &'tezos-azure-signer;help;watermarks;show'= {
        }
        &'tezos-azure-signer;help;watermarks;import'= {
        }
        &'tezos-azure-signer;help;watermarks;push'= {
        }
        &'tezos-azure-signer;help;emulator'= {
        }
        &'tezos-azure-signer;help;help'= {
        }
    ]
    $completions[$command]
}
