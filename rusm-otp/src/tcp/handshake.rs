//! What a connection process does before its handler when the listener has a PROXY protocol
//! header to read or TLS to negotiate: header first, then the TLS handshake, both under one
//! handshake timeout, then the handler.
//!
//! It runs in the connection's own process, never in an acceptor (as ranch's
//! `ranch_ssl:handshake` runs in the protocol process): a stalled or garbage handshake holds
//! only its own process and its slot under max connections, never an acceptor or another
//! connection. A failed handshake ends the process with a [`HandshakeError`] exit reason and
//! one warning, at most one a second per listener, which counts the ones it left out.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{HandshakeError, HandshakeStage};
use crate::tcp::config::ListenerConfig;
use crate::tcp::proxy_protocol;
use crate::tcp::stream::Io;
use crate::tcp::stream::TcpStream;

/// A listener's handshake settings; `None` in `Shared` for plain TCP without a PROXY header,
/// whose connections go straight to their handler.
pub(crate) struct Handshake {
    #[cfg(feature = "tls")]
    tls: Option<tokio_rustls::TlsAcceptor>,
    proxy_protocol: bool,
    timeout: Duration,
    pub(crate) log: LogLimit,
}

impl Handshake {
    /// The handshake `config` asks for, its TLS files read now; `None` when there is none.
    ///
    /// # Errors
    ///
    /// The TLS configuration's: a missing or unreadable certificate or key file, named.
    pub(crate) fn new(config: &ListenerConfig) -> io::Result<Option<Self>> {
        #[cfg(feature = "tls")]
        let tls = match &config.tls {
            Some(t) => Some(tokio_rustls::TlsAcceptor::from(t.server_config()?)),
            None => None,
        };
        #[cfg(feature = "tls")]
        let secure = tls.is_some();
        #[cfg(not(feature = "tls"))]
        let secure = false;
        if !secure && !config.proxy_protocol {
            return Ok(None);
        }
        Ok(Some(Handshake {
            #[cfg(feature = "tls")]
            tls,
            proxy_protocol: config.proxy_protocol,
            timeout: config.handshake_timeout,
            log: LogLimit::new(),
        }))
    }

    /// Reads the PROXY header and runs the TLS handshake on `raw`, under the timeout.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropped midway, the connection is half set up and must be closed.
    pub(crate) async fn run(
        &self,
        mut raw: tokio::net::TcpStream,
    ) -> Result<TcpStream, HandshakeError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let timed_out = |stage| HandshakeError::Timeout {
            stage,
            timeout: self.timeout,
        };
        let proxy = if self.proxy_protocol {
            let read = proxy_protocol::read_header(&mut raw);
            match tokio::time::timeout_at(deadline, read).await {
                Ok(Ok(header)) => Some(Box::new(header)),
                Ok(Err(e)) => return Err(HandshakeError::ProxyHeader(e)),
                Err(_) => return Err(timed_out(HandshakeStage::ProxyHeader)),
            }
        } else {
            None
        };
        #[cfg(feature = "tls")]
        if let Some(acceptor) = &self.tls {
            return match tokio::time::timeout_at(deadline, acceptor.accept(raw)).await {
                Ok(Ok(tls)) => Ok(TcpStream::secured(Io::Tls(Box::new(tls)), proxy)),
                Ok(Err(e)) => Err(HandshakeError::Tls(e)),
                Err(_) => Err(timed_out(HandshakeStage::Tls)),
            };
        }
        Ok(TcpStream::secured(Io::Plain(raw), proxy))
    }
}

/// One warning per interval at most, with the count of those left out since the last.
pub(crate) struct LogLimit {
    start: Instant,
    /// Milliseconds since `start` of the last warning, plus one (0: none yet).
    last_ms: AtomicU64,
    suppressed: AtomicU64,
}

/// The interval of [`LogLimit`].
const LOG_INTERVAL: Duration = Duration::from_secs(1);

impl LogLimit {
    fn new() -> Self {
        LogLimit {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Whether to log now: `Some(left out since the last line)`, or `None` (counted).
    fn allow(&self) -> Option<u64> {
        let now = self.start.elapsed().as_millis() as u64 + 1;
        let last = self.last_ms.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= LOG_INTERVAL.as_millis() as u64;
        if due
            && self
                .last_ms
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.suppressed.swap(0, Ordering::AcqRel));
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        None
    }

    pub(crate) fn report(
        &self,
        listener: SocketAddr,
        peer: Option<SocketAddr>,
        e: &HandshakeError,
    ) {
        let Some(suppressed) = self.allow() else {
            return;
        };
        let peer = peer.map(|p| p.to_string()).unwrap_or_default();
        let pid = crate::process::current_pid();
        tracing::warn!(
            pid = %pid,
            peer = %peer,
            listener = %listener,
            reason = %e,
            suppressed,
            "connection handshake failed"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::LogLimit;

    #[test]
    fn one_line_a_second_and_the_rest_counted() {
        let limit = LogLimit::new();
        assert_eq!(limit.allow(), Some(0));
        for _ in 0..99 {
            assert_eq!(limit.allow(), None);
        }
        // A second later the next line says how many were left out.
        limit.last_ms.store(1, std::sync::atomic::Ordering::Relaxed);
        let limit = LogLimit {
            start: limit.start - std::time::Duration::from_secs(2),
            ..limit
        };
        assert_eq!(limit.allow(), Some(99));
    }
}
