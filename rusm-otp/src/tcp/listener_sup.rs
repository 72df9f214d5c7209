//! The listener supervisor: its start ([`Runtime::listen`], a listener as a child spec), the
//! subtree it runs (the connections supervisor, then the acceptors), and the runtime's list of
//! running listeners.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use super::acceptor_pool;
use super::config::ListenerConfig;
use super::connections_sup;
use super::handshake;
use super::listener::{Control, Listener, Listeners};
use super::shared::{ConnectionFn, Shared};
use super::socket::bind;
use super::stream::TcpStream;
use crate::exit::{ExitReason, IntoExitReason};
use crate::lock::Unpoisoned;
use crate::process::mailbox::Ctx;
use crate::runtime::Runtime;
use crate::supervisor::{
    ChildSpec, ChildType, Shutdown, Started, Starter, StopHook, Strategy, SupervisorSpec,
};

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
    pub(crate) fn child_spec_of<M, H>(self, id: impl Into<Arc<str>>, handler: H) -> ChildSpec
    where
        M: Send + 'static,
        H: ConnectionFn<M> + Clone,
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
pub(crate) async fn start_listener<M, H>(
    rt: &Arc<crate::runtime::Inner>,
    parent: Option<Arc<crate::process::cell::Cell>>,
    config: ListenerConfig,
    handler: H,
) -> io::Result<(SocketAddr, Listener)>
where
    M: Send + 'static,
    H: ConnectionFn<M>,
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
        let listeners = runtime_inner.slot::<Listeners>();
        let mut listeners = listeners.0.locked();
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
    let listeners = rt.slot::<Listeners>();
    let mut listeners = listeners.0.locked();
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
    /// [`listen`](Self::listen) and [`ListenerBuilder`](crate::ListenerBuilder), and those started as child specs
    /// inside a supervision tree, which have no other handle.
    pub fn listeners(&self) -> Vec<Listener> {
        self.inner.slot::<Listeners>().0.locked().clone()
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
            .slot::<Listeners>()
            .0
            .locked()
            .iter()
            .find(|l| l.local_addr() == addr)
            .cloned()
    }
}

/// The listener's supervisor spec: `rest_for_one [connections, acceptors]`.
fn listener_spec<M, H>(
    control: Arc<Control>,
    config: ListenerConfig,
    handshake: Option<handshake::Handshake>,
    handler: H,
) -> SupervisorSpec
where
    M: Send + 'static,
    H: ConnectionFn<M>,
{
    let n = config.acceptors;
    let shared = Arc::new(Shared {
        control,
        handler,
        config,
        handshake,
    });
    SupervisorSpec::new(Strategy::RestForOne)
        .child(connections_sup::spec(&shared))
        .child(ChildSpec::supervisor(
            "acceptors",
            acceptor_pool::spec(&shared, n),
        ))
}
