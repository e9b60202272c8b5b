//! The signer end to end, one test binary: `serve --dev` as a process (the real binary, the
//! bundled emulator, the real Azure SDK over TLS) under attack and under load, the HTTP layer
//! over real sockets with an in-memory pipeline, and Taquito as a real client.

#[path = "../cli/running_binary.rs"]
#[allow(dead_code)]
mod running_binary;
mod serve_common;
#[path = "../support/skip.rs"]
mod skip;

mod bad_input;
mod block_kill;
mod disk_faults;
mod held;
mod held_bounds;
mod imported_blocks;
mod journal_moved;
mod logging;
mod races;
mod serve_defects;
mod serve_e2e;
mod serve_features;
mod server_layer;
mod slowloris;
mod spending_log;
mod taquito;
mod two_vaults;
mod vault_faults;
