//! A countdown latch shared by the targets' process scenarios.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// Resolves [`Countdown::wait`] once `count_down` was called as often as the start value.
#[derive(Debug)]
pub(crate) struct Countdown {
    left: AtomicU64,
    zero: Notify,
}

impl Countdown {
    pub(crate) fn new(n: u64) -> Arc<Self> {
        Arc::new(Countdown {
            left: AtomicU64::new(n),
            zero: Notify::new(),
        })
    }

    pub(crate) fn count_down(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            // `notify_one` stores a permit when nobody waits yet.
            self.zero.notify_one();
        }
    }

    /// Lowers the start value for work that was never started (the deadline came first).
    pub(crate) fn forget(&self, n: u64) {
        if n > 0 && self.left.fetch_sub(n, Ordering::AcqRel) == n {
            self.zero.notify_one();
        }
    }

    pub(crate) async fn wait(&self) {
        if self.left.load(Ordering::Acquire) == 0 {
            return;
        }
        self.zero.notified().await;
    }
}
