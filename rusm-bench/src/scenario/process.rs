//! The core runtime's process scenarios: `spawn-storm`, `ping-pong`, `idle-memory`, `fan-in`
//! and `restart-storm`, each run on a fresh multi-thread runtime with one worker per core.

use std::io;
use std::time::{Duration, Instant};

use super::{Ctx, Scenario};
use crate::report::TargetResult;
use crate::stats;
use crate::target::{ProcessOutcome, ProcessRun};

/// How long releasing idle processes may take before we give up waiting.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(30);

/// Default count per scenario (`--count` overrides).
pub(crate) fn default_count(scenario: Scenario) -> u64 {
    match scenario {
        Scenario::SpawnStorm | Scenario::PingPong => 1_000_000,
        Scenario::IdleMemory => 100_000,
        Scenario::FanIn => 10_000,
        _ => 10_000_000,
    }
}

/// Senders for `fan-in` unless `--concurrency` says otherwise.
pub(crate) const DEFAULT_SENDERS: u64 = 100;

/// A fresh multi-thread runtime with one worker per core, whose alive processes (or tasks)
/// the dashboard shows.
pub(super) fn runtime(ctx: &Ctx<'_>) -> io::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .thread_name("sut")
        .enable_all()
        .build()?;
    let handle = rt.handle().clone();
    let target = ctx.target.clone();
    ctx.metrics.set_alive_source(Some(Box::new(move || {
        target
            .alive_processes()
            .unwrap_or(handle.metrics().num_alive_tasks() as u64)
    })));
    Ok(rt)
}

pub(super) fn run(scenario: Scenario, ctx: &Ctx<'_>) -> io::Result<TargetResult> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rt = runtime(ctx)?;
    let run = ProcessRun {
        count: ctx.config.count.unwrap_or_else(|| default_count(scenario)),
        senders: ctx.config.concurrency.map_or(DEFAULT_SENDERS, |c| c as u64),
        deadline: Instant::now() + ctx.duration(),
    };
    let target = &ctx.target;
    let mut r = TargetResult::new(target.name());
    ctx.metrics.set_phase("running");
    match scenario {
        Scenario::SpawnStorm => {
            let out = rt.block_on(target.spawn_storm(run));
            rated(&mut r, "spawns_per_s", "spawn/s", "spawned", run.count, out);
        }
        Scenario::PingPong => {
            let out = rt.block_on(target.ping_pong(run));
            rated(
                &mut r,
                "round_trips_per_s",
                "rt/s",
                "round_trips",
                run.count,
                out,
            );
        }
        Scenario::FanIn => {
            let out = rt.block_on(target.fan_in(run));
            rated(
                &mut r,
                "msgs_per_s",
                "msg/s",
                "received",
                run.count * run.senders,
                out,
            );
            r.figure("senders", run.senders as f64, "");
        }
        Scenario::RestartStorm => {
            let out = with_silent_panics(|| rt.block_on(target.restart_storm(run)));
            rated(&mut r, "restarts_per_s", "restart/s", "restarts", 0, out);
        }
        Scenario::IdleMemory => {
            // Warm the runtime (threads, allocator arenas) before the baseline reading.
            rt.block_on(async {
                for _ in 0..cores * 64 {
                    let _ = tokio::spawn(async {}).await;
                }
            });
            let before = crate::rss::self_rss().unwrap_or(0);
            let set = rt.block_on(target.idle_processes(run));
            let after = crate::rss::self_rss().unwrap_or(0);
            let n = set.len();
            ctx.metrics.set_phase("releasing");
            let released = rt.block_on(async {
                tokio::time::timeout(RELEASE_TIMEOUT, set.release())
                    .await
                    .is_ok()
            });
            let delta = after.saturating_sub(before);
            r.figure(
                "bytes_per_process",
                if n > 0 { delta as f64 / n as f64 } else { 0.0 },
                "B/process",
            );
            r.figure("processes", n as f64, "");
            r.figure("rss_delta", delta as f64, "B");
            if (n as u64) < run.count {
                r.notes.push(format!(
                    "only {n} of {} processes started before the deadline",
                    run.count
                ));
            }
            if !released {
                r.notes
                    .push("idle processes did not all exit within 30 s of release".into());
            }
        }
        Scenario::ConnectionStorm
        | Scenario::Hold
        | Scenario::EchoThroughput
        | Scenario::ServerCall
        | Scenario::Broadcast
        | Scenario::TlsHandshakeStorm
        | Scenario::TlsEcho => {
            unreachable!("not one of this module's scenarios")
        }
    }
    rt.shutdown_timeout(Duration::from_secs(2));
    Ok(r)
}

fn rated(
    r: &mut TargetResult,
    key: &'static str,
    unit: &'static str,
    count_key: &'static str,
    asked: u64,
    out: ProcessOutcome,
) {
    r.figure(key, stats::rate(out.done, out.elapsed), unit);
    r.figure(count_key, out.done as f64, "");
    r.figure("elapsed_s", out.elapsed.as_secs_f64(), "s");
    if asked > 0 && out.done < asked {
        r.notes.push(format!(
            "the time bound stopped it after {} of {asked}",
            out.done
        ));
    }
}

/// Runs `f` with a panic hook that prints nothing: a restart storm panics by design, and a
/// million backtraces would dominate the measurement.
fn with_silent_panics<T>(f: impl FnOnce() -> T) -> T {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let out = f();
    std::panic::set_hook(previous);
    out
}
