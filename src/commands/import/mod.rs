//! `import`: upload secret keys from files into the vault (HSM-protected unless --software).
//!
//! Owns: reading every key first (prompting for passphrases before any progress bar), refusing
//! an existing name unless --force, the import itself, and the read-back check that the vault's
//! public key hashes to the file's pkh. Exit codes: 0 every key done, 1 setup error (vault URL,
//! credentials, CA), 2 usage error, 3 one or more keys failed (the others still ran).
//! Must never print or log secret material; secret keys are dropped (zeroized) right after use.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::commands::{GlobalArgs, VaultArgs};
use crate::keyfile::{self, KeyMaterial};
use crate::tezos::SecretKey;
use crate::vault::azure::valid_key_name;
use crate::vault::{ImportOptions, Vault, VaultError};

mod report;

use report::{Outcome, Progress, Status};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 every key imported (or checked with --dry-run), \
1 setup error (vault URL, credentials, CA file), 2 usage error, 3 one or more keys failed."
)]
pub struct ImportArgs {
    /// Key file holding a secret key: PEM (SEC1, PKCS#8, encrypted), DER, JWK with d, or a
    /// Tezos spsk/p2sk. Repeat for several keys.
    #[arg(long = "key", value_name = "FILE", required = true)]
    pub keys: Vec<PathBuf>,
    /// Vault key name (only with a single --key). Default: the key's pkh.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Software-protected key instead of HSM-protected (HSM needs a Premium vault or a
    /// Managed HSM).
    #[arg(long)]
    pub software: bool,
    /// Import even when the name exists (Key Vault then adds a new version).
    #[arg(long)]
    pub force: bool,
    /// Read the keys and check the vault, but upload nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// File holding the passphrase of encrypted keys (default: hidden prompt on a terminal).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Print one JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub vault: VaultArgs,
}

/// The exit codes of `import`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    Ok = 0,
    Setup = 1,
    Usage = 2,
    SomeFailed = 3,
}

/// A key read from its file, ready to upload (the secret is zeroized when this is dropped).
struct ReadKey {
    name: String,
    secret: SecretKey,
}

pub(crate) fn run(global: &GlobalArgs, args: ImportArgs) -> ExitCode {
    if args.name.is_some() && args.keys.len() > 1 {
        eprintln!("error: --name can only be used with a single --key");
        return ExitCode::from(Exit::Usage as u8);
    }
    if let Some(name) = &args.name
        && !valid_key_name(name)
    {
        eprintln!(
            "error: invalid --name {name:?}: Key Vault names are 1-127 letters, digits and dashes"
        );
        return ExitCode::from(Exit::Usage as u8);
    }
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(Exit::Setup as u8);
        }
    };
    // The vaults are needed for everything but an offline --dry-run; each is opened on its
    // own, so that every key is imported into each and each is reported.
    let vaults = match (global.vault_url.is_empty(), args.dry_run) {
        (true, true) => Vec::new(),
        _ => match crate::vault::open_each(&args.vault.settings(global)) {
            Ok(v) => v,
            Err(e) => {
                if args.json {
                    let body = serde_json::json!({"ok": false, "exit_code": Exit::Setup as u8, "error": e.to_string()});
                    println!("{body}");
                }
                eprintln!("error: {e}");
                return ExitCode::from(Exit::Setup as u8);
            }
        },
    };
    let (mut outcomes, ready) = read_all(&args);
    if !args.json {
        // Files that could not be read get their line now (they never reach the vault).
        for o in outcomes.iter().filter(|o| o.status == Status::Failed) {
            eprintln!("{}", o.line());
        }
    }
    let progress = Progress::new(ready.len(), args.json, std::io::stderr().is_terminal());
    for (index, key) in ready {
        progress.start(&outcomes[index]);
        let result = runtime.block_on(import_everywhere(&vaults, &key, &args));
        drop(key);
        outcomes[index].finish(result);
        progress.done(&outcomes[index]);
    }
    progress.finish();
    let failed = outcomes.iter().any(|o| o.status == Status::Failed);
    let exit = if failed { Exit::SomeFailed } else { Exit::Ok };
    report::print(
        &outcomes,
        args.json,
        exit as u8,
        vaults.is_empty() && args.dry_run,
    );
    ExitCode::from(exit as u8)
}

/// Reads every key file first, so passphrase prompts come before any progress output.
fn read_all(args: &ImportArgs) -> (Vec<Outcome>, Vec<(usize, ReadKey)>) {
    let passphrase = keyfile::passphrase_source(args.passphrase_file.as_deref());
    let mut outcomes = Vec::new();
    let mut ready = Vec::new();
    for path in &args.keys {
        let mut outcome = Outcome::new(path, !args.software);
        match keyfile::read_key_file(path, passphrase.as_ref()) {
            Ok(KeyMaterial::Secret(secret)) => {
                let pk = secret.public_key();
                let name = args.name.clone().unwrap_or_else(|| pk.pkh().to_string());
                outcome.set_key(&name, &pk);
                ready.push((outcomes.len(), ReadKey { name, secret }));
            }
            Ok(KeyMaterial::Public(pk)) => {
                outcome.set_key(
                    &args.name.clone().unwrap_or_else(|| pk.pkh().to_string()),
                    &pk,
                );
                outcome.fail(
                    "the file holds only a public key: import needs the secret key".to_owned(),
                );
            }
            Err(e) => outcome.fail(e.to_string()),
        }
        outcomes.push(outcome);
    }
    (outcomes, ready)
}

/// What happened to one key in the vault.
#[derive(Debug)]
pub(crate) enum Done {
    /// Imported into every vault: the key identifiers, one per vault.
    Imported {
        key_ids: Vec<String>,
    },
    DryRun {
        exists: Option<bool>,
    },
}

/// Imports `key` into every vault: first checks its name in each (nothing is uploaded when one
/// refuses), then uploads into each in turn, reads it back and compares the pkh, so that
/// every vault is known to hold the same public key. With several vaults, each message names
/// its vault.
async fn import_everywhere(
    vaults: &[(url::Url, crate::vault::AzureVault)],
    key: &ReadKey,
    args: &ImportArgs,
) -> Result<Done, String> {
    if vaults.is_empty() {
        return Ok(Done::DryRun { exists: None });
    }
    let several = vaults.len() > 1;
    let at = |url: &url::Url, e: String| if several { format!("{url}: {e}") } else { e };
    let mut exists = false;
    for (url, vault) in vaults {
        exists |= check_name(vault, key, args).await.map_err(|e| at(url, e))?;
    }
    if args.dry_run {
        return Ok(Done::DryRun {
            exists: Some(exists),
        });
    }
    let mut key_ids = Vec::with_capacity(vaults.len());
    for (url, vault) in vaults {
        match upload(vault, key, args).await {
            Ok(id) => key_ids.push(id),
            Err(e) if key_ids.is_empty() => return Err(at(url, e)),
            Err(e) => {
                return Err(format!(
                    "{}; imported into the vaults before it ({}): to finish, import into this \
                     one alone (its --vault-url only; with --force if it now holds the key)",
                    at(url, e),
                    key_ids.join(", ")
                ));
            }
        }
    }
    Ok(Done::Imported { key_ids })
}

/// Whether a key named like `key` exists in `vault` (refused without `--force`).
async fn check_name(vault: &dyn Vault, key: &ReadKey, args: &ImportArgs) -> Result<bool, String> {
    let exists = match vault.get_key(&key.name).await {
        Ok(existing) => Some(format!("holding {}", existing.pkh())),
        Err(VaultError::UnusableKey { reason, .. }) => Some(format!("not usable: {reason}")),
        Err(VaultError::NotFound(_)) => None,
        Err(e) => return Err(format!("cannot check whether {} exists: {e}", key.name)),
    };
    if let Some(what) = &exists
        && !args.force
    {
        return Err(format!(
            "a key named {} already exists in the vault ({what}): pass --force to add a new \
             version, or choose another --name",
            key.name
        ));
    }
    Ok(exists.is_some())
}

/// Uploads, reads back and compares the pkh; the key's identifier in `vault`.
async fn upload(vault: &dyn Vault, key: &ReadKey, args: &ImportArgs) -> Result<String, String> {
    let want = key.secret.public_key().pkh();
    let options = ImportOptions {
        software: args.software,
    };
    let imported = vault
        .import_key(&key.name, &key.secret, options)
        .await
        .map_err(|e| import_failure(&e, args.software))?;
    let back = vault.get_key(&key.name).await.map_err(|e| {
        format!(
            "imported as {}, but reading it back failed: {e}",
            imported.id
        )
    })?;
    if back.pkh() != want {
        return Err(format!(
            "imported as {}, but the vault's key hashes to {}, not {want}: do not use it",
            imported.id,
            back.pkh()
        ));
    }
    Ok(back.id)
}

/// What a refused import says, with the way out when the vault cannot hold HSM keys.
fn import_failure(e: &crate::vault::VaultError, software: bool) -> String {
    let standard_tier = matches!(
        e,
        crate::vault::VaultError::Service { message, .. }
            if message.contains("not allowed on standard vault")
    );
    if standard_tier && !software {
        format!(
            "import failed: {e}. This is a Standard vault, which holds no HSM-protected keys: \
             use a Premium vault (or a Managed HSM), or import with --software"
        )
    } else {
        format!("import failed: {e}")
    }
}
