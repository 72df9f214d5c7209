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
use crate::pid::Pid;
use crate::process::cell::{lock_pair, Signal};
use crate::process::mailbox::Ctx;
use crate::signal::ExitSignal;

impl<M> Ctx<M> {
    /// Links this process with `pid`. Linking twice is the same as once.
    ///
    /// Linking to a process that is not alive is OTP's `link/1` to a dead pid: a process that
    /// traps exits gets `{'EXIT', Pid, noproc}` — an [`ExitSignal`] with
    /// [`ExitReason::NoProc`] — and `Ok`; one that does not gets the error (where Erlang
    /// raises `noproc` in the caller).
    ///
    /// # Errors
    ///
    /// [`LinkError::NoProc`] when `pid` is not alive and this process does not trap exits.
    pub fn link(&self, pid: Pid) -> Result<(), LinkError> {
        let me = &self.addr.handle.cell;
        if pid == me.pid {
            return Ok(());
        }
        let noproc = || {
            if me.lock().trap_exit {
                me.push_signal(Signal::Exit(ExitSignal {
                    from: pid,
                    reason: ExitReason::NoProc,
                }));
                Ok(())
            } else {
                Err(LinkError::NoProc(pid))
            }
        };
        let Some(other) = self.addr.handle.rt().lookup(pid) else {
            return noproc();
        };
        let (mut a, mut b) = lock_pair(me, &other);
        if b.exit.is_some() {
            drop((a, b));
            return noproc();
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
        if let Some(other) = self.addr.handle.rt().lookup(pid) {
            other.lock().links.remove(me.pid);
        }
    }

    /// The pids this process is linked to.
    pub fn links(&self) -> Vec<Pid> {
        self.addr.handle.cell.lock().links.pids()
    }
}
