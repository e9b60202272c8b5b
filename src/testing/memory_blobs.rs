//! An in-memory blob container with Azure's conditional semantics, for the shared store's
//! and the shared spending budget's tests (the same code runs against Azurite in
//! tests/shared/).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use async_trait::async_trait;

use crate::watermark::shared::{BlobError, Blobs, Condition};

/// A container: blobs with a version number as ETag, `If-None-Match: *` and `If-Match` as
/// Azure applies them, request counters and a switch that makes every request fail.
#[derive(Default)]
pub struct MemoryBlobs {
    /// Each blob by name: its version (the ETag) and its content.
    pub blobs: Mutex<HashMap<String, (u64, Vec<u8>)>>,
    version: AtomicU64,
    /// Read requests so far.
    pub reads: AtomicUsize,
    /// Write requests so far (conditional ones included, whether they succeeded or not).
    pub writes: AtomicUsize,
    /// While set, every request fails as a refused connection does (transient).
    pub down: AtomicBool,
}

impl MemoryBlobs {
    fn up(&self) -> Result<(), BlobError> {
        if self.down.load(Ordering::SeqCst) {
            Err(BlobError::Transient("connection refused".into()))
        } else {
            Ok(())
        }
    }
    /// (reads, writes) so far.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.reads.load(Ordering::SeqCst),
            self.writes.load(Ordering::SeqCst),
        )
    }
}

#[async_trait]
impl Blobs for MemoryBlobs {
    async fn read(&self, name: &str) -> Result<Option<(String, Vec<u8>)>, BlobError> {
        self.up()?;
        self.reads.fetch_add(1, Ordering::SeqCst);
        let blobs = self.blobs.lock().unwrap();
        Ok(blobs
            .get(name)
            .map(|(v, b)| (format!("\"{v}\""), b.clone())))
    }
    async fn write(
        &self,
        name: &str,
        body: Vec<u8>,
        condition: Condition,
    ) -> Result<String, BlobError> {
        self.up()?;
        self.writes.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        let mut blobs = self.blobs.lock().unwrap();
        match (&condition, blobs.get(name)) {
            (Condition::Absent, Some(_)) => return Err(BlobError::Conflict),
            (Condition::Matches(_), None) => return Err(BlobError::Missing),
            (Condition::Matches(etag), Some((v, _))) if *etag != format!("\"{v}\"") => {
                return Err(BlobError::Conflict);
            }
            _ => {}
        }
        let v = self.version.fetch_add(1, Ordering::SeqCst) + 1;
        blobs.insert(name.to_string(), (v, body));
        Ok(format!("\"{v}\""))
    }
}
