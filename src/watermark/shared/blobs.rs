//! The blob container the shared marks live in: read one blob with its ETag, write one blob
//! only if it is still what was read ([`Condition`]).
//!
//! Owns: the [`Blobs`] trait the shared store's compare-and-swap is written against, and its
//! Azure implementation on Microsoft's `azure_storage_blob` client ([`AzureBlobs`]: one
//! container client, so one connection pool, for every slot). Every failure is classified once
//! into a [`BlobError`] the store can act on (lost race, missing, transient, fatal). Must never:
//! write without a condition (an unconditional write could lower another signer's mark).

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::{ClientOptions, Etag, RequestContent, StatusCode};
use azure_storage_blob::models::{
    BlobClientDownloadOptions, BlobContainerClientGetAccountInfoResultHeaders,
    BlockBlobClientUploadOptions,
};
use azure_storage_blob::{BlobContainerClient, BlobContainerClientOptions};

use super::location::SharedLocation;
use crate::vault::Cause;

/// The only writes the store makes: create a blob that must not exist yet
/// (`If-None-Match: *`), or replace the version that was read (`If-Match: <ETag>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Absent,
    Matches(String),
}

/// What went wrong with a blob request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// 409/412: another writer changed (or created) the blob since it was read.
    #[error("another signer changed the mark first")]
    Conflict,
    /// 404 on a conditional replace: the blob is gone (the container was emptied).
    #[error("the mark's blob is gone")]
    Missing,
    #[error(
        "the container does not exist: create it (`az storage container create`), or check \
         the --shared-watermarks URL"
    )]
    NoContainer,
    /// 401/403: the identity or SAS token may not read or write the container.
    #[error(
        "access denied ({0}): the identity needs \"Storage Blob Data Contributor\" on the \
         container, or the SAS token read, write and create permissions and a valid expiry"
    )]
    Denied(#[source] Cause),
    /// 429/503 throttling, 5xx, connection failures, timeouts: may pass.
    #[error("storage unavailable: {0}")]
    Transient(#[source] Cause),
    /// Anything else the service answered.
    #[error("storage request failed: {0}")]
    Failed(#[source] Cause),
}

impl BlobError {
    /// Whether trying again (within the deadline) may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, BlobError::Transient(_))
    }

    /// A short label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            BlobError::Conflict => "conflict",
            BlobError::Missing => "missing",
            BlobError::NoContainer => "no_container",
            BlobError::Denied(_) => "denied",
            BlobError::Transient(_) => "unavailable",
            BlobError::Failed(_) => "failed",
        }
    }
}

/// A blob container, as the shared store needs it.
#[async_trait]
pub trait Blobs: Send + Sync + 'static {
    /// The blob's content and ETag, or `None` when it does not exist.
    async fn read(&self, name: &str) -> Result<Option<(String, Vec<u8>)>, BlobError>;
    /// Writes `body` if `condition` holds; returns the new ETag.
    async fn write(
        &self,
        name: &str,
        body: Vec<u8>,
        condition: Condition,
    ) -> Result<String, BlobError>;
    /// The storage account's replication, as its SKU name (`Standard_LRS`, `Standard_RAGRS`…),
    /// or `None` where there is no account to ask (the in-memory container).
    async fn sku(&self) -> Result<Option<String>, BlobError> {
        Ok(None)
    }
}

/// Whether a storage account's SKU replicates to a secondary region (GRS, RA-GRS, GZRS,
/// RA-GZRS). That replication is asynchronous: after an account failover the secondary may
/// lack the latest writes, so shared marks could go back and two signers double sign. Locally
/// (LRS) or zone (ZRS) redundant accounts write every copy before answering.
pub(crate) fn geo_replicated(sku: &str) -> bool {
    let sku = sku.to_ascii_uppercase();
    sku.ends_with("GRS") || sku.ends_with("GZRS")
}

/// Azure Blob Storage through Microsoft's SDK.
pub(crate) struct AzureBlobs {
    container: BlobContainerClient,
}

impl AzureBlobs {
    /// A client for `location`: its SAS token when it has one (no credential), else
    /// `credential`. `options` carry the transport (extra CA) the vault uses; retries are the
    /// store's own, within the sign deadline.
    pub(crate) fn new(
        location: &SharedLocation,
        credential: Option<Arc<dyn TokenCredential>>,
        options: ClientOptions,
    ) -> Result<AzureBlobs, BlobError> {
        let credential = if location.uses_sas() {
            None
        } else {
            credential
        };
        let options = BlobContainerClientOptions {
            client_options: options,
            ..Default::default()
        };
        let container =
            BlobContainerClient::new(location.container_url().clone(), credential, Some(options))
                .map_err(|e| BlobError::Failed(Cause::new(e)))?;
        Ok(AzureBlobs { container })
    }
}

#[async_trait]
impl Blobs for AzureBlobs {
    /// Get Account Information on the container (`x-ms-sku-name`).
    async fn sku(&self) -> Result<Option<String>, BlobError> {
        let response = self
            .container
            .get_account_info(None)
            .await
            .map_err(classify)?;
        let sku = response
            .sku_name()
            .map_err(|e| BlobError::Failed(Cause::new(e)))?;
        Ok(sku.map(|s| s.to_string()))
    }

    async fn read(&self, name: &str) -> Result<Option<(String, Vec<u8>)>, BlobError> {
        let blob = self.container.blob_client(name);
        let options = BlobClientDownloadOptions {
            parallel: std::num::NonZero::new(1),
            ..Default::default()
        };
        let response = match blob.download(Some(options)).await {
            Ok(r) => r,
            Err(e) if is_code(&e, "BlobNotFound") => return Ok(None),
            Err(e) => return Err(classify(e)),
        };
        let etag = response
            .properties
            .etag
            .as_ref()
            .map(Etag::to_string)
            .ok_or_else(|| BlobError::Failed("the blob was read without an ETag".into()))?;
        let body = response
            .body
            .collect()
            .await
            .map_err(|e| BlobError::Transient(format!("reading the blob: {e}").into()))?;
        Ok(Some((etag, body.to_vec())))
    }

    async fn write(
        &self,
        name: &str,
        body: Vec<u8>,
        condition: Condition,
    ) -> Result<String, BlobError> {
        let blob = self.container.blob_client(name).block_blob_client();
        let mut options = BlockBlobClientUploadOptions {
            blob_content_type: Some("application/json".into()),
            ..Default::default()
        };
        match &condition {
            Condition::Absent => options.if_none_match = Some(Etag::from("*")),
            Condition::Matches(etag) => options.if_match = Some(Etag::from(etag.as_str())),
        }
        let content = RequestContent::from(body);
        match blob.upload(content, Some(options)).await {
            Ok(done) => done
                .etag
                .map(|e| e.to_string())
                .ok_or_else(|| BlobError::Failed("the write was answered without an ETag".into())),
            Err(e) => {
                let status = e.http_status();
                if status == Some(StatusCode::Conflict)
                    || status == Some(StatusCode::PreconditionFailed)
                {
                    Err(BlobError::Conflict)
                } else if is_code(&e, "BlobNotFound") {
                    Err(BlobError::Missing)
                } else {
                    Err(classify(e))
                }
            }
        }
    }
}

fn is_code(e: &azure_core::Error, code: &str) -> bool {
    matches!(e.kind(), ErrorKind::HttpResponse { error_code: Some(c), .. } if c == code)
}

/// One classification of every SDK failure.
fn classify(e: azure_core::Error) -> BlobError {
    let code = match e.kind() {
        ErrorKind::HttpResponse { error_code, .. } => error_code.clone(),
        _ => None,
    };
    if code.as_deref() == Some("ContainerNotFound") {
        return BlobError::NoContainer;
    }
    let detail = code.unwrap_or_else(|| e.to_string());
    match e.http_status() {
        Some(StatusCode::Unauthorized | StatusCode::Forbidden) => BlobError::Denied(detail.into()),
        Some(s) if s == StatusCode::TooManyRequests || u16::from(s) >= 500 => {
            BlobError::Transient(format!("HTTP {} {detail}", u16::from(s)).into())
        }
        Some(s) => BlobError::Failed(format!("HTTP {} {detail}", u16::from(s)).into()),
        // No answer at all: connection refused, reset, TLS, DNS.
        None => match e.kind() {
            ErrorKind::Credential => BlobError::Denied(Cause::new(e)),
            _ => BlobError::Transient(Cause::new(e)),
        },
    }
}

#[cfg(test)]
mod sku_tests {
    use super::geo_replicated;

    /// Every SKU name Azure Storage reports (`x-ms-sku-name`), and whether it replicates to a
    /// second region.
    #[test]
    fn geo_replicated_skus_are_the_grs_and_gzrs_ones() {
        for (sku, geo) in [
            ("Standard_LRS", false),
            ("Standard_ZRS", false),
            ("Premium_LRS", false),
            ("Premium_ZRS", false),
            ("Standard_GRS", true),
            ("Standard_RAGRS", true),
            ("Standard_GZRS", true),
            ("Standard_RAGZRS", true),
            ("standard_ragrs", true),
        ] {
            assert_eq!(geo_replicated(sku), geo, "{sku}");
        }
    }
}
