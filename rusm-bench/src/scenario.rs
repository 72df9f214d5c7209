//! The scenarios, each measured against one [`Target`] at a time; the engine runs the system
//! under test and then the baseline.
//!
//! | scenario | load | headline figure |
//! | --- | --- | --- |
//! | `connection-storm` | ramp of connector loops: connect, echo 16 B, close with `SO_LINGER(0)` | connections/s over the hold window |
//! | `hold` | N idle connections from several `127.0.0.x`, each echoing once before and after | server bytes per connection |
//! | `echo-throughput` | C connections doing request/response of S bytes | requests/s |
//! | `spawn-storm` | 1,000,000 processes that exit at once | spawns/s |
//! | `ping-pong` | two processes exchanging a `u64` 1,000,000 times | round trips/s |
//! | `idle-memory` | 100,000 processes blocked on receive | bytes per process |
//! | `fan-in` | 100 senders × 10,000 messages to one process | messages/s |
//! | `restart-storm` | a child that crashes at once, restarted by its supervisor | restarts/s |
//! | `server-call` | 50 client processes × 16 calls in flight to one server holding a map | calls/s |
//! | `broadcast` | one message at a time to a group of 10,000 connection-shaped processes | deliveries/s |
//! | `tls-handshake-storm` | `connection-storm` over TLS: connect, full handshake, echo 16 B, close | connections/s |
//! | `tls-echo` | `echo-throughput` over TLS | requests/s |
//!
//! A scenario may measure more than one baseline on the tokio side: the bare-tokio program
//! that is the physical limit and, where it is a different program, the like-for-like one
//! (`server-call`: the hand-written tokio actor, and tasks sharing an `Arc<Mutex<HashMap>>`;
//! `spawn-storm`, `ping-pong`, `fan-in`, `idle-memory`: a task plus an unbounded mpsc per
//! process, and a bare `tokio::spawn`, a parked task, channels made up front).
//! Each result carries a label saying which it is. `--runs N` repeats the whole set, RUSM and
//! baselines interleaved, and the report gives medians with min–max.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::RunConfig;
use crate::metrics::Metrics;
use crate::report::TargetResult;
use crate::target::{Target, TargetKind};

mod broadcast;
mod catalog;
mod connection_storm;
mod echo_throughput;
mod hold;
mod process;
mod server_call;

pub use self::catalog::Scenario;

/// What a scenario needs to measure one target.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The target measured now.
    pub target: Arc<dyn Target>,
    /// Which kind it is (to start it in a child process).
    pub kind: TargetKind,
    /// The run's parameters.
    pub config: &'a RunConfig,
    /// Live figures.
    pub metrics: &'a Arc<Metrics>,
    /// RLIMIT_NOFILE hard limit.
    pub nofile_hard: u64,
    /// Whether this target is measured as the baseline (then a scenario may add the
    /// bare-tokio physical limit next to the like-for-like program).
    pub is_baseline: bool,
}

impl Ctx<'_> {
    /// The scenario's duration.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.config.seconds.max(0.0))
    }
}

/// Measures `ctx.target` in `scenario`: one result, or several when the target is the
/// baseline and the scenario has a second baseline program (each result labelled).
///
/// # Errors
///
/// Setting up failed (runtime, server, child process); load errors are counted, not returned.
pub fn run(scenario: Scenario, ctx: &Ctx<'_>) -> io::Result<Vec<TargetResult>> {
    let one = match scenario {
        Scenario::SpawnStorm
        | Scenario::PingPong
        | Scenario::IdleMemory
        | Scenario::FanIn
        | Scenario::RestartStorm => return process::run(scenario, ctx),
        Scenario::ConnectionStorm => connection_storm::run(ctx, false),
        Scenario::Hold => hold::run(ctx),
        Scenario::EchoThroughput => echo_throughput::run(ctx, false),
        Scenario::TlsHandshakeStorm => connection_storm::run(ctx, true),
        Scenario::TlsEcho => echo_throughput::run(ctx, true),
        Scenario::ServerCall => return server_call::run(ctx),
        Scenario::Broadcast => return broadcast::run(ctx),
    };
    one.map(|r| vec![r])
}

/// Runs the client side of a TCP scenario on its own OS thread with a current-thread tokio
/// runtime, as the layout asks (the server gets the other cores).
fn on_client_thread<F, Fut, T>(f: F) -> io::Result<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    std::thread::Builder::new()
        .name("client".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            Ok(rt.block_on(f()))
        })?
        .join()
        .map_err(|_| io::Error::other("client thread panicked"))?
}

/// The error of a `tls-*` scenario asked for `--server-process`: the child server has no way
/// to get the run's certificate.
fn tls_in_process_only() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "the tls-* scenarios run their server in this process: drop --server-process",
    )
}

/// Counts an error by name in a shared map.
fn count_error(errors: &std::sync::Mutex<std::collections::BTreeMap<String, u64>>, e: &io::Error) {
    let mut map = errors.lock().unwrap_or_else(|p| p.into_inner());
    *map.entry(crate::net::error_name(e)).or_default() += 1;
}

/// An `io::Error` of kind `TimedOut` naming what timed out.
fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out"))
}

/// `deadline`, or now + `d` if that is later than `deadline` (grace for clean-up steps).
fn at_least(deadline: Instant, d: Duration) -> Instant {
    deadline.max(Instant::now() + d)
}
