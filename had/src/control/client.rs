//! The client's side of the control socket (blocking: `hactl` needs no runtime).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Event, MAX_LINE, Request, Response};

/// Why a control request did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nobody answers on the socket (daemon not running, wrong path, no permission).
    #[error("cannot reach had at {path}: {source}")]
    Unreachable {
        /// The socket path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The connection broke or timed out.
    #[error("control socket {path}: {source}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The daemon answered something that is not a response line.
    #[error("control socket {path}: unreadable answer: {detail}")]
    Protocol {
        /// The socket path.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
}

impl ClientError {
    /// True when the daemon could not be reached at all (`hactl` exits 2).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ClientError::Unreachable { .. })
    }
}

/// A connection to a running daemon.
#[derive(Debug)]
pub struct Client {
    path: PathBuf,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    /// Connect to the daemon's control socket.
    pub fn connect(path: &Path) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(path).map_err(|source| ClientError::Unreachable {
            path: path.to_owned(),
            source,
        })?;
        let io_err = |source| ClientError::Io {
            path: path.to_owned(),
            source,
        };
        // A reload runs health checks and binds listeners: give it time, but
        // never hang forever on a wedged daemon.
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(io_err)?;
        let writer = stream.try_clone().map_err(io_err)?;
        Ok(Client {
            path: path.to_owned(),
            reader: BufReader::new(stream),
            writer,
        })
    }

    fn io(&self, source: io::Error) -> ClientError {
        ClientError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn read_json<T: serde::de::DeserializeOwned>(&mut self) -> Result<Option<T>, ClientError> {
        let mut buf = Vec::new();
        let n = (&mut self.reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| self.io(e))?;
        if n == 0 {
            return Ok(None);
        }
        serde_json::from_slice(&buf)
            .map(Some)
            .map_err(|e| ClientError::Protocol {
                path: self.path.clone(),
                detail: e.to_string(),
            })
    }

    /// Send one request and wait for its response.
    pub fn call(&mut self, request: &Request) -> Result<Response, ClientError> {
        let mut line = serde_json::to_vec(request).map_err(|e| ClientError::Protocol {
            path: self.path.clone(),
            detail: e.to_string(),
        })?;
        line.push(b'\n');
        self.writer.write_all(&line).map_err(|e| self.io(e))?;
        self.read_json()?.ok_or_else(|| ClientError::Protocol {
            path: self.path.clone(),
            detail: "connection closed before the answer".into(),
        })
    }

    /// Subscribe to events and hand each one to `each` until it returns
    /// `false` or the daemon closes the stream.
    pub fn follow(&mut self, mut each: impl FnMut(&Event) -> bool) -> Result<(), ClientError> {
        let first = self.call(&Request::Events)?;
        if !first.ok {
            return Err(ClientError::Protocol {
                path: self.path.clone(),
                detail: first.error.unwrap_or_else(|| "events refused".into()),
            });
        }
        self.reader
            .get_ref()
            .set_read_timeout(None)
            .map_err(|e| self.io(e))?;
        while let Some(ev) = self.read_json::<Event>()? {
            if !each(&ev) {
                break;
            }
        }
        Ok(())
    }
}
