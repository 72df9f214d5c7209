//! [`Handler`]: a connection handler as a type, with its own options and shared state —
//! what `#[rusm::connection]` generates — and [`ListenerBuilder`], which runs one.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::error::StartError;
use crate::exit::{ExitReason, IntoExitReason};
use crate::process::mailbox::Ctx;
use crate::runtime::Runtime;
use crate::supervisor::{ChildSpec, ChildType};
use crate::tcp::config::ListenerConfig;
use crate::tcp::listener::Listener;
use crate::tcp::stream::TcpStream;

/// Per-connection settings that belong to a handler rather than to a listener.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HandlerOptions {
    /// Overrides [`ListenerConfig::idle_timeout`] when set.
    pub idle_timeout: Option<Duration>,
    /// Overrides [`ListenerConfig::close_with_reset`] when set.
    pub close_with_reset: Option<bool>,
}

/// A connection handler: runs once per accepted connection, in that connection's process.
///
/// `#[rusm::connection]` implements it for the unit struct it makes of an `async fn`; any
/// type can implement it by hand. The handler is a type, not a value: what connections share
/// is its [`State`](Self::State).
///
/// # Examples
///
/// ```
/// use std::future::Future;
/// use std::sync::Arc;
/// use rusm_otp::{Ctx, Handler, HandlerOptions, TcpStream};
///
/// struct Hello;
///
/// impl Handler for Hello {
///     type State = String;
///     type Output = std::io::Result<()>;
///     type Message = ();
///     fn call(
///         _ctx: Ctx,
///         mut stream: TcpStream,
///         greeting: Arc<String>,
///     ) -> impl Future<Output = Self::Output> + Send + 'static {
///         async move {
///             use tokio::io::AsyncWriteExt;
///             stream.write_all(greeting.as_bytes()).await
///         }
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a RUSM connection handler",
    label = "not a handler",
    note = "put `#[rusm::connection]` on its `async fn(ctx: Ctx, stream: TcpStream)`, or implement `rusm::Handler`"
)]
pub trait Handler: Send + Sync + 'static {
    /// State shared by every connection, handed in as `Arc<State>` ([`ListenerBuilder::state`]).
    type State: Send + Sync + 'static;
    /// What the handler returns; it becomes the connection process's exit reason.
    type Output: IntoExitReason;
    /// The messages the connection's process takes in its mailbox (`()` for none): other
    /// processes reach a connection through the [`Addr`](crate::Addr) it hands out
    /// ([`Ctx::myself`]).
    type Message: Send + 'static;

    /// Serves one connection.
    fn call(
        ctx: Ctx<Self::Message>,
        stream: TcpStream,
        state: Arc<Self::State>,
    ) -> impl Future<Output = Self::Output> + Send + 'static;

    /// The handler's per-connection options.
    fn options() -> HandlerOptions {
        HandlerOptions::default()
    }

    /// The state to use when none was given; `None` makes [`ListenerBuilder::start`] fail
    /// with a message asking for one. `#[rusm::connection]` returns `Some` for handlers
    /// without a state parameter.
    fn default_state() -> Option<Arc<Self::State>> {
        None
    }
}

/// Starts a listener running a [`Handler`], as a root ([`start`](Self::start)) or as a child
/// spec ([`child_spec`](Self::child_spec)). `#[rusm::listener]` makes one with its options.
///
/// # Examples
///
/// ```
/// use std::future::Future;
/// use std::sync::Arc;
/// use rusm_otp::{Ctx, Handler, ListenerBuilder, ListenerConfig, Runtime, TcpStream};
///
/// struct Quiet;
/// impl Handler for Quiet {
///     type State = ();
///     type Output = ();
///     type Message = ();
///     fn call(_: Ctx, _: TcpStream, _: Arc<()>) -> impl Future<Output = ()> + Send + 'static {
///         async {}
///     }
/// }
///
/// let rt = Runtime::new().unwrap();
/// rt.block_on(async {
///     let (addr, listener) = ListenerBuilder::new(Quiet, ListenerConfig::new("127.0.0.1:0"))
///         .state(Arc::new(()))
///         .start(&rt)
///         .await
///         .unwrap();
///     assert_eq!(listener.local_addr(), addr);
///     listener.kill();
/// });
/// ```
#[derive(Debug)]
pub struct ListenerBuilder<H: Handler> {
    _handler: std::marker::PhantomData<H>,
    config: ListenerConfig,
    state: Option<Arc<H::State>>,
}

impl<H: Handler> ListenerBuilder<H> {
    /// A builder for `handler` with `config`; the handler's options override the config's.
    /// (`#[rusm::connection] async fn h` makes `h()` the handler's value.)
    pub fn new(handler: H, config: ListenerConfig) -> Self {
        let _ = handler;
        Self::of(config)
    }

    /// A builder for handler type `H` with `config`, when there is no value at hand:
    /// `ListenerBuilder::<h>::of(config)`.
    pub fn of(mut config: ListenerConfig) -> Self {
        let opts = H::options();
        if let Some(t) = opts.idle_timeout {
            config = config.idle_timeout(Some(t));
        }
        if let Some(r) = opts.close_with_reset {
            config = config.close_with_reset(r);
        }
        ListenerBuilder {
            _handler: std::marker::PhantomData,
            config,
            state: None,
        }
    }

    /// Listens on `addr` instead (from configuration or flags).
    pub fn addr(mut self, addr: impl Into<String>) -> Self {
        self.config = self.config.addr(addr);
        self
    }

    /// Changes any option.
    pub fn configure(mut self, f: impl FnOnce(ListenerConfig) -> ListenerConfig) -> Self {
        self.config = f(self.config);
        self
    }

    /// Serves TLS (feature `tls`): [`ListenerConfig::tls`].
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tcp::TlsConfig) -> Self {
        self.config = self.config.tls(tls);
        self
    }

    /// Expects a PROXY protocol header first: [`ListenerConfig::proxy_protocol`].
    pub fn proxy_protocol(mut self, on: bool) -> Self {
        self.config = self.config.proxy_protocol(on);
        self
    }

    /// The state every connection gets.
    pub fn state(mut self, state: Arc<H::State>) -> Self {
        self.state = Some(state);
        self
    }

    /// The options the listener will run with.
    pub fn config(&self) -> &ListenerConfig {
        &self.config
    }

    fn parts(self) -> io::Result<(ListenerConfig, impl HandlerFn<H::Message>)> {
        let state = self.state.or_else(H::default_state).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the handler of listener `{}` takes shared state: give it with `.state(Arc::new(...))`",
                    self.config.addr
                ),
            )
        })?;
        let f = move |ctx: Ctx<H::Message>, stream: TcpStream| H::call(ctx, stream, state.clone());
        Ok((self.config, f))
    }

    /// Starts the listener as a root of the supervision tree.
    ///
    /// # Errors
    ///
    /// As [`Runtime::listen_with`], and `InvalidInput` when the handler needs state and none
    /// was given.
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe, as [`Runtime::listen`]: at the first poll the socket
    /// is bound and the listener's supervisor spawned, and dropping the future then leaves the
    /// listener serving with no [`Listener`] returned.
    pub async fn start(self, rt: &Runtime) -> io::Result<(SocketAddr, Listener)> {
        let (config, f) = self.parts()?;
        crate::tcp::listener_sup::start_listener(&rt.inner, None, config, f).await
    }

    /// The listener as a child spec with id `id` (see [`ListenerConfig::child_spec`]). A
    /// handler that needs state and got none fails to start, saying so.
    pub fn child_spec(self, id: impl Into<Arc<str>>) -> ChildSpec {
        match self.parts() {
            Ok((config, f)) => config.child_spec_of(id, f),
            Err(e) => {
                let msg: Arc<str> = e.to_string().into();
                ChildSpec::from_start(id, ChildType::Supervisor, move |_| {
                    let msg = msg.clone();
                    async move { Err(StartError::Exited(ExitReason::error(msg.to_string()))) }
                })
            }
        }
    }
}

/// The closure a builder hands to the listener.
trait HandlerFn<M>: Fn(Ctx<M>, TcpStream) -> Self::Fut + Send + Sync + Clone + 'static {
    type Fut: Future<Output = Self::Out> + Send + 'static;
    type Out: IntoExitReason;
}

impl<F, M, Fut> HandlerFn<M> for F
where
    F: Fn(Ctx<M>, TcpStream) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoExitReason,
{
    type Fut = Fut;
    type Out = Fut::Output;
}
