#!/usr/bin/env bash
# The Azure side of a baker's setup, with the Azure CLI: a resource group, a Premium Key Vault
# (RBAC, purge protection, network locked to the VM's subnet), the VM's managed identity and its
# roles, and optionally a storage container for shared watermarks.
#
#   scripts/setup/azure-setup.sh --resource-group RG --location LOC --vault NAME \
#       --vm VM --vnet VNET --subnet SUBNET [--storage-account ACCOUNT --container NAME] \
#       [--importer-object-id ID] [--dry-run]
#
# --dry-run prints the commands instead of running them (what the tests check; nothing here is
# ever run against Azure by the tests). --importer-object-id: the user or principal that will
# run `import` (gets "Key Vault Crypto Officer"; remove it after the import).
set -euo pipefail
rg= location= vault= vm= vnet= subnet= account= container= importer= dry=no
while [ $# -gt 0 ]; do
  case "$1" in
    --resource-group) rg=$2; shift 2 ;;
    --location) location=$2; shift 2 ;;
    --vault) vault=$2; shift 2 ;;
    --vm) vm=$2; shift 2 ;;
    --vnet) vnet=$2; shift 2 ;;
    --subnet) subnet=$2; shift 2 ;;
    --storage-account) account=$2; shift 2 ;;
    --container) container=$2; shift 2 ;;
    --importer-object-id) importer=$2; shift 2 ;;
    --dry-run) dry=yes; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "azure-setup.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for v in rg location vault vm vnet subnet; do
  [ -n "${!v}" ] || { echo "azure-setup.sh: --${v/rg/resource-group} is required" >&2; exit 2; }
done
if [ -n "$account" ] && [ -z "$container" ]; then
  echo "azure-setup.sh: --storage-account needs --container" >&2; exit 2
fi

run() {
  if [ "$dry" = yes ]; then
    printf '%q ' "$@"; echo
  else
    "$@"
  fi
}
# Values only known once the resources exist; placeholders in a dry run.
value() {
  if [ "$dry" = yes ]; then echo "<$1>"; else shift; "$@"; fi
}

run az group create --name "$rg" --location "$location"
run az keyvault create --name "$vault" --resource-group "$rg" --location "$location" \
  --sku premium --enable-rbac-authorization true --enable-purge-protection true \
  --retention-days 90 --default-action Deny --bypass None
run az vm identity assign --name "$vm" --resource-group "$rg"
principal=$(value vm-principal-id az vm show --name "$vm" --resource-group "$rg" --query identity.principalId -o tsv)
vault_id=$(value vault-id az keyvault show --name "$vault" --resource-group "$rg" --query id -o tsv)
subnet_id=$(value subnet-id az network vnet subnet show --vnet-name "$vnet" --name "$subnet" --resource-group "$rg" --query id -o tsv)
# Signing only: the VM's identity may sign with keys, never read or export them.
run az role assignment create --assignee-object-id "$principal" --assignee-principal-type ServicePrincipal \
  --role "Key Vault Crypto User" --scope "$vault_id"
if [ -n "$importer" ]; then
  run az role assignment create --assignee-object-id "$importer" \
    --role "Key Vault Crypto Officer" --scope "$vault_id"
fi
# The vault answers only the VM's subnet.
endpoints=(Microsoft.KeyVault)
[ -z "$account" ] || endpoints+=(Microsoft.Storage)
run az network vnet subnet update --vnet-name "$vnet" --name "$subnet" --resource-group "$rg" \
  --service-endpoints "${endpoints[@]}"
run az keyvault network-rule add --name "$vault" --resource-group "$rg" --subnet "$subnet_id"
if [ -n "$account" ]; then
  run az storage account create --name "$account" --resource-group "$rg" --location "$location" \
    --sku Standard_ZRS --kind StorageV2 --min-tls-version TLS1_2 --allow-blob-public-access false \
    --allow-shared-key-access false --default-action Deny
  run az storage account network-rule add --account-name "$account" --resource-group "$rg" --subnet "$subnet_id"
  run az storage container create --account-name "$account" --name "$container" --auth-mode login
  account_id=$(value storage-account-id az storage account show --name "$account" --resource-group "$rg" --query id -o tsv)
  run az role assignment create --assignee-object-id "$principal" --assignee-principal-type ServicePrincipal \
    --role "Storage Blob Data Contributor" --scope "$account_id/blobServices/default/containers/$container"
fi
echo "# vault: https://$vault.vault.azure.net"
[ -z "$account" ] || echo "# shared watermarks: https://$account.blob.core.windows.net/$container"
