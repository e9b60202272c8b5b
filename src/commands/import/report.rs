//! What `import` shows: an indicatif progress bar on a terminal (plain lines otherwise), a
//! summary table, or one JSON object. Holds only public data (names, pkhs, public keys, key ids,
//! error messages that never contain secrets).

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use super::Done;
use crate::tezos::{Curve, Pkh, PublicKey};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum Status {
    Pending,
    Imported,
    DryRun,
    Failed,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Imported => "imported",
            Status::DryRun => "dry-run",
            Status::Failed => "FAILED",
        }
    }
}

/// The result for one `--key`.
#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct Outcome {
    pub file: String,
    pub name: Option<String>,
    pub status: Status,
    pub curve: Option<Curve>,
    pub pkh: Option<Pkh>,
    pub public_key: Option<String>,
    /// The key identifier in each vault (comma-separated when imported into several).
    pub key_id: Option<String>,
    pub hsm: bool,
    /// For --dry-run against a vault: whether the name already exists (then --force was given).
    pub exists: Option<bool>,
    pub error: Option<String>,
}

impl Outcome {
    pub(super) fn new(path: &Path, hsm: bool) -> Self {
        Outcome {
            file: path.display().to_string(),
            name: None,
            status: Status::Pending,
            curve: None,
            pkh: None,
            public_key: None,
            key_id: None,
            hsm,
            exists: None,
            error: None,
        }
    }

    pub(super) fn set_key(&mut self, name: &str, pk: &PublicKey) {
        self.name = Some(name.to_owned());
        self.curve = Some(pk.curve());
        self.pkh = Some(pk.pkh());
        self.public_key = Some(pk.to_string());
    }

    pub(super) fn fail(&mut self, error: String) {
        self.status = Status::Failed;
        self.error = Some(error);
    }

    pub(super) fn finish(&mut self, result: Result<Done, String>) {
        match result {
            Ok(Done::Imported { key_ids }) => {
                self.status = Status::Imported;
                self.key_id = Some(key_ids.join(", "));
            }
            Ok(Done::DryRun { exists }) => {
                self.status = Status::DryRun;
                self.exists = exists;
            }
            Err(e) => self.fail(e),
        }
    }

    pub(super) fn line(&self) -> String {
        let name = self.name.as_deref().unwrap_or("-");
        match (self.status, &self.error) {
            (Status::Failed, Some(e)) => format!("FAILED {}: {e}", self.file),
            (Status::Imported, _) => format!(
                "imported {} as {name} ({})",
                self.file,
                self.key_id.as_deref().unwrap_or("-")
            ),
            (Status::DryRun, _) => format!(
                "dry-run: {} would be imported as {name}{}",
                self.file,
                match self.exists {
                    Some(true) => " (a new version of an existing key)",
                    Some(false) => "",
                    None => " (vault not checked: no --vault-url)",
                }
            ),
            _ => format!("{} {}", self.status.label(), self.file),
        }
    }
}

/// A progress bar on a terminal, plain lines on stderr otherwise, nothing for JSON.
pub(super) enum Progress {
    Bar(ProgressBar),
    Plain,
    Silent,
}

impl Progress {
    pub(super) fn new(total: usize, json: bool, terminal: bool) -> Self {
        if json {
            return Progress::Silent;
        }
        if !terminal {
            return Progress::Plain;
        }
        let bar = ProgressBar::new(total as u64);
        if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}") {
            bar.set_style(style);
        }
        Progress::Bar(bar)
    }

    pub(super) fn start(&self, o: &Outcome) {
        if let Progress::Bar(bar) = self {
            bar.set_message(format!("importing {}", o.file));
        }
    }

    pub(super) fn done(&self, o: &Outcome) {
        match self {
            Progress::Bar(bar) => {
                bar.println(o.line());
                bar.inc(1);
            }
            Progress::Plain => eprintln!("{}", o.line()),
            Progress::Silent => {}
        }
    }

    pub(super) fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

#[derive(serde::Serialize)]
struct JsonReport<'a> {
    ok: bool,
    exit_code: u8,
    dry_run_offline: bool,
    keys: &'a [Outcome],
}

/// Prints the summary (table or JSON) on stdout.
pub(super) fn print(outcomes: &[Outcome], json: bool, exit_code: u8, offline: bool) {
    if json {
        let report = JsonReport {
            ok: exit_code == 0,
            exit_code,
            dry_run_offline: offline,
            keys: outcomes,
        };
        match serde_json::to_string(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: cannot serialise the report: {e}"),
        }
        return;
    }
    print!("{}", table(outcomes));
    let failed = outcomes
        .iter()
        .filter(|o| o.status == Status::Failed)
        .count();
    if failed > 0 {
        eprintln!("{failed} of {} keys failed", outcomes.len());
    }
}

/// The summary table: status, name, pkh, then the key id or the error.
pub(super) fn table(outcomes: &[Outcome]) -> String {
    let rows: Vec<[String; 5]> = outcomes
        .iter()
        .map(|o| {
            [
                o.status.label().to_owned(),
                o.name.clone().unwrap_or_else(|| "-".into()),
                o.pkh.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                o.public_key.clone().unwrap_or_else(|| "-".into()),
                match (&o.key_id, &o.error) {
                    (Some(id), _) => id.clone(),
                    (None, Some(e)) => e.clone(),
                    (None, None) => o.file.clone(),
                },
            ]
        })
        .collect();
    let header = ["STATUS", "NAME", "PKH", "PUBLIC KEY", "KEY ID / ERROR"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()).take(4) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(header.map(str::to_owned)).chain(rows) {
        for (i, cell) in row.iter().enumerate() {
            if i < 4 {
                out.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            } else {
                out.push_str(cell);
            }
        }
        out.push('\n');
    }
    out
}
