//! The Tezos codec: base58, keys, signatures, signing requests, operations, Micheline and
//! Zarith numbers. Pure code, no I/O.

pub mod base58;
pub mod hash;
pub mod keys;
pub mod kinds;
pub mod micheline;
mod micheline_prims;
pub mod operation;
pub mod pkh;
pub mod reader;
pub mod request;
pub mod signature;
pub mod tez;
pub mod zarith;

pub use hash::{blake2b_160, blake2b_256};
pub use keys::{Curve, KeyError, Pkh, PkhKind, PublicKey, SecretKey};
pub use operation::{Operation, OperationKind};
pub use reader::DecodeError;
pub use request::{
    BlockHeader, ChainId, ConsensusKind, ConsensusOperation, GenericOperation, MagicByte,
    RequestKind, RequestSummary, SigningRequest, WatermarkKey,
};
pub use signature::{Signature, SignatureError, VerifyError};
