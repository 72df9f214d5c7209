//! [`ServerCtx`]: what a server's callbacks get besides their state.

use std::fmt;
use std::time::Duration;

use crate::call::TimerRef;
use crate::process::{Ctx, Pid};
use crate::server::envelope::{Envelope, Kind};
use crate::server::{Server, ServerRef};

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
