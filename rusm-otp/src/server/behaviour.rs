//! The behaviour: [`Server`], [`Call`], [`Cast`], what their callbacks return and get
//! ([`ServerCtx`]), a server's address ([`ServerRef`]) and what travels in its mailbox.
//! One file: the traits and the types their signatures name refer to each other.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::caller::Caller;
use crate::call::TimerRef;
use crate::exit::ExitReason;
use crate::pid::Pid;
use crate::process::addr::{Addr, ProcessHandle};
use crate::process::mailbox::Ctx;
use crate::process::queue::Msg;

/// What [`Server::init`] returns (`init/1`'s results).
#[derive(Debug)]
pub enum Init<S> {
    /// Started with this state (`{ok, State}`).
    Ok(S),
    /// Started with this state; [`Server::handle_continue`] runs before any message is handled
    /// (`{ok, State, {continue, C}}`), and after the starter got its reply.
    Continue(S),
    /// Do not start (`ignore`): the start returns [`StartError::Ignored`](crate::StartError::Ignored),
    /// a supervisor keeps the child as not running.
    Ignore,
    /// Fail the start with this reason (`{stop, Reason}`, `{error, Reason}`): the start returns
    /// [`StartError::Failed`](crate::StartError::Failed), a supervisor sees a failed start.
    Stop(ExitReason),
}

/// What [`Call::handle_call`] returns (`handle_call/3`'s results).
#[derive(Debug)]
pub enum Reply<R> {
    /// Reply with this value (`{reply, Reply, State}`).
    Reply(R),
    /// Reply, then run [`Server::handle_continue`] before the next message
    /// (`{reply, Reply, State, {continue, C}}`).
    Continue(R),
    /// No reply now (`{noreply, State}`): whoever holds a clone of the [`Caller`] replies later
    /// with [`Caller::reply`], or the call times out.
    Noreply,
    /// Stop the server with `reason` after sending `reply`, if any (`{stop, Reason, Reply,
    /// State}`, `{stop, Reason, State}`); [`Server::terminate`] runs first.
    Stop(ExitReason, Option<R>),
}

/// What [`Cast::handle_cast`], [`Server::handle_info`] and [`Server::handle_continue`] return
/// (`{noreply, State}` and its variants).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Wait for the next message (`{noreply, State}`).
    Noreply,
    /// Run [`Server::handle_continue`] before the next message (`{noreply, State, {continue, C}}`).
    Continue,
    /// Stop with this reason (`{stop, Reason, State}`); [`Server::terminate`] runs first.
    Stop(ExitReason),
}

/// A server (OTP's `gen_server`): a state, built by [`init`](Self::init), that handles the
/// requests it implements [`Call`] and [`Cast`] for, and other messages in
/// [`handle_info`](Self::handle_info). See the [module docs](crate::server).
///
/// Callbacks are written as `async fn`; each runs to completion before the next message is
/// taken, as in OTP. A callback that panics ends the server with
/// [`ExitReason::Panic`] after [`terminate`](Self::terminate) has run.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a RUSM server",
    label = "not a server",
    note = "implement `rusm::server::Server` for `{Self}` (its `Args`, `Info` and `async fn init`)"
)]
pub trait Server: Sized + Send + 'static {
    /// What [`init`](Self::init) is started with.
    type Args: Send + 'static;
    /// The plain messages the server accepts ([`ServerRef::send`](crate::ServerRef::send),
    /// timers); `()` when it takes none.
    type Info: Send + 'static;

    /// Builds the state (`init/1`). Runs in the new process; the start returns only after it.
    fn init(args: Self::Args, ctx: &mut ServerCtx<Self>)
        -> impl Future<Output = Init<Self>> + Send;

    /// Handles a plain message, a trapped exit signal or a `Down` (`handle_info/2`).
    ///
    /// The default, as OTP's when `handle_info/2` is not exported, logs and ignores the
    /// message. An exit signal from the server's parent never reaches here: the server
    /// terminates with its reason, as a `gen_server` does.
    fn handle_info(
        &mut self,
        msg: Msg<Self::Info>,
        ctx: &mut ServerCtx<Self>,
    ) -> impl Future<Output = Next> + Send {
        let what = match &msg {
            Msg::User(_) => "message",
            Msg::Exit(_) => "exit signal",
            Msg::Down(_) => "down",
        };
        tracing::warn!(pid = %ctx.pid(), server = std::any::type_name::<Self>(), what, "unhandled info");
        std::future::ready(Next::Noreply)
    }

    /// Post-init or post-callback work asked for with a `Continue` result
    /// (`handle_continue/2`); keep what it needs in the state. The default does nothing.
    fn handle_continue(&mut self, ctx: &mut ServerCtx<Self>) -> impl Future<Output = Next> + Send {
        let _ = ctx;
        std::future::ready(Next::Noreply)
    }

    /// Cleans up before the server exits with `reason` (`terminate/2`); see the
    /// [module docs](crate::server) for when it runs. The default does nothing.
    fn terminate(
        &mut self,
        reason: &ExitReason,
        ctx: &mut ServerCtx<Self>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (reason, ctx);
        std::future::ready(())
    }
}

/// A server that answers requests of type `Req` with a [`Reply`](Self::Reply)
/// (`handle_call/3` for one request shape).
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not handle calls of `{Req}`",
    label = "no `Call<{Req}>` for this server",
    note = "implement `rusm::server::Call<{Req}>` for `{Self}`, or send a request it handles"
)]
pub trait Call<Req: Send + 'static>: Server {
    /// The reply's type: what `call` returns.
    type Reply: Send + 'static;

    /// Handles one request. `caller` identifies the caller; clone it to reply later
    /// ([`Reply::Noreply`], then [`Caller::reply`]).
    fn handle_call(
        &mut self,
        req: Req,
        caller: &Caller<Self::Reply>,
        ctx: &mut ServerCtx<Self>,
    ) -> impl Future<Output = Reply<Self::Reply>> + Send;
}

/// A server that takes requests of type `Msg` without replying (`handle_cast/2`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not handle casts of `{Msg}`",
    label = "no `Cast<{Msg}>` for this server",
    note = "implement `rusm::server::Cast<{Msg}>` for `{Self}`, or send a message it handles"
)]
pub trait Cast<Msg: Send + 'static>: Server {
    /// Handles one cast.
    fn handle_cast(
        &mut self,
        msg: Msg,
        ctx: &mut ServerCtx<Self>,
    ) -> impl Future<Output = Next> + Send;
}

/// The context of a server's callbacks: its own [`ServerRef`], timers, and through `Deref`
/// everything a process context offers that does not receive (pid, `trap_exit`, links,
/// monitors, spawning, the runtime).
///
/// Receiving is the server loop's job: callbacks never receive themselves, as in OTP.
pub struct ServerCtx<S: Server> {
    pub(crate) ctx: Ctx<Envelope<S>>,
    /// The process that started the server linked (its supervisor): an exit signal from it
    /// terminates the server, as `gen_server` does with its parent.
    pub(crate) parent: Option<Pid>,
}

impl<S: Server> fmt::Debug for ServerCtx<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerCtx")
            .field("pid", &self.ctx.pid())
            .field("parent", &self.parent)
            .finish()
    }
}

impl<S: Server> std::ops::Deref for ServerCtx<S> {
    type Target = Ctx<Envelope<S>>;
    fn deref(&self) -> &Ctx<Envelope<S>> {
        &self.ctx
    }
}

impl<S: Server> ServerCtx<S> {
    /// This server's own reference (`self()`), to hand to others.
    pub fn me(&self) -> ServerRef<S> {
        ServerRef {
            addr: self.ctx.myself(),
        }
    }

    /// The process that started this server linked, if any (its supervisor, OTP's parent).
    pub fn parent(&self) -> Option<Pid> {
        self.parent
    }

    /// Delivers `info` to this server's [`handle_info`](Server::handle_info) after `delay`
    /// (`erlang:send_after/3` to `self()`).
    pub fn send_after(&self, info: S::Info, delay: Duration) -> TimerRef {
        self.ctx
            .myself()
            .send_after(Envelope(Kind::Info(info)), delay)
    }
}

/// The address of a running server of type `S`: its requests are checked against the
/// [`Call`] and [`Cast`] impls of `S` at compile time.
///
/// Dereferences to its [`ProcessHandle`] (pid, kill, wait, monitorable); cloning is cheap.
pub struct ServerRef<S: Server> {
    pub(crate) addr: Addr<Envelope<S>>,
}

impl<S: Server> Clone for ServerRef<S> {
    fn clone(&self) -> Self {
        ServerRef {
            addr: self.addr.clone(),
        }
    }
}

impl<S: Server> fmt::Debug for ServerRef<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerRef")
            .field("server", &std::any::type_name::<S>())
            .field("pid", &self.addr.pid())
            .finish()
    }
}

impl<S: Server> std::ops::Deref for ServerRef<S> {
    type Target = ProcessHandle;
    fn deref(&self) -> &ProcessHandle {
        self.addr.handle()
    }
}

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
pub(crate) struct CallEnvelope<S: Server>(pub(crate) Option<Arc<dyn CallDispatch<S>>>);

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

pub(crate) trait CastDispatch<S: Server>: Send {
    fn dispatch<'a>(
        self: Box<Self>,
        server: &'a mut S,
        ctx: &'a mut ServerCtx<S>,
    ) -> BoxFuture<'a, Next>;
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}
