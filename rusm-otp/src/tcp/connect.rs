//! [`connect`]: an outbound connection, as a [`TcpStream`].

use std::io;

use super::stream::TcpStream;

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
