//! Generated assets checked into the repository: shell completions (`completions/`) and man
//! pages (`man/`, one per command and subcommand), rendered from [`crate::cli::Cli`].
//!
//! Owns: the file names and contents, deterministically (no dates, no environment). Does no
//! I/O; `tests/assets.rs` compares these with the checked-in files and, with
//! `REGENERATE_ASSETS=1`, rewrites them.

use std::path::PathBuf;

use clap::CommandFactory;
use clap_complete::Shell;

/// The binary name the assets are generated for.
pub const BIN: &str = "tezos-azure-signer";

/// The directories (relative to the repository root) that hold only generated files.
pub const DIRS: [&str; 2] = ["completions", "man"];

/// Every generated file: (path relative to the repository root, contents).
pub fn render_all() -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for shell in [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::Elvish,
        Shell::PowerShell,
    ] {
        let mut cmd = crate::cli::Cli::command();
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut cmd, BIN, &mut buf);
        let name = clap_complete::Generator::file_name(&shell, BIN);
        out.push((PathBuf::from("completions").join(name), buf));
    }
    let mut cmd = crate::cli::Cli::command().disable_help_subcommand(true);
    cmd.build();
    render_man(&cmd, &mut out);
    out.sort();
    out
}

fn render_man(cmd: &clap::Command, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        render_man(sub, out);
    }
    let man = clap_mangen::Man::new(cmd.clone())
        .source(format!("{BIN} {}", env!("CARGO_PKG_VERSION")))
        .manual("Tezos Azure signer");
    let mut buf = Vec::new();
    man.render(&mut buf)
        .expect("rendering into a Vec<u8> cannot fail");
    out.push((PathBuf::from("man").join(man.get_filename()), buf));
}
