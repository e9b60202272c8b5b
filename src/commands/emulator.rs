//! `emulator`: runs the bundled Key Vault stand-in until Ctrl-C / SIGTERM. With `--print-env`
//! it prints `export K='V'` lines once listening and then detaches stdout, so
//! `eval "$(tezos-azure-signer emulator --ephemeral --print-env &)"` works in a shell.
//! It never listens on anything but loopback.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::emulator::{Emulator, EmulatorConfig, Faults};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("storage").required(true).args(["state_dir", "ephemeral"])))]
pub struct EmulatorArgs {
    /// Keep keys and the CA/leaf certificates in DIR (created 0700; keys.json is 0600).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Keep keys in memory only; the CA goes to a temporary directory removed on exit.
    #[arg(long)]
    pub ephemeral: bool,
    /// HTTPS port of the vault (and of the Entra token endpoint) on 127.0.0.1; 0 picks one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Plain-http port of the managed-identity endpoint on 127.0.0.1; 0 picks one.
    #[arg(long, default_value_t = 0)]
    pub identity_port: u16,
    /// Print shell `export` lines (AZURE_KEYVAULT_URI, SSL_CERT_FILE, IDENTITY_ENDPOINT,
    /// IDENTITY_HEADER) once listening, then keep serving.
    #[arg(long)]
    pub print_env: bool,
    /// Delay every data-plane request by this many milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,
    /// Answer every Nth authenticated data-plane request with 429 Throttled.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub throttle_every: Option<u32>,
    /// Retry-After seconds sent with injected 429s.
    #[arg(long = "retry-after", default_value_t = 1, value_name = "SECS")]
    pub retry_after: u64,
    /// Fraction (0..1) of authenticated data-plane requests failing with 500.
    #[arg(long, default_value_t = 0.0, value_name = "F", value_parser = rate)]
    pub error_rate: f64,
    /// Fraction (0..1) of sign replies carrying a signature that does not verify.
    #[arg(long, default_value_t = 0.0, value_name = "F", value_parser = rate)]
    pub wrong_signature_rate: f64,
    /// Fraction (0..1) of sign replies whose value is malformed (63 or 65 bytes, r = 0,
    /// s out of range, not base64url; in turn).
    #[arg(long, default_value_t = 0.0, value_name = "F", value_parser = rate)]
    pub malformed_signature_rate: f64,
    /// Fraction (0..1) of data-plane requests delayed by --slow-ms more (a latency tail).
    #[arg(long, default_value_t = 0.0, value_name = "F", value_parser = rate)]
    pub slow_rate: f64,
    /// The extra delay of a slow request (--slow-rate).
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub slow_ms: u64,
    /// Key Vault's own throttling: at most N authenticated data-plane requests per window
    /// (--throttle-window-ms); the rest get 429 without Retry-After, as the service answers.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub throttle_per_window: Option<u32>,
    /// The window of --throttle-per-window (Key Vault counts per 10 seconds).
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub throttle_window_ms: u64,
    /// Page key listings as the service sometimes does: an empty page carrying a nextLink
    /// before every page, and an empty last page after the last full one.
    #[arg(long)]
    pub empty_pages: bool,
    /// Answer as a Standard-tier vault: HSM-protected imports are refused with the service's
    /// message (the default is Premium, which holds both).
    #[arg(long)]
    pub standard_tier: bool,
    /// Answer as a Managed HSM (its challenge resource and token audience, empty 401 bodies,
    /// no nextLink member on the last page, `alg` in sign replies, every key EC-HSM); reach
    /// it as https://NAME.managedhsm.azure.net:PORT resolved to 127.0.0.1.
    #[arg(long)]
    pub managed_hsm: bool,
    /// Serve this many vaults in one tenant (one CA, one token issuer: a token is good for
    /// each, as for two real vaults of one tenant), each with its own keys and port; the first
    /// on --port, the others on ports the OS picks, their state under --state-dir/vault-N.
    /// --print-env lists every URL in AZURE_KEYVAULT_URI, comma-separated; the faults apply to
    /// the first (the others' through their /_emulator/faults endpoint).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=4))]
    pub vaults: u8,
    /// Lifetime of minted access tokens (short values exercise clients' token refresh).
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    pub token_lifetime_secs: u64,
    /// Tenant named in the 401 challenge and accepted by /{tenant}/oauth2/v2.0/token.
    #[arg(long, default_value = crate::emulator::DEFAULT_TENANT_ID)]
    pub tenant_id: String,
    /// Client id of the one app registered for the client-credentials flow.
    #[arg(long, default_value = crate::emulator::DEFAULT_CLIENT_ID)]
    pub client_id: String,
    /// Client secret of that app (a test value).
    #[arg(long, default_value = crate::emulator::DEFAULT_CLIENT_SECRET)]
    pub client_secret: String,
    /// Federated token that app trusts as a workload identity's client assertion (put the same
    /// text in the file named by AZURE_FEDERATED_TOKEN_FILE). Default: random, i.e. refused.
    #[arg(long, value_name = "TOKEN")]
    pub federated_token: Option<String>,
}

fn rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!("'{s}' is not a rate between 0 and 1")),
    }
}

/// Single-quotes a value for a POSIX shell.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

pub(crate) fn run(_global: &crate::commands::GlobalArgs, args: EmulatorArgs) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("emulator: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("emulator: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn serve(args: EmulatorArgs) -> anyhow::Result<()> {
    let state_dir = if args.ephemeral { None } else { args.state_dir };
    let config = EmulatorConfig {
        state_dir: state_dir.clone(),
        port: args.port,
        identity_port: args.identity_port,
        faults: Faults {
            latency_ms: args.latency_ms,
            throttle_every: args.throttle_every,
            retry_after_secs: args.retry_after,
            error_rate: args.error_rate,
            wrong_signature_rate: args.wrong_signature_rate,
            malformed_signature_rate: args.malformed_signature_rate,
            slow_rate: args.slow_rate,
            slow_ms: args.slow_ms,
            throttle_per_window: args.throttle_per_window,
            throttle_window_ms: args.throttle_window_ms,
            throttle_list_every: None,
            empty_pages: args.empty_pages,
        },
        tenant_id: args.tenant_id,
        client_id: args.client_id,
        client_secret: args.client_secret,
        federated_token: args
            .federated_token
            .unwrap_or_else(crate::emulator::random_federated_token),
        token_lifetime: std::time::Duration::from_secs(args.token_lifetime_secs),
        standard_tier: args.standard_tier,
        managed_hsm: args.managed_hsm,
    };
    let others = (2..=args.vaults).map(|n| EmulatorConfig {
        state_dir: state_dir.as_ref().map(|d| d.join(format!("vault-{n}"))),
        ..EmulatorConfig::default()
    });
    let vaults = Emulator::start_tenant(config, others).await?;
    let emulator = &vaults[0];
    for vault in &vaults {
        tracing::info!(
            vault = %vault.vault_url(),
            identity_endpoint = %emulator.identity_endpoint(),
            ca = %emulator.ca_path().display(),
            "Key Vault emulator listening (stats: {}/_emulator/stats)",
            vault.vault_url()
        );
    }
    if args.print_env {
        use std::io::Write as _;
        let urls: Vec<String> = vaults.iter().map(Emulator::vault_url).collect();
        let mut out = std::io::stdout().lock();
        for (k, v) in emulator.env() {
            let v = if k == "AZURE_KEYVAULT_URI" {
                urls.join(",")
            } else {
                v
            };
            writeln!(out, "export {k}={}", shell_quote(&v))?;
        }
        out.flush()?;
        drop(out);
        detach_stdout();
    }
    wait_for_signal().await;
    tracing::info!("Key Vault emulator stopping");
    for vault in vaults {
        vault.shutdown().await;
    }
    Ok(())
}

/// Points stdout at /dev/null so a reader of our stdout (`$(…)`) sees EOF while we keep serving.
#[cfg(unix)]
fn detach_stdout() {
    use std::os::fd::AsRawFd as _;
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        // SAFETY: dup2 onto fd 1 replaces stdout atomically; both descriptors are valid and
        // nothing else writes to stdout after the env lines were flushed.
        #[allow(unsafe_code)]
        unsafe {
            libc::dup2(null.as_raw_fd(), 1);
        }
    }
}

#[cfg(not(unix))]
fn detach_stdout() {}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn rates_are_bounded() {
        assert_eq!(rate("0.25"), Ok(0.25));
        assert!(rate("1.5").is_err());
        assert!(rate("-0.1").is_err());
        assert!(rate("x").is_err());
    }
}
