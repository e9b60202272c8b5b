//! The emulator's integration tests, one binary: raw HTTP against its data plane and token
//! endpoints, and Microsoft's Rust SDK as a client, all over TLS on loopback.

mod auth;
mod faults;
mod keys;
mod sdk;
mod sign;
