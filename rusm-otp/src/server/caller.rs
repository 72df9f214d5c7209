//! A call's request and reply slot, shared by the caller and the server, and [`Caller`],
//! the server's side of it (OTP's `From`).
//!
//! A call is one allocation: the request and its reply slot live in one `Arc` that the
//! caller and the server share. The server's side of it (the queued envelope, then the
//! [`Caller`]s) counts its holders; when the last one goes without a reply — the server
//! dropped it, or died with the request still queued — the caller is woken at once.

use crate::lock::Unpoisoned;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

pub(crate) trait ReplySlot<R>: Send + Sync {
    fn put(&self, reply: R) -> bool;
    fn hold(&self);
    fn release(&self);
}

enum State<Req, R> {
    /// Queued; the caller's waker once it waits.
    Queued(Option<Req>, Option<Waker>),
    /// Taken by the server, not answered yet.
    Handling(Option<Waker>),
    Replied(R),
    /// Every server-side hold went without a reply.
    Abandoned,
    /// The caller stopped waiting, or took its reply.
    Done,
}

/// The request and its reply slot, shared by the caller and the server.
pub(crate) struct CallCell<Req, R> {
    state: Mutex<State<Req, R>>,
    /// Server-side holds: the queued envelope, then each [`Caller`].
    holds: AtomicUsize,
    /// Set once replied: letting go of the last hold then needs no lock.
    answered: std::sync::atomic::AtomicBool,
}

impl<Req, R> CallCell<Req, R> {
    fn lock(&self) -> MutexGuard<'_, State<Req, R>> {
        // No user code runs under this lock.
        self.state.locked()
    }
}

impl<Req: Send + 'static, R: Send + 'static> CallCell<Req, R> {
    pub(crate) fn new(req: Req) -> Arc<Self> {
        Arc::new(CallCell {
            state: Mutex::new(State::Queued(Some(req), None)),
            holds: AtomicUsize::new(1),
            answered: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The caller's side: the reply, `Err(())` when the server let go without one.
    pub(crate) fn poll_reply(&self, cx: &mut Context<'_>) -> Poll<Result<R, ()>> {
        let mut st = self.lock();
        match &mut *st {
            State::Queued(_, w) | State::Handling(w) => {
                if !w.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *w = Some(cx.waker().clone());
                }
                Poll::Pending
            }
            State::Replied(_) => match std::mem::replace(&mut *st, State::Done) {
                State::Replied(r) => Poll::Ready(Ok(r)),
                _ => unreachable!(),
            },
            State::Abandoned => Poll::Ready(Err(())),
            State::Done => Poll::Pending,
        }
    }

    /// The server takes the request; `None` if the caller gave up before it got here.
    pub(crate) fn take_request(&self) -> Option<Req> {
        let mut st = self.lock();
        match std::mem::replace(&mut *st, State::Done) {
            State::Queued(req, w) => {
                *st = State::Handling(w);
                req
            }
            other => {
                *st = other;
                None
            }
        }
    }

    /// The request back, from a call that could not be sent.
    pub(crate) fn take_unsent(&self) -> Option<Req> {
        let mut st = self.lock();
        let req = match &mut *st {
            State::Queued(req, _) => req.take(),
            _ => None,
        };
        *st = State::Done;
        req
    }

    /// The caller stops waiting: a later reply is dropped.
    pub(crate) fn cancel(&self) {
        *self.lock() = State::Done;
    }
}

impl<Req: Send + 'static, R: Send + 'static> ReplySlot<R> for CallCell<Req, R> {
    fn put(&self, reply: R) -> bool {
        let mut st = self.lock();
        let waker = match &mut *st {
            State::Queued(_, w) | State::Handling(w) => w.take(),
            // Replied already, or the caller is gone.
            _ => return false,
        };
        *st = State::Replied(reply);
        self.answered.store(true, Ordering::Release);
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    fn hold(&self) {
        self.holds.fetch_add(1, Ordering::Relaxed);
    }

    fn release(&self) {
        if self.holds.fetch_sub(1, Ordering::AcqRel) != 1 || self.answered.load(Ordering::Acquire) {
            return;
        }
        let mut st = self.lock();
        let waker = match &mut *st {
            State::Queued(_, w) | State::Handling(w) => w.take(),
            _ => return,
        };
        *st = State::Abandoned;
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Who made a call (OTP's `From`): reply to it with [`reply`](Self::reply), now or later.
///
/// [`Call::handle_call`](crate::server::Call::handle_call) gets a reference; clone it to reply after the callback returned
/// [`Reply::Noreply`](crate::server::Reply::Noreply) (from another callback, or another process: OTP's `gen_server:reply/2`).
/// When every clone is gone without a reply, the caller's call ends at once: with the server's
/// exit reason if it is exiting, else with a timeout when its time is up.
pub struct Caller<R> {
    slot: Arc<dyn ReplySlot<R>>,
}

impl<R> fmt::Debug for Caller<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Caller")
    }
}

impl<R> Clone for Caller<R> {
    fn clone(&self) -> Self {
        self.slot.hold();
        Caller {
            slot: self.slot.clone(),
        }
    }
}

impl<R> Drop for Caller<R> {
    fn drop(&mut self) {
        self.slot.release();
    }
}

impl<R> Caller<R> {
    /// The server's hold on a call, as a caller.
    pub(crate) fn new(slot: Arc<dyn ReplySlot<R>>) -> Self {
        Caller { slot }
    }

    /// Sends the reply (`gen_server:reply/2`). Returns `false` when the caller no longer waits
    /// (it timed out) or was answered already.
    pub fn reply(&self, reply: R) -> bool {
        self.slot.put(reply)
    }
}
