//! The local socket `sign --pending` talks to: `<data dir>/confirm.sock`, owner-only (0600),
//! created at start (a stale one from a crash is replaced), removed at shutdown. One JSON
//! object per line each way:
//! `{"op":"list"}` → `{"held":[…]}`; `{"op":"approve"|"reject","hash":H}` →
//! `{"answered":N}` (N = 0: nothing holds those bytes any more).
//!
//! Owns: the socket file and the protocol. Must never: be reachable by anyone but the data
//! directory's owner, or answer a request by anything but its hash.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::{Confirmations, HeldView};
use crate::tezos::Pkh;

/// One line from `sign --pending`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    List,
    Approve { pkh: String, hash: String },
    Reject { pkh: String, hash: String },
}

/// One line back.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Reply {
    Held { held: Vec<HeldView> },
    Answered { answered: usize },
    Error { error: String },
}

/// The bound socket; removed when dropped.
pub struct ConfirmSocket {
    path: PathBuf,
    listener: UnixListener,
}

impl Drop for ConfirmSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl ConfirmSocket {
    /// Binds `dir/confirm.sock` (replacing a stale socket, refusing anything else there),
    /// owner-only. Call it while holding the data directory's lock.
    pub fn bind(dir: &Path) -> std::io::Result<ConfirmSocket> {
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        let path = dir.join(super::SOCKET);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_socket() => std::fs::remove_file(&path)?,
            Ok(_) => {
                return Err(std::io::Error::other(format!(
                    "{} exists and is not a socket: remove it",
                    path.display()
                )));
            }
            Err(_) => {}
        }
        let listener = UnixListener::bind(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        Ok(ConfirmSocket { path, listener })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Serves connections until the future is dropped.
    pub async fn serve(self, set: Arc<Confirmations>) {
        loop {
            let Ok((stream, _)) = self.listener.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            };
            tokio::spawn(connection(stream, Arc::clone(&set)));
        }
    }
}

async fn connection(stream: UnixStream, set: Arc<Confirmations>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let reply = match serde_json::from_str::<Command>(&line) {
            Ok(Command::List) => Reply::Held { held: set.list() },
            Ok(Command::Approve { pkh, hash }) => match pkh.parse::<Pkh>() {
                Ok(pkh) => {
                    let answered = set.answer(&pkh, &hash, true);
                    tracing::info!(%pkh, hash, answered, "held request approved by the operator");
                    Reply::Answered { answered }
                }
                Err(e) => Reply::Error {
                    error: format!("bad key {pkh:?}: {e}"),
                },
            },
            Ok(Command::Reject { pkh, hash }) => match pkh.parse::<Pkh>() {
                Ok(pkh) => {
                    let answered = set.answer(&pkh, &hash, false);
                    tracing::info!(%pkh, hash, answered, "held request rejected by the operator");
                    Reply::Answered { answered }
                }
                Err(e) => Reply::Error {
                    error: format!("bad key {pkh:?}: {e}"),
                },
            },
            Err(e) => Reply::Error {
                error: format!("not a command: {e}"),
            },
        };
        let mut text = serde_json::to_string(&reply).unwrap_or_default();
        text.push('\n');
        if write.write_all(text.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// The client side, for `sign --pending`.
pub struct ConfirmClient {
    lines: tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>,
    write: tokio::net::unix::OwnedWriteHalf,
}

impl ConfirmClient {
    pub async fn connect(dir: &Path) -> std::io::Result<ConfirmClient> {
        let stream = UnixStream::connect(dir.join(super::SOCKET)).await?;
        let (read, write) = stream.into_split();
        Ok(ConfirmClient {
            lines: BufReader::new(read).lines(),
            write,
        })
    }

    pub async fn call(&mut self, command: &Command) -> std::io::Result<Reply> {
        let mut text = serde_json::to_string(command).map_err(std::io::Error::other)?;
        text.push('\n');
        self.write.write_all(text.as_bytes()).await?;
        let line = self
            .lines
            .next_line()
            .await?
            .ok_or_else(|| std::io::Error::other("the signer closed the socket"))?;
        serde_json::from_str(&line).map_err(std::io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[tokio::test]
    async fn the_socket_is_owner_only_replaces_a_stale_one_and_goes_away_with_the_server() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(crate::confirm::SOCKET);
        // A stale socket left by a crash.
        drop(std::os::unix::net::UnixListener::bind(&path).expect("stale socket"));
        let socket = ConfirmSocket::bind(dir.path()).expect("replaces the stale one");
        let mode = std::fs::metadata(&path)
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let set = Arc::new(Confirmations::new(
            std::time::Duration::from_secs(5),
            super::super::HeldLimits::default(),
        ));
        let server = tokio::spawn(socket.serve(set));
        // Two clients at once both get answers.
        let mut a = ConfirmClient::connect(dir.path()).await.expect("a");
        let mut b = ConfirmClient::connect(dir.path()).await.expect("b");
        assert!(matches!(
            a.call(&Command::List).await,
            Ok(Reply::Held { .. })
        ));
        assert!(matches!(
            b.call(&Command::Approve {
                pkh: "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt".into(),
                hash: "x".into()
            })
            .await,
            Ok(Reply::Answered { answered: 0 })
        ));
        server.abort();
        let _ = server.await;
        assert!(!path.exists(), "removed with the server");
        // Anything but a socket at that path is refused, never removed.
        std::fs::write(&path, "x").expect("a file");
        assert!(ConfirmSocket::bind(dir.path()).is_err());
        assert!(path.exists());
    }
}
