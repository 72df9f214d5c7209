//! A process's user mailbox, [`Queue`], the tail of its cell under the cell's lock, and
//! [`Msg`], what a receive returns.

use std::collections::VecDeque;
use std::task::{Context, Poll};

use super::cell::{CellOf, QueueView, Signal};
use crate::signal::{Down, ExitSignal};

/// What [`Ctx::recv`](crate::Ctx::recv) returns: a user message or a system message.
///
/// System messages (`Exit`, `Down`) travel on their own queue and are returned before any
/// user message, so they are never stuck behind a flooded mailbox.
#[derive(Debug)]
pub enum Msg<M> {
    /// A message sent with [`Addr::send`](crate::Addr::send).
    User(M),
    /// An exit signal from a linked process (or [`ProcessHandle::exit`](crate::ProcessHandle::exit)), received because this
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
        if self.items.is_empty() {
            // No message to drop outside the lock: the empty buffer (if any; none for a
            // message type of size 0) is freed here, no user code running.
            self.items = VecDeque::new();
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
    pub(crate) fn poll_recv(&self, cx: &mut Context<'_>, signals: bool) -> Poll<Msg<M>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static DROPPED: AtomicUsize = AtomicUsize::new(0);

    /// A message of size 0 whose drop is seen.
    struct Token;

    impl Drop for Token {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn an_empty_mailbox_gives_nothing_to_drop_whatever_its_message_size() {
        assert!(Queue::<()>::new().take_all().is_none());
        let mut q = Queue::<u64>::new();
        q.items.push_back(7);
        q.items.pop_front();
        assert!(q.items.capacity() > 0);
        assert!(q.take_all().is_none());
        assert_eq!(q.items.capacity(), 0, "the empty buffer is freed");
    }

    #[test]
    fn queued_messages_of_size_0_are_taken_out_and_dropped_with_what_is_returned() {
        let mut q = Queue::<Token>::new();
        q.items.push_back(Token);
        q.items.push_back(Token);
        let taken = q.take_all().expect("two messages to drop");
        assert_eq!(q.len(), 0);
        assert_eq!(DROPPED.load(Ordering::Relaxed), 0);
        drop(taken);
        assert_eq!(DROPPED.load(Ordering::Relaxed), 2);
    }
}
