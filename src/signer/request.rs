//! One signing request as the pipeline sees it: framed once at the edge (the HTTP handler,
//! or [`super::Signer::sign`] for callers without one) and handed whole to
//! [`super::Signer::sign_request`], the pipeline's only entry point.
//!
//! Owns: parsing the bytes once (a decoding error travels with the request and is reported
//! at the decode step, after the checks octez makes first).

use super::SignContext;
use crate::tezos::{DecodeError, Pkh, RequestSummary, Signature, SigningRequest};

/// A request to sign `data` with `pkh`.
#[derive(Debug, Clone)]
pub struct SignRequest {
    /// The key to sign with, from the URL (`POST /keys/<pkh>`).
    pub pkh: Pkh,
    /// The bytes to sign, magic byte first.
    pub data: Vec<u8>,
    /// `SigningRequest::parse(&data)`.
    pub parsed: Result<SigningRequest, DecodeError>,
    /// The `?authentication=` signature, when the client sent one.
    pub authentication: Option<Signature>,
    /// Until when the answer is wanted, whether the client is still there, and who it is.
    pub ctx: SignContext,
    /// The id its log line and its answer carry (empty without one).
    pub id: String,
}

impl SignRequest {
    /// Frames a request: the bytes are parsed here, once.
    pub fn new(
        pkh: Pkh,
        data: Vec<u8>,
        authentication: Option<Signature>,
        ctx: SignContext,
        id: String,
    ) -> SignRequest {
        let parsed = SigningRequest::parse(&data);
        SignRequest {
            pkh,
            data,
            parsed,
            authentication,
            ctx,
            id,
        }
    }

    /// The request's summary for logs and metrics, when it parsed.
    pub fn summary(&self) -> Option<RequestSummary> {
        self.parsed.as_ref().ok().map(SigningRequest::summary)
    }
}
