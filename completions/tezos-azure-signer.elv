
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
            cand --vault-url 'Key Vault URL, e.g. https://myvault.vault.azure.net'
            cand --log-format 'Log format on stderr'
            cand -v 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand verify 'Check tz2/tz3 public key hashes and signatures (for baker setup scripts)'
            cand emulator 'Run the bundled Azure Key Vault emulator (HTTPS on loopback) for development and tests'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tezos-azure-signer;verify'= {
            cand --key 'Key file: PEM (SEC1, PKCS#8, encrypted, public key), DER, JWK JSON or a Tezos base58 key (spsk, p2sk, sppk, p2pk, edpk)'
            cand --public-key 'A Tezos public key (sppk…, p2pk…, edpk…)'
            cand --passphrase-file 'File holding the passphrase of an encrypted --key (default: hidden prompt on a terminal)'
            cand --pkh 'Check that the key hashes to this public key hash (tz1…, tz2…, tz3…)'
            cand --signature 'Check this Tezos signature (spsig1…, p2sig…, edsig…, sig…) over --data'
            cand --data 'The signed bytes, hex (an optional 0x prefix is ignored); the digest is BLAKE2b-256'
            cand --vault-url 'Key Vault URL, e.g. https://myvault.vault.azure.net'
            cand --log-format 'Log format on stderr'
            cand --json 'Print one JSON object instead of text'
            cand -v 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
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
            cand --token-lifetime-secs 'Lifetime of minted access tokens (short values exercise clients'' token refresh)'
            cand --tenant-id 'Tenant named in the 401 challenge and accepted by /{tenant}/oauth2/v2.0/token'
            cand --client-id 'Client id of the one app registered for the client-credentials flow'
            cand --client-secret 'Client secret of that app (a test value)'
            cand --vault-url 'Key Vault URL, e.g. https://myvault.vault.azure.net'
            cand --log-format 'Log format on stderr'
            cand --ephemeral 'Keep keys in memory only; the CA goes to a temporary directory removed on exit'
            cand --print-env 'Print shell `export` lines (AZURE_KEYVAULT_URI, SSL_CERT_FILE, IDENTITY_ENDPOINT, IDENTITY_HEADER) once listening, then keep serving'
            cand -v 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace). RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tezos-azure-signer;help'= {
            cand verify 'Check tz2/tz3 public key hashes and signatures (for baker setup scripts)'
            cand emulator 'Run the bundled Azure Key Vault emulator (HTTPS on loopback) for development and tests'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tezos-azure-signer;help;verify'= {
        }
        &'tezos-azure-signer;help;emulator'= {
        }
        &'tezos-azure-signer;help;help'= {
        }
    ]
    $completions[$command]
}
