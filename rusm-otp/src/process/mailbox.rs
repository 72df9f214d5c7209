//! The process context [`Ctx`] and receiving: the user mailbox and the system path.

use std::fmt;
use std::future::poll_fn;
use std::time::Duration;

use super::addr::{Addr, ProcessHandle};
use super::queue::Msg;
use crate::pid::Pid;

/// The context a process body receives: its own address, its mailbox and its runtime.
///
/// `M` is the type of the user messages the process accepts (`()` when it takes none, as a
/// connection handler that only talks to its socket).
pub struct Ctx<M = ()> {
    pub(crate) addr: Addr<M>,
}

impl<M> fmt::Debug for Ctx<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx").field("pid", &self.pid()).finish()
    }
}

impl<M> Ctx<M> {
    pub(crate) fn new(addr: Addr<M>) -> Self {
        Ctx { addr }
    }

    /// This process's pid.
    pub fn pid(&self) -> Pid {
        self.addr.handle.cell.pid
    }

    /// This process's own address (Erlang's `self()`).
    pub fn myself(&self) -> Addr<M> {
        self.addr.clone()
    }

    /// This process's handle.
    pub fn handle(&self) -> &ProcessHandle {
        &self.addr.handle
    }

    /// Receives the next message, waiting as long as it takes. System messages come first.
    ///
    /// Only the process itself receives: await this in the process's body (a send wakes the
    /// process's task), not in a task spawned from it.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe: a message is taken from its queue only in the poll that
    /// returns it, so dropping the future loses nothing; the next message stays queued for the
    /// next receive.
    pub async fn recv(&mut self) -> Msg<M> {
        // Borrowed, not cloned: a receive costs no reference count, and one lock.
        let cell = &*self.addr.tx;
        poll_fn(move |cx| cell.poll_recv(cx, true)).await
    }

    /// Receives the next message, as [`recv`](Self::recv), in the shape of a stream: `None`
    /// only once the mailbox is closed, which never happens while the process holds its `Ctx`.
    ///
    /// This is the shape of a receive loop that compiles in every edition: in edition 2024 an
    /// endless `loop { ctx.recv().await; … }` has type `!`, which is not an exit reason, while
    /// a `while let` loop has type `()`.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe, as [`recv`](Self::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// # use rusm_otp::{Runtime, Ctx, Msg};
    /// # let rt = Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let counter = rt.spawn(|mut ctx: Ctx<u32>| async move {
    ///     let mut total = 0;
    ///     while let Some(msg) = ctx.next().await {
    ///         match msg {
    ///             Msg::User(0) => break,
    ///             Msg::User(n) => total += n,
    ///             Msg::Exit(_) | Msg::Down(_) => {}
    ///         }
    ///     }
    ///     assert_eq!(total, 5);
    /// });
    /// for n in [2, 3, 0] {
    ///     counter.send(n).unwrap();
    /// }
    /// assert!(counter.wait().await.is_normal());
    /// # });
    /// ```
    pub async fn next(&mut self) -> Option<Msg<M>> {
        Some(self.recv().await)
    }

    /// How many user messages wait in this process's mailbox (`message_queue_len`).
    pub fn message_queue_len(&self) -> usize {
        self.addr.tx.len()
    }

    /// Receives the next message, or `None` when `timeout` passes first (`receive … after`).
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe, as [`recv`](Self::recv): a message is taken only when it is
    /// returned, and a timeout takes none. The timer starts at the first poll and is dropped
    /// with the future.
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Option<Msg<M>> {
        tokio::time::timeout(timeout, self.recv()).await.ok()
    }

    /// Receives the next user message, leaving system messages queued for a later `recv`.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe, as [`recv`](Self::recv): a user message is taken from the
    /// mailbox only in the poll that returns it, and system messages are never taken.
    pub async fn recv_user(&mut self) -> M {
        let cell = &*self.addr.tx;
        poll_fn(move |cx| {
            cell.poll_recv(cx, false).map(|m| match m {
                Msg::User(m) => m,
                Msg::Exit(_) | Msg::Down(_) => unreachable!("system messages are not taken"),
            })
        })
        .await
    }

    /// Sets whether exit signals are turned into [`Msg::Exit`] messages
    /// (`process_flag(trap_exit, Flag)`); returns the previous value.
    ///
    /// The `kill` signal ([`ProcessHandle::kill`]) cannot be trapped.
    pub fn trap_exit(&self, trap: bool) -> bool {
        let mut st = self.addr.handle.cell.lock();
        std::mem::replace(&mut st.trap_exit, trap)
    }
}
