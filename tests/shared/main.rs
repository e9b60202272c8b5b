//! Shared watermarks end to end: real `serve` processes sharing one Azurite container (issue
//! 11 §5). Needs `npm ci` in tests/clients/azurite (done by .ci/run); skipped loudly only
//! outside CI. SIGKILL cycles: `SHARED_KILL_CYCLES=N` (default 100).

#[path = "../cli/running_binary.rs"]
#[allow(dead_code)]
mod running_binary;
#[path = "../signer/serve_common/mod.rs"]
mod serve_common;

// Azurite is started only by `azurite::Azurite::start`: 127.0.0.1, `--disableTelemetry`.
mod azurite;
mod signers;
#[path = "../support/skip.rs"]
mod skip;

mod blocks;
mod faults;
mod push;
mod races;
mod spending;
