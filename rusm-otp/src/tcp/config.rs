//! [`ListenerConfig`]: a listener's options, their defaults and their builder methods.

use std::io;
use std::time::Duration;

#[cfg(feature = "tls")]
use super::tls::TlsConfig;

/// Listener options. Defaults: 2 acceptors, 16,384 max connections, backlog 1024,
/// `TCP_NODELAY` on, `SO_REUSEADDR` on, no `SO_REUSEPORT`, normal close, 5 s drain, no idle
/// timeout, plain TCP (no TLS, no PROXY protocol header), 10 s handshake timeout.
///
/// Two acceptors (not ranch's 10): tokio wakes every task waiting on one listener for each
/// connection, so more acceptors on one socket only add wake-ups.
///
/// The one way to set an option is its builder method (what `#[rusm::listener]`'s keys
/// expand to, and what [`ListenerBuilder::configure`](crate::ListenerBuilder::configure)
/// takes); each is read back with its `get_` method, as `std::process::Command`'s are.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use rusm_otp::ListenerConfig;
///
/// let config = ListenerConfig::new("127.0.0.1:0")
///     .max_connections(10_000)
///     .idle_timeout(Some(Duration::from_secs(30)));
/// assert_eq!(config.get_max_connections(), 10_000);
/// assert_eq!(config.get_acceptors(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// Address to bind, `HOST:PORT`; port 0 picks a free port.
    pub(crate) addr: String,
    /// Number of acceptor processes.
    pub(crate) acceptors: usize,
    /// Connection processes alive at most; values from [`u32::MAX`] up (e.g. `usize::MAX`)
    /// mean unlimited, ranch's `infinity`.
    pub(crate) max_connections: usize,
    /// The listen backlog (`listen(2)`).
    pub(crate) backlog: u32,
    /// `TCP_NODELAY` on accepted sockets.
    pub(crate) nodelay: bool,
    /// Close accepted sockets with a reset (`SO_LINGER` 0: no TIME_WAIT, unsent data dropped).
    pub(crate) close_with_reset: bool,
    /// `SO_REUSEPORT`, so several OS processes can share the port.
    pub(crate) reuse_port: bool,
    /// How long connections get to finish when the listener stops.
    pub(crate) drain_timeout: Duration,
    /// Restart intensity of the acceptors supervisor; `None`: ranch's `1 + ceil(log2 N)` for
    /// N acceptors.
    pub(crate) acceptor_intensity: Option<u32>,
    /// The period of that intensity (whole seconds, at least 1). Default 5 s.
    pub(crate) acceptor_period: Duration,
    /// Slowloris protection: a connection whose peer sends no byte for this long (counted
    /// from accept) exits with an `Error(TimedOut)` reason and frees its slot. Only bytes
    /// received reset the clock, not writes. Off (`None`) by default.
    pub(crate) idle_timeout: Option<Duration>,
    /// TLS: every connection's process runs a TLS handshake before its handler, and the
    /// handler's [`TcpStream`] is TLS. `None`: plain TCP. (Feature `tls`.)
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<TlsConfig>,
    /// Expect a PROXY protocol header (v1 or v2, told apart by its first bytes) at the start
    /// of every connection, before TLS: the handler's [`TcpStream::peer_addr`] is then the
    /// client's address it carries and [`TcpStream::proxy_addr`] the proxy's. A connection
    /// without a well-formed header ends with a [`HandshakeError`](crate::HandshakeError).
    /// Only turn it on behind a proxy that always sends one: anyone who can connect could
    /// otherwise claim any address.
    pub(crate) proxy_protocol: bool,
    /// How long a connection's process has, from its start, to read the PROXY header and
    /// finish the TLS handshake; then it ends with a `TimedOut`
    /// [`HandshakeError`](crate::HandshakeError) and frees its slot. Default 10 s.
    pub(crate) handshake_timeout: Duration,
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

    /// Sets the address to bind.
    pub fn addr(mut self, addr: impl Into<String>) -> Self {
        self.addr = addr.into();
        self
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

    /// Sets the period of the acceptors supervisor's restart intensity (whole seconds, at
    /// least 1), keeping the intensity.
    pub fn acceptor_period(mut self, period: Duration) -> Self {
        self.acceptor_period = period;
        self
    }

    /// The address to bind, `HOST:PORT` (port 0 picks a free port).
    pub fn get_addr(&self) -> &str {
        &self.addr
    }

    /// The number of acceptor processes.
    pub fn get_acceptors(&self) -> usize {
        self.acceptors
    }

    /// Connection processes alive at most; from [`u32::MAX`] up, unlimited.
    pub fn get_max_connections(&self) -> usize {
        self.max_connections
    }

    /// The listen backlog.
    pub fn get_backlog(&self) -> u32 {
        self.backlog
    }

    /// Whether accepted sockets get `TCP_NODELAY`.
    pub fn get_nodelay(&self) -> bool {
        self.nodelay
    }

    /// Whether accepted sockets are closed with a reset.
    pub fn get_close_with_reset(&self) -> bool {
        self.close_with_reset
    }

    /// Whether the socket has `SO_REUSEPORT`.
    pub fn get_reuse_port(&self) -> bool {
        self.reuse_port
    }

    /// How long connections get to finish when the listener stops.
    pub fn get_drain_timeout(&self) -> Duration {
        self.drain_timeout
    }

    /// The acceptors supervisor's restart intensity; `None`: ranch's `1 + ceil(log2 N)`.
    pub fn get_acceptor_intensity(&self) -> Option<u32> {
        self.acceptor_intensity
    }

    /// The period of that intensity.
    pub fn get_acceptor_period(&self) -> Duration {
        self.acceptor_period
    }

    /// The idle timeout; `None`: off.
    pub fn get_idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }

    /// The TLS config, if the listener serves TLS (feature `tls`).
    #[cfg(feature = "tls")]
    pub fn get_tls(&self) -> Option<&TlsConfig> {
        self.tls.as_ref()
    }

    /// Whether a PROXY protocol header is expected first.
    pub fn get_proxy_protocol(&self) -> bool {
        self.proxy_protocol
    }

    /// The handshake timeout.
    pub fn get_handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    pub(crate) fn validate(&self) -> io::Result<()> {
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
