//! The core runtime's process scenarios: `spawn-storm`, `ping-pong`, `idle-memory`, `fan-in`
//! and `restart-storm`, each run on a fresh multi-thread runtime with one worker per core.
//!
//! The tokio side measures two programs, each labelled: the like-for-like one (`tokio-task-mpsc`:
//! a task for each process and an unbounded mpsc for each mailbox, as a careful tokio user
//! writes a process) and the bare-tokio physical limit (`tokio-bare`: a bare `tokio::spawn` of a
//! task that exits, a task parked on nothing, two tasks and channels made up front, senders
//! sharing one channel). `restart-storm` has one program, which is both.

use std::io;
use std::time::{Duration, Instant};

use super::{Ctx, Scenario};
use crate::report::TargetResult;
use crate::stats;
use crate::target::{ProcessOutcome, ProcessRun, TargetKind, TokioTarget};

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

/// Which program a result comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Program {
    /// The target's own: RUSM's processes, or tokio's like-for-like program.
    Target,
    /// tokio's bare physical limit.
    Bare,
    /// Bare tokio plus the one shared allocation every process others can reach needs.
    Floor,
}

/// The name and label of a result.
fn name_and_label(
    scenario: Scenario,
    kind: TargetKind,
    program: Program,
) -> (&'static str, &'static str) {
    match (kind, program) {
        (TargetKind::Rusm, _) => (
            "rusm",
            match scenario {
                Scenario::SpawnStorm => {
                    "rt.spawn of a process that exits at once (a task, a mailbox, a table entry)"
                }
                Scenario::PingPong => {
                    "two processes (the second spawn_link'ed by the first) sending a u64 to each \
                     other's mailbox"
                }
                Scenario::IdleMemory => "processes blocked in ctx.recv() on an empty mailbox",
                Scenario::FanIn => {
                    "sender processes each sending to one receiver process's mailbox, then Done"
                }
                _ => "a one_for_one supervisor restarting a child that panics at once",
            },
        ),
        (TargetKind::Tokio, Program::Target) if scenario == Scenario::RestartStorm => (
            "tokio",
            "bare tokio, the physical limit, and like-for-like: a loop spawning a panicking task \
             and awaiting its JoinHandle",
        ),
        (TargetKind::Tokio, Program::Target) => (
            "tokio-task-mpsc",
            match scenario {
                Scenario::SpawnStorm => {
                    "like-for-like: task + channel: tokio::spawn of a task owning an unbounded \
                     mpsc (its mailbox) that exits at once"
                }
                Scenario::PingPong => {
                    "like-for-like: task + channel: each process a task owning an unbounded mpsc \
                     made at its spawn, the second spawned by the first"
                }
                Scenario::IdleMemory => {
                    "like-for-like: task + channel: tasks blocked in recv() on an unbounded mpsc \
                     of their own"
                }
                _ => {
                    "like-for-like: task + channel: a receiver task and sender tasks, each with \
                     an unbounded mpsc of its own, senders ending with Done"
                }
            },
        ),
        (TargetKind::Tokio, Program::Bare) => (
            "tokio-bare",
            match scenario {
                Scenario::SpawnStorm => {
                    "bare tokio, the physical limit: tokio::spawn of a task that exits at once, \
                     no channel"
                }
                Scenario::PingPong => {
                    "bare tokio, the physical limit: two tasks and two unbounded mpsc channels \
                     made before they start"
                }
                Scenario::IdleMemory => {
                    "bare tokio, the physical limit: tasks parked on std::future::pending, kept \
                     by their JoinHandles"
                }
                _ => {
                    "bare tokio, the physical limit: sender tasks sharing one unbounded mpsc, \
                     the receiver counting until it closes"
                }
            },
        ),
        (TargetKind::Tokio, Program::Floor) => (
            "tokio-task-shared",
            match scenario {
                Scenario::SpawnStorm => {
                    "the floor of a reachable process: tokio::spawn of a task that exits at \
                     once owning one shared allocation the size of RUSM's cell, the spawner \
                     holding a clone"
                }
                _ => {
                    "the floor of a reachable process: tasks parked on std::future::pending, \
                     each owning one shared allocation the size of RUSM's cell, kept by their \
                     JoinHandles and a clone of it"
                }
            },
        ),
    }
}

/// Whether `scenario` also measures the floor (bare tokio plus one shared allocation).
fn has_floor(scenario: Scenario) -> bool {
    matches!(scenario, Scenario::SpawnStorm | Scenario::IdleMemory)
}

pub(super) fn run(scenario: Scenario, ctx: &Ctx<'_>) -> io::Result<Vec<TargetResult>> {
    let mut results = vec![run_one(scenario, ctx, Program::Target)?];
    if ctx.is_baseline && ctx.kind == TargetKind::Tokio && scenario != Scenario::RestartStorm {
        // What the previous program freed must not be reused, unseen, by this one.
        crate::rss::release_freed_memory();
        ctx.metrics.set_phase("bare tokio");
        results.push(run_one(scenario, ctx, Program::Bare)?);
        if has_floor(scenario) {
            crate::rss::release_freed_memory();
            ctx.metrics.set_phase("floor");
            results.push(run_one(scenario, ctx, Program::Floor)?);
        }
    }
    Ok(results)
}

fn run_one(scenario: Scenario, ctx: &Ctx<'_>, program: Program) -> io::Result<TargetResult> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rt = runtime(ctx)?;
    let run = ProcessRun {
        count: ctx.config.count.unwrap_or_else(|| default_count(scenario)),
        senders: ctx.config.concurrency.map_or(DEFAULT_SENDERS, |c| c as u64),
        deadline: Instant::now() + ctx.duration(),
    };
    let target = &ctx.target;
    let bare = (program != Program::Target).then(TokioTarget::new);
    let (name, label) = name_and_label(scenario, ctx.kind, program);
    let mut r = TargetResult::new(name);
    r.label = Some(label.to_owned());
    if program == Program::Target {
        ctx.metrics.set_phase("running");
    }
    match scenario {
        Scenario::SpawnStorm => {
            let out = match &bare {
                Some(t) if program == Program::Floor => rt.block_on(t.spawn_storm_floor(run)),
                Some(t) => rt.block_on(t.spawn_storm_bare(run)),
                None => rt.block_on(target.spawn_storm(run)),
            };
            rated(&mut r, "spawns_per_s", "spawn/s", "spawned", run.count, out);
        }
        Scenario::PingPong => {
            let out = match &bare {
                Some(t) => rt.block_on(t.ping_pong_bare(run)),
                None => rt.block_on(target.ping_pong(run)),
            };
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
            let out = match &bare {
                Some(t) => rt.block_on(t.fan_in_bare(run)),
                None => rt.block_on(target.fan_in(run)),
            };
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
            let set = match &bare {
                Some(t) if program == Program::Floor => rt.block_on(t.idle_processes_floor(run)),
                Some(t) => rt.block_on(t.idle_processes_bare(run)),
                None => rt.block_on(target.idle_processes(run)),
            };
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
