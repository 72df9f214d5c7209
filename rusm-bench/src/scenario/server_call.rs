//! `server-call`: 50 client processes, each keeping 16 calls in flight (`--concurrency`) to one
//! server that holds a map; calls/s.
//!
//! Measured against two tokio programs: the like-for-like one, a hand-written actor (a task
//! owning the map, an unbounded mpsc, a oneshot per call awaited under
//! `tokio::time::timeout(5 s)`), and the bare-tokio physical limit, the same clients reading an
//! `Arc<Mutex<HashMap>>` directly (no messages at all).

use std::io;
use std::time::{Duration, Instant};

use super::Ctx;
use crate::report::TargetResult;
use crate::stats;
use crate::target::{CallsOutcome, ServerCallRun, TargetKind, TokioTarget};

/// Client processes.
pub(crate) const CLIENTS: u64 = 50;
/// Calls in flight per client unless `--concurrency` says.
pub(crate) const DEFAULT_IN_FLIGHT: u64 = 16;
/// Calls per client unless `--count` says.
pub(crate) const DEFAULT_CALLS: u64 = 50_000;
/// Keys in the server's map.
pub(crate) const KEYS: u64 = 1024;

pub(super) fn run(ctx: &Ctx<'_>) -> io::Result<Vec<TargetResult>> {
    let rt = super::process::runtime(ctx)?;
    let in_flight = ctx
        .config
        .concurrency
        .map_or(DEFAULT_IN_FLIGHT, |c| c.max(1) as u64);
    let run = |d: Duration| ServerCallRun {
        clients: CLIENTS,
        in_flight,
        calls: ctx.config.count.unwrap_or(DEFAULT_CALLS),
        keys: KEYS,
        deadline: Instant::now() + d,
    };
    ctx.metrics.set_phase("running");
    let first = run(ctx.duration());
    let out = rt.block_on(ctx.target.server_call(first));
    let (name, label) = match ctx.kind {
        TargetKind::Rusm => (
            "rusm",
            "a gen_server (Server + Call<Get>) holding the map, called with ServerRef::call \
             (5 s timeout) from RUSM client processes",
        ),
        TargetKind::Tokio => (
            "tokio-actor",
            "like-for-like: a tokio task owning the map, an unbounded mpsc, a oneshot per \
             call awaited under tokio::time::timeout(5 s), from tokio client tasks",
        ),
    };
    let mut results = vec![result(name, label, &first, out)];
    if ctx.is_baseline && ctx.kind == TargetKind::Tokio {
        ctx.metrics.set_phase("shared map");
        let second = run(ctx.duration());
        let out = rt.block_on(TokioTarget::new().server_call_shared_map(second));
        results.push(result(
            "tokio-mutex-map",
            "bare tokio, the physical limit: the same client tasks and lanes lock an \
             Arc<Mutex<HashMap>> and read it, no messages and no server",
            &second,
            out,
        ));
    }
    rt.shutdown_timeout(Duration::from_secs(2));
    Ok(results)
}

fn result(name: &str, label: &str, run: &ServerCallRun, out: CallsOutcome) -> TargetResult {
    let mut r = TargetResult::new(name);
    r.label = Some(label.to_owned());
    r.figure("calls_per_s", stats::rate(out.done, out.elapsed), "call/s");
    r.figure("calls", out.done as f64, "");
    r.figure("failed", out.failed as f64, "");
    r.figure("elapsed_s", out.elapsed.as_secs_f64(), "s");
    r.figure("clients", run.clients as f64, "");
    r.figure("in_flight_per_client", run.in_flight as f64, "");
    let asked = run.clients * run.calls;
    if out.done + out.failed < asked {
        r.notes.push(format!(
            "the time bound stopped it after {} of {asked} calls",
            out.done + out.failed
        ));
    }
    if out.failed > 0 {
        r.notes.push(format!(
            "{} calls failed (timeout, no server, or a wrong reply)",
            out.failed
        ));
    }
    r
}
