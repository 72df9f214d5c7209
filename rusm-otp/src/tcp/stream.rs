//! [`TcpStream`]: the socket a connection process owns — tokio's stream plus the listener's
//! idle clock.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// A TCP connection. Reads and writes go to tokio's [`tokio::net::TcpStream`] (it
/// dereferences to it for `peer_addr`, `set_nodelay` and the like); when the listener has an
/// [idle timeout](crate::ListenerConfig::idle_timeout), every byte *received* from the peer
/// resets the connection's idle clock.
///
/// Split it with [`tokio::io::split`] so that both halves keep resetting the clock;
/// [`into_inner`](Self::into_inner) gives up the clock.
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
/// # });
/// ```
#[derive(Debug)]
pub struct TcpStream {
    inner: tokio::net::TcpStream,
    idle: Option<Arc<IdleClock>>,
}

impl TcpStream {
    pub(crate) fn with_idle(inner: tokio::net::TcpStream, idle: Option<Arc<IdleClock>>) -> Self {
        TcpStream { inner, idle }
    }

    /// Gives back tokio's stream; the idle clock no longer sees its reads.
    pub fn into_inner(self) -> tokio::net::TcpStream {
        self.inner
    }
}

impl From<tokio::net::TcpStream> for TcpStream {
    fn from(inner: tokio::net::TcpStream) -> Self {
        TcpStream { inner, idle: None }
    }
}

impl std::ops::Deref for TcpStream {
    type Target = tokio::net::TcpStream;
    fn deref(&self) -> &tokio::net::TcpStream {
        &self.inner
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
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
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
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
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
