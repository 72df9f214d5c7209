//! The timer a process's calls share.
//!
//! Every call waits under a deadline (5 s by default, OTP's `gen_server:call/2`). A tokio
//! timer per call costs two trips through the timer driver's lock (arm and drop), which is
//! the larger part of a call answered in a microsecond. A process makes its calls one after
//! another, so it keeps one timer for them: each call moves the timer's deadline to its own
//! (moving it later takes no lock in tokio: the entry is re-filed when the old time comes),
//! and a call made while another one holds the timer (several calls in flight from one
//! process) arms a timer of its own, as before. The timer lives with the process's other
//! rarely used state and goes with it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::time::{Instant, Sleep};

use super::cell::Cell;

/// A process's shared call timer.
pub(crate) struct CallTimer {
    sleep: Pin<Box<Sleep>>,
    /// A call waits on it now.
    busy: bool,
}

/// A call's hold on its process's timer, set to the call's deadline; released when dropped.
pub(crate) struct SharedDeadline {
    cell: Arc<Cell>,
}

impl SharedDeadline {
    /// Takes the running process's timer for a call due at `deadline`; `None` outside a
    /// process or while another call holds it.
    pub(crate) fn take(deadline: Instant) -> Option<Self> {
        let cell = super::current_cell()?;
        {
            let mut st = cell.lock();
            let slot = &mut st.monitors().call_timer;
            match slot {
                Some(t) if t.busy => return None,
                Some(t) => {
                    t.busy = true;
                    t.sleep.as_mut().reset(deadline);
                }
                None => {
                    *slot = Some(CallTimer {
                        sleep: Box::pin(tokio::time::sleep_until(deadline)),
                        busy: true,
                    })
                }
            }
        }
        Some(SharedDeadline { cell })
    }

    /// Ready once the deadline has passed; registers `cx` to be woken then.
    pub(crate) fn poll_elapsed(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.cell.lock();
        match &mut st.monitors().call_timer {
            Some(t) => t.sleep.as_mut().poll(cx),
            // The process's state is gone (it exited): nothing left to wait for.
            None => Poll::Ready(()),
        }
    }
}

impl Drop for SharedDeadline {
    fn drop(&mut self) {
        let mut st = self.cell.lock();
        if let Some(m) = st.monitors.as_mut() {
            if let Some(t) = m.call_timer.as_mut() {
                t.busy = false;
            }
        }
    }
}
