//! `verify --vault-key NAME [--pkh TZ]` and `verify --vault-keys`: the vault side of `verify`.
//!
//! Owns: fetching one key's public key from the vault for the ordinary verify checks, and the
//! listing of every usable vault key (text table or one JSON object). Read-only: never imports,
//! signs or changes anything in the vault.

use std::process::ExitCode;

use super::{Exit, ResolvedKey};
use crate::commands::{GlobalArgs, VaultArgs};
use crate::vault::{OpenError, Vault, VaultError, VaultKey};
use url::Url;

/// Why the vault could not answer `verify`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum VaultReadError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// The public key of vault key `name`, for `verify --vault-key`.
pub(super) fn resolve(
    global: &GlobalArgs,
    args: &VaultArgs,
    name: &str,
) -> Result<ResolvedKey, VaultReadError> {
    let vault = crate::vault::open(&args.settings(global))?;
    let key = crate::commands::runtime()?.block_on(vault.get_key(name))?;
    Ok(ResolvedKey {
        public_key: key.public_key,
        had_secret: false,
        source: format!("vault key {}", key.id),
    })
}

#[derive(serde::Serialize)]
struct Listed {
    /// The vault holding it (with several `--vault-url`, each key is listed per vault).
    vault: String,
    name: String,
    version: String,
    key_id: String,
    vault_curve: String,
    curve: crate::tezos::Curve,
    algorithm: &'static str,
    pkh: crate::tezos::Pkh,
    public_key: String,
    state: &'static str,
}

impl Listed {
    fn new(vault: &Url, k: VaultKey) -> Self {
        Listed {
            vault: vault.to_string(),
            curve: k.curve(),
            algorithm: k.algorithm(),
            pkh: k.pkh(),
            public_key: k.public_key.to_string(),
            state: "enabled",
            name: k.name,
            version: k.version,
            key_id: k.id,
            vault_curve: k.vault_curve,
        }
    }
}

/// `verify --vault-keys`: exit 0 with the list (each key per vault when several are given),
/// 3 when a vault cannot be read (the others are still listed). With several vaults, a key
/// missing from one of them is named, with the vault it is missing from.
pub(super) fn list(global: &GlobalArgs, args: &VaultArgs, json: bool) -> ExitCode {
    let listings = (|| -> Result<Vec<Listing>, VaultReadError> {
        let vaults = crate::vault::open_each(&args.settings(global))?;
        let runtime = crate::commands::runtime()?;
        Ok(vaults
            .iter()
            .map(|(url, vault)| (url.clone(), runtime.block_on(vault.list_keys())))
            .collect())
    })();
    let listings = match listings {
        Ok(listings) => listings,
        Err(e) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"ok": false, "exit_code": Exit::Input as u8, "error": e.to_string()})
                );
            }
            eprintln!("error: {e}");
            return ExitCode::from(Exit::Input as u8);
        }
    };
    let several = listings.len() > 1;
    let mut keys = Vec::new();
    let mut errors = Vec::new();
    for (url, listing) in &listings {
        match listing {
            Ok(listed) => keys.extend(listed.iter().cloned().map(|k| Listed::new(url, k))),
            Err(e) => errors.push((url.to_string(), e.to_string())),
        }
    }
    let missing = missing_from(&listings);
    let exit = if errors.is_empty() {
        Exit::Ok
    } else {
        Exit::Input
    };
    if json {
        let errors: Vec<_> = errors
            .iter()
            .map(|(vault, error)| serde_json::json!({"vault": vault, "error": error}))
            .collect();
        let missing: Vec<_> = missing
            .iter()
            .map(|(pkh, vault)| serde_json::json!({"pkh": pkh.to_string(), "missing_from": vault.as_str()}))
            .collect();
        let mut body = serde_json::json!({"ok": errors.is_empty(), "exit_code": exit as u8, "keys": keys, "errors": errors, "missing": missing});
        // The first error also as `error`, as every other failing command prints it.
        if let Some(first) = errors.first() {
            body["error"] = first["error"].clone();
        }
        println!("{body}");
    } else {
        // When nothing could be listed, the errors say why (not "no keys").
        if !keys.is_empty() || errors.is_empty() {
            print_table(&keys, several);
        }
        for (vault, error) in &errors {
            eprintln!("error: cannot list the keys of {vault}: {error}");
        }
        for (pkh, vault) in &missing {
            println!(
                "warning: {pkh} is not in {vault}: import it there too (`import --vault-url {vault}`)"
            );
        }
    }
    ExitCode::from(exit as u8)
}

/// One vault's listing.
type Listing = (Url, Result<Vec<VaultKey>, VaultError>);

/// Every (pkh, vault) where a key some vault holds is missing; empty for one vault.
fn missing_from(listings: &[Listing]) -> Vec<(crate::tezos::Pkh, &Url)> {
    use std::collections::BTreeSet;
    let listed: Vec<(&Url, BTreeSet<crate::tezos::Pkh>)> = listings
        .iter()
        .filter_map(|(url, l)| {
            let keys = l.as_ref().ok()?;
            Some((url, keys.iter().map(VaultKey::pkh).collect()))
        })
        .collect();
    let all: BTreeSet<_> = listed.iter().flat_map(|(_, pkhs)| pkhs).copied().collect();
    all.into_iter()
        .flat_map(|pkh| {
            listed
                .iter()
                .filter(move |(_, pkhs)| !pkhs.contains(&pkh))
                .map(move |(url, _)| (pkh, *url))
        })
        .collect()
}

fn print_table(keys: &[Listed], several: bool) {
    if keys.is_empty() {
        println!("no usable tz2/tz3 keys in the vault");
        return;
    }
    let w = keys.iter().map(|k| k.name.len()).max().unwrap_or(4).max(4);
    let v = keys.iter().map(|k| k.vault.len()).max().unwrap_or(5).max(5);
    let vault = |k: Option<&Listed>| match (several, k) {
        (false, _) => String::new(),
        (true, Some(k)) => format!("{:<v$}  ", k.vault),
        (true, None) => format!("{:<v$}  ", "VAULT"),
    };
    println!(
        "{}{:<w$}  {:<9}  {:<36}  {:<7}  VERSION",
        vault(None),
        "NAME",
        "CURVE",
        "PKH",
        "STATE"
    );
    for k in keys {
        println!(
            "{}{:<w$}  {:<9}  {:<36}  {:<7}  {}",
            vault(Some(k)),
            k.name,
            k.vault_curve,
            k.pkh,
            k.state,
            k.version
        );
    }
}
