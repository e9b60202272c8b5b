//! Admission of requests without a watermark (generic operations, Michelson data): the
//! policy's verdict, a person's approval when the verdict is to hold (`serve --confirm`), and
//! the 24-hour charge of the request's value at risk — counted durably before the vault is
//! asked, whether the rules allowed the request or a person approved it.
//!
//! Owns: the one pass through the policy (nothing runs twice) and the held request's wait,
//! inside the same call and under the request's one deadline (extended by the time the person
//! took). A held request takes no key lock: an attestation of the same key never waits
//! behind it. Must never: sign what nobody approved, or sign a spend that was not counted.

use std::time::Instant;

use super::{SignContext, SignError, Signer, Withdrawn};
use crate::confirm::Answer;
use crate::policy::spending::{Enforce, Spend, SpendingError};
use crate::policy::{Charge, Decision, PolicyRefusal};
use crate::tezos::Pkh;

impl Signer {
    /// Admits a request by the policy's `decision`: allowed and counted, or held, approved and
    /// counted. Returns the context the rest of the request runs under.
    pub(super) async fn admit(
        &self,
        pkh: &Pkh,
        data: &[u8],
        decision: Decision,
        ctx: &SignContext,
    ) -> Result<SignContext, SignError> {
        let (reason, charge) = match decision {
            Decision::Refuse(reason) => return Err(reason.into()),
            Decision::Allow(verdict) => {
                match self.charge(pkh, verdict.charge, Enforce::Limit, ctx).await {
                    // Over the 24-hour total, and a person may approve it: held.
                    Err(SignError::PolicyRefused(reason))
                        if data.first().is_some_and(|m| self.config.policy.holds(*m)) =>
                    {
                        (reason, verdict.charge)
                    }
                    counted => return counted.map(|()| ctx.clone()),
                }
            }
            Decision::Hold { reason, charge } => (reason, charge),
        };
        let (approved, first) = self.hold(pkh, data, reason, ctx).await?;
        if first {
            self.charge(pkh, charge, Enforce::Approved, &approved)
                .await?;
        }
        Ok(approved)
    }

    /// Waits for a person's answer; an approval extends the deadline by the time it took, and
    /// says whether this request is the first of identical ones (the one that counts).
    async fn hold(
        &self,
        pkh: &Pkh,
        data: &[u8],
        reason: PolicyRefusal,
        ctx: &SignContext,
    ) -> Result<(SignContext, bool), SignError> {
        let Some(set) = &self.config.confirm else {
            return Err(reason.into());
        };
        ctx.still_wanted()
            .map_err(|reason| SignError::Withdrawn { pkh: *pkh, reason })?;
        tracing::info!(%pkh, %reason, "request held for operator confirmation (sign --pending)");
        let since = Instant::now();
        let answer = tokio::select! {
            answer = set.hold(*pkh, data, ctx.peer, reason.to_string()) => {
                answer.map_err(SignError::HoldRefused)?
            }
            () = ctx.client_gone.cancelled() => {
                return Err(SignError::Withdrawn { pkh: *pkh, reason: Withdrawn::ClientGone });
            }
        };
        let approved = SignContext {
            deadline: ctx.deadline.map(|d| d + since.elapsed()),
            ..ctx.clone()
        };
        match answer {
            Answer::Approved => Ok((approved, true)),
            Answer::ApprovedCopy => Ok((approved, false)),
            Answer::Rejected => Err(SignError::RejectedByOperator),
            Answer::TimedOut => Err(SignError::NotConfirmed(set.timeout())),
        }
    }

    /// Counts `charge` in the 24-hour ledger (nothing to count without a 24-hour limit).
    async fn charge(
        &self,
        pkh: &Pkh,
        charge: Option<Charge>,
        enforce: Enforce,
        ctx: &SignContext,
    ) -> Result<(), SignError> {
        let Some(charge) = charge else {
            return Ok(());
        };
        let ledger = self.config.spending.as_ref().ok_or_else(|| {
            SignError::Spending(SpendingError::Unavailable(
                "max_total_24h needs the data directory's spending ledger".into(),
            ))
        })?;
        ledger
            .count(pkh, charge, enforce, ctx.deadline)
            .await
            .map_err(|e| match e {
                Spend::Refused(r) => SignError::PolicyRefused(r),
                Spend::Failed(f) => SignError::Spending(f),
            })
    }
}
