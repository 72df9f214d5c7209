//! The process context [`Ctx`] and receiving: the user mailbox and the system path.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::error::RegisterError;
use crate::link::ExitSignal;
use crate::monitor::Down;
use crate::process::cell::{CellOf, QueueView, Signal};
use crate::process::{Addr, Pid, ProcessHandle};
use crate::runtime::Runtime;

/// What [`Ctx::recv`] returns: a user message or a system message.
///
/// System messages (`Exit`, `Down`) travel on their own queue and are returned before any
/// user message, so they are never stuck behind a flooded mailbox.
#[derive(Debug)]
pub enum Msg<M> {
    /// A message sent with [`Addr::send`].
    User(M),
    /// An exit signal from a linked process (or [`ProcessHandle::exit`]), received because this
    /// process traps exits.
    Exit(ExitSignal),
    /// A monitored process exited.
    Down(Down),
}

impl<M> Msg<M> {
    /// The user message, if this is one.
    pub fn user(self) -> Option<M> {
        match self {
            Msg::User(m) => Some(m),
            _ => None,
        }
    }
}

/// The context a process body receives: its own address, its mailbox and its runtime.
///
/// `M` is the type of the user messages the process accepts (`()` when it takes none, as a
/// connection handler that only talks to its socket).
pub struct Ctx<M = ()> {
    pub(crate) addr: Addr<M>,
}

/// A process's user mailbox: an unbounded queue, the tail of the process's cell, under the
/// cell's lock (one allocation for the process's cell and mailbox). About 32 bytes while
/// empty, where a tokio channel takes several hundred, and it gives its memory back after a
/// burst (tokio-rs/tokio#4321). A send wakes the process only when it waits on its mailbox:
/// only the process receives.
pub(crate) struct Queue<M> {
    items: VecDeque<M>,
}

impl<M> Queue<M> {
    pub(crate) fn new() -> Self {
        Queue {
            items: VecDeque::new(),
        }
    }
}

/// A process's cell with its mailbox's type: what an [`Addr`] holds.
pub(crate) type TypedCell<M> = CellOf<Queue<M>>;

impl<M: Send + 'static> QueueView for Queue<M> {
    fn len(&self) -> usize {
        self.items.len()
    }

    fn buffer_bytes(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<M>()
    }

    fn take_all(&mut self) -> Option<Box<dyn Send>> {
        if self.items.capacity() == 0 {
            return None;
        }
        Some(Box::new(std::mem::take(&mut self.items)))
    }
}

impl<M> TypedCell<M> {
    /// Queues `msg` and wakes the process if it waits on its mailbox, or gives `msg` back if
    /// the process is gone.
    pub(crate) fn send(&self, msg: M) -> Result<(), M> {
        let waker = {
            let mut g = self.lock();
            let (st, q) = g.split();
            if st.closed() {
                return Err(msg);
            }
            q.items.push_back(msg);
            st.message_queued()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// How many messages are queued.
    pub(crate) fn len(&self) -> usize {
        self.lock().queue().items.len()
    }

    /// The next system message (when `signals`) or user message; registers `cx`'s waker for
    /// the next message when there is none.
    fn poll_recv(&self, cx: &mut Context<'_>, signals: bool) -> Poll<Msg<M>> {
        let mut g = self.lock();
        if signals && self.has_signal() {
            if let Some(sig) = self.pop_signal_locked(&mut g) {
                return Poll::Ready(match sig {
                    Signal::Exit(e) => Msg::Exit(e),
                    Signal::Down(d) => Msg::Down(d),
                });
            }
        }
        let (st, q) = g.split();
        let Some(m) = q.items.pop_front() else {
            st.wait_for_message(cx.waker());
            return Poll::Pending;
        };
        // Give a burst's memory back once it has been read.
        if q.items.is_empty() && q.items.capacity() > 64 {
            q.items = VecDeque::new();
        }
        Poll::Ready(Msg::User(m))
    }
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

    /// The runtime this process runs on.
    pub fn runtime(&self) -> Runtime {
        Runtime::borrowed(self.addr.handle.cell.rt.clone())
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

    /// Registers this process under `name` until it exits or [`unregister`](Self::unregister)s.
    ///
    /// # Errors
    ///
    /// [`RegisterError`] when the name is taken or this process already has a name.
    pub fn register(&self, name: impl Into<Arc<str>>) -> Result<(), RegisterError>
    where
        M: Send + 'static,
    {
        let rt = &self.addr.handle.cell.rt;
        rt.registry.register_addr(name.into(), &self.addr)
    }

    /// Releases this process's registered name, if it has one.
    pub fn unregister(&self) {
        let name = self.addr.handle.cell.lock().take_name();
        if let Some(name) = name {
            self.addr.handle.cell.rt.registry.release(&name, self.pid());
        }
    }
}
