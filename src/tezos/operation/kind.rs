//! The kinds of operation contents, with their binary tags and protocol names.

use std::fmt;

/// Operation kinds that can appear in a generic (0x03) batch and that we decode exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OperationKind {
    ActivateAccount,
    Proposals,
    Ballot,
    DrainDelegate,
    FailingNoop,
    Reveal,
    Transaction,
    Origination,
    Delegation,
    RegisterGlobalConstant,
    SetDepositsLimit,
    IncreasePaidStorage,
    UpdateConsensusKey,
    UpdateCompanionKey,
    TransferTicket,
    SmartRollupOriginate,
    SmartRollupAddMessages,
    SmartRollupCement,
    SmartRollupPublish,
    SmartRollupRefute,
    SmartRollupTimeout,
    SmartRollupExecuteOutboxMessage,
    SmartRollupRecoverBond,
    DalPublishCommitment,
}

impl OperationKind {
    pub const ALL: [OperationKind; 24] = [
        OperationKind::ActivateAccount,
        OperationKind::Proposals,
        OperationKind::Ballot,
        OperationKind::DrainDelegate,
        OperationKind::FailingNoop,
        OperationKind::Reveal,
        OperationKind::Transaction,
        OperationKind::Origination,
        OperationKind::Delegation,
        OperationKind::RegisterGlobalConstant,
        OperationKind::SetDepositsLimit,
        OperationKind::IncreasePaidStorage,
        OperationKind::UpdateConsensusKey,
        OperationKind::UpdateCompanionKey,
        OperationKind::TransferTicket,
        OperationKind::SmartRollupOriginate,
        OperationKind::SmartRollupAddMessages,
        OperationKind::SmartRollupCement,
        OperationKind::SmartRollupPublish,
        OperationKind::SmartRollupRefute,
        OperationKind::SmartRollupTimeout,
        OperationKind::SmartRollupExecuteOutboxMessage,
        OperationKind::SmartRollupRecoverBond,
        OperationKind::DalPublishCommitment,
    ];

    /// The contents tag in the binary encoding.
    pub fn tag(self) -> u8 {
        match self {
            OperationKind::ActivateAccount => 4,
            OperationKind::Proposals => 5,
            OperationKind::Ballot => 6,
            OperationKind::DrainDelegate => 9,
            OperationKind::FailingNoop => 17,
            OperationKind::Reveal => 107,
            OperationKind::Transaction => 108,
            OperationKind::Origination => 109,
            OperationKind::Delegation => 110,
            OperationKind::RegisterGlobalConstant => 111,
            OperationKind::SetDepositsLimit => 112,
            OperationKind::IncreasePaidStorage => 113,
            OperationKind::UpdateConsensusKey => 114,
            OperationKind::UpdateCompanionKey => 115,
            OperationKind::TransferTicket => 158,
            OperationKind::SmartRollupOriginate => 200,
            OperationKind::SmartRollupAddMessages => 201,
            OperationKind::SmartRollupCement => 202,
            OperationKind::SmartRollupPublish => 203,
            OperationKind::SmartRollupRefute => 204,
            OperationKind::SmartRollupTimeout => 205,
            OperationKind::SmartRollupExecuteOutboxMessage => 206,
            OperationKind::SmartRollupRecoverBond => 207,
            OperationKind::DalPublishCommitment => 230,
        }
    }

    /// The protocol's name for the kind (as in the JSON `"kind"` field).
    pub fn name(self) -> &'static str {
        match self {
            OperationKind::ActivateAccount => "activate_account",
            OperationKind::Proposals => "proposals",
            OperationKind::Ballot => "ballot",
            OperationKind::DrainDelegate => "drain_delegate",
            OperationKind::FailingNoop => "failing_noop",
            OperationKind::Reveal => "reveal",
            OperationKind::Transaction => "transaction",
            OperationKind::Origination => "origination",
            OperationKind::Delegation => "delegation",
            OperationKind::RegisterGlobalConstant => "register_global_constant",
            OperationKind::SetDepositsLimit => "set_deposits_limit",
            OperationKind::IncreasePaidStorage => "increase_paid_storage",
            OperationKind::UpdateConsensusKey => "update_consensus_key",
            OperationKind::UpdateCompanionKey => "update_companion_key",
            OperationKind::TransferTicket => "transfer_ticket",
            OperationKind::SmartRollupOriginate => "smart_rollup_originate",
            OperationKind::SmartRollupAddMessages => "smart_rollup_add_messages",
            OperationKind::SmartRollupCement => "smart_rollup_cement",
            OperationKind::SmartRollupPublish => "smart_rollup_publish",
            OperationKind::SmartRollupRefute => "smart_rollup_refute",
            OperationKind::SmartRollupTimeout => "smart_rollup_timeout",
            OperationKind::SmartRollupExecuteOutboxMessage => "smart_rollup_execute_outbox_message",
            OperationKind::SmartRollupRecoverBond => "smart_rollup_recover_bond",
            OperationKind::DalPublishCommitment => "dal_publish_commitment",
        }
    }

    pub fn from_tag(tag: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.tag() == tag)
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Manager operations (fee, counter, gas and storage limits, paid by `source`).
    pub fn is_manager(self) -> bool {
        self.tag() >= 107
    }

    /// Kinds whose fields this decoder does not read (smart rollups, DAL).
    pub fn is_opaque(self) -> bool {
        self.tag() >= 200
    }
}

impl fmt::Display for OperationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
