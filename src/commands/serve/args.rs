//! The `serve` command line: every flag also reads a `TEZOS_AZURE_SIGNER_…` variable.
//!
//! Owns: flag parsing and defaults (loopback only, port 6732, baking kinds only, data dir
//! `$STATE_DIRECTORY` or `~/.tezos-azure-signer`). Must never: default to a non-loopback
//! address or to more magic bytes than the baking ones.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// Run the octez-compatible remote signer.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default: expose the signer only to the baker).
    #[arg(long, env = "TEZOS_AZURE_SIGNER_ADDRESS", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub address: IpAddr,
    /// Port of the signer API (octez's default is 6732).
    #[arg(long, env = "TEZOS_AZURE_SIGNER_PORT", default_value_t = 6732)]
    pub port: u16,
    /// Directory of the high-watermark files and the lock [default: $STATE_DIRECTORY, else
    /// ~/.tezos-azure-signer; with --dev: that directory's `dev` subdirectory].
    #[arg(long, env = "TEZOS_AZURE_SIGNER_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Magic bytes (request kinds) allowed, comma-separated: 0x11 block, 0x12
    /// preattestation, 0x13 attestation, 0x03 generic operation, 0x05 Michelson data, …
    #[arg(
        long,
        env = "TEZOS_AZURE_SIGNER_MAGIC_BYTES",
        value_delimiter = ',',
        value_parser = crate::policy::parse_magic_byte,
        default_value = "0x11,0x12,0x13"
    )]
    pub magic_bytes: Vec<u8>,
    /// Serve only these vault keys, by vault key name or pkh (repeat, or comma-separate in
    /// the variable). All usable keys when absent.
    #[arg(
        long = "key",
        env = "TEZOS_AZURE_SIGNER_KEY",
        value_delimiter = ',',
        value_name = "NAME|PKH"
    )]
    pub keys: Vec<String>,
    /// Policy file (TOML): per key, allowed request kinds and chain ids.
    #[arg(long, env = "TEZOS_AZURE_SIGNER_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Public keys allowed to authenticate requests (octez format); with it, unauthenticated
    /// requests are refused.
    #[arg(long, env = "TEZOS_AZURE_SIGNER_AUTHORIZED_KEYS", value_name = "FILE")]
    pub authorized_keys: Option<PathBuf>,
    /// TLS certificate chain (PEM); serves HTTPS with --tls-key.
    #[arg(
        long,
        env = "TEZOS_AZURE_SIGNER_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(
        long,
        env = "TEZOS_AZURE_SIGNER_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Address of the `/metrics` (Prometheus), `/healthz` (liveness) and `/readyz` (readiness)
    /// listener, or `off` for none.
    #[arg(long, env = "TEZOS_AZURE_SIGNER_METRICS_ADDRESS", value_name = "ADDRESS|off", default_value_t = MetricsListen::At(SocketAddr::from(([127, 0, 0, 1], 9583))))]
    pub metrics_address: MetricsListen,
    /// Answer `GET /known_keys` with the pkhs this signer serves.
    #[arg(long, env = "TEZOS_AZURE_SIGNER_KNOWN_KEYS")]
    pub known_keys: bool,
    /// Share high watermarks with other signers of the same keys through an Azure Blob
    /// Storage container: https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX], with a
    /// SAS token in the query string or, without one, the vault's credential chain (the
    /// identity needs "Storage Blob Data Contributor" on the container). The local files stay
    /// the floor.
    #[arg(long, env = "TEZOS_AZURE_SIGNER_SHARED_WATERMARKS", value_name = "URL", value_parser = crate::commands::args::parse_shared_location)]
    pub shared_watermarks: Option<crate::watermark::shared::SharedLocation>,
    /// Refuse every watermarked request below this level (migration from a signer whose
    /// watermarks cannot be imported: set it above the last level that signer signed).
    #[arg(long, env = "TEZOS_AZURE_SIGNER_MIN_LEVEL", value_name = "N")]
    pub min_level: Option<i32>,
    /// Magic bytes (0x03 and/or 0x05) whose requests the policy refuses are held for a person
    /// instead (`sign --pending` on this machine approves or rejects them). What cannot be
    /// decoded or counted is refused, never held.
    #[arg(
        long,
        env = "TEZOS_AZURE_SIGNER_CONFIRM",
        value_delimiter = ',',
        value_parser = parse_confirm_byte,
        value_name = "MAGIC_BYTES"
    )]
    pub confirm: Vec<u8>,
    /// Start although the 24-hour spending log is missing from a data directory that has
    /// signed before under a max_total_24h: the totals begin from zero (deliberately).
    #[arg(long)]
    pub reset_spending: bool,
    /// How long a held request waits for its answer.
    #[arg(long, env = "TEZOS_AZURE_SIGNER_CONFIRM_TIMEOUT", value_name = "DURATION", default_value = "60s", value_parser = crate::commands::args::parse_duration)]
    pub confirm_timeout: std::time::Duration,
    /// Requests that may wait for a person at once (--confirm); more are refused at once (503).
    #[arg(long, env = "TEZOS_AZURE_SIGNER_MAX_HELD", value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_held: u32,
    /// Requests from one client address that may wait for a person at once (--confirm); more
    /// from it are refused at once (503).
    #[arg(long, env = "TEZOS_AZURE_SIGNER_MAX_HELD_PER_CLIENT", value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_held_per_client: u32,
    /// Requests that may wait for one key while it signs; more are refused at once (503).
    #[arg(long, env = "TEZOS_AZURE_SIGNER_MAX_QUEUE_PER_KEY", value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_queue_per_key: u32,
    /// Chains one key may hold watermarks on; a request for another chain is refused (403).
    #[arg(long, env = "TEZOS_AZURE_SIGNER_MAX_CHAINS_PER_KEY", value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_chains_per_key: u32,
    /// Open connections served at once (API and metrics each); further ones are closed at
    /// once. Lowered to fit the file-descriptor limit.
    #[arg(long, env = "TEZOS_AZURE_SIGNER_MAX_CONNECTIONS", value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// A connection with no request in progress for this long is closed (HTTP/1 and HTTP/2).
    #[arg(long, env = "TEZOS_AZURE_SIGNER_IDLE_TIMEOUT", value_name = "DURATION", default_value = "60s", value_parser = crate::commands::args::parse_duration)]
    pub idle_timeout: std::time::Duration,
    /// Time limit for a request's head (and a new connection's first request).
    #[arg(long, env = "TEZOS_AZURE_SIGNER_HEADER_TIMEOUT", value_name = "DURATION", default_value = "5s", value_parser = crate::commands::args::parse_duration)]
    pub header_timeout: std::time::Duration,
    /// Time limit of one request; a sign request is not sent to the vault once it is over.
    #[arg(long, env = "TEZOS_AZURE_SIGNER_REQUEST_TIMEOUT", value_name = "DURATION", default_value = "10s", value_parser = crate::commands::args::parse_duration)]
    pub request_timeout: std::time::Duration,
    /// With several --vault-url: how long the preferred vault has to answer before the next
    /// one is asked too ("auto": about its recent 95th percentile, 10 ms to 1 s; or a duration).
    /// A vault that errors, throttles or is demoted hands over at once.
    #[arg(long, env = "TEZOS_AZURE_SIGNER_HEDGE_DELAY", value_name = "auto|DURATION", default_value = "auto", value_parser = parse_hedge_delay)]
    pub hedge_delay: crate::vault::HedgeDelay,
    /// With several --vault-url: at most this share of signatures sends a second vault request
    /// because the first was slow (a budget: the share plus a burst of 5).
    #[arg(long, env = "TEZOS_AZURE_SIGNER_HEDGE_MAX_RATIO", value_name = "RATIO", default_value_t = 0.1, value_parser = parse_ratio)]
    pub hedge_max_ratio: f64,
    /// With several --vault-url: failures in a row that demote a vault (it is then asked last
    /// and probed with one signature every 5 s until it signs again).
    #[arg(long, env = "TEZOS_AZURE_SIGNER_DEMOTE_AFTER", value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub demote_after: u32,
    /// Development mode: run the bundled Key Vault emulator in-process, create a demo tz2 and
    /// tz3 key on first run, and serve them through the production code path.
    #[arg(long, env = "TEZOS_AZURE_SIGNER_DEV")]
    pub dev: bool,
    /// With --dev: the emulator answers each vault request after this many milliseconds
    /// (to see the signer under a real vault's latency).
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 0,
        requires = "dev",
        hide = true
    )]
    pub dev_latency_ms: u64,
    /// With --dev: emulate this many vaults (one tenant, one CA, the demo keys in each), used
    /// as several --vault-url are.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "dev", value_parser = clap::value_parser!(u8).range(1..=4))]
    pub dev_vaults: u8,
    #[command(flatten)]
    pub vault: crate::commands::VaultArgs,
}

/// `--confirm` covers generic operations (0x03) and Michelson data (0x05) only: blocks and
/// consensus operations cannot wait for a person, and authentication payloads are never
/// signed.
fn parse_confirm_byte(s: &str) -> Result<u8, String> {
    match crate::policy::parse_magic_byte(s)? {
        b @ (0x03 | 0x05) => Ok(b),
        b => Err(format!(
            "0x{b:02x} cannot be confirmed by a person: --confirm takes 0x03 (operations) and \
             0x05 (Michelson data)"
        )),
    }
}

/// `auto` or a duration (0 is allowed: ask every vault at once).
fn parse_hedge_delay(s: &str) -> Result<crate::vault::HedgeDelay, String> {
    match s.trim() {
        "auto" => Ok(crate::vault::HedgeDelay::Auto),
        "0" | "0ms" | "0s" => Ok(crate::vault::HedgeDelay::Fixed(std::time::Duration::ZERO)),
        other => crate::commands::args::parse_duration(other).map(crate::vault::HedgeDelay::Fixed),
    }
}

/// A share between 0 and 1.
fn parse_ratio(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("{s:?} is not a ratio between 0 and 1 (e.g. 0.1)")),
    }
}

impl ServeArgs {
    /// The vault settings: `--vault-url` and the vault flags, with this command's hedging.
    pub fn vault_settings(
        &self,
        global: &crate::commands::GlobalArgs,
    ) -> crate::vault::VaultSettings {
        crate::vault::VaultSettings {
            hedge: crate::vault::HedgeConfig {
                delay: self.hedge_delay,
                max_ratio: self.hedge_max_ratio,
                demote_after: self.demote_after,
                ..crate::vault::HedgeConfig::default()
            },
            ..self.vault.settings(global)
        }
    }

    /// The data directory: the flag, else `$STATE_DIRECTORY` (systemd), else
    /// `~/.tezos-azure-signer`; `--dev` without `--data-dir` uses a `dev` subdirectory so demo
    /// watermarks never mix with real ones.
    pub fn resolved_data_dir(&self) -> Result<PathBuf, crate::commands::args::NoDataDir> {
        crate::commands::args::resolve_data_dir(self.data_dir.as_deref(), self.dev)
    }

    pub fn api_address(&self) -> SocketAddr {
        SocketAddr::new(self.address, self.port)
    }

    /// The listeners' limits from the flags.
    pub fn limits(&self) -> crate::server::listen::Limits {
        // A held request waits for its answer on top of its own time.
        let held = if self.confirm.is_empty() {
            std::time::Duration::ZERO
        } else {
            self.confirm_timeout
        };
        crate::server::listen::Limits {
            request_timeout: self.request_timeout + held,
            idle_timeout: self.idle_timeout,
            header_timeout: self.header_timeout,
            max_connections: self.max_connections as usize,
            ..crate::server::listen::Limits::default()
        }
    }
}

/// Where the metrics listener binds, if anywhere (`--metrics-address`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsListen {
    Off,
    At(SocketAddr),
}

impl MetricsListen {
    pub fn address(self) -> Option<SocketAddr> {
        match self {
            MetricsListen::Off => None,
            MetricsListen::At(address) => Some(address),
        }
    }
}

impl std::str::FromStr for MetricsListen {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("off") {
            return Ok(MetricsListen::Off);
        }
        s.parse().map(MetricsListen::At).map_err(|_| {
            format!("`{s}` is neither an address with a port (e.g. 127.0.0.1:9583) nor `off`")
        })
    }
}

impl std::fmt::Display for MetricsListen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetricsListen::Off => f.write_str("off"),
            MetricsListen::At(address) => address.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse_magic_byte;

    #[test]
    fn magic_bytes_are_hex_with_or_without_prefix() {
        assert_eq!(parse_magic_byte("0x11"), Ok(0x11));
        assert_eq!(parse_magic_byte("13"), Ok(0x13));
        assert_eq!(parse_magic_byte(" 0X03 "), Ok(0x03));
        assert!(parse_magic_byte("0x99").is_err());
        assert!(parse_magic_byte("zz").is_err());
    }

    #[test]
    fn metrics_address_is_an_address_or_off() {
        let at: SocketAddr = "127.0.0.1:9583".parse().expect("an address");
        assert_eq!("127.0.0.1:9583".parse(), Ok(MetricsListen::At(at)));
        assert_eq!("off".parse(), Ok(MetricsListen::Off));
        assert_eq!(
            "OFF".parse::<MetricsListen>().map(|m| m.address()),
            Ok(None)
        );
        let err = "9583"
            .parse::<MetricsListen>()
            .expect_err("a port alone is no address");
        assert!(err.contains("nor `off`"), "{err}");
        assert_eq!(MetricsListen::At(at).to_string(), "127.0.0.1:9583");
        assert_eq!(MetricsListen::Off.to_string(), "off");
    }
}
