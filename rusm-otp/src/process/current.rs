//! What runs on this thread now: the pid and the cell of the process being polled
//! ([`current_pid`]), set by the process's task around each poll of its body.

use std::cell::Cell as StdCell;
use std::sync::Arc;

use super::cell::Cell;
use crate::pid::Pid;

/// What runs on this thread now: a process's pid and its cell (lent by the process's task, not
/// cloned, for the length of a poll). One thread-local, so that a poll sets both at once.
struct Current {
    pid: StdCell<Pid>,
    cell: StdCell<Option<Arc<Cell>>>,
}

thread_local! {
    static CURRENT: Current = const {
        Current {
            pid: StdCell::new(Pid::EXTERNAL),
            cell: StdCell::new(None),
        }
    };
}

/// The pid of the process whose code is running on this thread, or [`Pid::EXTERNAL`].
#[inline]
pub fn current_pid() -> Pid {
    CURRENT.with(|c| c.pid.get())
}

/// Makes the process of `cell` current; returns what was current before.
#[inline]
pub(crate) fn enter(cell: Arc<Cell>) -> (Pid, Option<Arc<Cell>>) {
    CURRENT.with(|c| (c.pid.replace(cell.pid), c.cell.replace(Some(cell))))
}

/// Makes `prev` current again; returns the cell that `enter` lent.
#[inline]
pub(crate) fn leave(prev: (Pid, Option<Arc<Cell>>)) -> Option<Arc<Cell>> {
    CURRENT.with(|c| {
        c.pid.set(prev.0);
        c.cell.replace(prev.1)
    })
}

/// A clone of the cell of the process whose code is running on this thread.
#[inline]
pub(crate) fn current_cell() -> Option<Arc<Cell>> {
    CURRENT.with(|c| {
        let cell = c.cell.take();
        let out = cell.clone();
        c.cell.set(cell);
        out
    })
}

/// Makes `pid` the current pid alone (while a process's state is dropped); returns the one
/// before.
#[inline]
pub(crate) fn swap_pid(pid: Pid) -> Pid {
    CURRENT.with(|c| c.pid.replace(pid))
}
