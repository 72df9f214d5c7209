//! Live figures of the running scenario, shared by the load loops (writers), the CLI progress
//! line and the dashboard's event feed (readers).
//!
//! Load loops only touch atomics and one uncontended mutex (the live latency window). A sampler
//! thread turns them into a [`Sample`] every [`SAMPLE_EVERY`] and publishes it on a `watch`
//! channel, so every reader sees the same numbers and rates are computed in one place.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;

use crate::rss;
use crate::stats::Latency;
use crate::target::Target;

/// How often the sampler publishes a [`Sample`].
pub const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// Reports how many processes (or tasks) the system under test has alive.
pub type AliveSource = Box<dyn Fn() -> u64 + Send + Sync>;

/// The counters a scenario updates while it runs.
pub struct Metrics {
    created: Instant,
    running: AtomicBool,
    label: Mutex<Label>,
    completed: AtomicU64,
    ops: AtomicU64,
    open: AtomicU64,
    peak_open: AtomicU64,
    errors: AtomicU64,
    latency: Mutex<Latencies>,
    alive: Mutex<Option<AliveSource>>,
    target: Mutex<Option<Arc<dyn Target>>>,
    samples: watch::Sender<Sample>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("running", &self.running)
            .field("completed", &self.completed)
            .field("open", &self.open)
            .field("errors", &self.errors)
            .finish_non_exhaustive()
    }
}

/// Latency since the scenario (or its measured window) began, and since the last sample.
#[derive(Debug, Default)]
struct Latencies {
    total: Latency,
    window: Latency,
}

impl Latencies {
    fn record(&mut self, d: Duration) {
        self.total.record(d);
        self.window.record(d);
    }
}

#[derive(Debug, Clone, Default)]
struct Label {
    scenario: String,
    target: String,
    phase: String,
}

/// One published snapshot: what the progress line prints and the dashboard charts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Sample {
    /// Sequence number, from 1.
    pub seq: u64,
    /// Seconds since the metrics were created.
    pub t: f64,
    /// Whether a scenario is running.
    pub running: bool,
    /// Scenario name (empty when none ran yet).
    pub scenario: String,
    /// Target being measured: `rusm` or `tokio`.
    pub target: String,
    /// What the scenario is doing: `ramp`, `hold`, `opening`, `checking`, `done`, …
    pub phase: String,
    /// Connections completed (connect → echo → close) per second over the last interval.
    pub conns_per_s: f64,
    /// Operations (requests, messages, spawns, restarts) per second over the last interval.
    pub ops_per_s: f64,
    /// Connections open on the client side now.
    pub open_conns: u64,
    /// Most connections open at once since the scenario started.
    pub peak_open: u64,
    /// Median latency over the last interval, µs.
    pub p50_us: f64,
    /// 99th percentile latency over the last interval, µs.
    pub p99_us: f64,
    /// Processes (tasks) alive in the system under test.
    pub alive: u64,
    /// Resident memory of this process, bytes.
    pub rss_bytes: u64,
    /// Errors since the scenario started.
    pub errors: u64,
    /// Connections completed since the scenario started.
    pub completed: u64,
}

impl Metrics {
    /// Creates the metrics and starts their sampler thread, which stops when the last `Arc` is
    /// dropped.
    pub fn new() -> Arc<Metrics> {
        let (samples, _) = watch::channel(Sample::default());
        let metrics = Arc::new(Metrics {
            created: Instant::now(),
            running: AtomicBool::new(false),
            label: Mutex::new(Label::default()),
            completed: AtomicU64::new(0),
            ops: AtomicU64::new(0),
            open: AtomicU64::new(0),
            peak_open: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency: Mutex::new(Latencies::default()),
            alive: Mutex::new(None),
            target: Mutex::new(None),
            samples,
        });
        let weak = Arc::downgrade(&metrics);
        // If the thread cannot start, samples simply stay at their default: not worth failing
        // a benchmark for.
        let _ = thread::Builder::new()
            .name("rusm-bench-sampler".into())
            .spawn(move || sampler(weak));
        metrics
    }

    /// Subscribes to the samples; the receiver sees the latest one first.
    pub fn subscribe(&self) -> watch::Receiver<Sample> {
        self.samples.subscribe()
    }

    /// The latest published sample.
    pub fn latest(&self) -> Sample {
        self.samples.borrow().clone()
    }

    /// Resets the counters for a new scenario run against `target`.
    pub fn begin(&self, scenario: &str, target: &str) {
        *lock(&self.label) = Label {
            scenario: scenario.to_owned(),
            target: target.to_owned(),
            phase: "start".to_owned(),
        };
        for counter in [
            &self.completed,
            &self.ops,
            &self.open,
            &self.peak_open,
            &self.errors,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        *lock(&self.latency) = Latencies::default();
        self.running.store(true, Ordering::Release);
    }

    /// Sets the target being measured, whose supervision tree the dashboard shows.
    pub fn set_target(&self, target: Option<Arc<dyn Target>>) {
        *lock(&self.target) = target;
    }

    /// The supervision tree of the target being measured, if it has one.
    pub fn tree_json(&self) -> Option<String> {
        lock(&self.target).as_ref()?.tree_json()
    }

    /// Marks the scenario finished and forgets the alive-process source and the target.
    pub fn end(&self) {
        self.set_phase("done");
        *lock(&self.alive) = None;
        *lock(&self.target) = None;
        self.running.store(false, Ordering::Release);
    }

    /// Whether a scenario is running.
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    /// Names what the scenario is doing now.
    pub fn set_phase(&self, phase: &str) {
        phase.clone_into(&mut lock(&self.label).phase);
    }

    /// Sets where the alive-process count comes from.
    pub fn set_alive_source(&self, source: Option<AliveSource>) {
        *lock(&self.alive) = source;
    }

    /// Counts a completed connection and its connect-to-echo latency.
    pub fn connection_done(&self, latency: Duration) {
        self.completed.fetch_add(1, Ordering::Relaxed);
        lock(&self.latency).record(latency);
    }

    /// Counts one completed request (echo round trip) and its latency.
    pub fn request_done(&self, latency: Duration) {
        self.ops.fetch_add(1, Ordering::Relaxed);
        lock(&self.latency).record(latency);
    }

    /// Forgets the latencies recorded so far, so the total covers only what comes next (the
    /// measured window after a ramp or a warm-up).
    pub fn restart_latency_total(&self) {
        lock(&self.latency).total.clear();
    }

    /// Every latency recorded since [`Metrics::begin`] or [`Metrics::restart_latency_total`].
    pub fn latency_total(&self) -> Latency {
        lock(&self.latency).total.clone()
    }

    /// Counts `n` completed operations without a latency.
    pub fn ops_done(&self, n: u64) {
        self.ops.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a connection opened by the client, updating the peak.
    pub fn conn_opened(&self) {
        let open = self.open.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_open.fetch_max(open, Ordering::Relaxed);
    }

    /// Counts a connection closed by the client.
    pub fn conn_closed(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }

    /// Counts one error.
    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Connections completed since [`Metrics::begin`].
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    /// Operations completed since [`Metrics::begin`].
    pub fn ops(&self) -> u64 {
        self.ops.load(Ordering::Relaxed)
    }

    /// Most connections open at once since [`Metrics::begin`].
    pub fn peak_open(&self) -> u64 {
        self.peak_open.load(Ordering::Relaxed)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain counters behind: still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn sampler(weak: Weak<Metrics>) {
    let mut seq = 0;
    let mut last = (Instant::now(), 0u64, 0u64);
    loop {
        thread::sleep(SAMPLE_EVERY);
        let Some(m) = weak.upgrade() else { return };
        let now = Instant::now();
        let (completed, ops) = (m.completed(), m.ops());
        let dt = now.duration_since(last.0).as_secs_f64();
        let per_s = |now: u64, before: u64| {
            if dt > 0.0 {
                now.saturating_sub(before) as f64 / dt
            } else {
                0.0
            }
        };
        let (p50, p99) = {
            let mut latency = lock(&m.latency);
            let window = &mut latency.window;
            let q = (window.quantile(0.5), window.quantile(0.99));
            window.clear();
            q
        };
        let label = lock(&m.label).clone();
        let alive = lock(&m.alive).as_ref().map_or(0, |f| f());
        seq += 1;
        let sample = Sample {
            seq,
            t: now.duration_since(m.created).as_secs_f64(),
            running: m.is_running(),
            scenario: label.scenario,
            target: label.target,
            phase: label.phase,
            conns_per_s: per_s(completed, last.1),
            ops_per_s: per_s(ops, last.2),
            open_conns: m.open.load(Ordering::Relaxed),
            peak_open: m.peak_open(),
            p50_us: p50.as_secs_f64() * 1e6,
            p99_us: p99.as_secs_f64() * 1e6,
            alive,
            rss_bytes: rss::self_rss().unwrap_or(0),
            errors: m.errors.load(Ordering::Relaxed),
            completed,
        };
        last = (now, completed, ops);
        m.samples.send_replace(sample);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampler_publishes_rates_and_peak() {
        let m = Metrics::new();
        let mut rx = m.subscribe();
        m.begin("connection-storm", "tokio");
        m.conn_opened();
        m.conn_opened();
        m.conn_closed();
        m.connection_done(Duration::from_micros(100));
        let deadline = Instant::now() + Duration::from_secs(5);
        // Wait for a sample that saw the counters (the first may predate `begin`).
        let sample = loop {
            assert!(Instant::now() < deadline, "no sample within 5 s");
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(2), rx.changed())
                    .await
                    .expect("sampler publishes within 2 s")
                    .expect("sender alive");
            });
            let s = rx.borrow_and_update().clone();
            if s.completed == 1 {
                break s;
            }
        };
        assert!(sample.running);
        assert_eq!(sample.scenario, "connection-storm");
        assert_eq!(sample.open_conns, 1);
        assert_eq!(sample.peak_open, 2);
        assert!(sample.seq >= 1);
        m.end();
        assert!(!m.is_running());
    }
}
