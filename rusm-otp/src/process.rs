//! Processes: spawn, [`Pid`], [`ProcessHandle`] and the typed [`Addr`].
//!
//! A process is a tokio task with a pid, a typed mailbox, a system mailbox for exit signals and
//! `Down` messages, links and monitors. Its body is an `async` closure that receives a
//! [`Ctx`]. When the body returns, panics, or is stopped by an exit signal, the process is
//! dead: its body (and with it its mailbox and everything it owned) is dropped first, then its
//! registered name is released, then its links and monitors are signalled.
//!
//! # Pre-emption
//!
//! A process is stopped by `kill` or an exit signal **at its next await point**. Unlike the
//! BEAM, tokio cannot pre-empt a task: a process that loops without awaiting (or blocks its
//! thread) cannot be stopped until it yields, and it holds a worker thread meanwhile. Run
//! blocking work in `tokio::task::spawn_blocking`.

pub(crate) mod addr;
pub(crate) mod call_timer;
pub(crate) mod cell;
pub(crate) mod current;
pub(crate) mod info;
pub(crate) mod mailbox;
pub(crate) mod queue;
pub(crate) mod spawn;

pub use crate::pid::Pid;
pub use addr::{Addr, ProcessHandle};
pub use current::current_pid;
pub use info::{ProcessInfo, ProcessRow, ProcessStatus, TopBy, TopEntry};
pub use mailbox::Ctx;
pub use queue::Msg;
pub(crate) use spawn::exit_reported;
