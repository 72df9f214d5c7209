//! Request/reply ([`Addr::call`]) and timers ([`Addr::send_after`]).

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::error::CallError;
use crate::process::addr::Addr;
use crate::process::cell::Cell;
use crate::process::current::current_pid;

/// `gen_server:call/2`'s default timeout: 5 seconds.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the callee sends its reply to a [`call`](Addr::call).
///
/// Dropping it without replying leaves the caller waiting, as a `gen_server` that does not
/// reply: the call ends with [`CallError::Exited`] if the callee exits, else with
/// [`CallError::Timeout`].
pub struct ReplyTo<R> {
    tx: oneshot::Sender<R>,
}

impl<R> fmt::Debug for ReplyTo<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReplyTo")
    }
}

impl<R> ReplyTo<R> {
    /// Sends the reply. Returns `false` if the caller stopped waiting.
    pub fn reply(self, value: R) -> bool {
        self.tx.send(value).is_ok()
    }
}

impl<M> Addr<M> {
    /// Sends a request built by `make` and waits up to 5 s ([`DEFAULT_CALL_TIMEOUT`]) for the reply.
    ///
    /// # Errors
    ///
    /// See [`call_timeout`](Self::call_timeout).
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe, as [`call_timeout`](Self::call_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// # use rusm_otp::{Runtime, Msg, ReplyTo};
    /// # let rt = Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let doubler = rt.spawn(|mut ctx: rusm_otp::Ctx<(u32, ReplyTo<u32>)>| async move {
    ///     while let Msg::User((n, reply)) = ctx.recv().await {
    ///         reply.reply(n * 2);
    ///     }
    /// });
    /// assert_eq!(doubler.call(|reply| (21, reply)).await, Ok(42));
    /// # });
    /// ```
    pub async fn call<R>(&self, make: impl FnOnce(ReplyTo<R>) -> M) -> Result<R, CallError> {
        self.call_timeout(make, DEFAULT_CALL_TIMEOUT).await
    }

    /// Sends a request and waits up to `timeout` for the reply.
    ///
    /// The request carries a one-shot reply channel owned by the callee's mailbox: when the
    /// callee dies, its mailbox is dropped and the waiting call ends with the callee's exit
    /// reason at once (what a monitor gives `gen_server:call`), leaving nothing behind.
    ///
    /// # Errors
    ///
    /// [`CallError::Timeout`], [`CallError::NoProc`], [`CallError::Exited`], or
    /// [`CallError::CallingSelf`] when a process calls itself.
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe: the request built by `make` is queued in the callee's
    /// mailbox at the first poll, and dropping the future does not take it back. The callee
    /// still receives and handles it; dropping the future only drops the reply channel, so
    /// its [`ReplyTo::reply`] then returns `false` and the reply is dropped (as a late reply
    /// to a timed-out `gen_server:call`). Dropped before its first poll, the future sends
    /// nothing.
    pub async fn call_timeout<R>(
        &self,
        make: impl FnOnce(ReplyTo<R>) -> M,
        timeout: Duration,
    ) -> Result<R, CallError> {
        let pid = self.pid();
        if current_pid() == pid {
            return Err(CallError::CallingSelf(pid));
        }
        let (tx, rx) = oneshot::channel();
        if self.send(make(ReplyTo { tx })).is_err() {
            return Err(CallError::NoProc(pid, ()));
        }
        // One deadline for both waits: a handle dropped late must not extend the call.
        let reply = within(timeout, async {
            match rx.await {
                Ok(r) => Ok(r),
                // The reply handle was dropped unanswered: as a gen_server caller, wait for
                // the callee's exit (its reason) or the timeout. The handle is usually dropped
                // because the callee is exiting, just before its exit is recorded.
                Err(_) => Err(self.wait().await),
            }
        })
        .await;
        match reply {
            Some(Ok(r)) => Ok(r),
            Some(Err(reason)) => Err(CallError::Exited(pid, reason)),
            None => Err(CallError::Timeout),
        }
    }
}

/// Runs `fut` for at most `timeout`; `None` when the time passed first.
///
/// The common call path pays for no timer of its own: the future is polled once first, and
/// only when it is not ready is a deadline set, on the calling process's shared timer
/// ([`SharedDeadline`]) when it is free, else on a timer for this call. A timeout beyond any
/// clock (`Duration::MAX`, OTP's `infinity`) arms none at all. (The timeout is counted from
/// that first poll.)
pub(crate) async fn within<F: Future>(timeout: Duration, fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let first = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
    if let Poll::Ready(out) = first {
        return Some(out);
    }
    let Some(deadline) = tokio::time::Instant::now().checked_add(timeout) else {
        return Some(fut.await);
    };
    // Taken and armed under one lock, in this same poll: `fut` was just polled with the same
    // waker, so the first pass below has nothing to poll again.
    let taken = std::future::poll_fn(|cx| Poll::Ready(SharedDeadline::take(deadline, cx))).await;
    if let Some((shared, armed)) = taken {
        if armed.is_ready() {
            return None;
        }
        let mut polled = true;
        return std::future::poll_fn(|cx| {
            if std::mem::take(&mut polled) {
                return Poll::Pending;
            }
            if let Poll::Ready(out) = fut.as_mut().poll(cx) {
                return Poll::Ready(Some(out));
            }
            shared.poll_elapsed(cx).map(|()| None)
        })
        .await;
    }
    tokio::time::timeout_at(deadline, fut).await.ok()
}

/// A timer started by [`Addr::send_after`]; cancel it with [`cancel`](Self::cancel).
#[derive(Debug)]
pub struct TimerRef {
    task: tokio::task::AbortHandle,
    fired: Arc<AtomicBool>,
}

impl TimerRef {
    /// Cancels the timer (`erlang:cancel_timer/1`). Returns `true` if the message had not been
    /// sent yet and now never will be.
    pub fn cancel(&self) -> bool {
        self.task.abort();
        // `fired` is set before the send; once we abort, the send either happened or never will.
        !self.fired.swap(true, Ordering::AcqRel)
    }
}

impl<M: Send + 'static> Addr<M> {
    /// Sends `msg` to this process after `delay` (`erlang:send_after/3`). A message for a
    /// process that is dead by then is dropped.
    pub fn send_after(&self, msg: M, delay: Duration) -> TimerRef {
        let fired = Arc::new(AtomicBool::new(false));
        let flag = fired.clone();
        let to = self.clone();
        let task = self.handle.rt().handle.spawn(async move {
            tokio::time::sleep(delay).await;
            if !flag.swap(true, Ordering::AcqRel) {
                let _ = to.send(msg);
            }
        });
        TimerRef {
            task: task.abort_handle(),
            fired,
        }
    }
}

/// A call's hold on its process's timer, set to the call's deadline; released when dropped.
pub(crate) struct SharedDeadline {
    cell: Arc<Cell>,
}

impl SharedDeadline {
    /// Takes the running process's timer for a call due at `deadline` and arms it for `cx`,
    /// under one lock; `None` outside a process or while another call holds it. With the hold,
    /// whether the deadline has passed already.
    pub(crate) fn take(deadline: Instant, cx: &mut Context<'_>) -> Option<(Self, Poll<()>)> {
        let cell = crate::process::current::current_cell()?;
        let armed = {
            let mut st = cell.lock();
            let slot = &mut st.monitors().call_timer;
            let timer = match slot {
                Some(t) if t.busy => return None,
                Some(t) => {
                    t.sleep.as_mut().reset(deadline);
                    t
                }
                None => slot.insert(crate::process::call_timer::CallTimer {
                    sleep: Box::pin(tokio::time::sleep_until(deadline)),
                    busy: false,
                }),
            };
            timer.busy = true;
            timer.sleep.as_mut().poll(cx)
        };
        Some((SharedDeadline { cell }, armed))
    }

    /// Ready once the deadline has passed; registers `cx` to be woken then.
    pub(crate) fn poll_elapsed(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.cell.lock();
        match &mut st.monitors().call_timer {
            Some(t) => t.sleep.as_mut().poll(cx),
            // The process's state is gone (it exited): nothing left to wait for.
            None => Poll::Ready(()),
        }
    }
}

impl Drop for SharedDeadline {
    fn drop(&mut self) {
        let mut st = self.cell.lock();
        if let Some(m) = st.monitors.as_mut() {
            if let Some(t) = m.call_timer.as_mut() {
                t.busy = false;
            }
        }
    }
}
