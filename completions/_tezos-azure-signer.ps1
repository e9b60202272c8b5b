
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
            [CompletionResult]::new('--vault-url', '--vault-url', [CompletionResultType]::ParameterName, 'Key Vault URL, e.g. https://myvault.vault.azure.net')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check tz2/tz3 public key hashes and signatures (for baker setup scripts)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'tezos-azure-signer;verify' {
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Key file: PEM (SEC1, PKCS#8, encrypted, public key), DER, JWK JSON or a Tezos base58 key (spsk, p2sk, sppk, p2pk, edpk)')
            [CompletionResult]::new('--public-key', '--public-key', [CompletionResultType]::ParameterName, 'A Tezos public key (sppk…, p2pk…, edpk…)')
            [CompletionResult]::new('--passphrase-file', '--passphrase-file', [CompletionResultType]::ParameterName, 'File holding the passphrase of an encrypted --key (default: hidden prompt on a terminal)')
            [CompletionResult]::new('--pkh', '--pkh', [CompletionResultType]::ParameterName, 'Check that the key hashes to this public key hash (tz1…, tz2…, tz3…)')
            [CompletionResult]::new('--signature', '--signature', [CompletionResultType]::ParameterName, 'Check this Tezos signature (spsig1…, p2sig…, edsig…, sig…) over --data')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'The signed bytes, hex (an optional 0x prefix is ignored); the digest is BLAKE2b-256')
            [CompletionResult]::new('--vault-url', '--vault-url', [CompletionResultType]::ParameterName, 'Key Vault URL, e.g. https://myvault.vault.azure.net')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object instead of text')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v debug, -vv trace). RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tezos-azure-signer;help' {
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check tz2/tz3 public key hashes and signatures (for baker setup scripts)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'tezos-azure-signer;help;verify' {
            break
        }
        'tezos-azure-signer;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
