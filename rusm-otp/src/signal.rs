//! The signals a process receives as messages: [`ExitSignal`] (from a link, or sent) and
//! [`Down`] (from a monitor, named by its [`MonitorRef`]).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::exit::ExitReason;
use crate::pid::Pid;

/// An exit signal received as a message by a process that traps exits (`{'EXIT', From, Reason}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitSignal {
    /// The process that exited, or that sent the signal ([`Pid::EXTERNAL`] from outside).
    pub from: Pid,
    /// Its reason.
    pub reason: ExitReason,
}

static NEXT_REF: AtomicU64 = AtomicU64::new(1);

/// Identifies one monitor (Erlang's monitor reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MonitorRef {
    id: u64,
    target: Pid,
}

impl MonitorRef {
    pub(crate) fn new(target: Pid) -> Self {
        MonitorRef {
            id: NEXT_REF.fetch_add(1, Ordering::Relaxed),
            target,
        }
    }

    /// The monitored process.
    pub fn target(&self) -> Pid {
        self.target
    }
}

/// A monitored process exited (`{'DOWN', Ref, process, Pid, Reason}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Down {
    /// The monitor that fired.
    pub monitor: MonitorRef,
    /// The process that exited.
    pub pid: Pid,
    /// Its exit reason, or `NoProc` if it was already dead when monitored.
    pub reason: ExitReason,
}
