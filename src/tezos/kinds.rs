//! The vocabulary of signing requests: chain ids, magic bytes and the watermarked kinds.
//! Pure; no decoding here (see [`super::request`]).

use std::fmt;

use super::base58;

/// A 4-byte chain id (`Net…`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainId(pub [u8; 4]);

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&base58::encode(base58::CHAIN_ID, &self.0))
    }
}
impl fmt::Debug for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainId({self})")
    }
}
impl std::str::FromStr for ChainId {
    type Err = base58::Base58Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        base58::decode_array(base58::CHAIN_ID, s).map(ChainId)
    }
}

/// The first byte of every signing request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MagicByte {
    LegacyBlock = 0x01,
    LegacyEndorsement = 0x02,
    Generic = 0x03,
    Authentication = 0x04,
    MichelsonData = 0x05,
    Block = 0x11,
    Preattestation = 0x12,
    Attestation = 0x13,
}

impl MagicByte {
    pub const ALL: [MagicByte; 8] = [
        MagicByte::LegacyBlock,
        MagicByte::LegacyEndorsement,
        MagicByte::Generic,
        MagicByte::Authentication,
        MagicByte::MichelsonData,
        MagicByte::Block,
        MagicByte::Preattestation,
        MagicByte::Attestation,
    ];
    /// The kinds a baker needs and the default whitelist.
    pub const BAKING: [MagicByte; 3] = [
        MagicByte::Block,
        MagicByte::Preattestation,
        MagicByte::Attestation,
    ];

    pub fn from_byte(b: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|m| *m as u8 == b)
    }
    pub fn byte(self) -> u8 {
        self as u8
    }
    pub fn name(self) -> &'static str {
        match self {
            MagicByte::LegacyBlock => "legacy block",
            MagicByte::LegacyEndorsement => "legacy endorsement",
            MagicByte::Generic => "generic operation",
            MagicByte::Authentication => "authentication",
            MagicByte::MichelsonData => "michelson data",
            MagicByte::Block => "block",
            MagicByte::Preattestation => "preattestation",
            MagicByte::Attestation => "attestation",
        }
    }
}

/// The watermarked kinds (one high watermark each per chain and key), as octez-signer keeps
/// them: blocks (0x11 and legacy 0x01), preattestations (0x12), attestations (0x13), and legacy
/// Emmy endorsements (0x02), which octez keeps in their own `endorsement` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsensusKind {
    Block,
    Preattestation,
    Attestation,
    /// Legacy (Emmy) endorsement, magic byte 0x02.
    Endorsement,
}

impl ConsensusKind {
    pub const ALL: [ConsensusKind; 4] = [
        ConsensusKind::Block,
        ConsensusKind::Preattestation,
        ConsensusKind::Attestation,
        ConsensusKind::Endorsement,
    ];
    pub fn name(self) -> &'static str {
        match self {
            ConsensusKind::Block => "block",
            ConsensusKind::Preattestation => "preattestation",
            ConsensusKind::Attestation => "attestation",
            ConsensusKind::Endorsement => "endorsement",
        }
    }
}

impl fmt::Display for ConsensusKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
