//! A connection's process body: the handler under the idle watchdog, holding its slot under
//! max connections, and its exit reported once with its peer and listener. Started by an
//! acceptor for plain TCP, or after the handshake for TLS and the PROXY protocol.

use crate::exit::{ExitReason, IntoExitReason};
use crate::process::mailbox::Ctx;
use crate::tcp::listener::{Control, Slot};
use crate::tcp::shared::{ConnectionFn, Shared};
use crate::tcp::stream::IdleClock;
use crate::tcp::stream::TcpStream;
use std::future::Future;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Starts the handler on one accepted connection, under the idle watchdog when one is
/// configured (its clock starts here, after any handshake).
///
/// The handler's future is made here, outside any `async` block, and wrapped in [`Served`]:
/// an `async` wrapper would keep the context and the socket twice in every connection's task.
pub(crate) fn serve<M, H>(
    ctx: Ctx<M>,
    mut stream: TcpStream,
    shared: &Shared<H>,
    slot: Slot,
) -> Served<H::Fut>
where
    M: Send + 'static,
    H: ConnectionFn<M>,
{
    let (clock, idle) = match shared.config.idle_timeout {
        Some(timeout) => {
            let clock = IdleClock::new();
            let watchdog: Watchdog = Box::pin(clock.clone().expired_owned(timeout));
            (Some(clock), Some(Box::new((watchdog, timeout))))
        }
        None => (None, None),
    };
    stream.set_idle(clock);
    Served {
        handler: (shared.handler)(ctx, stream),
        idle,
        slot,
    }
}

/// Resolves when the peer has been silent for the idle timeout; boxed, so that connections
/// without a timeout do not carry its timer.
type Watchdog = Pin<Box<dyn Future<Output = ()> + Send>>;

pin_project_lite::pin_project! {
    /// A connection's handler, its idle watchdog and its slot under max connections.
    pub(crate) struct Served<F> {
        #[pin]
        handler: F,
        idle: Option<Box<(Watchdog, Duration)>>,
        slot: Slot,
    }
}

impl<F> Future for Served<F>
where
    F: Future,
    F::Output: IntoExitReason,
{
    type Output = ExitReason;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<ExitReason> {
        let this = self.project();
        let handler = this.handler;
        let reason = match catch_unwind(AssertUnwindSafe(|| handler.poll(cx))) {
            Ok(Poll::Ready(out)) => out.into_exit_reason(),
            Err(panic) => ExitReason::from_panic(panic),
            Ok(Poll::Pending) => {
                let Some(idle) = this.idle else {
                    return Poll::Pending;
                };
                let (watchdog, timeout) = &mut **idle;
                let timeout = *timeout;
                if watchdog.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                tracing::debug!(
                    timeout_ms = timeout.as_millis() as u64,
                    "connection idle timeout"
                );
                ExitReason::error(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("idle timeout: the peer sent nothing for {timeout:?}"),
                ))
            }
        };
        crash_report(&this.slot.control, &reason);
        Poll::Ready(reason)
    }
}

/// A connection's exit, logged once with what an operator needs: its peer and its listener.
/// A peer that went away (reset, broken pipe, EOF mid-read) is the peer's business, not a
/// crash: debug level, not one warning per connection.
fn crash_report(control: &Control, reason: &ExitReason) {
    if reason.is_normal() {
        return;
    }
    let pid = crate::process::current_pid();
    let peer = control.conns().and_then(|c| c.peer_of(pid));
    let peer = peer.map(|p| p.to_string()).unwrap_or_default();
    let gone = matches!(
        reason.io_error_kind(),
        Some(
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::UnexpectedEof
        )
    );
    if gone {
        tracing::debug!(pid = %pid, peer = %peer, listener = %control.addr, reason = %reason, "connection closed by the peer");
    } else {
        let at = crate::panics::take_location();
        tracing::warn!(pid = %pid, peer = %peer, listener = %control.addr, reason = %reason, at, "connection crashed");
    }
    crate::process::exit_reported();
}

/// A connection process's body when the listener has a handshake: the handshake, then the
/// handler, as [`serve`] runs it. `slot` is held throughout, so a handshaking connection
/// counts against max connections.
pub(crate) async fn then_serve<M, H>(
    ctx: Ctx<M>,
    raw: tokio::net::TcpStream,
    shared: Arc<Shared<H>>,
    slot: Slot,
) -> ExitReason
where
    M: Send + 'static,
    H: ConnectionFn<M>,
{
    let Some(handshake) = &shared.handshake else {
        return serve(ctx, TcpStream::from(raw), &shared, slot).await;
    };
    let peer = raw.peer_addr().ok();
    match handshake.run(raw).await {
        Ok(stream) => {
            // Behind a proxy, the connection is the client's: the tree and the crash report
            // name the address the header gave, as `peer_addr` does.
            if let Some(client) = stream.proxy_header().and_then(|h| h.source) {
                if let Some(conns) = shared.control.conns() {
                    conns.set_peer(ctx.pid(), client);
                }
            }
            serve(ctx, stream, &shared, slot).await
        }
        Err(e) => {
            handshake.log.report(shared.control.addr, peer, &e);
            // Reported here, once: the generic exit report would log every failure.
            crate::process::exit_reported();
            drop(slot);
            let kind = e.io_kind();
            ExitReason::error(io::Error::new(kind, e))
        }
    }
}
