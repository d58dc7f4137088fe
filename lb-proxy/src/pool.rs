//! Per-member keep-alive connections, one idle list per worker thread so a
//! connection's I/O task and its users share a thread and the list's mutex is
//! never contended.

use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::body::RequestBody;
use crate::member::Member;

thread_local! {
    /// Index of the worker running on this thread (0 outside workers).
    static WORKER: Cell<usize> = const { Cell::new(0) };
}

/// Records which worker this thread is, so pools pick its idle list.
pub(crate) fn set_worker(index: usize) {
    WORKER.with(|w| w.set(index));
}

fn worker() -> usize {
    WORKER.with(Cell::get)
}

/// A connection to a member, idle or in use.
#[derive(Debug)]
pub(crate) struct Pooled {
    pub(crate) sender: SendRequest<RequestBody>,
    pub(crate) idle_timeout: Duration,
}

#[derive(Debug)]
struct Idle {
    conn: Pooled,
    since: Instant,
}

/// Idle connections of one member.
#[derive(Debug)]
pub(crate) struct Pool {
    addr: SocketAddr,
    slots: Box<[Mutex<Vec<Idle>>]>,
}

/// Most idle connections kept per member and worker.
const MAX_IDLE: usize = 1024;

impl Pool {
    pub(crate) fn new(addr: SocketAddr, workers: usize) -> Self {
        Self {
            addr,
            slots: (0..workers.max(1))
                .map(|_| Mutex::new(Vec::new()))
                .collect(),
        }
    }

    fn slot(&self) -> Option<&Mutex<Vec<Idle>>> {
        let n = self.slots.len();
        self.slots.get(worker() % n.max(1))
    }

    /// The most recently used idle connection that is still open, ready and
    /// younger than its idle timeout; stale ones are dropped on the way.
    pub(crate) fn checkout(&self) -> Option<Pooled> {
        let slot = self.slot()?;
        let mut idle = slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        while let Some(entry) = idle.pop() {
            if entry.conn.sender.is_closed()
                || now.duration_since(entry.since) >= entry.conn.idle_timeout
            {
                continue;
            }
            if entry.conn.sender.is_ready() {
                return Some(entry.conn);
            }
            // Not ready yet (its last response is still being wound down):
            // keep it for later rather than waiting on it.
            idle.insert(0, entry);
            return None;
        }
        None
    }

    fn checkin(&self, conn: Pooled) {
        if conn.sender.is_closed() {
            return;
        }
        if let Some(slot) = self.slot() {
            let mut idle = slot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if idle.len() < MAX_IDLE {
                idle.push(Idle {
                    conn,
                    since: Instant::now(),
                });
            }
        }
    }

    /// Drops every idle connection (member removed or proxy stopped).
    pub(crate) fn clear(&self) {
        for slot in &self.slots {
            slot.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clear();
        }
    }

    /// Opens a new connection: TCP connect within `connect_timeout`, then the
    /// HTTP/1.1 handshake; the connection's I/O runs as a task on this thread.
    pub(crate) async fn connect(
        &self,
        connect_timeout: Duration,
        idle_timeout: Duration,
    ) -> std::io::Result<Pooled> {
        let stream = tokio::time::timeout(connect_timeout, TcpStream::connect(self.addr))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")
            })??;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::Builder::new()
            .handshake::<_, RequestBody>(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "member connection ended with an error");
            }
        });
        Ok(Pooled {
            sender,
            idle_timeout,
        })
    }
}

/// Returns a connection whose response finished to its member's pool.
pub(crate) fn checkin(member: &Arc<Member>, conn: Pooled) {
    member.pool.checkin(conn);
}
