//! What travels in a server's mailbox: calls, casts, info and stop requests.
//!
//! A call is one allocation: the request and its reply slot live in one `Arc` that the
//! caller and the server share. The server's side of it (the queued envelope, then the
//! [`Caller`]s) counts its holders; when the last one goes without a reply — the server
//! dropped it, or died with the request still queued — the caller is woken at once.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::exit::ExitReason;
use crate::server::{Call, Cast, Next, Reply, Server, ServerCtx};

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A message in a server's mailbox. Opaque: made by [`ServerRef`](crate::ServerRef)'s
/// methods, taken apart by the server's loop.
pub struct Envelope<S: Server>(pub(crate) Kind<S>);

impl<S: Server> fmt::Debug for Envelope<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.0 {
            Kind::Call(_) => "call",
            Kind::Cast(_) => "cast",
            Kind::Info(_) => "info",
            Kind::Stop(_) => "stop",
            Kind::Inspect(_) => "inspect",
        };
        f.debug_tuple("Envelope").field(&kind).finish()
    }
}

pub(crate) enum Kind<S: Server> {
    Call(CallEnvelope<S>),
    Cast(Box<dyn CastDispatch<S>>),
    Info(S::Info),
    Stop(ExitReason),
    /// Look at the state between two messages (`sys:get_state`).
    Inspect(Box<dyn FnOnce(&S) + Send>),
}

/// A queued call: the server's first hold on the shared call cell.
pub(crate) struct CallEnvelope<S: Server>(Option<Arc<dyn CallDispatch<S>>>);

impl<S: Server> Drop for CallEnvelope<S> {
    fn drop(&mut self) {
        if let Some(cell) = self.0.take() {
            cell.release();
        }
    }
}

impl<S: Server> CallEnvelope<S> {
    pub(crate) fn dispatch<'a>(
        mut self,
        server: &'a mut S,
        ctx: &'a mut ServerCtx<S>,
    ) -> BoxFuture<'a, Next> {
        let cell = self.0.take().expect("a call envelope is dispatched once");
        cell.dispatch(server, ctx)
    }
}

pub(crate) trait CallDispatch<S: Server>: Send + Sync {
    /// Runs the handler; the envelope's hold passes to the [`Caller`] it is given.
    fn dispatch<'a>(
        self: Arc<Self>,
        server: &'a mut S,
        ctx: &'a mut ServerCtx<S>,
    ) -> BoxFuture<'a, Next>;
    /// The server lets go of one hold without replying.
    fn release(&self);
    /// The request back, when it could not be sent.
    fn unsend(&self) -> Box<dyn Any + Send>;
}

trait ReplySlot<R>: Send + Sync {
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
        self.state.lock().unwrap_or_else(|p| p.into_inner())
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

    pub(crate) fn envelope<S: Call<Req, Reply = R>>(self: &Arc<Self>) -> Envelope<S> {
        Envelope(Kind::Call(CallEnvelope(Some(self.clone()))))
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

impl<S, Req> CallDispatch<S> for CallCell<Req, S::Reply>
where
    S: Call<Req>,
    Req: Send + 'static,
{
    fn dispatch<'a>(
        self: Arc<Self>,
        server: &'a mut S,
        ctx: &'a mut ServerCtx<S>,
    ) -> BoxFuture<'a, Next> {
        let req = {
            let mut st = self.lock();
            match std::mem::replace(&mut *st, State::Done) {
                State::Queued(req, w) => {
                    *st = State::Handling(w);
                    req
                }
                // The caller gave up before the server got here: nothing to do.
                other => {
                    *st = other;
                    None
                }
            }
        };
        let caller = Caller { slot: self };
        Box::pin(async move {
            let Some(req) = req else {
                return Next::Noreply;
            };
            match server.handle_call(req, &caller, ctx).await {
                Reply::Reply(r) => {
                    caller.reply(r);
                    Next::Noreply
                }
                Reply::Continue(r) => {
                    caller.reply(r);
                    Next::Continue
                }
                Reply::Noreply => Next::Noreply,
                Reply::Stop(reason, r) => {
                    // OTP replies before terminate/2 runs.
                    if let Some(r) = r {
                        caller.reply(r);
                    }
                    Next::Stop(reason)
                }
            }
        })
    }

    fn release(&self) {
        ReplySlot::release(self);
    }

    fn unsend(&self) -> Box<dyn Any + Send> {
        let mut st = self.lock();
        let req = match &mut *st {
            State::Queued(req, _) => req.take(),
            _ => None,
        };
        *st = State::Done;
        Box::new(req)
    }
}

/// Who made a call (OTP's `From`): reply to it with [`reply`](Self::reply), now or later.
///
/// [`Call::handle_call`] gets a reference; clone it to reply after the callback returned
/// [`Reply::Noreply`] (from another callback, or another process: OTP's `gen_server:reply/2`).
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
    /// Sends the reply (`gen_server:reply/2`). Returns `false` when the caller no longer waits
    /// (it timed out) or was answered already.
    pub fn reply(&self, reply: R) -> bool {
        self.slot.put(reply)
    }
}

pub(crate) trait CastDispatch<S: Server>: Send {
    fn dispatch<'a>(
        self: Box<Self>,
        server: &'a mut S,
        ctx: &'a mut ServerCtx<S>,
    ) -> BoxFuture<'a, Next>;
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

pub(crate) struct CastBox<M>(pub(crate) M);

impl<S, M> CastDispatch<S> for CastBox<M>
where
    S: Cast<M>,
    M: Send + 'static,
{
    fn dispatch<'a>(
        self: Box<Self>,
        server: &'a mut S,
        ctx: &'a mut ServerCtx<S>,
    ) -> BoxFuture<'a, Next> {
        Box::pin(server.handle_cast(self.0, ctx))
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        Box::new(self.0)
    }
}

impl<S: Server> Kind<S> {
    /// The request of a call that could not be sent.
    pub(crate) fn unsent_call<Req: 'static>(self) -> Option<Req> {
        match self {
            Kind::Call(mut env) => {
                let cell = env.0.take()?;
                cell.unsend()
                    .downcast::<Option<Req>>()
                    .ok()
                    .and_then(|b| *b)
            }
            _ => None,
        }
    }

    /// The message of a cast that could not be sent.
    pub(crate) fn unsent_cast<M: 'static>(self) -> Option<M> {
        match self {
            Kind::Cast(b) => b.into_any().downcast::<M>().ok().map(|b| *b),
            _ => None,
        }
    }
}
