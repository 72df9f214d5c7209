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

use crate::engine::RunConfig;
use crate::metrics::Metrics;
use crate::report::TargetResult;
use crate::target::{Target, TargetKind};

mod broadcast;
mod connection_storm;
mod echo_throughput;
mod hold;
mod process;
mod server_call;

/// A benchmark scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Ramp of connect → echo → close loops, then hold; sustained connections/s.
    ConnectionStorm,
    /// N concurrent idle connections; bytes per connection, and what kernel limit stopped it.
    Hold,
    /// C connections × S-byte request/response; requests/s, MB/s, p99.
    EchoThroughput,
    /// Spawn 1,000,000 processes that exit at once; spawns/s.
    SpawnStorm,
    /// Two processes exchange a u64 1,000,000 times; round trips/s.
    PingPong,
    /// 100,000 processes blocked on receive; bytes per process.
    IdleMemory,
    /// 100 senders × 10,000 messages to one process; messages/s.
    FanIn,
    /// A supervisor restarting a child that crashes at once; restarts/s.
    RestartStorm,
    /// 50 clients × 16 calls in flight to one gen_server holding a map; calls/s.
    ServerCall,
    /// One message at a time to a group of 10,000 processes; deliveries/s.
    Broadcast,
    /// connect → full TLS handshake → echo 16 B → close loops; connections/s.
    TlsHandshakeStorm,
    /// C TLS connections × S-byte request/response; requests/s.
    TlsEcho,
}

impl Scenario {
    /// Every scenario, in `list` order.
    pub const ALL: [Scenario; 12] = [
        Scenario::ConnectionStorm,
        Scenario::Hold,
        Scenario::EchoThroughput,
        Scenario::SpawnStorm,
        Scenario::PingPong,
        Scenario::IdleMemory,
        Scenario::FanIn,
        Scenario::RestartStorm,
        Scenario::ServerCall,
        Scenario::Broadcast,
        Scenario::TlsHandshakeStorm,
        Scenario::TlsEcho,
    ];

    /// The CLI name, e.g. `connection-storm`.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::ConnectionStorm => "connection-storm",
            Scenario::Hold => "hold",
            Scenario::EchoThroughput => "echo-throughput",
            Scenario::SpawnStorm => "spawn-storm",
            Scenario::PingPong => "ping-pong",
            Scenario::IdleMemory => "idle-memory",
            Scenario::FanIn => "fan-in",
            Scenario::RestartStorm => "restart-storm",
            Scenario::ServerCall => "server-call",
            Scenario::Broadcast => "broadcast",
            Scenario::TlsHandshakeStorm => "tls-handshake-storm",
            Scenario::TlsEcho => "tls-echo",
        }
    }

    /// Looks a scenario up by its CLI name.
    pub fn from_name(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }

    /// One line for `list`: what it does and which flags change it.
    pub fn describe(self) -> &'static str {
        match self {
            Scenario::ConnectionStorm => {
                "ramp of connector loops (connect, echo 16 B, close with SO_LINGER(0)) over the \
                 first 20%, then hold; sustained conn/s, latency p50/p99/max, peak concurrent, \
                 errors [--concurrency loops=16, --sources, --server-process]"
            }
            Scenario::Hold => {
                "open N idle connections from 127.0.0.x, check each still echoes after the hold; \
                 server bytes/connection from RSS [--connections N=10000, --server-process]"
            }
            Scenario::EchoThroughput => {
                "C connections doing request/response of S bytes; req/s, MB/s, p99 \
                 [--connections C=64, --size S=64]"
            }
            Scenario::SpawnStorm => {
                "spawn processes that exit at once, wait for all, vs tokio task + mpsc and a bare \
                 tokio::spawn; spawns/s [--count 1000000, --runs 5]"
            }
            Scenario::PingPong => {
                "two processes exchange a u64 over their mailboxes, vs tokio tasks + mpsc made per \
                 process and made up front; round trips/s [--count 1000000, --runs 5]"
            }
            Scenario::IdleMemory => {
                "processes blocked on receive, vs tokio tasks blocked on an mpsc and bare parked \
                 tasks; bytes/process from RSS [--count 100000, --runs 5]"
            }
            Scenario::FanIn => {
                "senders × messages to one process, vs tokio tasks with an mpsc each and sharing \
                 one; msgs/s [--concurrency senders=100, --count 10000, --runs 5]"
            }
            Scenario::RestartStorm => {
                "a child that panics at once, restarted by its supervisor; restarts/s \
                 [--count bound 10000000]"
            }
            Scenario::ServerCall => {
                "50 client processes each keeping N calls in flight to one server holding a map, \
                 vs a tokio actor (mpsc + oneshot + timeout) and an Arc<Mutex<HashMap>>; calls/s \
                 [--concurrency in-flight N=16, --count calls per client 50000, --runs 5]"
            }
            Scenario::Broadcast => {
                "one frame at a time to a pg group of connection-shaped processes, vs a tokio \
                 loop over unbounded senders; deliveries/s [--connections members=10000, \
                 --count broadcasts 500, --size 64, --runs 5]"
            }
            Scenario::TlsHandshakeStorm => {
                "connection-storm over TLS (rustls, ECDSA P-256, no resumption): connect, full \
                 handshake, echo 16 B, close; vs raw tokio-rustls with the handshake in each \
                 connection's task; conn/s [--concurrency loops=16, --sources, --runs 5]"
            }
            Scenario::TlsEcho => {
                "echo-throughput over TLS: C connections, handshakes done first; req/s vs raw \
                 tokio-rustls [--connections C=64, --size S=64, --runs 5]"
            }
        }
    }

    /// The headline figure the ratio is computed on, and whether higher is better.
    pub fn primary(self) -> (&'static str, bool) {
        match self {
            Scenario::ConnectionStorm => ("conns_per_s", true),
            Scenario::Hold => ("server_bytes_per_conn", false),
            Scenario::EchoThroughput => ("requests_per_s", true),
            Scenario::SpawnStorm => ("spawns_per_s", true),
            Scenario::PingPong => ("round_trips_per_s", true),
            Scenario::IdleMemory => ("bytes_per_process", false),
            Scenario::FanIn => ("msgs_per_s", true),
            Scenario::RestartStorm => ("restarts_per_s", true),
            Scenario::ServerCall => ("calls_per_s", true),
            Scenario::Broadcast => ("deliveries_per_s", true),
            Scenario::TlsHandshakeStorm => ("conns_per_s", true),
            Scenario::TlsEcho => ("requests_per_s", true),
        }
    }

    /// How many interleaved runs `run` makes unless `--runs` says: 5 for the scenarios with
    /// several baselines, 1 for the others (whose docs repeat them from the shell).
    pub fn default_runs(self) -> usize {
        match self {
            Scenario::SpawnStorm
            | Scenario::PingPong
            | Scenario::IdleMemory
            | Scenario::FanIn
            | Scenario::ServerCall
            | Scenario::Broadcast
            | Scenario::TlsHandshakeStorm
            | Scenario::TlsEcho => 5,
            _ => 1,
        }
    }

    /// Whether the scenario uses TCP (and so an echo server).
    pub fn is_tcp(self) -> bool {
        matches!(
            self,
            Scenario::ConnectionStorm
                | Scenario::Hold
                | Scenario::EchoThroughput
                | Scenario::TlsHandshakeStorm
                | Scenario::TlsEcho
        )
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_round_trips_through_its_name() {
        for s in Scenario::ALL {
            assert_eq!(Scenario::from_name(s.name()), Some(s));
            let value = <Scenario as clap::ValueEnum>::to_possible_value(&s).unwrap();
            assert_eq!(value.get_name(), s.name(), "clap name matches");
        }
        assert_eq!(Scenario::from_name("nope"), None);
    }
}
