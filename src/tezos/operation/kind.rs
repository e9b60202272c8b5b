//! The kinds of operation contents, with their binary tags and protocol names.

use std::fmt;

/// Operation kinds that can appear in a generic (0x03) batch and that we decode exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OperationKind {
    /// `activate_account` (tag 4): activates a fundraiser account with its activation code.
    ActivateAccount,
    /// `proposals` (5): a delegate submits or upvotes protocol amendments.
    Proposals,
    /// `ballot` (6): a delegate votes yay, nay or pass on the proposal under vote.
    Ballot,
    /// `drain_delegate` (9): a consensus key moves its delegate's spendable balance away.
    DrainDelegate,
    /// `failing_noop` (17): arbitrary bytes, signed as an operation that always fails.
    FailingNoop,
    /// `reveal` (107): publishes an implicit account's public key (a manager operation).
    Reveal,
    /// `transaction` (108): transfers tez, possibly calling a contract or rollup.
    Transaction,
    /// `origination` (109): deploys a smart contract with its script and a balance.
    Origination,
    /// `delegation` (110): sets or withdraws the source's delegate.
    Delegation,
    /// `register_global_constant` (111): stores a Micheline value scripts can reference.
    RegisterGlobalConstant,
    /// `set_deposits_limit` (112): caps (or uncaps) a delegate's frozen deposits.
    SetDepositsLimit,
    /// `increase_paid_storage` (113): prepays storage bytes for a `KT1` contract.
    IncreasePaidStorage,
    /// `update_consensus_key` (114): sets the key a delegate bakes and attests with.
    UpdateConsensusKey,
    /// `update_companion_key` (115): sets a delegate's BLS companion key (used with a
    /// `tz4` consensus key for DAL attestations).
    UpdateCompanionKey,
    /// `transfer_ticket` (158): sends tickets held by an implicit account.
    TransferTicket,
    /// `smart_rollup_originate` (200): creates a smart rollup.
    SmartRollupOriginate,
    /// `smart_rollup_add_messages` (201): posts messages to the rollups' shared inbox.
    SmartRollupAddMessages,
    /// `smart_rollup_cement` (202): cements a rollup commitment that was not refuted.
    SmartRollupCement,
    /// `smart_rollup_publish` (203): publishes a commitment to a rollup's state, staking.
    SmartRollupPublish,
    /// `smart_rollup_refute` (204): starts or plays a refutation game on a commitment.
    SmartRollupRefute,
    /// `smart_rollup_timeout` (205): ends a refutation game whose player ran out of time.
    SmartRollupTimeout,
    /// `smart_rollup_execute_outbox_message` (206): executes a message of a cemented
    /// rollup outbox on layer 1.
    SmartRollupExecuteOutboxMessage,
    /// `smart_rollup_recover_bond` (207): returns a staker's bond once nothing is at stake.
    SmartRollupRecoverBond,
    /// `dal_publish_commitment` (230): publishes the commitment of a DAL slot.
    DalPublishCommitment,
}

impl OperationKind {
    /// Every kind, in tag order: what [`Self::from_tag`] and [`Self::from_name`] search,
    /// and the names policy errors list.
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

    /// The kind with contents tag `tag`; `None` for any other tag (consensus operations,
    /// ZK-rollup kinds…).
    pub fn from_tag(tag: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.tag() == tag)
    }

    /// The kind with protocol name `name` (e.g. `"transaction"`, as policy files
    /// write it); `None` for an unknown name.
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
