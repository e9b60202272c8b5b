//! Signing with operator confirmation (`serve --confirm`): a request whose magic byte the
//! confirmation covers and that the policy refuses is held for a person instead of refused,
//! then signed through the same pipeline (watermark included) once approved.
//!
//! Owns: the decision to hold, and the second pass after an approval with a fresh deadline.
//! Must never: hold what the policy allows (it is signed at once), sign what nobody approved,
//! or keep holding a request whose client left.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{SignContext, SignError, SignerApi, Signing};
use crate::confirm::{Answer, Confirmations};
use crate::tezos::{Pkh, Signature};

/// What `--confirm` covers and where held requests wait.
#[derive(Debug)]
pub struct Confirm {
    pub set: Arc<Confirmations>,
    /// The magic bytes `--confirm` names.
    pub magic_bytes: Vec<u8>,
}

/// Signs, or holds for a person when the policy refused a request `confirm` covers.
#[allow(clippy::too_many_arguments)]
pub async fn sign_or_hold(
    signer: &dyn SignerApi,
    confirm: Option<&Confirm>,
    pkh: &Pkh,
    data: &[u8],
    authentication: Option<&Signature>,
    ctx: &SignContext,
    peer: Option<SocketAddr>,
    sign_deadline: Duration,
) -> Signing {
    let first = signer.sign_within(pkh, data, authentication, ctx).await;
    let (Some(confirm), Err(SignError::PolicyRefused(why))) = (confirm, &first.result) else {
        return first;
    };
    if !data
        .first()
        .is_some_and(|m| confirm.magic_bytes.contains(m))
    {
        return first;
    }
    tracing::info!(%pkh, reason = %why, "request held for operator confirmation (sign --pending)");
    let answer = tokio::select! {
        a = confirm.set.hold(*pkh, data, peer, why.to_string()) => match a {
            Ok(a) => a,
            Err(_) => return first,
        },
        () = ctx.client_gone.cancelled() => return first,
    };
    let result = match answer {
        Answer::Approved => {
            let approved = SignContext {
                started: Instant::now(),
                deadline: Some(Instant::now() + sign_deadline),
                client_gone: ctx.client_gone.clone(),
                confirmed: true,
            };
            return signer
                .sign_within(pkh, data, authentication, &approved)
                .await;
        }
        Answer::Rejected => Err(SignError::RejectedByOperator),
        Answer::TimedOut => Err(SignError::NotConfirmed(confirm.set.timeout())),
    };
    Signing {
        request: first.request,
        result,
    }
}
