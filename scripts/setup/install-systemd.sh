#!/usr/bin/env bash
# Install the binary, the systemd unit and its environment file.
#
#   sudo scripts/setup/install-systemd.sh --binary PATH --vault-url URL [--key NAME]...
#       [--shared-watermarks URL] [--root DIR] [--no-start]
#
# Writes /usr/local/bin/tezos-azure-signer, /etc/systemd/system/tezos-azure-signer.service
# and /etc/tezos-azure-signer.env (mode 640; an existing one is kept), checks the unit with
# systemd-analyze, then enables and starts it and waits for /readyz. --root DIR installs under
# DIR instead (and implies --no-start): what the tests do.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
binary= vault_url= keys=() shared= root= start=yes
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --vault-url) vault_url=$2; shift 2 ;;
    --key) keys+=("$2"); shift 2 ;;
    --shared-watermarks) shared=$2; shift 2 ;;
    --root) root=$2; start=no; shift 2 ;;
    --no-start) start=no; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "install-systemd.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$binary" ] && [ -x "$binary" ] || { echo "install-systemd.sh: --binary PATH (an executable) is required" >&2; exit 2; }
case "$vault_url" in
  https://*) ;;
  *) echo "install-systemd.sh: --vault-url https://NAME.vault.azure.net is required" >&2; exit 2 ;;
esac
install -d "$root/usr/local/bin" "$root/etc/systemd/system"
install -m 0755 "$binary" "$root/usr/local/bin/tezos-azure-signer"
install -m 0644 "$here/tezos-azure-signer.service" "$root/etc/systemd/system/tezos-azure-signer.service"
env_file="$root/etc/tezos-azure-signer.env"
if [ -e "$env_file" ]; then
  echo "keeping the existing $env_file"
else
  {
    sed -e "s|^AZURE_KEYVAULT_URI=.*|AZURE_KEYVAULT_URI=$vault_url|" "$here/tezos-azure-signer.env"
    if [ ${#keys[@]} -gt 0 ]; then
      (IFS=,; echo "TEZOS_AZURE_SIGNER_KEY=${keys[*]}")
    fi
    [ -z "$shared" ] || echo "TEZOS_AZURE_SIGNER_SHARED_WATERMARKS=$shared"
  } > "$env_file.tmp"
  chmod 0640 "$env_file.tmp"
  mv "$env_file.tmp" "$env_file"
fi
if command -v systemd-analyze >/dev/null 2>&1; then
  systemd-analyze verify --root="${root:-/}" /etc/systemd/system/tezos-azure-signer.service 2>&1 \
    | grep -v 'is not executable' || true
fi
if [ "$start" = yes ]; then
  systemctl daemon-reload
  systemctl enable --now tezos-azure-signer
  for _ in $(seq 90); do
    curl -fsS http://127.0.0.1:9583/readyz && { echo; echo "tezos-azure-signer is ready"; exit 0; }
    sleep 1
  done
  echo "tezos-azure-signer is not ready after 90 s: curl http://127.0.0.1:9583/readyz; journalctl -u tezos-azure-signer" >&2
  exit 1
fi
echo "installed under ${root:-/}"
