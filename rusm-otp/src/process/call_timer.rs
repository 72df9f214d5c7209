//! The timer a process's calls share (taken and set by `call.rs`'s `SharedDeadline`).
//!
//! Every call waits under a deadline (5 s by default, OTP's `gen_server:call/2`). A tokio
//! timer per call costs two trips through the timer driver's lock (arm and drop), which is
//! the larger part of a call answered in a microsecond. A process makes its calls one after
//! another, so it keeps one timer for them: each call moves the timer's deadline to its own
//! (moving it later takes no lock in tokio: the entry is re-filed when the old time comes),
//! and a call made while another one holds the timer (several calls in flight from one
//! process) arms a timer of its own, as before. The timer lives with the process's other
//! rarely used state and goes with it.

use std::pin::Pin;

use tokio::time::Sleep;

/// A process's shared call timer.
pub(crate) struct CallTimer {
    pub(crate) sleep: Pin<Box<Sleep>>,
    /// A call waits on it now.
    pub(crate) busy: bool,
}
