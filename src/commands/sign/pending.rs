//! `sign --pending`: answering the requests a running `serve --confirm` holds, over the
//! socket in its data directory. Interactive by default (each request, one per key and bytes,
//! fetched whole and shown decoded, then approve or reject; new ones appear as they come), or
//! one answer for scripts (`--list [--json]` with a preview of each request's bytes,
//! `--approve HASH --key PKH`, `--reject HASH --key PKH`). Exit codes: 0 done; 1 nothing held
//! of that key with that hash / no terminal; 2 `--key` is not a pkh; 3 no signer to talk to.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use super::{SignArgs, data_dir, screen_safe, show};
use crate::commands::GlobalArgs;
use crate::confirm::HeldView;
use crate::confirm::socket::{Command, ConfirmClient, Reply};
use crate::tezos::{Pkh, SigningRequest};

pub(super) fn run(global: &GlobalArgs, args: &SignArgs) -> ExitCode {
    let outcome = crate::commands::runtime()
        .map_err(|e| (3, format!("cannot start the async runtime: {e}")))
        .and_then(|rt| rt.block_on(pending(global, args)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, e)) => {
            eprintln!("error: {e}");
            ExitCode::from(code)
        }
    }
}

/// What is shown of a held request: its header, the decoded details, then, last (right above
/// the prompt, so nothing before can push it off the screen), the fixed summary.
fn lines_of(view: &HeldView, options: show::Options) -> Vec<String> {
    let copies = match view.waiting {
        0 | 1 => String::new(),
        n => format!(" ({n} identical requests: one answer for all, counted once)"),
    };
    let mut lines = vec![format!(
        "held request #{} {} for {} from {}, waiting {} s ({}){copies}",
        view.id,
        view.hash,
        view.pkh,
        view.client.as_deref().unwrap_or("an unknown client"),
        view.waited_ms / 1000,
        view.reason
    )];
    let decoded = view.bytes.as_deref().and_then(|bytes| {
        let bytes = hex::decode(bytes).ok()?;
        let pkh: Pkh = view.pkh.parse().ok()?;
        let req = SigningRequest::parse(&bytes).ok()?;
        show::request(&pkh, &req, options).ok()
    });
    match decoded {
        Some(shown) => {
            lines.extend(shown.lines.iter().map(|l| format!("  {l}")));
            lines.extend(shown.summary);
        }
        None if view.bytes.is_none() => lines.push(preview_line(view)),
        None => lines.push("  (cannot be decoded)".into()),
    }
    lines
}

/// A listing's line for a request: the start of its bytes (a listing carries no more).
fn preview_line(view: &HeldView) -> String {
    let shown = view.preview.len() / 2;
    let more = if view.size > shown { "…" } else { "" };
    format!("  {} bytes: {}{more}", view.size, view.preview)
}

/// The connection to the signer's socket. The signer closes a connection idle for long (a
/// person may sit on a prompt): a call that finds it closed reconnects once.
struct Session {
    dir: PathBuf,
    client: ConfirmClient,
}

impl Session {
    async fn open(dir: &Path) -> Result<Session, (u8, String)> {
        let client = ConfirmClient::connect(dir).await.map_err(|e| {
            (
                3,
                format!(
                    "no signer holds requests in {} ({e}): is `serve --confirm` running there?",
                    dir.display()
                ),
            )
        })?;
        Ok(Session {
            dir: dir.to_path_buf(),
            client,
        })
    }

    async fn call(&mut self, command: &Command) -> Result<Reply, (u8, String)> {
        if let Ok(reply) = self.client.call(command).await {
            return Ok(reply);
        }
        // Closed before the command was read (idle), or the signer went away: a command
        // that never arrived is sent again; a signer that restarted holds nothing old.
        self.client = Session::open(&self.dir).await?.client;
        self.client
            .call(command)
            .await
            .map_err(|e| (3, format!("the signer stopped answering: {e}")))
    }
}

fn unexpected() -> (u8, String) {
    (3, "unexpected reply from the signer".into())
}

/// The whole held request of key `pkh` with `hash` (a listing has a preview only); `None`
/// when it was answered, expired or its client left meanwhile.
async fn get(
    session: &mut Session,
    pkh: &str,
    hash: &str,
) -> Result<Option<HeldView>, (u8, String)> {
    let command = Command::Get {
        pkh: pkh.to_string(),
        hash: hash.to_string(),
    };
    match session.call(&command).await? {
        Reply::Request { request } => Ok(request),
        Reply::Error { error } => Err((3, error)),
        Reply::Held { .. } | Reply::Answered { .. } => Err(unexpected()),
    }
}

/// The held requests to ask about now: those not asked yet, one per (key, bytes). `asked`
/// forgets what is no longer held, so the same bytes held again later are asked again.
fn to_ask<'a>(held: &'a [HeldView], asked: &mut BTreeSet<(String, String)>) -> Vec<&'a HeldView> {
    asked.retain(|(pkh, hash)| held.iter().any(|v| v.pkh == *pkh && v.hash == *hash));
    held.iter()
        .filter(|v| asked.insert((v.pkh.clone(), v.hash.clone())))
        .collect()
}

/// Answers the held requests of `pkh` with these bytes; with `id`, only while the request the
/// person saw is still among them.
async fn answer(
    session: &mut Session,
    pkh: &str,
    hash: &str,
    id: Option<u64>,
    approve: bool,
) -> Result<(), (u8, String)> {
    let (pkh, hash) = (pkh.to_string(), hash.to_string());
    let command = if approve {
        Command::Approve { pkh, hash, id }
    } else {
        Command::Reject { pkh, hash, id }
    };
    match session.call(&command).await? {
        Reply::Answered { answered } if answered > 0 => Ok(()),
        Reply::Answered { .. } => Err((
            1,
            "no held request of that key with that hash (answered, expired, or its client left)"
                .to_string(),
        )),
        Reply::Error { error } => Err((3, error)),
        Reply::Held { .. } | Reply::Request { .. } => Err(unexpected()),
    }
}

async fn pending(global: &GlobalArgs, args: &SignArgs) -> Result<(), (u8, String)> {
    let dir = data_dir(args).map_err(|e| (3, e.to_string()))?;
    let scripted = match (&args.approve, &args.reject) {
        (Some(hash), _) => Some((hash, true)),
        (None, Some(hash)) => Some((hash, false)),
        (None, None) => None,
    };
    if let Some((hash, approve)) = scripted {
        // A held request is answered by its key and bytes: the key as the listing names it.
        let key = args.key.as_deref().unwrap_or_default();
        let pkh: Pkh = key.parse().map_err(|_| {
            (
                2,
                format!(
                    "--key {key:?} is not a pkh: with --pending, --key takes the held request's \
                     key as a pkh (tz1…, tz2…, tz3…, tz4…), as `sign --pending --list` shows it, \
                     not a vault key name"
                ),
            )
        })?;
        let mut session = Session::open(&dir).await?;
        return answer(&mut session, &pkh.to_string(), hash, None, approve).await;
    }
    let mut session = Session::open(&dir).await?;
    let list = |reply: Reply| match reply {
        Reply::Held { held } => Ok(held),
        Reply::Error { error } => Err((3, error)),
        Reply::Answered { .. } | Reply::Request { .. } => Err(unexpected()),
    };
    if args.list {
        let held = list(session.call(&Command::List).await?)?;
        if args.json {
            println!("{}", serde_json::json!({ "held": held }));
        } else if held.is_empty() {
            println!("no held requests");
        } else {
            for view in &held {
                for line in lines_of(view, super::options(global, args)) {
                    println!("{}", screen_safe(&line));
                }
            }
        }
        return Ok(());
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err((
            1,
            "no terminal to answer on: use --list, --approve HASH or --reject HASH".into(),
        ));
    }
    eprintln!("Waiting for held requests (Ctrl-C to stop)…");
    let mut asked: BTreeSet<(String, String)> = BTreeSet::new();
    loop {
        let held = list(session.call(&Command::List).await?)?;
        for listed in to_ask(&held, &mut asked) {
            // The whole bytes, to decode them (an older signer lists them whole and has no
            // `get`).
            let view = match get(&mut session, &listed.pkh, &listed.hash).await {
                Ok(Some(whole)) => whole,
                Ok(None) => continue,
                Err(_) if listed.bytes.is_some() => listed.clone(),
                Err(e) => return Err(e),
            };
            let view = &view;
            for line in lines_of(view, super::options(global, args)) {
                eprintln!("{}", screen_safe(&line));
            }
            let approve = dialoguer::Confirm::new()
                .with_prompt(format!("Approve {} for {}?", view.hash, view.pkh))
                .default(false)
                .interact_on(&dialoguer::console::Term::stderr())
                .map_err(|e| (3, format!("cannot ask on the terminal: {e}")))?;
            match answer(&mut session, &view.pkh, &view.hash, Some(view.id), approve).await {
                Ok(()) => eprintln!("{}", if approve { "approved" } else { "rejected" }),
                Err((_, e)) => eprintln!("{e}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(pkh: &str, hash: &str) -> HeldView {
        HeldView {
            id: 0,
            hash: hash.into(),
            pkh: pkh.into(),
            client: None,
            waited_ms: 0,
            waiting: 1,
            size: 2,
            preview: "0301".into(),
            bytes: None,
            reason: "policy".into(),
        }
    }

    #[test]
    fn every_key_and_bytes_is_asked_once_while_held() {
        let mut asked = BTreeSet::new();
        // The same bytes for two keys: two requests, two questions.
        let held = [view("tz2a", "H"), view("tz3b", "H")];
        let first: Vec<_> = to_ask(&held, &mut asked)
            .iter()
            .map(|v| v.pkh.as_str())
            .collect();
        assert_eq!(first, ["tz2a", "tz3b"]);
        assert!(to_ask(&held, &mut asked).is_empty(), "asked already");
        // tz2a's was answered; later the same bytes are held again for it: asked again.
        assert!(to_ask(&held[1..], &mut asked).is_empty());
        let again: Vec<_> = to_ask(&held, &mut asked)
            .iter()
            .map(|v| v.pkh.as_str())
            .collect();
        assert_eq!(again, ["tz2a"]);
    }

    #[test]
    fn a_listing_shows_the_start_of_the_bytes() {
        let mut v = view("tz2a", "H");
        v.size = 3000;
        assert_eq!(preview_line(&v), "  3000 bytes: 0301…");
        v.size = 2;
        assert_eq!(preview_line(&v), "  2 bytes: 0301");
    }
}
