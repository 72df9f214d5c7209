//! Links: bidirectional exit propagation, and [`ExitSignal`], the message a process that traps
//! exits receives instead of dying.
//!
//! Semantics of `erlang:link/1` and exit signals
//! (<https://www.erlang.org/doc/apps/erts/erlang#link/1>): when a linked process exits with a
//! reason other than `Normal`, its partners exit with the same reason, unless they trap exits
//! ([`Ctx::trap_exit`]); then they receive [`Msg::Exit`](crate::Msg::Exit). A partner that traps
//! exits also receives `Normal` exits. The `kill` signal cannot be trapped; a process it stops
//! exits `Killed`, and `Killed`, propagated over links, can be trapped.

use crate::error::LinkError;
use crate::exit::ExitReason;
use crate::process::cell::lock_pair;
use crate::process::{Ctx, Pid};

/// An exit signal received as a message by a process that traps exits (`{'EXIT', From, Reason}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitSignal {
    /// The process that exited, or that sent the signal ([`Pid::EXTERNAL`] from outside).
    pub from: Pid,
    /// Its reason.
    pub reason: ExitReason,
}

impl<M> Ctx<M> {
    /// Links this process with `pid`. Linking twice is the same as once.
    ///
    /// # Errors
    ///
    /// [`LinkError::NoProc`] when `pid` is not alive. (Erlang sends the caller a `noproc` exit
    /// signal instead; a return value says the same without killing the caller.)
    pub fn link(&self, pid: Pid) -> Result<(), LinkError> {
        let me = &self.addr.handle.cell;
        if pid == me.pid {
            return Ok(());
        }
        let other = self
            .addr
            .handle
            .rt
            .lookup(pid)
            .ok_or(LinkError::NoProc(pid))?;
        let (mut a, mut b) = lock_pair(me, &other);
        if b.exit.is_some() {
            return Err(LinkError::NoProc(pid));
        }
        if a.links.insert(other.clone()) {
            b.links.insert(me.clone());
        }
        Ok(())
    }

    /// Removes the link with `pid`, if there is one (`unlink/1`). An exit signal the link
    /// already delivered stays in the mailbox.
    pub fn unlink(&self, pid: Pid) {
        let me = &self.addr.handle.cell;
        me.lock().links.remove(pid);
        if let Some(other) = self.addr.handle.rt.lookup(pid) {
            other.lock().links.remove(me.pid);
        }
    }

    /// The pids this process is linked to.
    pub fn links(&self) -> Vec<Pid> {
        self.addr.handle.cell.lock().links.pids()
    }
}
