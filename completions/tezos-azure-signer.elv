
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
        &'tezos-azure-signer;help'= {
            cand verify 'Check tz2/tz3 public key hashes and signatures (for baker setup scripts)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tezos-azure-signer;help;verify'= {
        }
        &'tezos-azure-signer;help;help'= {
        }
    ]
    $completions[$command]
}
