//! The Tezos codec: base58, keys, signatures, signing requests, operations, Micheline and
//! Zarith numbers. Pure code, no I/O.

pub mod base58;
pub(crate) mod hash;
pub(crate) mod keys;
pub(crate) mod kinds;
pub mod micheline;
mod micheline_prims;
pub mod operation;
pub(crate) mod pkh;
pub(crate) mod reader;
pub(crate) mod request;
pub(crate) mod signature;
pub(crate) mod tez;
pub(crate) mod zarith;

pub use hash::{blake2b_160, blake2b_256};
pub use keys::{Curve, KeyError, Pkh, PkhKind, PublicKey, SecretKey};
pub use operation::{Operation, OperationKind};
pub use reader::DecodeError;
pub use request::{
    BlockHeader, ChainId, ConsensusKind, ConsensusOperation, GenericOperation, MagicByte,
    RequestKind, RequestSummary, SigningRequest, WatermarkKey,
};
pub use signature::{Signature, SignatureError, VerifyError};
