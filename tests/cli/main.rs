//! The command line as a person or a script uses it, one test binary: `verify` (with keys the
//! openssl command line makes, and its passphrase prompt on a pseudo-terminal), the
//! `emulator` subcommand (also with Microsoft's Node SDK as its client), `sign` (with
//! confirmations typed on a pseudo-terminal), the generated
//! completions and man pages, and the systemd unit.

mod pty;
mod running_binary;
#[path = "../support/skip.rs"]
mod skip;

mod assets;
mod emulator_cli;
mod emulator_node;
mod fuzz_corpus;
mod setup;
mod sign;
mod systemd_unit;
mod verify_cli;
mod watermarks;
