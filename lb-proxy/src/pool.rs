//! Per-member keep-alive connections, one idle list per worker thread so a
//! connection's I/O task and its users share a thread and the list's mutex is
//! never contended.

use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;

use crate::member::Member;
use crate::member_conn::{Ended, MemberBody, MemberConn, MemberIo};
use crate::member_tls::Connector;

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
pub(crate) type Pooled = MemberConn;

#[derive(Debug)]
struct Idle {
    conn: Pooled,
    since: Instant,
}

/// Idle connections of one member, and how new ones are opened.
#[derive(Debug)]
pub(crate) struct Pool {
    addr: SocketAddr,
    /// The TLS of an `https://` or `wss://` member; read only when a
    /// connection is opened, swapped by a reload.
    tls: ArcSwapOption<Connector>,
    slots: Box<[Mutex<Vec<Idle>>]>,
}

/// Most idle connections kept per member and worker.
const MAX_IDLE: usize = 1024;

impl Pool {
    pub(crate) fn new(addr: SocketAddr, tls: Option<Connector>, workers: usize) -> Self {
        Self {
            addr,
            tls: ArcSwapOption::new(tls.map(Arc::new)),
            slots: (0..workers.max(1))
                .map(|_| Mutex::new(Vec::new()))
                .collect(),
        }
    }

    fn slot(&self) -> Option<&Mutex<Vec<Idle>>> {
        let n = self.slots.len();
        self.slots.get(worker() % n.max(1))
    }

    /// The most recently used idle connection that is still open and younger
    /// than its idle timeout; closed and stale ones are dropped on the way.
    pub(crate) fn checkout(&self) -> Option<Pooled> {
        let slot = self.slot()?;
        let mut idle = slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        while let Some(mut entry) = idle.pop() {
            if now.duration_since(entry.since) >= entry.conn.idle_timeout
                || !entry.conn.usable_when_idle()
            {
                continue;
            }
            return Some(entry.conn);
        }
        None
    }

    fn checkin(&self, conn: Pooled) {
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

    /// Replaces the TLS connector (a reload); `true` when its settings differ
    /// from the previous one's.
    pub(crate) fn set_tls(&self, connector: Connector) -> bool {
        let old = self.tls.swap(Some(Arc::new(connector)));
        let new = self.tls.load();
        match (old.as_deref(), new.as_deref()) {
            (Some(old), Some(new)) => old.settings != new.settings,
            _ => true,
        }
    }

    /// Opens a new connection within `connect_timeout` (TLS handshake included).
    pub(crate) async fn connect(
        &self,
        connect_timeout: Duration,
        idle_timeout: Duration,
    ) -> std::io::Result<Pooled> {
        let io = self.open(connect_timeout).await?;
        Ok(MemberConn::new(io, idle_timeout))
    }

    /// A new connection's byte stream, within `connect_timeout` (TLS
    /// handshake included): what [`Self::connect`] and health checks use.
    pub(crate) async fn open(&self, connect_timeout: Duration) -> std::io::Result<MemberIo> {
        let tls = self.tls.load_full();
        MemberIo::connect(self.addr, tls.as_deref(), connect_timeout).await
    }
}

/// The one check-in of a member connection: when `body`, the response
/// read over it, is complete and both sides allow reuse, the connection
/// goes back to `member`'s pool; otherwise it is closed with the body.
pub(crate) fn release(member: &Arc<Member>, body: &mut MemberBody) {
    if let Ended::Reusable(conn) = body.take_if_done() {
        member.pool.checkin(conn);
    }
}
