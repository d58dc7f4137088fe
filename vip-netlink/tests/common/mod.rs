//! Shared by the lab tests: a tokio runtime per namespace thread.

use std::future::Future;

/// Runs `future` to completion on a fresh current-thread runtime (on the
/// calling thread, so in its network namespace).
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(future)
}
