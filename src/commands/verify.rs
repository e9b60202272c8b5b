//! `verify`: check key hashes and signatures. (Being implemented: issue 2.)

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {}

pub fn run(_global: &crate::cli::GlobalArgs, _args: VerifyArgs) -> ExitCode {
    eprintln!("verify: not implemented yet");
    ExitCode::from(2)
}
