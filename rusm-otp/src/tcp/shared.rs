//! [`Shared`]: what a listener's acceptors and connection processes share.

use std::future::Future;
use std::sync::Arc;

use super::config::ListenerConfig;
use super::handshake;
use super::listener::Control;
use super::stream::TcpStream;
use crate::exit::IntoExitReason;
use crate::process::mailbox::Ctx;

/// What the acceptors of one listener share: its control block, the handler, the options,
/// and the handshake its connections run first (`None`: plain TCP, straight to the handler).
pub(crate) struct Shared<H> {
    pub(crate) control: Arc<Control>,
    pub(crate) handler: H,
    pub(crate) config: ListenerConfig,
    pub(crate) handshake: Option<handshake::Handshake>,
}

/// A connection handler as the listener's internals hold it: called once per accepted
/// connection, in the connection's process, with its context and its stream; what it returns
/// is the process's exit reason. The one spelling of that bound inside the crate (the public
/// starts write it out, so that a closure's argument types are inferred from it).
pub(crate) trait ConnectionFn<M>:
    Fn(Ctx<M>, TcpStream) -> Self::Fut + Send + Sync + 'static
{
    /// The future one call returns.
    type Fut: Future<Output = Self::Out> + Send + 'static;
    /// What the future gives, turned into the exit reason.
    type Out: IntoExitReason;
}

impl<M, H, Fut> ConnectionFn<M> for H
where
    H: Fn(Ctx<M>, TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoExitReason,
{
    type Fut = Fut;
    type Out = Fut::Output;
}
