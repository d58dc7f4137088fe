//! `send_timeout`: how long a response may wait for the client to take the
//! next piece of it (nginx's `send_timeout`, the write half of Apache's
//! `Timeout` and HAProxy's `timeout client`).
//!
//! A client that stops reading (HTTP/1.1: its TCP window closes; HTTP/2: it
//! opens no flow-control window, which costs it nothing on the wire) stops
//! hyper from asking the response body for more, and a body streamed from
//! a member holds that member's connection while it waits. Past the limit
//! the response is abandoned: the HTTP/1.1 connection is closed, the
//! HTTP/2 stream reset (`CANCEL`) with the connection's other streams left
//! alone, and the member's connection closed with the body.
//!
//! Only the body knows when it is owed a poll: from when the response is
//! made, and after each piece it hands over, until hyper asks again. It
//! says so through a task-local [`Owed`] cell; the [`Watched`] future that
//! runs the task (an HTTP/1.1 connection, or one HTTP/2 stream via
//! [`WatchedExec`]) sees the cell after each poll and ends the task when
//! the debt is older than the limit. Waiting on the member is not the
//! client's fault and does not count (`timeout` and the member's own
//! limits cover it). The task's timer is armed only while something is
//! owed, and re-armed, not re-created, when it fires early.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

tokio::task_local! {
    static OWED: Arc<Owed>;
}

/// When the task began to owe its response body a poll, or nothing.
#[derive(Debug)]
pub(crate) struct Owed {
    /// When the task started: the origin of `since`, on the task's own
    /// runtime clock.
    epoch: Instant,
    /// Nanoseconds after `epoch` plus one; 0 when nothing is owed.
    since: AtomicU64,
}

impl Owed {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            since: AtomicU64::new(0),
        }
    }

    fn get(&self) -> Option<Instant> {
        match self.since.load(Ordering::Relaxed) {
            0 => None,
            n => Some(self.epoch + Duration::from_nanos(n - 1)),
        }
    }
}

/// The response body of the running task is owed a poll from now on (it
/// was just made, or just handed over a piece that was not its last).
pub(crate) fn owe() {
    let _ = OWED.try_with(|o| {
        let nanos = u64::try_from(o.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
        o.since.store(nanos + 1, Ordering::Relaxed);
    });
}

/// The response body of the running task is owed nothing: it is waiting
/// on its member, or it has ended.
pub(crate) fn settle() {
    let _ = OWED.try_with(|o| o.since.store(0, Ordering::Relaxed));
}

pin_project_lite::pin_project! {
    /// Runs `inner` with an [`Owed`] cell in scope, and ends it when its
    /// response body has been owed a poll for `limit`.
    pub(crate) struct Watched<F> {
        #[pin]
        inner: F,
        owed: Arc<Owed>,
        limit: Duration,
        timer: Option<Pin<Box<Sleep>>>,
        armed: bool,
    }
}

/// The client did not take its response for `send_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stalled;

impl<F> Watched<F> {
    pub(crate) fn new(inner: F, limit: Duration) -> Self {
        Self {
            inner,
            owed: Arc::new(Owed::new()),
            limit,
            timer: None,
            armed: false,
        }
    }

    /// The future it runs.
    pub(crate) fn inner(self: Pin<&mut Self>) -> Pin<&mut F> {
        self.project().inner
    }
}

impl<F: Future> Future for Watched<F> {
    type Output = Result<F::Output, Stalled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let owed = this.owed.clone();
        let inner = this.inner;
        if let Poll::Ready(out) = OWED.sync_scope(owed, || inner.poll(cx)) {
            return Poll::Ready(Ok(out));
        }
        loop {
            let Some(since) = this.owed.get() else {
                // An armed timer may still fire; it then finds nothing owed.
                return Poll::Pending;
            };
            let deadline = since + *this.limit;
            if Instant::now() >= deadline {
                tracing::debug!("response abandoned: the client took none of it for send_timeout");
                return Poll::Ready(Err(Stalled));
            }
            let timer = this
                .timer
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            if !*this.armed {
                timer.as_mut().reset(deadline);
                *this.armed = true;
            }
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            // Fired: for this debt, or for one since paid; look again.
            *this.armed = false;
        }
    }
}

/// hyper's executor for HTTP/2 streams: each stream runs [`Watched`] on
/// its own task, so a stalled stream is reset alone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WatchedExec {
    pub(crate) limit: Duration,
}

impl<F> hyper::rt::Executor<F> for WatchedExec
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, fut: F) {
        // Spawned as it is, not inside another async block: the stream's
        // future is kilobytes, and every wrapper is one more copy of it.
        tokio::spawn(Watched::new(fut, self.limit));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task that owes from its first poll and never pays.
    async fn stalled_forever() {
        owe();
        std::future::pending::<()>().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_debt_older_than_the_limit_ends_the_task() {
        let t0 = Instant::now();
        let r = Watched::new(stalled_forever(), Duration::from_secs(60)).await;
        assert_eq!(r, Err(Stalled));
        assert_eq!(t0.elapsed(), Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn paying_in_time_restarts_the_clock_and_waiting_on_a_member_is_free() {
        let task = async {
            // Owed, paid after 50 s, owed again for 50 s, then settled
            // (waiting on the member) for ten minutes: never 60 s owed.
            owe();
            tokio::time::sleep(Duration::from_secs(50)).await;
            owe();
            tokio::time::sleep(Duration::from_secs(50)).await;
            settle();
            tokio::time::sleep(Duration::from_secs(600)).await;
            "done"
        };
        let t0 = Instant::now();
        assert_eq!(
            Watched::new(task, Duration::from_secs(60)).await,
            Ok("done")
        );
        assert_eq!(t0.elapsed(), Duration::from_secs(700));
    }

    #[tokio::test(start_paused = true)]
    async fn a_debt_made_after_a_settled_timer_fired_still_counts() {
        let task = async {
            owe();
            tokio::time::sleep(Duration::from_secs(10)).await;
            settle();
            // The timer armed for 60 s fires here with nothing owed.
            tokio::time::sleep(Duration::from_secs(100)).await;
            owe();
            std::future::pending::<()>().await;
        };
        let t0 = Instant::now();
        assert_eq!(
            Watched::new(task, Duration::from_secs(60)).await,
            Err(Stalled)
        );
        assert_eq!(t0.elapsed(), Duration::from_secs(170));
    }

    #[test]
    fn outside_a_watched_task_owing_does_nothing() {
        owe();
        settle();
    }
}
