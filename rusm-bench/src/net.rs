//! Sockets for the load: listeners with an explicit backlog, client connections from a chosen
//! `127.0.0.x` source address, closing with `SO_LINGER(0)`, and naming socket errors.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::target::EchoServerOpts;

/// How long an accept loop pauses after a transient error such as `EMFILE`, so it does not spin.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(5);

/// `EADDRNOTAVAIL`: no local port left for this source address.
const EADDRNOTAVAIL: i32 = 99;

/// Binds a non-blocking TCP listener with `opts.backlog` (and `SO_REUSEPORT` if asked); must be
/// called inside a tokio runtime.
///
/// # Errors
///
/// Any error from `socket`, `bind` or `listen`.
pub fn bind_listener(opts: &EchoServerOpts) -> io::Result<TcpListener> {
    let socket = Socket::new(
        Domain::for_address(opts.addr),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    if opts.reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&opts.addr.into())?;
    socket.listen(i32::try_from(opts.backlog).unwrap_or(i32::MAX))?;
    TcpListener::from_std(socket.into())
}

/// The `i`-th of `sources` client source addresses: `127.0.0.1` … `127.0.0.<sources>`.
///
/// Binding clients to several loopback addresses multiplies the ephemeral ports available, so
/// the port range is not what limits `hold`.
pub fn source_addr(i: usize, sources: u8) -> Ipv4Addr {
    let sources = usize::from(sources.max(1));
    // `i % sources < 255`, so `+ 1` stays within 1..=255.
    Ipv4Addr::new(127, 0, 0, (i % sources) as u8 + 1)
}

/// Connects to `server` from `source` (port chosen by the kernel).
///
/// # Errors
///
/// Errors from `socket`, `bind` (`EADDRNOTAVAIL` when `source`'s ports are used up) or
/// `connect`.
pub async fn connect_from(source: Ipv4Addr, server: SocketAddr) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((source, 0)))?;
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Sets `SO_LINGER(0)` so that closing sends RST and leaves no `TIME_WAIT` behind.
pub fn set_linger_zero(stream: &TcpStream) {
    // Only fails on a socket that is already broken, which the caller is closing anyway.
    let _ = SockRef::from(stream).set_linger(Some(Duration::ZERO));
}

/// Whether an accept error concerns one connection or a temporary shortage (fds, memory), so
/// an accept loop should go on.
pub fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
            | io::ErrorKind::OutOfMemory
    ) || matches!(e.raw_os_error(), Some(23 | 24 | 105 | 12))
}

/// A short, stable name for an error: the errno name where there is one, otherwise the
/// [`io::ErrorKind`].
pub fn error_name(e: &io::Error) -> String {
    let name = match e.raw_os_error() {
        Some(EADDRNOTAVAIL) => "EADDRNOTAVAIL (client out of local ports)",
        Some(24) => "EMFILE (process out of fds)",
        Some(23) => "ENFILE (system out of fds)",
        Some(111) => "ECONNREFUSED",
        Some(104) => "ECONNRESET",
        Some(110) => "ETIMEDOUT",
        Some(32) => "EPIPE",
        Some(11) => "EAGAIN",
        Some(105) => "ENOBUFS",
        Some(n) => return format!("os error {n}"),
        None if e.kind() == io::ErrorKind::TimedOut => "timeout",
        None if e.kind() == io::ErrorKind::UnexpectedEof => "unexpected EOF",
        None => return format!("{:?}", e.kind()),
    };
    name.to_owned()
}

/// Whether an error is a limit of the kernel or of the client machine rather than of the server:
/// out of fds, out of local ports, or a connect/backlog timeout.
pub fn kernel_limit(e: &io::Error) -> Option<&'static str> {
    match e.raw_os_error() {
        Some(24) => Some("RLIMIT_NOFILE (EMFILE): this process is out of file descriptors"),
        Some(23) => Some("system-wide file table (ENFILE)"),
        Some(EADDRNOTAVAIL) => {
            Some("ephemeral ports (EADDRNOTAVAIL): add source addresses with --sources")
        }
        Some(105) => Some("kernel socket buffers (ENOBUFS)"),
        _ if e.kind() == io::ErrorKind::TimedOut => {
            Some("connect timed out: the listen backlog (or SYN queue) is full")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_addresses_cycle_over_the_first_n_loopback_addresses() {
        assert_eq!(source_addr(0, 4), Ipv4Addr::new(127, 0, 0, 1));
        assert_eq!(source_addr(3, 4), Ipv4Addr::new(127, 0, 0, 4));
        assert_eq!(source_addr(4, 4), Ipv4Addr::new(127, 0, 0, 1));
        assert_eq!(source_addr(254, 255), Ipv4Addr::new(127, 0, 0, 255));
        assert_eq!(source_addr(7, 0), Ipv4Addr::new(127, 0, 0, 1));
    }

    #[test]
    fn errno_names_say_which_side_ran_out() {
        let e = io::Error::from_raw_os_error(EADDRNOTAVAIL);
        assert!(error_name(&e).starts_with("EADDRNOTAVAIL"));
        assert!(kernel_limit(&e).is_some());
        let refused = io::Error::from_raw_os_error(111);
        assert_eq!(error_name(&refused), "ECONNREFUSED");
        assert!(kernel_limit(&refused).is_none());
        let timeout = io::Error::new(io::ErrorKind::TimedOut, "connect");
        assert_eq!(error_name(&timeout), "timeout");
        assert!(kernel_limit(&timeout).is_some());
    }
}
