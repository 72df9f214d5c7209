//! What the targets' `server-call` and `broadcast` programs share, so that every side does the
//! same work around what is measured: the map and its keys, the lanes of calls a client keeps
//! in flight, a connection's output buffer, the delivery counter and how long a broadcast round
//! may take.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::Notify;

use super::interface::{CallsOutcome, ServerCallRun};

/// Calls between two looks at the clock (and, for the shared map, between two yields).
pub(crate) const CHECK_EVERY: u64 = 64;

/// The call timeout of both servers: OTP's default, RUSM's `ServerRef::call`.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The value the server maps `key` to; replies are checked against it.
pub(crate) fn value_of(key: u64) -> u64 {
    2 * key + 1
}

/// The server's state: `0..keys`, each mapped to [`value_of`].
pub(crate) fn new_map(keys: u64) -> HashMap<u64, u64> {
    (0..keys.max(1)).map(|k| (k, value_of(k))).collect()
}

/// The keys one lane asks for: a stride through the map from a start of its own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keys {
    next: u64,
    keys: u64,
}

impl Keys {
    pub(crate) fn new(client: u64, lane: u64, keys: u64) -> Self {
        let keys = keys.max(1);
        Keys {
            next: (client * 7919 + lane * 131) % keys,
            keys,
        }
    }

    pub(crate) fn next_key(&mut self) -> u64 {
        let k = self.next;
        self.next = (self.next + 97) % self.keys;
        k
    }
}

/// Calls one lane made: answered right, or not.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Tally {
    pub(crate) done: u64,
    pub(crate) failed: u64,
}

impl Tally {
    /// Counts one reply to a call for `key`.
    pub(crate) fn reply(&mut self, key: u64, reply: Option<Option<u64>>) {
        if reply == Some(Some(value_of(key))) {
            self.done += 1;
        } else {
            self.failed += 1;
        }
    }
}

/// How many calls lane `lane` of `run.in_flight` makes: `run.calls` split evenly.
fn calls_of_lane(run: &ServerCallRun, lane: u64) -> u64 {
    let lanes = run.in_flight.max(1);
    run.calls / lanes + u64::from(lane < run.calls % lanes)
}

/// Runs one client: `run.in_flight` lanes at once, each a loop of calls that waits for each
/// reply before the next call, so the client keeps `in_flight` calls outstanding. Lanes are
/// polled only when woken (`FuturesUnordered`), as separate tasks would be, without spawning.
pub(crate) async fn client<F, Fut>(run: ServerCallRun, client: u64, mut lane: F) -> Tally
where
    F: FnMut(Keys, u64) -> Fut,
    Fut: Future<Output = Tally>,
{
    let mut lanes: FuturesUnordered<Fut> = (0..run.in_flight.max(1))
        .map(|l| lane(Keys::new(client, l, run.keys), calls_of_lane(&run, l)))
        .collect();
    let mut total = Tally::default();
    while let Some(t) = lanes.next().await {
        total.done += t.done;
        total.failed += t.failed;
    }
    total
}

/// Whether a lane should stop before its call number `i`.
pub(crate) fn past(deadline: Instant, i: u64) -> bool {
    i % CHECK_EVERY == 0 && Instant::now() >= deadline
}

/// Every client's tally, and the count of clients that finished.
#[derive(Debug)]
pub(crate) struct Totals {
    done: AtomicU64,
    failed: AtomicU64,
    finished: Arc<super::countdown::Countdown>,
}

impl Totals {
    pub(crate) fn new(clients: u64) -> Arc<Self> {
        Arc::new(Totals {
            done: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            finished: super::countdown::Countdown::new(clients),
        })
    }

    /// A client finished with `t`.
    pub(crate) fn add(&self, t: Tally) {
        self.done.fetch_add(t.done, Ordering::Relaxed);
        self.failed.fetch_add(t.failed, Ordering::Relaxed);
        self.finished.count_down();
    }

    /// Waits for every client; the outcome since `start`.
    pub(crate) async fn wait(&self, start: Instant) -> CallsOutcome {
        self.finished.wait().await;
        CallsOutcome {
            done: self.done.load(Ordering::Acquire),
            failed: self.failed.load(Ordering::Acquire),
            elapsed: start.elapsed(),
        }
    }
}

/// A connection's output buffer: a received frame is copied in where a socket write would
/// take it, then the buffer is cleared. Both sides' members do this with every frame.
#[derive(Debug)]
pub(crate) struct OutBuf {
    buf: Vec<u8>,
    pub(crate) bytes: u64,
}

impl OutBuf {
    pub(crate) fn new(size: usize) -> Self {
        OutBuf {
            buf: Vec::with_capacity(size),
            bytes: 0,
        }
    }

    pub(crate) fn write(&mut self, frame: &[u8]) {
        self.buf.extend_from_slice(frame);
        self.bytes += self.buf.len() as u64;
        self.buf.clear();
    }
}

/// How long past the deadline a broadcast round may take to be received before the
/// broadcaster gives up on it.
pub(crate) const ROUND_GRACE: Duration = Duration::from_secs(10);

/// Counts deliveries of a broadcast; the broadcaster waits until a round is all received.
#[derive(Debug, Default)]
pub(crate) struct Deliveries {
    received: AtomicU64,
    /// The count that completes the current round.
    goal: AtomicU64,
    reached: Notify,
}

impl Deliveries {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Deliveries::default())
    }

    /// A member got a frame.
    pub(crate) fn delivered(&self) {
        let n = self.received.fetch_add(1, Ordering::AcqRel) + 1;
        if n == self.goal.load(Ordering::Acquire) {
            // Stores a permit when the broadcaster does not wait yet.
            self.reached.notify_one();
        }
    }

    /// Sets the goal of the next round: `n` more deliveries than the rounds before. Call it
    /// before sending the round.
    pub(crate) fn expect(&self, n: u64) -> u64 {
        let goal = self.received.load(Ordering::Acquire) + n;
        self.goal.store(goal, Ordering::Release);
        goal
    }

    /// Waits until `goal` deliveries were made, or `deadline`; whether they were.
    pub(crate) async fn reach(&self, goal: u64, deadline: tokio::time::Instant) -> bool {
        while self.received.load(Ordering::Acquire) < goal {
            if tokio::time::timeout_at(deadline, self.reached.notified())
                .await
                .is_err()
            {
                return self.received.load(Ordering::Acquire) >= goal;
            }
        }
        true
    }

    /// Deliveries so far.
    pub(crate) fn received(&self) -> u64 {
        self.received.load(Ordering::Acquire)
    }
}
