#!/usr/bin/env bash
# Offline: generate a baker key with openssl and an encrypted backup of it.
#
#   scripts/setup/generate-key.sh --out DIR [--name NAME] [--curve secp256k1|p256] \
#       --backup-passphrase-file FILE
#
# Writes DIR/NAME.pem (the key, mode 600, to import and then delete) and
# DIR/NAME.backup.pem (PKCS#8, AES-256 encrypted with the passphrase: keep it offline), checks
# that the backup decrypts to the same key, and prints the key's pkh. Run it on an offline
# machine. Needs openssl and tezos-azure-signer (or TEZOS_AZURE_SIGNER=/path/to/binary).
set -euo pipefail
umask 077
signer=${TEZOS_AZURE_SIGNER:-tezos-azure-signer}
out= name=baker curve=secp256k1 passfile=
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --curve) curve=$2; shift 2 ;;
    --backup-passphrase-file) passfile=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "generate-key.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] || { echo "generate-key.sh: --out DIR is required" >&2; exit 2; }
[ -n "$passfile" ] && [ -s "$passfile" ] || {
  echo "generate-key.sh: --backup-passphrase-file FILE (a non-empty file) is required: the backup is always encrypted" >&2
  exit 2
}
case "$curve" in
  secp256k1) openssl_curve=secp256k1 ;;   # tz2
  p256) openssl_curve=prime256v1 ;;       # tz3
  *) echo "generate-key.sh: --curve must be secp256k1 (tz2) or p256 (tz3)" >&2; exit 2 ;;
esac
mkdir -p "$out"
key="$out/$name.pem" backup="$out/$name.backup.pem"
for f in "$key" "$backup"; do
  [ ! -e "$f" ] || { echo "generate-key.sh: $f exists: refusing to overwrite a key" >&2; exit 1; }
done
openssl ecparam -name "$openssl_curve" -genkey -noout -out "$key"
openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$key" -out "$backup" -passout "file:$passfile"
pkh=$("$signer" verify --key "$key" | awk '/^pkh:/ {print $2}')
# The backup must decrypt to the same key before it is trusted.
"$signer" verify --key "$backup" --passphrase-file "$passfile" --pkh "$pkh" >/dev/null
echo "key:    $key (import it, then delete it)"
echo "backup: $backup (encrypted; keep it and its passphrase offline, apart)"
echo "pkh:    $pkh"
