//! The listening socket: bound with the listener's options (`SO_REUSEADDR`, `SO_REUSEPORT`,
//! the backlog).

use std::io;

use tokio::net::TcpListener;

use super::config::ListenerConfig;

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
