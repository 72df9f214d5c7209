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
mod acceptor_pool;
mod config;
mod connect;
mod connection;
mod connections_sup;
mod handler;
mod handshake;
mod listener;
mod listener_sup;
mod proxy_protocol;
mod shared;
mod socket;
mod stream;
#[cfg(feature = "tls")]
mod tls;

pub use config::{ListenerConfig, DEFAULT_HANDSHAKE_TIMEOUT};
pub use connect::connect;
pub use handler::{Handler, HandlerOptions, ListenerBuilder};
pub use listener::{AcceptErrors, Listener, ListenerInfo};
pub use proxy_protocol::{ProxyCommand, ProxyHeader};
pub use stream::TcpStream;
#[cfg(feature = "tls")]
pub use tls::TlsConfig;
