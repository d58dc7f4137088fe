//! The daemon's side of the control socket.

use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::{Event, MAX_LINE, Request, Response};

/// A request handed to the daemon, with the channel its answer goes back on.
#[derive(Debug)]
pub struct ControlCall {
    /// What the client asked.
    pub request: Request,
    /// Where the daemon sends its answer.
    pub reply: oneshot::Sender<Response>,
}

/// Why the control socket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// Another daemon answers on that path.
    #[error("control socket {path}: another had is already listening there")]
    InUse {
        /// The socket path.
        path: PathBuf,
    },
    /// Something other than a socket is in the way.
    #[error("control socket {path}: a file that is not a socket is in the way")]
    NotASocket {
        /// The socket path.
        path: PathBuf,
    },
    /// The operating system refused.
    #[error("control socket {path}: {source}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// The group whose members may use the control socket, when it exists.
pub const OPERATORS_GROUP: &str = "had";

/// Open the control socket at `path`: create its directory, replace a stale
/// socket left by a crashed daemon (never a live one, never another kind of
/// file), and set mode 0660 so the operators' group can use it.
pub fn bind(path: &Path) -> Result<UnixListener, BindError> {
    let io_err = |source| BindError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err)?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(BindError::InUse {
                    path: path.to_owned(),
                });
            }
            std::fs::remove_file(path).map_err(io_err)?;
        }
        Ok(_) => {
            return Err(BindError::NotASocket {
                path: path.to_owned(),
            });
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(e)),
    }
    let listener = UnixListener::bind(path).map_err(io_err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(io_err)?;
    // Operators in group `had` (dist/had.sysusers.conf) may use hactl.
    if let Ok(Some(group)) = nix::unistd::Group::from_name(OPERATORS_GROUP) {
        nix::unistd::chown(path, None, Some(group.gid)).map_err(|e| io_err(io::Error::from(e)))?;
    }
    Ok(listener)
}

/// Accept connections until `stop` turns true. Requests go to `calls`; an
/// `events` request subscribes the connection to `events`.
pub async fn serve(
    listener: UnixListener,
    calls: mpsc::Sender<ControlCall>,
    events: broadcast::Sender<Event>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let calls = calls.clone();
                    let events = events.clone();
                    let stop = stop.clone();
                    tokio::spawn(async move {
                        if let Err(e) = connection(stream, calls, events, stop).await {
                            tracing::debug!("control connection ended: {e}");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!("control socket accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            () = crate::control::stopped(&mut stop) => return,
        }
    }
}

/// Read one line of at most [`MAX_LINE`] bytes; `None` at end of stream.
async fn read_line<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = reader
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut buf)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if buf.len() > MAX_LINE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "request line too long",
        ));
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "request is not UTF-8"))
}

async fn write_json<T: serde::Serialize>(
    w: &mut tokio::net::unix::OwnedWriteHalf,
    value: &T,
) -> io::Result<()> {
    let mut line = serde_json::to_vec(value).map_err(io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line).await
}

async fn connection(
    stream: UnixStream,
    calls: mpsc::Sender<ControlCall>,
    events: broadcast::Sender<Event>,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut reader = BufReader::new(r);
    loop {
        let line = tokio::select! {
            line = read_line(&mut reader) => line?,
            () = crate::control::stopped(&mut stop) => return Ok(()),
        };
        let Some(line) = line else { return Ok(()) };
        if line.trim().is_empty() {
            continue;
        }
        let request: Request = match serde_json::from_str(line.trim()) {
            Ok(r) => r,
            Err(e) => {
                write_json(&mut w, &Response::refused(format!("bad request: {e}"))).await?;
                continue;
            }
        };
        if request == Request::Events {
            // Subscribe before answering, so nothing that happens after the
            // client reads "following" can be missed.
            let mut rx = events.subscribe();
            write_json(&mut w, &Response::done("following events")).await?;
            return follow(&mut rx, &mut reader, &mut w, &mut stop).await;
        }
        let (reply, answer) = oneshot::channel();
        if calls.send(ControlCall { request, reply }).await.is_err() {
            write_json(&mut w, &Response::refused("daemon is stopping")).await?;
            return Ok(());
        }
        let response = answer
            .await
            .unwrap_or_else(|_| Response::refused("daemon is stopping"));
        write_json(&mut w, &response).await?;
    }
}

async fn follow(
    rx: &mut broadcast::Receiver<Event>,
    reader: &mut BufReader<tokio::net::unix::OwnedReadHalf>,
    w: &mut tokio::net::unix::OwnedWriteHalf,
    stop: &mut watch::Receiver<bool>,
) -> io::Result<()> {
    let mut sink = [0u8; 256];
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Ok(ev) => write_json(w, &ev).await?,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("events follower lagged, {n} events skipped");
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            // The client hanging up ends the stream.
            n = reader.read(&mut sink) => if n? == 0 { return Ok(()) },
            () = crate::control::stopped(stop) => return Ok(()),
        }
    }
}
