#!/usr/bin/env bash
# Upload a key to Key Vault and check that the vault serves the same pkh.
#
#   scripts/setup/import-and-verify.sh --key FILE --name NAME [--software] [--vault-url URL]
#
# The vault URL, credentials (--auth, AZURE_* / IDENTITY_*) and --vault-ca come from the
# environment as for every tezos-azure-signer subcommand. The identity needs "Key Vault Crypto
# Officer" to import. Prints the pkh; exits non-zero if the vault's key hashes to another one.
set -euo pipefail
signer=${TEZOS_AZURE_SIGNER:-tezos-azure-signer}
key= name= extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --key) key=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --software) extra+=(--software); shift ;;
    --vault-url) extra+=(--vault-url "$2"); shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "import-and-verify.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$key" ] && [ -n "$name" ] || { echo "import-and-verify.sh: --key FILE and --name NAME are required" >&2; exit 2; }
pkh=$("$signer" verify --key "$key" | awk '/^pkh:/ {print $2}')
"$signer" import --key "$key" --name "$name" "${extra[@]}"
vault_url=()
for ((i = 0; i < ${#extra[@]}; i++)); do
  [ "${extra[$i]}" = --vault-url ] && vault_url=(--vault-url "${extra[$((i + 1))]}")
done
"$signer" verify --vault-key "$name" --pkh "$pkh" "${vault_url[@]}"
echo "imported $name: $pkh"
