//! `sign --pending`: answering the requests a running `serve --confirm` holds, over the
//! socket in its data directory. Interactive by default (each request shown decoded, then
//! approve or reject; new ones appear as they come), or one answer for scripts
//! (`--list [--json]`, `--approve HASH`, `--reject HASH`). Exit codes: 0 done; 1 nothing held
//! with that hash / no terminal; 3 no signer to talk to.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use super::{SignArgs, data_dir, screen_safe, show};
use crate::commands::GlobalArgs;
use crate::confirm::HeldView;
use crate::confirm::socket::{Command, ConfirmClient, Reply};
use crate::tezos::{Pkh, SigningRequest};

pub fn run(global: &GlobalArgs, args: &SignArgs) -> ExitCode {
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

fn lines_of(view: &HeldView, verbose: bool) -> Vec<String> {
    let mut lines = vec![format!(
        "held request {} for {} from {}, waiting {} s ({})",
        view.hash,
        view.pkh,
        view.client.as_deref().unwrap_or("an unknown client"),
        view.waited_ms / 1000,
        view.reason
    )];
    let decoded = hex::decode(&view.bytes).ok().and_then(|bytes| {
        let pkh: Pkh = view.pkh.parse().ok()?;
        let req = SigningRequest::parse(&bytes).ok()?;
        show::request(&pkh, &req, verbose).ok()
    });
    match decoded {
        Some(shown) => lines.extend(shown.lines.iter().map(|l| format!("  {l}"))),
        None => lines.push("  (cannot be decoded)".into()),
    }
    lines
}

async fn call(client: &mut ConfirmClient, command: &Command) -> Result<Reply, (u8, String)> {
    client
        .call(command)
        .await
        .map_err(|e| (3, format!("the signer stopped answering: {e}")))
}

async fn answer(
    client: &mut ConfirmClient,
    pkh: &str,
    hash: &str,
    approve: bool,
) -> Result<(), (u8, String)> {
    let (pkh, hash) = (pkh.to_string(), hash.to_string());
    let command = if approve {
        Command::Approve { pkh, hash }
    } else {
        Command::Reject { pkh, hash }
    };
    match call(client, &command).await? {
        Reply::Answered { answered } if answered > 0 => Ok(()),
        Reply::Answered { .. } => Err((
            1,
            "no held request of that key with that hash (answered, expired, or its client left)"
                .to_string(),
        )),
        Reply::Error { error } => Err((3, error)),
        Reply::Held { .. } => Err((3, "unexpected reply from the signer".into())),
    }
}

async fn pending(global: &GlobalArgs, args: &SignArgs) -> Result<(), (u8, String)> {
    let dir = data_dir(args).map_err(|e| (3, e.to_string()))?;
    let mut client = ConfirmClient::connect(&dir).await.map_err(|e| {
        (
            3,
            format!(
                "no signer holds requests in {} ({e}): is `serve --confirm` running there?",
                dir.display()
            ),
        )
    })?;
    let key = args.key.as_deref().unwrap_or_default();
    if let Some(hash) = &args.approve {
        return answer(&mut client, key, hash, true).await;
    }
    if let Some(hash) = &args.reject {
        return answer(&mut client, key, hash, false).await;
    }
    let list = |reply: Reply| match reply {
        Reply::Held { held } => Ok(held),
        Reply::Error { error } => Err((3, error)),
        Reply::Answered { .. } => Err((3, "unexpected reply from the signer".to_string())),
    };
    if args.list {
        let held = list(call(&mut client, &Command::List).await?)?;
        if args.json {
            println!("{}", serde_json::json!({ "held": held }));
        } else if held.is_empty() {
            println!("no held requests");
        } else {
            for view in &held {
                for line in lines_of(view, global.verbose > 0) {
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
    let mut seen: BTreeSet<String> = BTreeSet::new();
    loop {
        let held = list(call(&mut client, &Command::List).await?)?;
        for view in &held {
            if !seen.insert(view.hash.clone()) {
                continue;
            }
            for line in lines_of(view, global.verbose > 0) {
                eprintln!("{}", screen_safe(&line));
            }
            let approve = dialoguer::Confirm::new()
                .with_prompt(format!("Approve {}?", view.hash))
                .default(false)
                .interact_on(&dialoguer::console::Term::stderr())
                .map_err(|e| (3, format!("cannot ask on the terminal: {e}")))?;
            match answer(&mut client, &view.pkh, &view.hash, approve).await {
                Ok(()) => eprintln!("{}", if approve { "approved" } else { "rejected" }),
                Err((_, e)) => eprintln!("{e}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
