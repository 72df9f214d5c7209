//! Accepts connections and gives each one its own process under the connections supervisor.
//! Mirrors `ranch_acceptor`: out of file descriptors → back off, don't crash (a crash loop
//! escalates); one pending connection's error → retry at once; listener dead → exit.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::exit::ExitReason;
use crate::lock::Unpoisoned;
use crate::process::mailbox::Ctx;
use crate::supervisor::Shutdown;
use crate::tcp::connection::serve;
use crate::tcp::shared::{ConnectionFn, Shared};
use crate::tcp::stream::TcpStream;

/// ranch and Thousand Island sleep 100 ms on EMFILE.
const RESOURCE_BACKOFF: Duration = Duration::from_millis(100);
/// At most one warning per interval while a shortage lasts.
const WARN_INTERVAL: Duration = Duration::from_secs(1);
/// Unknown errors in a row before the acceptor exits for its supervisor to decide.
const MAX_UNKNOWN: u32 = 10;

/// What an accept error means (RELIABILITY accept-error table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AcceptErrorClass {
    /// Only this pending connection failed: retry at once.
    PerConnection = 0,
    /// Out of descriptors, buffers or memory: back off.
    Resource = 1,
    /// The listening socket is gone: exit.
    ListenerDead = 2,
    /// Anything else: short backoff, exit after several in a row.
    Unknown = 3,
}

pub(crate) fn accept_error_class(e: &io::Error) -> AcceptErrorClass {
    const EMFILE: i32 = 24;
    const ENFILE: i32 = 23;
    const ENOBUFS: i32 = 105;
    const ENOMEM: i32 = 12;
    const EBADF: i32 = 9;
    const ENOTSOCK: i32 = 88;
    const EINVAL: i32 = 22;
    const EFAULT: i32 = 14;
    // ECONNABORTED EPROTO EPERM ENETDOWN ENETUNREACH EHOSTDOWN EHOSTUNREACH ENONET
    // ENOPROTOOPT EOPNOTSUPP ETIMEDOUT EINTR ECONNRESET (Linux numbers)
    const PER_CONNECTION: [i32; 13] = [103, 71, 1, 100, 101, 112, 113, 64, 92, 95, 110, 4, 104];
    match e.raw_os_error() {
        Some(EMFILE | ENFILE | ENOBUFS | ENOMEM) => AcceptErrorClass::Resource,
        Some(EBADF | ENOTSOCK | EINVAL | EFAULT) => AcceptErrorClass::ListenerDead,
        Some(n) if PER_CONNECTION.contains(&n) => AcceptErrorClass::PerConnection,
        _ => match e.kind() {
            io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::TimedOut => AcceptErrorClass::PerConnection,
            io::ErrorKind::OutOfMemory => AcceptErrorClass::Resource,
            _ => AcceptErrorClass::Unknown,
        },
    }
}

pub(crate) async fn run<M, H>(ctx: Ctx<()>, shared: Arc<Shared<H>>) -> ExitReason
where
    M: Send + 'static,
    H: ConnectionFn<M>,
{
    let mut last_warn: Option<Instant> = None;
    let mut unknown = 0u32;
    let pid = ctx.pid();
    let control = &shared.control;
    let (mut generation, mut socket) = control.socket();
    loop {
        control.resumed().await;
        if control.generation() != generation {
            (generation, socket) = control.socket();
        }
        let Some(listening) = &socket else {
            if *control.suspended.borrow() || control.generation() != generation {
                continue; // suspended: resumed() waits; resumed since: refresh
            }
            // The listener is stopping: this acceptor is about to be stopped with it.
            std::future::pending::<()>().await;
            continue;
        };
        // Take a connection slot before accepting: at max_connections the acceptor waits
        // here and new clients wait in the kernel backlog.
        let Ok(permit) = control.slots.clone().acquire_owned().await else {
            return ExitReason::Shutdown(None);
        };
        match control.accept(listening).await {
            Ok((stream, peer)) => {
                unknown = 0;
                let slot = control.occupy(permit).await;
                if shared.config.nodelay {
                    let _ = stream.set_nodelay(true);
                }
                if shared.config.close_with_reset {
                    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                }
                let conns = control.conns.locked().clone();
                let Some(conns) = conns else {
                    return ExitReason::error("connections supervisor is not running");
                };
                let handler = shared.clone();
                let shutdown = Shutdown::Timeout(shared.config.drain_timeout);
                // The handshake, if any, runs in the connection's process, never here.
                let started = if shared.handshake.is_none() {
                    conns
                        .start_temporary(Some(peer), shutdown, move |ctx: Ctx<M>| {
                            serve(ctx, TcpStream::from(stream), &handler, slot)
                        })
                        .is_some()
                } else {
                    conns
                        .start_temporary(Some(peer), shutdown, move |ctx: Ctx<M>| {
                            crate::tcp::connection::then_serve(ctx, stream, handler, slot)
                        })
                        .is_some()
                };
                if !started {
                    // The connections supervisor is gone; the socket and the slot were dropped
                    // with the closure. Our own supervisor will restart us after it.
                    return ExitReason::error("connections supervisor is not running");
                }
            }
            Err(e) => {
                drop(permit);
                if control.stopping.load(Ordering::Acquire) {
                    // The listener is draining and shut its socket: this acceptor has nothing
                    // left to do, and exiting would only make its supervisor restart it.
                    std::future::pending::<()>().await;
                }
                if control.generation() != generation {
                    continue; // closed by `suspend` or replaced by `resume`: not a fault
                }
                let class = accept_error_class(&e);
                control.errors[class as usize].fetch_add(1, Ordering::Relaxed);
                match class {
                    AcceptErrorClass::PerConnection => {
                        tracing::debug!(acceptor = %pid, error = %e, "accept failed for one connection");
                    }
                    AcceptErrorClass::Resource => {
                        if last_warn.is_none_or(|t| t.elapsed() >= WARN_INTERVAL) {
                            tracing::warn!(acceptor = %pid, error = %e, "acceptor reducing accept rate: out of resources");
                            last_warn = Some(Instant::now());
                        }
                        tokio::time::sleep(RESOURCE_BACKOFF).await;
                    }
                    AcceptErrorClass::ListenerDead => return ExitReason::error(e),
                    AcceptErrorClass::Unknown => {
                        unknown += 1;
                        tracing::warn!(acceptor = %pid, error = %e, "unexpected accept error");
                        if unknown >= MAX_UNKNOWN {
                            return ExitReason::error(e);
                        }
                        tokio::time::sleep(RESOURCE_BACKOFF).await;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{accept_error_class, AcceptErrorClass};
    use std::io;

    fn class(errno: i32) -> AcceptErrorClass {
        accept_error_class(&io::Error::from_raw_os_error(errno))
    }

    #[test]
    fn resource_shortages_back_off() {
        // EMFILE ENFILE ENOBUFS ENOMEM: ENFILE included, unlike ranch, which spins on it.
        for errno in [24, 23, 105, 12] {
            assert_eq!(class(errno), AcceptErrorClass::Resource, "errno {errno}");
        }
    }

    #[test]
    fn errors_of_one_pending_connection_retry_at_once() {
        for errno in [103, 71, 1, 100, 101, 112, 113, 64, 92, 95, 110, 4, 104] {
            assert_eq!(
                class(errno),
                AcceptErrorClass::PerConnection,
                "errno {errno}"
            );
        }
    }

    #[test]
    fn a_dead_listening_socket_ends_the_acceptor() {
        for errno in [9, 88, 22, 14] {
            assert_eq!(
                class(errno),
                AcceptErrorClass::ListenerDead,
                "errno {errno}"
            );
        }
        assert_eq!(class(5), AcceptErrorClass::Unknown);
    }
}
