//! Monitors: one-way watches that deliver exactly one [`Down`] message.
//!
//! As `erlang:monitor(process, Pid)` (<https://www.erlang.org/doc/apps/erts/erlang#monitor/2>):
//! the watcher receives one [`Msg::Down`](crate::Msg::Down) with the exit reason, or with
//! [`ExitReason::NoProc`] at once when the target was already dead. A monitor never kills the
//! watcher. [`Ctx::demonitor`] removes it and flushes a `Down` already queued for it.

use std::sync::Arc;

use crate::exit::ExitReason;
use crate::pid::Pid;
use crate::process::addr::ProcessHandle;
use crate::process::cell::{Cell, Signal};
use crate::process::mailbox::Ctx;
use crate::signal::{Down, MonitorRef};

/// Adds a monitor of `target` by `watcher`; a dead target gives an immediate `NoProc` Down.
pub(crate) fn add_monitor(watcher: &Arc<Cell>, target: Option<&Arc<Cell>>, pid: Pid) -> MonitorRef {
    let mref = MonitorRef::new(pid);
    watcher.lock().monitors().of.push(mref);
    if let Some(target) = target {
        let mut st = target.lock();
        if st.exit.is_none() {
            st.monitors().by.push((mref, watcher.clone()));
            return mref;
        }
    }
    watcher.deliver_down(Down {
        monitor: mref,
        pid,
        reason: ExitReason::NoProc,
    });
    mref
}

impl<M> Ctx<M> {
    /// Monitors a process. Exactly one [`Down`] will arrive for the returned reference, unless
    /// it is removed with [`demonitor`](Self::demonitor).
    pub fn monitor(&self, target: &ProcessHandle) -> MonitorRef {
        add_monitor(&self.addr.handle.cell, Some(&target.cell), target.pid())
    }

    /// Monitors a process by pid; `NoProc` at once if no such process is alive.
    pub fn monitor_pid(&self, pid: Pid) -> MonitorRef {
        let target = self.addr.handle.rt().lookup(pid);
        add_monitor(&self.addr.handle.cell, target.as_ref(), pid)
    }

    /// Removes a monitor and flushes its `Down` if one is already queued
    /// (`demonitor(Ref, [flush])`). Returns whether the monitor was still active.
    pub fn demonitor(&self, mref: MonitorRef) -> bool {
        let mut removed = false;
        if let Some(target) = self.addr.handle.rt().lookup(mref.target()) {
            let mut st = target.lock();
            if let Some(mons) = st.monitors.as_mut() {
                let before = mons.by.len();
                mons.by.retain(|(r, _)| *r != mref);
                removed = mons.by.len() != before;
            }
        }
        let me = &self.addr.handle.cell;
        let mut st = me.lock();
        if let Some(mons) = st.monitors.as_mut() {
            mons.of.retain(|r| *r != mref);
            mons.signals
                .retain(|s| !matches!(s, Signal::Down(d) if d.monitor == mref));
        }
        me.refresh_flag(&st);
        removed
    }
}
