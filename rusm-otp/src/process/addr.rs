//! [`ProcessHandle`] and the typed [`Addr`]: what holders of a process keep — its pid, its
//! liveness and exit, kill and exit signals, and (typed) its mailbox.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use super::cell::Cell;
use super::current::current_pid;
use super::queue::TypedCell;
use crate::error::SendError;
use crate::exit::ExitReason;
use crate::pid::Pid;

/// A handle to a process of any message type: await its exit, kill it, ask if it is alive.
///
/// Awaiting a handle (or [`wait`](Self::wait)) returns the [`ExitReason`]; it can be awaited
/// by any number of holders, before or after the exit.
#[derive(Clone)]
pub struct ProcessHandle {
    pub(crate) cell: Arc<Cell>,
}

impl fmt::Debug for ProcessHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessHandle")
            .field("pid", &self.cell.pid)
            .finish()
    }
}

impl ProcessHandle {
    pub(crate) fn from_cell(cell: Arc<Cell>) -> Self {
        ProcessHandle { cell }
    }

    /// The process's pid.
    pub fn pid(&self) -> Pid {
        self.cell.pid
    }

    /// Whether the process has not exited yet.
    pub fn is_alive(&self) -> bool {
        self.cell.is_alive()
    }

    /// The exit reason, once the process is dead.
    pub fn exit_reason(&self) -> Option<ExitReason> {
        self.cell.exit_reason()
    }

    /// Kills the process with the untrappable `kill` signal, as `exit(Pid, kill)`.
    ///
    /// The process stops at its next await point with reason [`ExitReason::Killed`]; a process
    /// that never yields cannot be stopped (see the [module docs](crate::process)).
    pub fn kill(&self) {
        self.cell
            .exit_signal(current_pid(), &ExitReason::Killed, true, false);
    }

    /// Sends an exit signal, as `erlang:exit(Pid, Reason)`: a process that traps exits receives
    /// it as [`Msg::Exit`](crate::Msg::Exit); otherwise `Normal` is ignored and any other reason stops it.
    pub fn exit(&self, reason: ExitReason) {
        self.cell.exit_signal(current_pid(), &reason, false, false);
    }

    /// Waits for the process to exit and returns its reason.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe: waiting changes nothing, and dropping the future only stops
    /// waiting; the exit reason stays there for a later `wait`.
    pub async fn wait(&self) -> ExitReason {
        self.cell.wait_finished().await
    }
}

/// `handle.await` waits for the process to exit and returns its reason, as
/// [`wait`](ProcessHandle::wait).
///
/// # Cancel safety
///
/// This future is cancel safe, as [`wait`](ProcessHandle::wait).
impl IntoFuture for ProcessHandle {
    type Output = ExitReason;
    type IntoFuture = Pin<Box<dyn Future<Output = ExitReason> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.wait().await })
    }
}

/// The address of a process whose mailbox takes messages of type `M`.
///
/// Dereferences to its [`ProcessHandle`] (pid, kill, wait, …).
pub struct Addr<M> {
    pub(crate) handle: ProcessHandle,
    /// The same cell as the handle's, typed: its mailbox takes `M`.
    pub(crate) tx: Arc<TypedCell<M>>,
}

impl<M> Clone for Addr<M> {
    fn clone(&self) -> Self {
        Addr {
            handle: self.handle.clone(),
            tx: self.tx.clone(),
        }
    }
}

impl<M> fmt::Debug for Addr<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Addr")
            .field("pid", &self.handle.pid())
            .finish()
    }
}

impl<M> std::ops::Deref for Addr<M> {
    type Target = ProcessHandle;
    fn deref(&self) -> &ProcessHandle {
        &self.handle
    }
}

/// `addr.await` waits for the process to exit and returns its reason, as
/// [`wait`](ProcessHandle::wait).
///
/// # Cancel safety
///
/// This future is cancel safe, as [`wait`](ProcessHandle::wait).
impl<M: Send + 'static> IntoFuture for Addr<M> {
    type Output = ExitReason;
    type IntoFuture = Pin<Box<dyn Future<Output = ExitReason> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        self.handle.into_future()
    }
}

impl<M> Addr<M> {
    /// Sends a message to the process's mailbox. Mailboxes are unbounded, as Erlang's are.
    ///
    /// # Errors
    ///
    /// [`SendError`], holding the message, when the process has exited.
    pub fn send(&self, msg: M) -> Result<(), SendError<M>> {
        self.tx.send(msg).map_err(SendError)
    }

    /// The untyped handle.
    pub fn handle(&self) -> &ProcessHandle {
        &self.handle
    }

    /// How many user messages wait in the mailbox (OTP's `message_queue_len`): one uncontended
    /// lock, cheap enough to check before every send (e.g. to drop a slow consumer).
    ///
    /// # Examples
    ///
    /// ```
    /// # use rusm_otp::{Runtime, Ctx};
    /// # let rt = Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let p = rt.spawn(|mut ctx: Ctx<u8>| async move { ctx.recv_user().await; });
    /// // Nothing reads until the process is scheduled: both may still be queued.
    /// p.send(1).unwrap();
    /// assert!(p.message_queue_len() <= 1);
    /// # p.wait().await;
    /// # });
    /// ```
    pub fn message_queue_len(&self) -> usize {
        self.tx.len()
    }
}
