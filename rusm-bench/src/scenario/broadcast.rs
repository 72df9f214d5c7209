//! `broadcast`: one frame at a time to a group of 10,000 connection-shaped processes
//! (`--connections`), each frame received by every member before the next is sent;
//! deliveries/s.
//!
//! RUSM's members are processes in a `pg` group and the broadcaster a process calling
//! `rt.pg().send`; the tokio program, a task per member with an unbounded mpsc receiver and a
//! broadcaster task looping over the senders, is both the bare-tokio physical limit and the
//! like-for-like program (pg's own work is one group look-up per broadcast).

use std::io;
use std::time::{Duration, Instant};

use super::Ctx;
use crate::report::TargetResult;
use crate::stats;
use crate::target::{BroadcastRun, TargetKind};

/// Members of the group unless `--connections` says.
pub(crate) const DEFAULT_MEMBERS: u64 = 10_000;
/// Broadcasts unless `--count` says.
pub(crate) const DEFAULT_BROADCASTS: u64 = 500;
/// Frame size unless `--size` says.
pub(crate) const DEFAULT_SIZE: usize = 64;

pub(super) fn run(ctx: &Ctx<'_>) -> io::Result<Vec<TargetResult>> {
    let rt = super::process::runtime(ctx)?;
    let run = BroadcastRun {
        members: ctx
            .config
            .connections
            .map_or(DEFAULT_MEMBERS, |c| c.max(1) as u64),
        broadcasts: ctx.config.count.unwrap_or(DEFAULT_BROADCASTS),
        size: ctx.config.size.unwrap_or(DEFAULT_SIZE),
        deadline: Instant::now() + ctx.duration(),
    };
    ctx.metrics.set_phase("running");
    let out = rt.block_on(ctx.target.broadcast(run));
    rt.shutdown_timeout(Duration::from_secs(2));
    let mut r = TargetResult::new(ctx.target.name());
    r.label = Some(
        match ctx.kind {
            TargetKind::Rusm => {
                "processes (Ctx<Arc<[u8]>>) joined to a pg group, a broadcaster process \
                 calling rt.pg().send"
            }
            TargetKind::Tokio => {
                "bare tokio, the physical limit, and like-for-like: a task per member with an \
                 unbounded mpsc receiver, a broadcaster task looping over the senders"
            }
        }
        .to_owned(),
    );
    r.figure(
        "deliveries_per_s",
        stats::rate(out.done, out.elapsed),
        "deliveries/s",
    );
    r.figure("deliveries", out.done as f64, "");
    let broadcasts = out.done / run.members;
    r.figure(
        "broadcasts_per_s",
        stats::rate(broadcasts, out.elapsed),
        "broadcasts/s",
    );
    r.figure("broadcasts", broadcasts as f64, "");
    r.figure("members", run.members as f64, "");
    r.figure("elapsed_s", out.elapsed.as_secs_f64(), "s");
    let asked = run.broadcasts * run.members;
    if out.done < asked {
        r.notes.push(format!(
            "the time bound stopped it after {} of {asked} deliveries",
            out.done
        ));
    }
    Ok(vec![r])
}
