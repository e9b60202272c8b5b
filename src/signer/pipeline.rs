//! The signing pipeline, step by step: key known → magic byte allowed → authentication →
//! decode → policy (for unwatermarked requests: a person's approval when held, and the
//! 24-hour charge, in [`super::admit`]) → (per-key queue and lock) watermark rule and chain cap → one vault
//! signature, normalised and verified, and at the same time the durable reservation of the new
//! mark (local files, and the shared container when configured), both within the request's
//! deadline → for a block, the record of its one signature (durable, and decided by the
//! shared container's compare-and-swap) → reply. A (pre)attestation's signature is recorded
//! after the reply; a block's before it, since two signatures of one block are a double bake
//! (`watermark::rule`'s module doc).
//!
//! Owns: the order of those checks (octez's), and the guarantee that a watermarked signature
//! is released only after its mark is on disk. Must never: sign twice at one (level, round)
//! for a key/kind/chain, return a signature that does not verify, or call the vault for a
//! refused request, an identical retry, or a request nobody waits for any more.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::keyring::KeyEntry;
use super::{SignContext, SignError, SignRequest, Signed, Signer, Stage};
use crate::policy::Decision as Verdict;
use crate::tezos::{
    ConsensusKind, DecodeError, Pkh, Signature, SigningRequest, WatermarkKey, blake2b_256,
};
use crate::vault::VaultError;
use crate::watermark::{self, Decision, MarkRequest, SharedError, Slot, StoreError};

/// The key's lock, held from the watermark check to the record of the signature.
type KeyGuard = tokio::sync::OwnedMutexGuard<()>;

impl Signer {
    /// The steps, in octez's order (a decoding error is reported only at the decode step).
    pub(super) async fn run(&self, req: &SignRequest) -> Result<Signed, SignError> {
        let (pkh, data, ctx) = (&req.pkh, req.data.as_slice(), &req.ctx);
        let entry = self.entry(pkh).await?;
        let request = self.admissible(req)?;
        let decision = self
            .config
            .policy
            .decide(pkh, Some(&entry.key.name), request);
        let Some(wm) = request.watermark_key() else {
            return self.sign_unwatermarked(&entry, data, decision, ctx).await;
        };
        match decision {
            Verdict::Allow(_) => self.sign_watermarked(&entry, data, &wm, ctx).await,
            // Consensus requests are never held (`--confirm` covers 0x03 and 0x05 only).
            Verdict::Hold { reason, .. } | Verdict::Refuse(reason) => Err(reason.into()),
        }
    }

    /// Magic byte, authentication, decoding: the checks before the policy.
    fn admissible<'r>(&self, req: &'r SignRequest) -> Result<&'r SigningRequest, SignError> {
        let (pkh, data) = (&req.pkh, req.data.as_slice());
        let Some(&magic) = data.first() else {
            return Err(SignError::Decode(DecodeError::Empty));
        };
        if !self.config.policy.magic_byte_allowed(magic) {
            return Err(SignError::MagicByteNotAllowed(magic));
        }
        if let Some(keys) = &self.config.authorized_keys {
            let sig = req
                .authentication
                .as_ref()
                .ok_or(SignError::MissingAuthentication)?;
            if !keys.verify(pkh, data, sig) {
                return Err(SignError::InvalidAuthentication);
            }
        }
        req.parsed
            .as_ref()
            .map_err(|e| SignError::Decode(e.clone()))
    }

    /// Generic operations and Michelson data: admitted (held for a person, charged), then
    /// one vault signature. No watermark, no key lock.
    async fn sign_unwatermarked(
        &self,
        entry: &KeyEntry,
        data: &[u8],
        decision: Verdict,
        ctx: &SignContext,
    ) -> Result<Signed, SignError> {
        let pkh = entry.key.pkh();
        let ctx = self.admit(&pkh, data, decision, ctx).await?;
        ctx.still_wanted()
            .map_err(|reason| SignError::Withdrawn { pkh, reason })?;
        let (signature, latency) = self.vault_sign(entry, &blake2b_256(data), &ctx).await?;
        Ok(Signed {
            signature,
            vault_latency: Some(latency),
            watermark_latency: None,
        })
    }

    /// Blocks and consensus operations: check → sign → persist under the key's lock, end to
    /// end. The stored signature of an identical request is returned without a vault call.
    async fn sign_watermarked(
        &self,
        entry: &KeyEntry,
        data: &[u8],
        wm: &WatermarkKey,
        ctx: &SignContext,
    ) -> Result<Signed, SignError> {
        let pkh = entry.key.pkh();
        let guard = entry
            .lock
            .enter(self.config.max_queue_per_key, ctx)
            .await
            .map_err(|reason| SignError::Withdrawn { pkh, reason })?;
        let mark_req = MarkRequest::new(wm, data);
        let slot = Slot {
            kind: wm.kind,
            chain: wm.chain_id,
            pkh,
        };
        if let Some(stored) = self.check_mark(&slot, &mark_req).await? {
            return Ok(Signed {
                signature: verified_stored(entry, &mark_req, stored)?,
                vault_latency: None,
                watermark_latency: None,
            });
        }
        ctx.still_wanted()
            .map_err(|reason| SignError::Withdrawn { pkh, reason })?;
        let (signature, latency, reserved_in, guard) = self
            .reserve_and_sign(entry, slot, &mark_req, guard, ctx)
            .await?;
        let (signature, recorded_in) = self
            .record(entry, slot, &mark_req, signature, guard, ctx)
            .await?;
        Ok(Signed {
            signature,
            vault_latency: Some(latency),
            watermark_latency: Some(reserved_in + recorded_in),
        })
    }

    /// The watermark rule against the stored mark, and the chain cap: `Some(signature)` for
    /// an identical request already signed (a replay).
    async fn check_mark(
        &self,
        slot: &Slot,
        mark_req: &MarkRequest,
    ) -> Result<Option<Signature>, SignError> {
        let current = self.store.load(slot).await.map_err(SignError::Store)?;
        let decision = watermark::check(current.as_ref(), mark_req, self.config.min_level)
            .map_err(SignError::Watermark)?;
        if let Decision::Replay(stored) = decision {
            return Ok(Some(stored));
        }
        let (known_chain, chain_count) = self
            .store
            .chain_use(&slot.pkh, &slot.chain)
            .await
            .map_err(SignError::Store)?;
        if !known_chain && chain_count >= self.config.max_chains_per_key {
            let chains = self
                .store
                .chains_of(&slot.pkh)
                .await
                .map_err(SignError::Store)?;
            return Err(SignError::ChainLimit {
                pkh: slot.pkh,
                chain: slot.chain,
                chains: chains.into_iter().collect(),
            });
        }
        Ok(None)
    }

    /// Reserves the mark and calls the vault at once: the durable write costs nothing on the
    /// critical path. Both run in this task (no hand-off to another); a reservation still
    /// running at the deadline is handed to a task of its own with the key's lock, so it
    /// completes and the next request for this key never races it into the store. A signature
    /// is returned only once both succeeded (with the vault's latency, the reservation's, and
    /// the key's lock, handed on). If a direct caller drops this future mid-way (the server
    /// cannot: it runs the pipeline in a task of its own), the unfinished reservation stops
    /// with it: nothing is signed, the local writer still checks the next mark against what it
    /// wrote, and the container's ETags keep a half-done shared write from being overtaken.
    async fn reserve_and_sign(
        &self,
        entry: &KeyEntry,
        slot: Slot,
        mark_req: &MarkRequest,
        guard: KeyGuard,
        ctx: &SignContext,
    ) -> Result<(Signature, Duration, Duration, KeyGuard), SignError> {
        let store = Arc::clone(&self.store);
        let (reservation, until) = (mark_req.reservation(), ctx.deadline);
        let mut reserving: StoreStep<()> = Box::pin(async move {
            let started = Instant::now();
            (
                store.reserve(slot, reservation, until).await,
                started.elapsed(),
            )
        });
        let (signed, reserved) = tokio::join!(
            self.vault_sign(entry, &mark_req.hash, ctx),
            bounded(ctx, &slot.pkh, Stage::Reservation, &mut reserving)
        );
        let (reserved, reserved_in) = match reserved {
            Ok(reserved) => reserved,
            Err(late) => {
                tokio::spawn(async move {
                    let _ = reserving.await;
                    drop(guard);
                });
                return Err(late);
            }
        };
        reserved.map_err(|e| late_if_due(ctx, &slot.pkh, Stage::Reservation, e))?;
        let (signature, latency) = signed?;
        Ok((signature, latency, reserved_in, guard))
    }

    /// Records the signature with its mark (an identical retry then gets it back), then lets
    /// the key go. A (pre)attestation's record is an in-memory update (losing it only means
    /// an identical retry is signed again, which is no double sign), done here before the
    /// reply. A block's is recorded durably, and in the shared container, before it leaves,
    /// and what leaves is the one signature recorded for it, perhaps another signer's: in a
    /// task that owns the key's lock, so its local record completes even past the request's
    /// deadline (the container's compare-and-swap stops at it; an identical retry then gets
    /// the signature the container holds, or signs through the same reservation).
    async fn record(
        &self,
        entry: &KeyEntry,
        slot: Slot,
        mark_req: &MarkRequest,
        signature: Signature,
        guard: KeyGuard,
        ctx: &SignContext,
    ) -> Result<(Signature, Duration), SignError> {
        let signed = mark_req.to_mark(signature);
        if slot.kind != ConsensusKind::Block {
            let recorded = self
                .store
                .record_signature(slot, signed, ctx.deadline)
                .await;
            drop(guard);
            if let Err(e) = recorded {
                tracing::warn!(error = %e, "could not record a released signature with its mark; an identical retry will be signed again");
            }
            return Ok((signature, Duration::ZERO));
        }
        let store = Arc::clone(&self.store);
        let until = ctx.deadline;
        let mut recording = tokio::spawn(async move {
            let started = Instant::now();
            let recorded = store.record_signature(slot, signed, until).await;
            // The store before the lock: whoever takes the key next finds the store free.
            drop(store);
            drop(guard);
            (recorded, started.elapsed())
        });
        let (recorded, recorded_in) = bounded(ctx, &slot.pkh, Stage::Record, &mut recording)
            .await?
            .map_err(|e| SignError::Store(StoreError::Unavailable(e.to_string())))?;
        let released = recorded.map_err(|e| late_if_due(ctx, &slot.pkh, Stage::Record, e))?;
        let signature = if released == signature {
            signature
        } else {
            verified_stored(entry, mark_req, released)?
        };
        Ok((signature, recorded_in))
    }

    /// One verified vault signature, finished by the request's deadline: the vault call and
    /// its retries run under that one budget (capped by the vault's own sign deadline), so a
    /// signature that would come later is never asked for, and one that does is dropped.
    async fn vault_sign(
        &self,
        entry: &KeyEntry,
        digest: &[u8; 32],
        ctx: &SignContext,
    ) -> Result<(Signature, Duration), SignError> {
        let started = Instant::now();
        let signed = self
            .vault
            .sign_verified_until(&entry.key, digest, ctx.deadline)
            .await;
        let sig = signed.map_err(|e| match e {
            // The request's time, not the vault's own deadline, ran out.
            VaultError::Deadline(_) if ctx.deadline.is_some_and(|d| Instant::now() >= d) => {
                SignError::Withdrawn {
                    pkh: entry.key.pkh(),
                    reason: ctx.late(Stage::Vault),
                }
            }
            e => SignError::Vault(e),
        })?;
        Ok((sig, started.elapsed()))
    }
}

/// A signature the store holds for these very bytes (an identical retry's, or the one another
/// signer recorded first for a block), checked against the key before it may leave.
fn verified_stored(
    entry: &KeyEntry,
    req: &MarkRequest,
    stored: Signature,
) -> Result<Signature, SignError> {
    let key = &entry.key.public_key;
    let stored = match stored.curve() {
        None => stored.with_curve(key.curve()),
        Some(_) => stored,
    };
    key.verify_digest(&req.hash, &stored)
        .map(|()| stored)
        .map_err(|_| {
            SignError::Store(StoreError::InvalidStoredSignature {
                kind: req.kind,
                pkh: entry.key.pkh(),
                level: req.level,
            })
        })
}

/// A store failure as the request sees it: the shared container gives up at the request's
/// deadline itself, and a container that was merely still answering then made the request
/// late (a 503 saying which stage), not a storage account that does not answer.
fn late_if_due(ctx: &SignContext, pkh: &Pkh, stage: Stage, e: StoreError) -> SignError {
    let due = ctx.deadline.is_some_and(|d| Instant::now() >= d);
    match e {
        StoreError::Shared(SharedError::Unavailable { .. }) if due => SignError::Withdrawn {
            pkh: *pkh,
            reason: ctx.late(stage),
        },
        e => SignError::Store(e),
    }
}

/// A store step, with how long it took, run in the request's task.
type StoreStep<T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = (Result<T, StoreError>, Duration)> + Send>>;

/// A store step, awaited until the request's deadline (the step itself is left to run on).
async fn bounded<F: std::future::Future + Unpin>(
    ctx: &SignContext,
    pkh: &Pkh,
    stage: Stage,
    task: &mut F,
) -> Result<F::Output, SignError> {
    match ctx.deadline {
        None => Ok(task.await),
        Some(deadline) => tokio::time::timeout_at(deadline.into(), task)
            .await
            .map_err(|_| SignError::Withdrawn {
                pkh: *pkh,
                reason: ctx.late(stage),
            }),
    }
}
