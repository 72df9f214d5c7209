//! TCP: [`Runtime::listen`] runs a supervised acceptor pool that gives every accepted
//! connection its own process; [`connect`] opens an outbound connection.
//!
//! The listener is a supervision subtree shaped like ranch's:
//!
//! ```text
//! listener (rest_for_one)
//! ├── connections (dynamic)        started first; one temporary process per connection
//! └── acceptors (one_for_one)      intensity 1 + ceil(log2 N), as ranch
//!     └── acceptor × N             accept → start a connection process → loop
//! ```
//!
//! The listening socket is owned above the acceptors, so an acceptor crash (restarted by the
//! acceptors supervisor) closes neither the socket nor any connection. A connection process
//! that panics, errors, stalls or is killed ends alone: it is a temporary child.
//!
//! **Max connections** is listener-wide and exact: it counts connection processes alive.
//! At the limit the acceptors stop accepting and new clients wait in the kernel's backlog
//! until a connection ends — backpressure, never accept-then-close.
//!
//! **Accept errors** (see `accept_error_class`): out of file descriptors or memory
//! (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`) back off 100 ms and warn at most once a second;
//! errors of one pending connection (`ECONNABORTED` and the other accept(2) network errors)
//! are retried at once; a dead listening socket ends the acceptor for its supervisor to decide.
//!
//! **Handshakes** ([PROXY protocol](ListenerConfig::proxy_protocol) header, then
//! [TLS](ListenerConfig::tls)) run in each connection's own process, before its handler and
//! under the [handshake timeout](ListenerConfig::handshake_timeout): acceptors only accept, so
//! no handshake, however slow or malformed, delays another connection.

mod acceptor;
mod connection;
mod handler;
mod handshake;
mod listener;
mod proxy_protocol;
mod stream;
#[cfg(feature = "tls")]
mod tls;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::exit::{ExitReason, IntoExitReason};
use crate::lock::Unpoisoned;
use crate::process::Ctx;
use crate::runtime::Runtime;
use crate::supervisor::start_dynamic;
use crate::supervisor::{
    ChildSpec, ChildType, DynamicSupervisorSpec, Shutdown, Started, Starter, StopHook, Strategy,
    SupervisorSpec,
};
pub use handler::{Handler, HandlerOptions, ListenerBuilder};
pub(crate) use listener::Control;
pub use listener::{AcceptErrors, Listener, ListenerInfo};
pub use proxy_protocol::{ProxyCommand, ProxyHeader};
pub use stream::TcpStream;
#[cfg(feature = "tls")]
pub use tls::TlsConfig;

/// Listener options. Defaults: 2 acceptors, 16,384 max connections, backlog 1024,
/// `TCP_NODELAY` on, `SO_REUSEADDR` on, no `SO_REUSEPORT`, normal close, 5 s drain, no idle
/// timeout, plain TCP (no TLS, no PROXY protocol header), 10 s handshake timeout.
///
/// Two acceptors (not ranch's 10): tokio wakes every task waiting on one listener for each
/// connection, so more acceptors on one socket only add wake-ups.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// Address to bind, `HOST:PORT`; port 0 picks a free port.
    pub addr: String,
    /// Number of acceptor processes.
    pub acceptors: usize,
    /// Connection processes alive at most; values from [`u32::MAX`] up (e.g. `usize::MAX`)
    /// mean unlimited, ranch's `infinity`.
    pub max_connections: usize,
    /// The listen backlog (`listen(2)`).
    pub backlog: u32,
    /// `TCP_NODELAY` on accepted sockets.
    pub nodelay: bool,
    /// Close accepted sockets with a reset (`SO_LINGER` 0: no TIME_WAIT, unsent data dropped).
    pub close_with_reset: bool,
    /// `SO_REUSEPORT`, so several OS processes can share the port.
    pub reuse_port: bool,
    /// How long connections get to finish when the listener stops.
    pub drain_timeout: Duration,
    /// Restart intensity of the acceptors supervisor; `None`: ranch's `1 + ceil(log2 N)` for
    /// N acceptors.
    pub acceptor_intensity: Option<u32>,
    /// The period of that intensity (whole seconds, at least 1). Default 5 s.
    pub acceptor_period: Duration,
    /// Slowloris protection: a connection whose peer sends no byte for this long (counted
    /// from accept) exits with an `Error(TimedOut)` reason and frees its slot. Only bytes
    /// received reset the clock, not writes. Off (`None`) by default.
    pub idle_timeout: Option<Duration>,
    /// TLS: every connection's process runs a TLS handshake before its handler, and the
    /// handler's [`TcpStream`] is TLS. `None`: plain TCP. (Feature `tls`.)
    #[cfg(feature = "tls")]
    pub tls: Option<TlsConfig>,
    /// Expect a PROXY protocol header (v1 or v2, told apart by its first bytes) at the start
    /// of every connection, before TLS: the handler's [`TcpStream::peer_addr`] is then the
    /// client's address it carries and [`TcpStream::proxy_addr`] the proxy's. A connection
    /// without a well-formed header ends with a [`HandshakeError`](crate::HandshakeError).
    /// Only turn it on behind a proxy that always sends one: anyone who can connect could
    /// otherwise claim any address.
    pub proxy_protocol: bool,
    /// How long a connection's process has, from its start, to read the PROXY header and
    /// finish the TLS handshake; then it ends with a `TimedOut`
    /// [`HandshakeError`](crate::HandshakeError) and frees its slot. Default 10 s.
    pub handshake_timeout: Duration,
}

impl ListenerConfig {
    /// Defaults for `addr`.
    pub fn new(addr: impl Into<String>) -> Self {
        ListenerConfig {
            addr: addr.into(),
            acceptors: 2,
            max_connections: 16_384,
            backlog: 1024,
            nodelay: true,
            close_with_reset: false,
            reuse_port: false,
            drain_timeout: Duration::from_secs(5),
            idle_timeout: None,
            acceptor_intensity: None,
            acceptor_period: Duration::from_secs(5),
            #[cfg(feature = "tls")]
            tls: None,
            proxy_protocol: false,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// Sets the number of acceptors.
    pub fn acceptors(mut self, n: usize) -> Self {
        self.acceptors = n;
        self
    }

    /// Sets max connections.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// Sets the listen backlog.
    pub fn backlog(mut self, n: u32) -> Self {
        self.backlog = n;
        self
    }

    /// Sets `TCP_NODELAY`.
    pub fn nodelay(mut self, on: bool) -> Self {
        self.nodelay = on;
        self
    }

    /// Close accepted sockets with a reset.
    pub fn close_with_reset(mut self, on: bool) -> Self {
        self.close_with_reset = on;
        self
    }

    /// Sets `SO_REUSEPORT`.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// Sets the drain timeout.
    pub fn drain_timeout(mut self, d: Duration) -> Self {
        self.drain_timeout = d;
        self
    }

    /// Sets the acceptors supervisor's restart intensity: at most `intensity` acceptor
    /// restarts within `period`, or the listener restarts them all.
    pub fn acceptor_intensity(mut self, intensity: u32, period: Duration) -> Self {
        self.acceptor_intensity = Some(intensity);
        self.acceptor_period = period;
        self
    }

    /// Sets the idle timeout (`None`: off).
    pub fn idle_timeout(mut self, d: Option<Duration>) -> Self {
        self.idle_timeout = d;
        self
    }

    /// Serves TLS with `tls` (feature `tls`); see [`TlsConfig`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use rusm_otp::{ListenerConfig, Runtime, TlsConfig};
    /// use tokio::io::AsyncWriteExt;
    ///
    /// let rt = Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let config = ListenerConfig::new("0.0.0.0:8443")
    ///         .tls(TlsConfig::pem_files("cert.pem", "key.pem").alpn(["http/1.1"]));
    ///     let (_addr, listener) = rt
    ///         .listen_with(config, |_ctx, mut stream| async move {
    ///             // Plain bytes here: the process did the TLS handshake before calling us.
    ///             stream.write_all(b"hello over TLS\n").await
    ///         })
    ///         .await
    ///         .expect("cert.pem and key.pem exist"); // else: "tls certificate file `cert.pem`: not found"
    ///     listener.wait().await;
    /// });
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Expects a PROXY protocol header first on every connection; see
    /// [`proxy_protocol`](Self::proxy_protocol).
    ///
    /// # Examples
    ///
    /// ```
    /// use rusm_otp::{ListenerConfig, Runtime};
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// let rt = Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let config = ListenerConfig::new("127.0.0.1:0").proxy_protocol(true);
    ///     let (addr, listener) = rt
    ///         .listen_with(config, |_ctx, mut stream| async move {
    ///             // The client's address, from the header; the proxy's is `proxy_addr()`.
    ///             let client = stream.peer_addr()?.to_string();
    ///             stream.write_all(client.as_bytes()).await
    ///         })
    ///         .await
    ///         .unwrap();
    ///     // What HAProxy's `send-proxy` writes before the client's bytes.
    ///     let mut proxy = tokio::net::TcpStream::connect(addr).await.unwrap();
    ///     proxy
    ///         .write_all(b"PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\n")
    ///         .await
    ///         .unwrap();
    ///     let mut seen = String::new();
    ///     proxy.read_to_string(&mut seen).await.unwrap();
    ///     assert_eq!(seen, "203.0.113.7:51234");
    ///     listener.kill();
    /// });
    /// ```
    pub fn proxy_protocol(mut self, on: bool) -> Self {
        self.proxy_protocol = on;
        self
    }

    /// Sets the handshake timeout.
    pub fn handshake_timeout(mut self, d: Duration) -> Self {
        self.handshake_timeout = d;
        self
    }

    fn validate(&self) -> io::Result<()> {
        let bad = |m: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, m.to_string()));
        if self.acceptors == 0 || self.acceptors > 1024 {
            return bad("acceptors must be between 1 and 1024");
        }
        if self.max_connections == 0 {
            return bad("max_connections must be at least 1 (usize::MAX: unlimited)");
        }
        if self.backlog == 0 {
            return bad("backlog must be at least 1");
        }
        if self.acceptor_period.as_secs() == 0 {
            return bad("acceptor_period must be at least 1 second");
        }
        if self.idle_timeout == Some(Duration::ZERO) {
            return bad("idle_timeout must be longer than zero (None turns it off)");
        }
        if self.handshake_timeout.is_zero() {
            return bad("handshake_timeout must be longer than zero");
        }
        Ok(())
    }
}

/// The default [`ListenerConfig::handshake_timeout`]: 10 s, as ranch's `handshake_timeout`
/// for TLS and Thousand Island's.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Max connections meaning "unlimited": more than any process can hold file descriptors for,
/// and small enough that lowering from it retires slots in one semaphore call.
pub(crate) const UNLIMITED: usize = u32::MAX as usize;

/// Binds a listening socket with the config's options.
pub(crate) fn bind(config: &ListenerConfig) -> io::Result<TcpListener> {
    use std::net::ToSocketAddrs;
    let addr = config
        .addr
        .to_socket_addrs()
        .map_err(|e| io::Error::new(e.kind(), format!("bad address `{}`: {e}", config.addr)))?
        .next()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("address `{}` resolves to nothing", config.addr),
            )
        })?;
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    if config.reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket
        .bind(&addr.into())
        .map_err(|e| io::Error::new(e.kind(), format!("cannot bind {addr}: {e}")))?;
    socket.listen(config.backlog.min(i32::MAX as u32) as i32)?;
    TcpListener::from_std(socket.into())
}

/// What the acceptors of one listener share: its control block, the handler, the options,
/// and the handshake its connections run first (`None`: plain TCP, straight to the handler).
pub(crate) struct Shared<H> {
    pub(crate) control: Arc<Control>,
    pub(crate) handler: H,
    pub(crate) config: ListenerConfig,
    pub(crate) handshake: Option<handshake::Handshake>,
}

impl Runtime {
    /// Listens on `addr` with the default [`ListenerConfig`]; every accepted connection runs
    /// `handler(ctx, stream)` in its own process. Returns the bound address and the listener's
    /// handle: killing it stops listening at once.
    ///
    /// # Errors
    ///
    /// A bad address, a port in use, a privileged port: the `io::Error`, naming the address.
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe. At the first poll, before its one await, it checks the
    /// options, reads the TLS files, resolves the address, binds the socket (it listens from
    /// then on: connects wait in its backlog) and spawns the listener's supervisor, which goes
    /// on to start its connections supervisor and acceptors. Dropping the future then stops
    /// none of it: the listener serves with no [`Listener`] returned, missing from
    /// [`listeners`](Self::listeners) and [`tree`](Self::tree). Its process is registered as
    /// `listener <addr>`: [`whereis`](Self::whereis) finds it, and killing it closes the
    /// socket. Dropped before its first poll, the future binds nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use rusm_otp::Runtime;
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// let rt = Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let (addr, listener) = rt
    ///         .listen("127.0.0.1:0", |_ctx, mut stream| async move {
    ///             let mut buf = [0u8; 64];
    ///             let n = stream.read(&mut buf).await?;
    ///             stream.write_all(&buf[..n]).await
    ///         })
    ///         .await
    ///         .unwrap();
    ///     let mut c = rusm_otp::connect(addr).await.unwrap();
    ///     c.write_all(b"ping").await.unwrap();
    ///     let mut out = [0u8; 4];
    ///     c.read_exact(&mut out).await.unwrap();
    ///     assert_eq!(&out, b"ping");
    ///     listener.kill();
    /// });
    /// ```
    pub async fn listen<H, Fut>(&self, addr: &str, handler: H) -> io::Result<(SocketAddr, Listener)>
    where
        H: Fn(Ctx, TcpStream) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future + Send + 'static,
        Fut::Output: IntoExitReason,
    {
        self.listen_with(ListenerConfig::new(addr), handler).await
    }

    /// Listens with explicit options. See [`listen`](Self::listen).
    ///
    /// # Errors
    ///
    /// As [`listen`](Self::listen), and `InvalidInput` for zero acceptors, max connections or
    /// backlog.
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe, as [`listen`](Self::listen): once polled, the socket is
    /// bound and the listener started, whether or not the future is dropped.
    pub async fn listen_with<H, Fut>(
        &self,
        config: ListenerConfig,
        handler: H,
    ) -> io::Result<(SocketAddr, Listener)>
    where
        H: Fn(Ctx, TcpStream) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future + Send + 'static,
        Fut::Output: IntoExitReason,
    {
        start_listener(&self.inner, None, config, handler).await
    }
}

impl ListenerConfig {
    /// The listener as a child spec with id `id`, to put anywhere in a supervision tree: a
    /// supervisor child that binds its socket each time it starts (a restart binds again).
    /// [`Runtime::listen_with`] starts the same subtree as a root.
    ///
    /// # Examples
    ///
    /// ```
    /// use rusm_otp::{ListenerConfig, Runtime, Strategy, SupervisorSpec};
    ///
    /// let rt = Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let web = ListenerConfig::new("127.0.0.1:0")
    ///         .child_spec("web", |_ctx, _stream| async {});
    ///     let app = rt
    ///         .start_supervisor(SupervisorSpec::new(Strategy::OneForOne).child(web))
    ///         .await
    ///         .unwrap();
    ///     assert!(rt.tree().find("acceptors").is_some());
    ///     app.stop().await;
    /// });
    /// ```
    pub fn child_spec<H, Fut>(self, id: impl Into<Arc<str>>, handler: H) -> ChildSpec
    where
        H: Fn(Ctx, TcpStream) -> Fut + Send + Sync + Clone + 'static,
        Fut: std::future::Future + Send + 'static,
        Fut::Output: IntoExitReason,
    {
        self.child_spec_of(id, handler)
    }

    /// [`child_spec`](Self::child_spec) for connection processes with a mailbox of `M`.
    pub(crate) fn child_spec_of<H, M, Fut>(self, id: impl Into<Arc<str>>, handler: H) -> ChildSpec
    where
        M: Send + 'static,
        H: Fn(Ctx<M>, TcpStream) -> Fut + Send + Sync + Clone + 'static,
        Fut: std::future::Future + Send + 'static,
        Fut::Output: IntoExitReason,
    {
        ChildSpec::from_start(id, ChildType::Supervisor, move |s: Starter| {
            let (config, handler) = (self.clone(), handler.clone());
            async move {
                let (_, listener) = start_listener(&s.rt, Some(s.parent.clone()), config, handler)
                    .await
                    .map_err(|e| crate::StartError::Exited(ExitReason::error(e)))?;
                Ok(Started::from(listener.sup))
            }
        })
        .shutdown(Shutdown::Infinity)
    }
}

/// Binds the socket and starts the listener subtree under `parent` (a root when `None`).
pub(crate) async fn start_listener<H, M, Fut>(
    rt: &Arc<crate::runtime::Inner>,
    parent: Option<Arc<crate::process::cell::Cell>>,
    config: ListenerConfig,
    handler: H,
) -> io::Result<(SocketAddr, Listener)>
where
    M: Send + 'static,
    H: Fn(Ctx<M>, TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future + Send + 'static,
    Fut::Output: IntoExitReason,
{
    config.validate()?;
    // TLS files are read before binding: a missing one fails the start, naming it.
    let handshake = handshake::Handshake::new(&config)?;
    let control = Arc::new(Control::new(bind(&config)?, &config)?);
    let local = control.addr;
    let is_root = parent.is_none();
    // Listeners sharing a port with SO_REUSEPORT get a number after the first one's name.
    let mut name = format!("listener {local}");
    let runtime = Runtime::borrowed(rt.clone());
    let mut n = 2;
    while config.reuse_port && runtime.whereis(&name).is_some() {
        name = format!("listener {local} #{n}");
        n += 1;
    }
    let mut spec = listener_spec(control.clone(), config, handshake, handler).name(name);
    // Stop listening the moment the listener starts to stop (before its connections drain)
    // or is killed (before its exit is published): refused, not queued. It also leaves the
    // runtime's list of listeners.
    let (closing, runtime_inner) = (control.clone(), rt.clone());
    spec.on_stop = Some(StopHook::new(move || {
        closing.close_socket();
        let mut listeners = runtime_inner.listeners.locked();
        closing
            .stopped
            .store(true, std::sync::atomic::Ordering::Release);
        listeners.retain(|l| !Arc::ptr_eq(&l.control, &closing));
    }));
    let sup = crate::supervisor::start_supervisor(rt, parent, spec)
        .await
        .map_err(|e| io::Error::other(format!("listener on {local} failed to start: {e}")))?;
    tracing::info!(addr = %local, pid = %sup.pid(), root = is_root, "listening");
    let listener = Listener {
        handle: (*sup).clone(),
        sup,
        control,
    };
    // Unless it has stopped already: its stop hook sets the flag under the same lock.
    let mut listeners = rt.listeners.locked();
    if !listener
        .control
        .stopped
        .load(std::sync::atomic::Ordering::Acquire)
    {
        listeners.push(listener.clone());
    }
    drop(listeners);
    Ok((local, listener))
}

impl Runtime {
    /// The listeners running on this runtime, in start order: those started with
    /// [`listen`](Self::listen) and [`ListenerBuilder`], and those started as child specs
    /// inside a supervision tree, which have no other handle.
    pub fn listeners(&self) -> Vec<Listener> {
        self.inner.listeners.locked().clone()
    }

    /// The running listener bound to `addr` (the first one, when several share the port).
    ///
    /// # Examples
    ///
    /// ```
    /// use rusm_otp::{ListenerConfig, Runtime, Strategy, SupervisorSpec};
    ///
    /// let rt = Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let web = ListenerConfig::new("127.0.0.1:0").child_spec("web", |_ctx, _s| async {});
    ///     let app = rt
    ///         .start_supervisor(SupervisorSpec::new(Strategy::OneForOne).child(web))
    ///         .await
    ///         .unwrap();
    ///     let addr = rt.listeners()[0].local_addr();
    ///     let web = rt.listener(addr).unwrap();
    ///     assert_eq!(web.info().connections, 0);
    ///     app.stop().await;
    ///     assert!(rt.listener(addr).is_none());
    /// });
    /// ```
    pub fn listener(&self, addr: SocketAddr) -> Option<Listener> {
        self.inner
            .listeners
            .locked()
            .iter()
            .find(|l| l.local_addr() == addr)
            .cloned()
    }
}

/// The listener's supervisor spec: `rest_for_one [connections, acceptors]`.
fn listener_spec<H, M, Fut>(
    control: Arc<Control>,
    config: ListenerConfig,
    handshake: Option<handshake::Handshake>,
    handler: H,
) -> SupervisorSpec
where
    M: Send + 'static,
    H: Fn(Ctx<M>, TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future + Send + 'static,
    Fut::Output: IntoExitReason,
{
    let n = config.acceptors;
    let shared = Arc::new(Shared {
        control,
        handler,
        config,
        handshake,
    });
    let conns_shared = shared.clone();
    let conns = ChildSpec::from_start("connections", ChildType::Supervisor, move |s: Starter| {
        let shared = conns_shared.clone();
        async move {
            let sup =
                start_dynamic(&s.rt, Some(s.parent.clone()), DynamicSupervisorSpec::new()).await?;
            *shared.control.conns.locked() = Some(sup.clone());
            Ok(Started::from(sup))
        }
    })
    .shutdown(Shutdown::Infinity);
    // ranch_acceptors_sup: intensity 1 + ceil(log2 N) in 5 s, acceptors brutal_kill.
    let intensity = shared
        .config
        .acceptor_intensity
        .unwrap_or(1 + (usize::BITS - (n.max(1) - 1).leading_zeros()));
    let mut acceptors = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(intensity, shared.config.acceptor_period);
    for i in 0..n {
        let shared = shared.clone();
        acceptors = acceptors.child(
            ChildSpec::worker(format!("acceptor-{i}"), move |ctx: Ctx<()>| {
                acceptor::run(ctx, shared.clone())
            })
            .shutdown(Shutdown::BrutalKill),
        );
    }
    SupervisorSpec::new(Strategy::RestForOne)
        .child(conns)
        .child(ChildSpec::supervisor("acceptors", acceptors))
}

/// Opens a TCP connection (an outbound socket for a process to own).
///
/// # Errors
///
/// The `io::Error` of the connect, e.g. `ConnectionRefused`.
///
/// # Cancel safety
///
/// This method is cancel safe: dropping the future closes the socket it was connecting, if
/// any, and sends nothing on it (a peer that had already accepted the connection sees it
/// closed). A name lookup still running finishes on tokio's blocking pool, its result unused.
pub async fn connect(addr: impl tokio::net::ToSocketAddrs) -> io::Result<TcpStream> {
    tokio::net::TcpStream::connect(addr)
        .await
        .map(TcpStream::from)
}
