//! `watermarks`: look at the high watermarks of a data directory, bring in the marks of
//! another signer (octez-signer's files, Signatory's `watermark_v2`), and seed a shared
//! container (`serve --shared-watermarks`) with them, never lowering a mark anywhere.
//!
//! Owns: reading the other signers' formats and raising marks from them. Refuses to run on a
//! data directory a running `serve` holds (the store's lock, naming it). Exit codes: 0 done;
//! 1 the directory is in use; 3 unreadable input; 4 the shared container failed. Must never:
//! lower a mark.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::commands::GlobalArgs;
use crate::commands::args::VaultArgs;
use crate::tezos::base58;
use crate::tezos::{ChainId, ConsensusKind, Pkh};
use crate::watermark::Slot;
use crate::watermark::format::KindMarks;
use crate::watermark::marks::Marks;
use crate::watermark::shared::{self, AzureBlobs, Container, SharedLocation};
use crate::watermark::{DataDir, Mark, StoreError};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 done, 1 the data directory is in use, 2 usage error, \
3 unreadable input, 4 the shared container failed or refused."
)]
pub struct WatermarksArgs {
    #[command(subcommand)]
    pub action: Action,
    /// Data directory of the high watermarks (the same default as `serve`).
    #[arg(
        long,
        global = true,
        env = "TEZOS_AZURE_SIGNER_DATA_DIR",
        value_name = "DIR"
    )]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Every mark: chain, key, kind, level, round, and signed, reserved or unreleased.
    Show {
        /// One JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Raise this directory's marks to another signer's, never lowering one.
    Import {
        /// Whose files: octez (octez-signer's base directory) or signatory (the directory
        /// holding `watermark_v2/`).
        #[arg(long, value_enum)]
        from: Source,
        /// The other signer's directory.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Seed a shared-watermark container (`serve --shared-watermarks`) with this directory's
    /// marks, raising each slot that is missing or lower there, never lowering one.
    Push {
        /// https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX][?SAS]
        #[arg(value_name = "URL", value_parser = crate::commands::args::parse_shared_location)]
        url: SharedLocation,
        #[command(flatten)]
        vault: VaultArgs,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Source {
    Octez,
    Signatory,
}

pub(crate) fn run(global: &GlobalArgs, args: WatermarksArgs) -> ExitCode {
    let dir = match crate::commands::args::resolve_data_dir(args.data_dir.as_deref(), false) {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(3);
        }
    };
    let outcome = match args.action {
        // Read-only: never writes a mark file or the journal.
        Action::Show { json } => match DataDir::inspect(&dir) {
            Ok(marks) => {
                show(&marks, json);
                Ok(())
            }
            Err(e) => return open_failed(&e),
        },
        Action::Import { from, dir: source } => match DataDir::open(&dir) {
            Ok(mut store) => import(&mut store, from, &source),
            Err(e) => return open_failed(&e),
        },
        Action::Push { url, vault } => {
            let marks = match DataDir::inspect(&dir) {
                Ok(marks) => marks,
                Err(e) => return open_failed(&e),
            };
            return match push(&marks, &url, &vault.settings(global)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(4)
                }
            };
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(3)
        }
    }
}

/// A data directory held by a running `serve` exits 1; any other failure to read it, 3.
fn open_failed(e: &StoreError) -> ExitCode {
    eprintln!("error: {e}");
    match e {
        StoreError::Locked { .. } => ExitCode::from(1),
        _ => ExitCode::from(3),
    }
}

fn show(marks: &Marks, json: bool) {
    let mut rows: Vec<_> = marks.entries().collect();
    rows.sort_by_key(|(kind, chain, pkh, _)| (chain.to_string(), pkh.to_string(), *kind));
    if json {
        let marks: Vec<_> = rows
            .iter()
            .map(|(kind, chain, pkh, m)| {
                serde_json::json!({
                    "chain": chain.to_string(),
                    "key": pkh.to_string(),
                    "kind": kind.name(),
                    "level": m.level,
                    "round": m.round,
                    "state": state(m),
                })
            })
            .collect();
        println!("{}", serde_json::json!({ "marks": marks }));
        return;
    }
    if rows.is_empty() {
        println!("no marks");
    }
    for (kind, chain, pkh, m) in rows {
        let round = m.round.map(|r| r.to_string()).unwrap_or_else(|| "-".into());
        let state = state(m);
        println!(
            "{chain}  {pkh}  {kind:<14}  level {:>9}  round {round:>3}  {state}",
            m.level
        );
    }
}

/// `signed`; `unreleased` (a block reservation of this signer whose signature was never
/// recorded, so never released: the same block may be signed again); or `reserved` (no
/// signature recorded: an identical (pre)attestation may be signed again, an identical block
/// is refused).
fn state(m: &Mark) -> &'static str {
    match (m.signature, m.unreleased) {
        (Some(_), _) => "signed",
        (None, true) => "unreleased",
        (None, false) => "reserved",
    }
}

/// The marks of `source` in `dir`, by kind.
fn read_source(source: Source, dir: &Path) -> Result<BTreeMap<ConsensusKind, KindMarks>, String> {
    match source {
        // octez-signer's files of every version, read as the store reads its own (an unknown
        // `*_high_watermarks` file is refused, as serve refuses it).
        Source::Octez => crate::watermark::files::check_names(dir)
            .and_then(|()| crate::watermark::files::read_all(dir))
            .map(|d| d.marks)
            .map_err(|e| e.to_string()),
        Source::Signatory => read_signatory(dir),
    }
}

#[derive(serde::Deserialize)]
struct SignatoryMark {
    level: i32,
    #[serde(default)]
    round: Option<i32>,
    hash: String,
}

/// Signatory's file store: `watermark_v2/<chain>.json` =
/// `{"<pkh>": {"<kind>": {"level", "round", "hash": "vh…"}}}`. Its marks carry no signature.
fn read_signatory(dir: &Path) -> Result<BTreeMap<ConsensusKind, KindMarks>, String> {
    let base = dir.join("watermark_v2");
    let entries =
        std::fs::read_dir(&base).map_err(|e| format!("cannot read {}: {e}", base.display()))?;
    let mut out: BTreeMap<ConsensusKind, KindMarks> = BTreeMap::new();
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let Some(chain) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        let chain: ChainId = chain
            .parse()
            .map_err(|e| format!("{}: not a chain id: {e}", path.display()))?;
        // A regular file only (never a FIFO, a device or a link), of bounded size.
        let text = crate::watermark::files::read_text(&path)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{} disappeared while it was read", path.display()))?;
        let raw: BTreeMap<String, BTreeMap<String, SignatoryMark>> =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for (pkh, kinds) in raw {
            let pkh: Pkh = pkh
                .parse()
                .map_err(|e| format!("{}: {pkh}: {e}", path.display()))?;
            for (kind, m) in kinds {
                let kind = match kind.as_str() {
                    "block" => ConsensusKind::Block,
                    "preattestation" | "preendorsement" => ConsensusKind::Preattestation,
                    "attestation" | "attestation_with_dal" | "endorsement" => {
                        ConsensusKind::Attestation
                    }
                    other => return Err(format!("{}: unknown kind {other:?}", path.display())),
                };
                let hash = base58::decode_array(base58::VALUE_HASH, &m.hash).map_err(|e| {
                    format!("{}: {pkh}: bad hash {:?}: {e}", path.display(), m.hash)
                })?;
                let mark = Mark {
                    level: m.level,
                    round: Some(m.round.unwrap_or(0)),
                    hash,
                    signature: None,
                    unreleased: false,
                };
                mark.validate_for(kind)
                    .map_err(|e| format!("{}: {pkh}: {e}", path.display()))?;
                let mut one = KindMarks::new();
                one.entry(chain).or_default().insert(pkh, mark);
                crate::watermark::files::raise(out.entry(kind).or_default(), &one);
            }
        }
    }
    Ok(out)
}

fn import(store: &mut DataDir, from: Source, dir: &Path) -> Result<(), String> {
    let marks = read_source(from, dir)?;
    let (raised, kept) = store.import(marks).map_err(|e| e.to_string())?;
    println!("{raised} marks raised, {kept} already as high or higher (never lowered)");
    Ok(())
}

/// Raises the container's slots to this directory's marks (never lowering one).
fn push(
    marks: &Marks,
    location: &SharedLocation,
    settings: &crate::vault::VaultSettings,
) -> Result<(), String> {
    let marks: Vec<(Slot, Mark)> = marks
        .entries()
        .map(|(kind, chain, pkh, m)| (Slot { kind, chain, pkh }, m.clone()))
        .collect();
    let (credential, options) =
        crate::vault::azure_access(settings, !location.uses_sas()).map_err(|e| e.to_string())?;
    let blobs = AzureBlobs::new(location, credential, options).map_err(|e| e.to_string())?;
    let shared = Container::new(
        std::sync::Arc::new(blobs),
        location.clone(),
        settings.read_deadline,
        Default::default(),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let total = marks.len();
    let report = runtime
        .block_on(shared::push(&shared, marks))
        .map_err(|e| e.to_string())?;
    println!(
        "{total} marks pushed to {location}: {} created, {} raised, {} already as high or higher (never lowered)",
        report.created, report.raised, report.kept
    );
    for slot in &report.diverged {
        println!(
            "diverged: {} {} {}: the container holds other bytes at this mark's level and round (left as it is)",
            slot.chain, slot.pkh, slot.kind
        );
    }
    Ok(())
}
