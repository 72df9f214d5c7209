//! How a supervisor holds its children: linking one its start function did not link, and
//! stopping one by its shutdown spec (OTP's `shutdown/1`), its EXIT flushed after.

use std::sync::Arc;

use super::spec::Shutdown;
use super::table::SupervisorShared;
use crate::exit::ExitReason;
use crate::pid::Pid;
use crate::process::cell::{lock_pair, Cell, Signal};
use crate::signal::ExitSignal;

/// OTP's `shutdown/1`: stop one child by its shutdown spec and wait until it is dead, then
/// flush its EXIT from the supervisor's system queue. Waiting watches the child's exit itself
/// (a monitor, not the link), so a child that unlinked itself cannot hang the supervisor.
pub(crate) async fn shutdown_child(
    me: &Arc<Cell>,
    shared: &SupervisorShared,
    cell: &Arc<Cell>,
    how: Shutdown,
) -> ExitReason {
    // Stopping a child under its shutdown spec is not a crash, even when it ends `killed`.
    cell.lock().orderly = true;
    let reason = match how {
        Shutdown::BrutalKill => {
            cell.exit_signal(me.pid, &ExitReason::Killed, true, false);
            wait_cell(cell).await
        }
        Shutdown::Timeout(d) => {
            cell.exit_signal(me.pid, &ExitReason::Shutdown(None), false, false);
            match tokio::time::timeout(d, wait_cell(cell)).await {
                Ok(r) => r,
                Err(_) => {
                    cell.exit_signal(me.pid, &ExitReason::Killed, true, false);
                    wait_cell(cell).await
                }
            }
        }
        Shutdown::Infinity => {
            cell.exit_signal(me.pid, &ExitReason::Shutdown(None), false, false);
            wait_cell(cell).await
        }
    };
    flush_exits(me, shared, |pid| pid == cell.pid);
    match &reason {
        ExitReason::Killed | ExitReason::Shutdown(_) | ExitReason::Normal => {}
        r => {
            tracing::error!(supervisor = %me.pid, pid = %cell.pid, reason = %r, "child shutdown error")
        }
    }
    reason
}

pub(crate) async fn wait_cell(cell: &Arc<Cell>) -> ExitReason {
    cell.wait_finished().await
}

/// Removes the queued EXITs of the children `from` selects from the supervisor's system
/// queue: one pass over the queue, counted in `shared.flush_scanned`. Stopping many children
/// at once flushes them all in one call (a call per child would scan the queue of all their
/// EXITs once each: quadratic).
pub(crate) fn flush_exits(me: &Cell, shared: &SupervisorShared, mut from: impl FnMut(Pid) -> bool) {
    let mut st = me.lock();
    shared.flush_scanned.fetch_add(
        st.signal_count() as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    if let Some(m) = st.monitors.as_mut() {
        m.signals
            .retain(|s| !matches!(s, Signal::Exit(e) if from(e.from)));
    }
    me.refresh_flag(&st);
}

/// Links the supervisor with a child started by a start function that did not link it. If
/// the child is already dead, queue its EXIT as the link would have.
pub(crate) fn ensure_link(me: &Arc<Cell>, child: &Arc<Cell>) {
    let dead = {
        let (mut a, mut b) = lock_pair(me, child);
        match b.exit.clone() {
            // Exiting, and still linked to us: it will signal us itself.
            Some(_) if b.links.contains(me.pid) => None,
            Some(reason) => Some(reason),
            None => {
                if a.links.insert(child.clone()) {
                    b.links.insert(me.clone());
                }
                None
            }
        }
    };
    if let Some(reason) = dead {
        me.push_signal(Signal::Exit(ExitSignal {
            from: child.pid,
            reason,
        }));
    }
}
