//! The vocabulary of signing requests: chain ids, magic bytes, the request kinds (one name
//! each, used by policies, metrics and logs alike) and the watermarked kinds. Pure; no
//! decoding here (see [`super::request`]).

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
    /// 0x01: an Emmy (pre-Tenderbake) block; shares the block watermark.
    LegacyBlock = 0x01,
    /// 0x02: an Emmy endorsement, with its own `endorsement` watermark.
    LegacyEndorsement = 0x02,
    /// 0x03: a generic operation batch (transactions, delegations, reveals, …); no watermark.
    Generic = 0x03,
    /// 0x04: an authentication payload (`0x04 ‖ 0x01 ‖ pkh ‖ data`), never signed by a signing key.
    Authentication = 0x04,
    /// 0x05: packed Michelson data; no watermark.
    MichelsonData = 0x05,
    /// 0x11: a Tenderbake block header; watermarked by level and round.
    Block = 0x11,
    /// 0x12: a Tenderbake preattestation (operation tag 0x14); watermarked by level and round.
    Preattestation = 0x12,
    /// 0x13: a Tenderbake attestation (tag 0x15, or 0x17 with DAL content); watermarked.
    Attestation = 0x13,
}

impl MagicByte {
    /// Every magic byte the signer can decode, in byte order.
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
    /// The kinds subject to a high watermark (docs/protocol.md §2).
    pub const WATERMARKED: [MagicByte; 5] = [
        MagicByte::LegacyBlock,
        MagicByte::LegacyEndorsement,
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

    /// The magic byte `b` stands for; `None` if no signing request starts with `b`.
    pub fn from_byte(b: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|m| *m as u8 == b)
    }
    /// The byte's value as it opens a request, e.g. `0x11` for a block.
    pub fn byte(self) -> u8 {
        self as u8
    }
    /// Whether requests of this kind are subject to a high watermark.
    pub fn is_watermarked(self) -> bool {
        Self::WATERMARKED.contains(&self)
    }
    /// A human-readable name with spaces, e.g. `generic operation` (not [`RequestKind::name`]).
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

/// Every kind of signing request. Its [`RequestKind::name`] is the one label of the kind
/// everywhere: policy files, metric labels, log fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestKind {
    /// Tenderbake block (0x11).
    Block,
    /// Emmy block (0x01).
    LegacyBlock,
    /// 0x12.
    Preattestation,
    /// 0x13, tag 0x15.
    Attestation,
    /// 0x13, tag 0x17.
    AttestationWithDal,
    /// Emmy endorsement (0x02).
    LegacyEndorsement,
    /// Generic operation batch (0x03).
    Generic,
    /// Authentication payload (0x04), never signed with a signing key.
    Authentication,
    /// Michelson data (0x05).
    MichelsonData,
}

impl RequestKind {
    /// Every request kind, each with a distinct [`RequestKind::name`].
    pub const ALL: [RequestKind; 9] = [
        RequestKind::Block,
        RequestKind::LegacyBlock,
        RequestKind::Preattestation,
        RequestKind::Attestation,
        RequestKind::AttestationWithDal,
        RequestKind::LegacyEndorsement,
        RequestKind::Generic,
        RequestKind::Authentication,
        RequestKind::MichelsonData,
    ];
    /// What a policy file may name in `kinds = [...]`.
    pub const POLICY: [RequestKind; 6] = [
        RequestKind::Block,
        RequestKind::Preattestation,
        RequestKind::Attestation,
        RequestKind::AttestationWithDal,
        RequestKind::Generic,
        RequestKind::MichelsonData,
    ];
    /// What is allowed without a policy file: the baking kinds.
    pub const BAKING: [RequestKind; 4] = [
        RequestKind::Block,
        RequestKind::Preattestation,
        RequestKind::Attestation,
        RequestKind::AttestationWithDal,
    ];

    /// The kind's one snake_case label, as written in policy files, metric labels and logs.
    pub fn name(self) -> &'static str {
        match self {
            RequestKind::Block => "block",
            RequestKind::LegacyBlock => "legacy_block",
            RequestKind::Preattestation => "preattestation",
            RequestKind::Attestation => "attestation",
            RequestKind::AttestationWithDal => "attestation_with_dal",
            RequestKind::LegacyEndorsement => "legacy_endorsement",
            RequestKind::Generic => "generic",
            RequestKind::Authentication => "authentication",
            RequestKind::MichelsonData => "michelson_data",
        }
    }

    /// The kind whose [`RequestKind::name`] is `name`, e.g. `attestation_with_dal`; `None` if none.
    pub fn from_name(name: &str) -> Option<RequestKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The kind a policy allows this request as: the Emmy kinds count as their Tenderbake
    /// successors (a policy allowing blocks allows 0x01 blocks where `--magic-bytes` does);
    /// authentication payloads are no policy kind at all.
    pub fn policy_kind(self) -> Option<RequestKind> {
        match self {
            RequestKind::LegacyBlock => Some(RequestKind::Block),
            RequestKind::LegacyEndorsement => Some(RequestKind::Attestation),
            RequestKind::Authentication => None,
            other => Some(other),
        }
    }

    /// The high watermark requests of this kind are subject to, if any.
    pub fn watermark(self) -> Option<ConsensusKind> {
        match self {
            RequestKind::Block | RequestKind::LegacyBlock => Some(ConsensusKind::Block),
            RequestKind::Preattestation => Some(ConsensusKind::Preattestation),
            RequestKind::Attestation | RequestKind::AttestationWithDal => {
                Some(ConsensusKind::Attestation)
            }
            RequestKind::LegacyEndorsement => Some(ConsensusKind::Endorsement),
            RequestKind::Generic | RequestKind::Authentication | RequestKind::MichelsonData => None,
        }
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The watermarked kinds (one high watermark each per chain and key), as octez-signer keeps
/// them: blocks (0x11 and legacy 0x01), preattestations (0x12), attestations (0x13), and legacy
/// Emmy endorsements (0x02), which octez keeps in their own `endorsement` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsensusKind {
    /// Blocks: Tenderbake 0x11 and legacy Emmy 0x01 share this watermark.
    Block,
    /// Tenderbake preattestations (magic byte 0x12).
    Preattestation,
    /// Tenderbake attestations (magic byte 0x13), with or without DAL content.
    Attestation,
    /// Legacy (Emmy) endorsement, magic byte 0x02.
    Endorsement,
}

impl ConsensusKind {
    /// Every watermarked kind; each has one high watermark per chain and key.
    pub const ALL: [ConsensusKind; 4] = [
        ConsensusKind::Block,
        ConsensusKind::Preattestation,
        ConsensusKind::Attestation,
        ConsensusKind::Endorsement,
    ];
    /// Lowercase label for logs; also the stem of octez's `<name>_high_watermarks` file names.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_kind_has_one_name_and_a_consistent_watermark() {
        for kind in RequestKind::ALL {
            assert_eq!(RequestKind::from_name(kind.name()), Some(kind));
            // A kind and the kind a policy allows it as share their watermark.
            if let Some(p) = kind.policy_kind() {
                assert!(RequestKind::POLICY.contains(&p), "{kind}");
                assert_eq!(
                    p.watermark().is_some(),
                    kind.watermark().is_some(),
                    "{kind}"
                );
            }
        }
        // The watermarked magic bytes are those whose request kinds have a watermark.
        let by_magic = [
            (MagicByte::LegacyBlock, RequestKind::LegacyBlock),
            (MagicByte::LegacyEndorsement, RequestKind::LegacyEndorsement),
            (MagicByte::Generic, RequestKind::Generic),
            (MagicByte::Authentication, RequestKind::Authentication),
            (MagicByte::MichelsonData, RequestKind::MichelsonData),
            (MagicByte::Block, RequestKind::Block),
            (MagicByte::Preattestation, RequestKind::Preattestation),
            (MagicByte::Attestation, RequestKind::Attestation),
        ];
        for (magic, kind) in by_magic {
            assert_eq!(
                magic.is_watermarked(),
                kind.watermark().is_some(),
                "{magic:?}"
            );
        }
        let names: std::collections::BTreeSet<&str> =
            RequestKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), RequestKind::ALL.len());
    }
}
