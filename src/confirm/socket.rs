//! The local socket `sign --pending` talks to: `<data dir>/confirm.sock`, owner-only (0600),
//! created at start (a stale one from a crash is replaced), removed at shutdown. One JSON
//! object per line each way:
//! `{"op":"list"}` → `{"held":[…]}` (each with a preview of its bytes);
//! `{"op":"get","pkh":K,"hash":H}` → `{"request":{…}}` (the whole bytes) or `{"request":null}`;
//! `{"op":"approve"|"reject","pkh":K,"hash":H[,"id":I]}` → `{"answered":N}` (N = 0: nothing
//! holds those bytes for that key any more, or, with an id, the request the person saw is no
//! longer among them); anything else → `{"error":…}`.
//!
//! Bounded ([`SocketLimits`]): a line longer than the limit gets an error and the connection
//! is closed, the line never buffered; connections beyond the cap get one error line and are
//! closed; a connection that sends nothing for the idle time is closed.
//!
//! Owns: the socket file and the protocol. Must never: be reachable by anyone but the data
//! directory's owner, answer a request by anything but its key and hash, or let a client
//! grow the server's memory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;

use super::{Confirmations, HeldView};
use crate::tezos::Pkh;

/// One line from `sign --pending`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Command {
    List,
    Get {
        pkh: String,
        hash: String,
    },
    /// `id`, when given, is the held request the person saw: the answer is given only while
    /// it is still held (a copy that arrived since is not answered by a stale screen).
    Approve {
        pkh: String,
        hash: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
    },
    Reject {
        pkh: String,
        hash: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
    },
}

/// One line back.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub(crate) enum Reply {
    Held {
        held: Vec<HeldView>,
    },
    Answered {
        answered: usize,
    },
    /// `None`: nothing holds those bytes for that key any more.
    Request {
        #[serde(deserialize_with = "present")]
        request: Option<HeldView>,
    },
    Error {
        error: String,
    },
}

/// An `Option` field that must be present (`null` for `None`): without it, any object would
/// read as `{"request":null}`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<HeldView>, D::Error> {
    serde::Deserialize::deserialize(d)
}

/// The socket's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SocketLimits {
    /// The longest command line (commands are tiny).
    pub max_line: usize,
    /// Connections served at once.
    pub max_connections: usize,
    /// A connection that sends no command for this long is closed (`sign --pending` polls
    /// every 300 ms and reconnects when closed).
    pub idle: Duration,
}

impl Default for SocketLimits {
    fn default() -> Self {
        SocketLimits {
            max_line: 4 * 1024,
            max_connections: 8,
            idle: Duration::from_secs(600),
        }
    }
}

/// How long one reply may take to leave (a client that reads nothing is dropped).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// The bound socket; removed when dropped.
pub(crate) struct ConfirmSocket {
    path: PathBuf,
    listener: UnixListener,
    limits: SocketLimits,
}

impl Drop for ConfirmSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl ConfirmSocket {
    /// Binds `dir/confirm.sock` (replacing a stale socket, refusing anything else there),
    /// owner-only. Call it while holding the data directory's lock.
    pub(crate) fn bind(dir: &Path) -> std::io::Result<ConfirmSocket> {
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
        Ok(ConfirmSocket {
            path,
            listener,
            limits: SocketLimits::default(),
        })
    }

    /// Other bounds than the defaults.
    #[cfg(test)]
    pub(crate) fn with_limits(mut self, limits: SocketLimits) -> ConfirmSocket {
        self.limits = limits;
        self
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Serves connections until the future is dropped.
    pub(crate) async fn serve(self, set: Arc<Confirmations>) {
        let limits = self.limits;
        let slots = Arc::new(Semaphore::new(limits.max_connections));
        loop {
            let Ok((stream, _)) = self.listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                tracing::warn!(
                    max = limits.max_connections,
                    "confirmation socket connection refused: too many at once"
                );
                // A new socket's buffer takes one short line at once; never waits.
                let _ = stream.try_write(
                    reply_line(&Reply::Error {
                        error: format!(
                            "too many connections to the confirmation socket (at most {}): \
                             close another `sign --pending`",
                            limits.max_connections
                        ),
                    })
                    .as_bytes(),
                );
                continue;
            };
            let set = Arc::clone(&set);
            tokio::spawn(async move {
                let (read, write) = stream.into_split();
                connection(read, write, &set, limits).await;
                drop(slot);
            });
        }
    }
}

fn reply_line(reply: &Reply) -> String {
    let mut text = serde_json::to_string(reply).unwrap_or_default();
    text.push('\n');
    text
}

/// One line read with a bound.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    Text(Vec<u8>),
    TooLong,
    End,
}

/// Reads one line of at most `max` bytes (newline excluded), never buffering more than
/// `max + 1` bytes of it.
async fn read_line<R: AsyncBufRead + Unpin>(read: &mut R, max: usize) -> std::io::Result<Line> {
    let mut line = Vec::new();
    let n = (&mut *read)
        .take(max as u64 + 1)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Ok(Line::End);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    } else if line.len() > max {
        return Ok(Line::TooLong);
    }
    Ok(Line::Text(line))
}

fn execute(line: &[u8], set: &Confirmations) -> Reply {
    let key = |pkh: &str| {
        pkh.parse::<Pkh>()
            .map_err(|e| format!("bad key {pkh:?}: {e}"))
    };
    match serde_json::from_slice::<Command>(line) {
        Ok(Command::List) => Reply::Held { held: set.list() },
        Ok(Command::Get { pkh, hash }) => match key(&pkh) {
            Ok(pkh) => Reply::Request {
                request: set.get(&pkh, &hash),
            },
            Err(error) => Reply::Error { error },
        },
        Ok(Command::Approve { pkh, hash, id }) => match key(&pkh) {
            Ok(pkh) => {
                let answered = set.answer_seen(&pkh, &hash, id, true);
                tracing::info!(%pkh, hash, answered, "held request approved by the operator");
                Reply::Answered { answered }
            }
            Err(error) => Reply::Error { error },
        },
        Ok(Command::Reject { pkh, hash, id }) => match key(&pkh) {
            Ok(pkh) => {
                let answered = set.answer_seen(&pkh, &hash, id, false);
                tracing::info!(%pkh, hash, answered, "held request rejected by the operator");
                Reply::Answered { answered }
            }
            Err(error) => Reply::Error { error },
        },
        Err(e) => Reply::Error {
            error: format!("not a command: {e}"),
        },
    }
}

/// Serves one connection until it ends, sends a line too long, or idles.
async fn connection<R, W>(read: R, mut write: W, set: &Confirmations, limits: SocketLimits)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut read = BufReader::with_capacity(limits.max_line.clamp(256, 8 * 1024), read);
    loop {
        let (reply, last) =
            match tokio::time::timeout(limits.idle, read_line(&mut read, limits.max_line)).await {
                Ok(Ok(Line::Text(line))) => (execute(&line, set), false),
                Ok(Ok(Line::TooLong)) => {
                    tracing::warn!(
                        max = limits.max_line,
                        "confirmation socket: line too long, connection closed"
                    );
                    let error = format!(
                        "a line longer than {} bytes: connection closed",
                        limits.max_line
                    );
                    (Reply::Error { error }, true)
                }
                // Ended, failed, or idle: closed without a word (an idle client reads nothing;
                // `sign --pending` reconnects when it finds the connection closed).
                Ok(Ok(Line::End) | Err(_)) | Err(_) => return,
            };
        let text = reply_line(&reply);
        let sent = tokio::time::timeout(WRITE_TIMEOUT, write.write_all(text.as_bytes())).await;
        if last || !matches!(sent, Ok(Ok(()))) {
            let _ = tokio::time::timeout(WRITE_TIMEOUT, write.shutdown()).await;
            return;
        }
    }
}

/// The client side, for `sign --pending`.
pub(crate) struct ConfirmClient {
    lines: tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>,
    write: tokio::net::unix::OwnedWriteHalf,
}

impl ConfirmClient {
    pub(crate) async fn connect(dir: &Path) -> std::io::Result<ConfirmClient> {
        let stream = UnixStream::connect(dir.join(super::SOCKET)).await?;
        let (read, write) = stream.into_split();
        Ok(ConfirmClient {
            lines: BufReader::new(read).lines(),
            write,
        })
    }

    pub(crate) async fn call(&mut self, command: &Command) -> std::io::Result<Reply> {
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
                id: None,
                pkh: "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt".into(),
                hash: "x".into()
            })
            .await,
            Ok(Reply::Answered { answered: 0 })
        ));
        assert!(matches!(
            b.call(&Command::Get {
                pkh: "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt".into(),
                hash: "x".into()
            })
            .await,
            Ok(Reply::Request { request: None })
        ));
        assert!(matches!(
            b.call(&Command::Get {
                pkh: "demo-tz2".into(),
                hash: "x".into()
            })
            .await,
            Ok(Reply::Error { error }) if error.contains("bad key")
        ));
        server.abort();
        let _ = server.await;
        assert!(!path.exists(), "removed with the server");
        // Anything but a socket at that path is refused, never removed.
        std::fs::write(&path, "x").expect("a file");
        assert!(ConfirmSocket::bind(dir.path()).is_err());
        assert!(path.exists());
    }

    const TZ2: &str = "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt";

    fn set() -> Arc<Confirmations> {
        Arc::new(Confirmations::new(
            Duration::from_secs(60),
            super::super::HeldLimits::default(),
        ))
    }

    /// Serves `dir/confirm.sock` with `limits` until the handle is dropped (aborted).
    fn serving(dir: &Path, set: &Arc<Confirmations>, limits: SocketLimits) -> AbortOnDrop {
        let socket = ConfirmSocket::bind(dir).expect("bind").with_limits(limits);
        AbortOnDrop(tokio::spawn(socket.serve(Arc::clone(set))))
    }

    struct AbortOnDrop(tokio::task::JoinHandle<()>);

    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }

    /// The lines the server sends until it closes (or resets: a connection closed with
    /// unread data reads as reset after what was sent), within 5 s.
    async fn until_closed<R: AsyncRead + Unpin>(read: R) -> Vec<String> {
        let mut lines = BufReader::new(read).lines();
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), async {
            while let Ok(Some(line)) = lines.next_line().await {
                got.push(line);
            }
        })
        .await
        .expect("the server closes the connection");
        got
    }

    #[tokio::test]
    async fn a_line_too_long_gets_an_error_and_is_never_buffered() {
        let set = set();
        let held = {
            let set = Arc::clone(&set);
            tokio::spawn(async move {
                let pkh: Pkh = TZ2.parse().expect("pkh");
                set.hold(pkh, &[3, 1], None, "policy".into()).await
            })
        };
        while set.list().is_empty() {
            tokio::task::yield_now().await;
        }
        // A command, then 8 MiB without a newline.
        let endless = 8usize << 20;
        let mut input =
            (&b"{\"op\":\"list\"}\n"[..]).chain(tokio::io::repeat(b'a').take(endless as u64));
        let mut output = Vec::new();
        let limits = SocketLimits::default();
        tokio::time::timeout(
            Duration::from_secs(5),
            connection(&mut input, &mut output, &set, limits),
        )
        .await
        .expect("the connection ends at the long line");
        let read = endless - input.get_ref().1.limit() as usize;
        assert!(
            read <= limits.max_line + 16 * 1024,
            "{read} bytes of the long line were read"
        );
        let output = String::from_utf8(output).expect("utf-8");
        let replies: Vec<Reply> = output
            .lines()
            .map(|l| serde_json::from_str(l).expect("a reply"))
            .collect();
        assert!(
            matches!(&replies[..], [Reply::Held { held }, Reply::Error { error }]
                if held.len() == 1 && error.contains("longer than 4096 bytes")),
            "{output}"
        );
        held.abort();
    }

    #[tokio::test]
    async fn a_mebibyte_line_over_the_socket_is_refused_and_the_connection_closed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let set = set();
        let _server = serving(dir.path(), &set, SocketLimits::default());
        let stream = UnixStream::connect(dir.path().join(crate::confirm::SOCKET))
            .await
            .expect("connect");
        let (read, mut write) = stream.into_split();
        let writer = tokio::spawn(async move {
            // The server stops reading: this write ends with an error once it closed.
            let _ = write.write_all(&vec![b'a'; 1 << 20]).await;
        });
        let lines = until_closed(read).await;
        assert!(
            matches!(&lines[..], [one] if one.contains("longer than 4096 bytes")),
            "{lines:?}"
        );
        tokio::time::timeout(Duration::from_secs(5), writer)
            .await
            .expect("the writer is not left blocked")
            .expect("join");
        // The server still serves others.
        let mut other = ConfirmClient::connect(dir.path()).await.expect("connect");
        assert!(matches!(
            other.call(&Command::List).await,
            Ok(Reply::Held { .. })
        ));
    }

    #[tokio::test]
    async fn connections_beyond_the_cap_get_one_error_line_and_are_closed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let set = set();
        let limits = SocketLimits {
            max_connections: 2,
            ..SocketLimits::default()
        };
        let _server = serving(dir.path(), &set, limits);
        let mut a = ConfirmClient::connect(dir.path()).await.expect("a");
        let mut b = ConfirmClient::connect(dir.path()).await.expect("b");
        for c in [&mut a, &mut b] {
            assert!(matches!(
                c.call(&Command::List).await,
                Ok(Reply::Held { .. })
            ));
        }
        let extra = UnixStream::connect(dir.path().join(crate::confirm::SOCKET))
            .await
            .expect("the kernel accepts it");
        let lines = until_closed(extra).await;
        assert!(
            matches!(&lines[..], [one] if one.contains("too many connections")),
            "{lines:?}"
        );
        let mut refused = ConfirmClient::connect(dir.path()).await.expect("connect");
        assert!(
            !matches!(refused.call(&Command::List).await, Ok(Reply::Held { .. })),
            "a third is not served"
        );
        // A closed connection frees its slot.
        drop(a);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let mut c = ConfirmClient::connect(dir.path()).await.expect("connect");
            if matches!(c.call(&Command::List).await, Ok(Reply::Held { .. })) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the slot stays taken");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(matches!(
            b.call(&Command::List).await,
            Ok(Reply::Held { .. })
        ));
    }

    #[tokio::test]
    async fn an_idle_connection_is_closed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let set = set();
        let limits = SocketLimits {
            idle: Duration::from_millis(200),
            ..SocketLimits::default()
        };
        let _server = serving(dir.path(), &set, limits);
        let idle = UnixStream::connect(dir.path().join(crate::confirm::SOCKET))
            .await
            .expect("connect");
        let started = std::time::Instant::now();
        assert!(until_closed(idle).await.is_empty(), "closed without a word");
        assert!(started.elapsed() >= Duration::from_millis(200));
        // One that keeps talking stays.
        let mut busy = ConfirmClient::connect(dir.path()).await.expect("connect");
        for _ in 0..6 {
            assert!(matches!(
                busy.call(&Command::List).await,
                Ok(Reply::Held { .. })
            ));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    #[test]
    fn replies_read_back_as_they_were_sent() {
        let none: Reply = serde_json::from_str(r#"{"request":null}"#).expect("null request");
        assert!(matches!(none, Reply::Request { request: None }));
        let error: Reply = serde_json::from_str(r#"{"error":"x"}"#).expect("error");
        assert!(matches!(error, Reply::Error { .. }));
        assert!(
            serde_json::from_str::<Reply>(r#"{"something":"else"}"#).is_err(),
            "an unknown reply is no `request: null`"
        );
    }
}
