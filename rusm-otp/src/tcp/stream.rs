//! [`TcpStream`]: the stream a connection process owns — plain TCP or TLS over TCP, one type
//! for both (Thousand Island's transport abstraction), plus the listener's idle clock and
//! what a PROXY protocol header said about the peer.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use crate::tcp::proxy_protocol::ProxyHeader;

/// A connection: TCP, or TLS over TCP when the listener has [TLS](crate::ListenerConfig::tls).
/// Handlers read and write it the same way whichever it is; [`alpn_protocol`](Self::alpn_protocol)
/// and [`peer_certificates`](Self::peer_certificates) tell what TLS negotiated.
///
/// It dereferences to tokio's [`tokio::net::TcpStream`] (the socket under TLS, for
/// `local_addr`, `set_nodelay` and the like; reading or writing that socket directly would
/// bypass TLS). [`peer_addr`](Self::peer_addr) is the client's address: the one a [PROXY
/// protocol](crate::ListenerConfig::proxy_protocol) header carried, when there was one, and
/// [`proxy_addr`](Self::proxy_addr) the proxy's.
///
/// When the listener has an [idle timeout](crate::ListenerConfig::idle_timeout), every byte
/// *received* from the peer resets the connection's idle clock. Split it with
/// [`tokio::io::split`] so that both halves keep resetting the clock;
/// [`into_inner`](Self::into_inner) gives up the clock.
///
/// Plain TCP costs nothing for TLS being possible: the plain variant is matched first and
/// TLS state lives behind a pointer only when there is some.
///
/// # Examples
///
/// ```
/// use rusm_otp::{connect, TcpStream};
/// use tokio::io::AsyncWriteExt;
///
/// # let rt = rusm_otp::Runtime::new().unwrap();
/// # rt.block_on(async {
/// let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let mut client: TcpStream = connect(server.local_addr().unwrap()).await.unwrap();
/// client.write_all(b"hello").await.unwrap();
/// assert_eq!(client.peer_addr().unwrap(), server.local_addr().unwrap());
/// assert!(!client.is_tls());
/// assert_eq!(client.alpn_protocol(), None);
/// # });
/// ```
#[derive(Debug)]
pub struct TcpStream {
    io: Io,
    idle: Option<Arc<IdleClock>>,
    /// The PROXY protocol header the connection began with, if the listener asked for one.
    proxy: Option<Box<ProxyHeader>>,
}

/// The transport under a [`TcpStream`].
#[derive(Debug)]
pub(crate) enum Io {
    Plain(tokio::net::TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>),
}

impl Io {
    fn tcp(&self) -> &tokio::net::TcpStream {
        match self {
            Io::Plain(s) => s,
            #[cfg(feature = "tls")]
            Io::Tls(s) => s.get_ref().0,
        }
    }
}

/// Evaluates `$e` with `$s` bound to whichever transport `$io` holds, plain first.
macro_rules! dispatch {
    ($io:expr, $s:ident => $e:expr) => {
        match $io {
            Io::Plain($s) => $e,
            #[cfg(feature = "tls")]
            Io::Tls($s) => $e,
        }
    };
}

impl TcpStream {
    /// A stream from a finished handshake: its transport and the PROXY header, if any.
    pub(crate) fn secured(io: Io, proxy: Option<Box<ProxyHeader>>) -> Self {
        TcpStream {
            io,
            idle: None,
            proxy,
        }
    }

    /// Starts counting received bytes on `clock`.
    pub(crate) fn set_idle(&mut self, clock: Option<Arc<IdleClock>>) {
        self.idle = clock;
    }

    /// Gives back tokio's stream; the idle clock no longer sees its reads. For a TLS
    /// connection that is the socket under TLS: the TLS session is dropped without a
    /// `close_notify`, and what the peer sends next is ciphertext.
    pub fn into_inner(self) -> tokio::net::TcpStream {
        match self.io {
            Io::Plain(s) => s,
            #[cfg(feature = "tls")]
            Io::Tls(s) => s.into_inner().0,
        }
    }

    /// The client's address: the source a PROXY protocol header carried, or else the
    /// socket's peer.
    ///
    /// # Errors
    ///
    /// As [`tokio::net::TcpStream::peer_addr`] (e.g. `NotConnected`), when there was no
    /// PROXY header with an address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        match self.proxy.as_ref().and_then(|p| p.source) {
            Some(addr) => Ok(addr),
            None => self.io.tcp().peer_addr(),
        }
    }

    /// The proxy's address (the socket's peer) when a PROXY protocol header gave the
    /// client's: then [`peer_addr`](Self::peer_addr) is the client's. `None` without a header,
    /// or for a `LOCAL` or `UNKNOWN` one (a health check: the proxy is the peer).
    pub fn proxy_addr(&self) -> Option<SocketAddr> {
        let header = self.proxy.as_ref()?;
        header.source?;
        self.io.tcp().peer_addr().ok()
    }

    /// The PROXY protocol header the connection began with, when the listener has
    /// [`proxy_protocol`](crate::ListenerConfig::proxy_protocol) on.
    pub fn proxy_header(&self) -> Option<&ProxyHeader> {
        self.proxy.as_deref()
    }

    /// Whether the connection is TLS.
    pub fn is_tls(&self) -> bool {
        !matches!(self.io, Io::Plain(_))
    }

    /// The application protocol the TLS handshake agreed on by ALPN (`b"h2"`,
    /// `b"http/1.1"`, …); `None` for plain TCP or when the client offered none the listener
    /// has.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        match &self.io {
            Io::Plain(_) => None,
            #[cfg(feature = "tls")]
            Io::Tls(s) => s.get_ref().1.alpn_protocol(),
        }
    }

    /// The certificate chain the client presented (end entity first), when the listener's
    /// [`rustls::ServerConfig`] asks for client certificates; `None` for plain TCP or a client
    /// that sent none.
    #[cfg(feature = "tls")]
    pub fn peer_certificates(&self) -> Option<&[rustls::pki_types::CertificateDer<'static>]> {
        match &self.io {
            Io::Plain(_) => None,
            Io::Tls(s) => s.get_ref().1.peer_certificates(),
        }
    }

    /// The TLS session, for everything else rustls knows about it (protocol version, cipher
    /// suite, SNI server name); `None` for plain TCP.
    #[cfg(feature = "tls")]
    pub fn tls_connection(&self) -> Option<&rustls::ServerConnection> {
        match &self.io {
            Io::Plain(_) => None,
            Io::Tls(s) => Some(s.get_ref().1),
        }
    }
}

impl From<tokio::net::TcpStream> for TcpStream {
    fn from(inner: tokio::net::TcpStream) -> Self {
        TcpStream {
            io: Io::Plain(inner),
            idle: None,
            proxy: None,
        }
    }
}

impl std::ops::Deref for TcpStream {
    type Target = tokio::net::TcpStream;
    fn deref(&self) -> &tokio::net::TcpStream {
        self.io.tcp()
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let res = dispatch!(&mut this.io, s => Pin::new(s).poll_read(cx, buf));
        if let (Some(idle), Poll::Ready(Ok(()))) = (&this.idle, &res) {
            if buf.filled().len() > before {
                idle.touch();
            }
        }
        res
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        dispatch!(&mut self.get_mut().io, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        dispatch!(&mut self.get_mut().io, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        dispatch!(&self.io, s => s.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        dispatch!(&mut self.get_mut().io, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        dispatch!(&mut self.get_mut().io, s => Pin::new(s).poll_shutdown(cx))
    }
}

/// When a connection last received bytes from its peer, in milliseconds since `start`.
/// Written by the stream on every read that returns data (one relaxed store), read by the
/// connection's watchdog only when its timer fires.
#[derive(Debug)]
pub(crate) struct IdleClock {
    start: Instant,
    last_rx_ms: AtomicU64,
}

impl IdleClock {
    /// A clock that starts at accept: a peer that never sends times out too.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(IdleClock {
            start: Instant::now(),
            last_rx_ms: AtomicU64::new(0),
        })
    }

    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_rx_ms.store(ms, Ordering::Relaxed);
    }

    /// Resolves once the peer has sent nothing for `timeout`.
    pub(crate) async fn expired_owned(self: Arc<Self>, timeout: Duration) {
        loop {
            let last = self.start + Duration::from_millis(self.last_rx_ms.load(Ordering::Relaxed));
            let Some(deadline) = last.checked_add(timeout) else {
                return std::future::pending().await; // beyond any clock: never
            };
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}
