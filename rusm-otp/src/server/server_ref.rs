//! [`ServerRef`]: the typed address of a server — call, cast, send, stop.

use std::fmt;
use std::future::poll_fn;
use std::time::Duration;

use super::behaviour::{Call, Cast, Server, ServerRef};
use super::behaviour::{Envelope, Kind};
use super::caller::CallCell;
use super::dispatch::CastBox;
use crate::call::{within, DEFAULT_CALL_TIMEOUT};
use crate::error::{CallError, SendError};
use crate::exit::ExitReason;
use crate::process::addr::ProcessHandle;
use crate::process::current::current_pid;

/// Stops waiting for a reply when dropped before it came (a timed-out or cancelled call).
struct Waiting<'a, Req: Send + 'static, R: Send + 'static>(&'a CallCell<Req, R>, bool);

impl<Req: Send + 'static, R: Send + 'static> Drop for Waiting<'_, Req, R> {
    fn drop(&mut self) {
        if !self.1 {
            self.0.cancel();
        }
    }
}

impl<S: Server> ServerRef<S> {
    /// Sends `req` and waits up to 5 s ([`DEFAULT_CALL_TIMEOUT`]) for its reply
    /// (`gen_server:call/2`).
    ///
    /// # Errors
    ///
    /// [`CallError::NoProc`] with the request when the server is not alive;
    /// [`CallError::Exited`] when it exits before replying (at once, not at the timeout);
    /// [`CallError::Timeout`]; [`CallError::CallingSelf`] when a server calls itself.
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe: the request is queued in the server's mailbox at the
    /// first poll. Dropping the future after that withdraws it if the server has not taken it
    /// yet (it is dropped, never handled); once the server has taken it, `handle_call` runs to
    /// its end and the reply is dropped (as a late reply to a timed-out `gen_server:call`).
    /// Dropped before its first poll, the future sends nothing. A timeout ends the call the
    /// same way.
    pub async fn call<Req>(&self, req: Req) -> Result<S::Reply, CallError<Req>>
    where
        S: Call<Req>,
        Req: Send + 'static,
    {
        self.call_timeout(req, DEFAULT_CALL_TIMEOUT).await
    }

    /// Sends `req` and waits up to `timeout` for its reply (`gen_server:call/3`);
    /// `Duration::MAX` waits as long as it takes (`infinity`).
    ///
    /// The call costs one allocation (the request and its reply slot together) and no timer
    /// when the reply is there at the first look.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe, as [`call`](Self::call).
    pub async fn call_timeout<Req>(
        &self,
        req: Req,
        timeout: Duration,
    ) -> Result<S::Reply, CallError<Req>>
    where
        S: Call<Req>,
        Req: Send + 'static,
    {
        let pid = self.addr.pid();
        if current_pid() == pid {
            return Err(CallError::CallingSelf(pid));
        }
        let cell = CallCell::<Req, S::Reply>::new(req);
        if let Err(SendError(env)) = self.addr.send(cell.envelope::<S>()) {
            let req = env
                .0
                .unsent_call::<Req>()
                .expect("the request was never taken");
            return Err(CallError::NoProc(pid, req));
        }
        let mut waiting = Waiting(&cell, false);
        // One deadline for both waits: a server that lets go of the caller late must not
        // extend the call past `timeout`.
        let reply = within(timeout, async {
            match poll_fn(|cx| waiting.0.poll_reply(cx)).await {
                Ok(r) => {
                    waiting.1 = true; // taken: nothing to cancel
                    Ok(r)
                }
                // Every hold on the call went without a reply: the server is exiting (its
                // reason), or it dropped the caller and we wait out the timeout, as OTP's
                // caller does.
                Err(()) => Err(self.addr.wait().await),
            }
        })
        .await;
        drop(waiting);
        match reply {
            Some(Ok(r)) => Ok(r),
            Some(Err(reason)) => Err(CallError::Exited(pid, reason)),
            None => Err(CallError::Timeout),
        }
    }

    /// Sends a request without waiting (`gen_server:cast/2`).
    ///
    /// # Errors
    ///
    /// [`SendError`] with the message when the server is not alive. (OTP's cast always
    /// returns `ok`; the message back is the more useful answer.)
    pub fn cast<M>(&self, msg: M) -> Result<(), SendError<M>>
    where
        S: Cast<M>,
        M: Send + 'static,
    {
        self.addr
            .send(Envelope(Kind::Cast(Box::new(CastBox(msg)))))
            .map_err(|SendError(env)| {
                SendError(env.0.unsent_cast::<M>().expect("the cast was never taken"))
            })
    }

    /// Sends a plain message, handled by [`Server::handle_info`] (`Pid ! Msg`).
    ///
    /// # Errors
    ///
    /// [`SendError`] with the message when the server is not alive.
    pub fn send(&self, info: S::Info) -> Result<(), SendError<S::Info>> {
        self.addr
            .send(Envelope(Kind::Info(info)))
            .map_err(|SendError(env)| match env.0 {
                Kind::Info(info) => SendError(info),
                _ => unreachable!("an info envelope comes back as one"),
            })
    }

    /// Stops the server with `reason` once it has handled what is queued before this request,
    /// after [`Server::terminate`] ran, and returns its exit reason (`gen_server:stop/2`). A
    /// server that is already dead returns the reason it died with.
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe: the stop request is queued at the first poll, and the
    /// server still stops; dropping the future only stops waiting for its exit.
    pub async fn stop(&self, reason: ExitReason) -> ExitReason {
        let _ = self.addr.send(Envelope(Kind::Stop(reason)));
        self.addr.wait().await
    }

    /// The server's state as `{:#?}` prints it, read between two messages (OTP's
    /// `sys:get_state/1`, for debugging).
    ///
    /// # Errors
    ///
    /// [`CallError::NoProc`] when the server is not alive, [`CallError::Exited`] when it exits
    /// first, [`CallError::Timeout`] after 5 s (it is busy in a callback).
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe: the request changes nothing, and dropping the future only
    /// stops waiting; the server, when it comes to the request, formats its state for no one.
    pub async fn get_state(&self) -> Result<String, CallError>
    where
        S: fmt::Debug,
    {
        let pid = self.addr.pid();
        if current_pid() == pid {
            return Err(CallError::CallingSelf(pid));
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let look = Box::new(move |s: &S| {
            let _ = tx.send(format!("{s:#?}"));
        });
        if self.addr.send(Envelope(Kind::Inspect(look))).is_err() {
            return Err(CallError::NoProc(pid, ()));
        }
        let reply = within(DEFAULT_CALL_TIMEOUT, async {
            match rx.await {
                Ok(state) => Ok(state),
                Err(_) => Err(self.addr.wait().await),
            }
        })
        .await;
        match reply {
            Some(Ok(state)) => Ok(state),
            Some(Err(reason)) => Err(CallError::Exited(pid, reason)),
            None => Err(CallError::Timeout),
        }
    }

    /// How many requests and messages wait in the server's mailbox (`message_queue_len`).
    pub fn message_queue_len(&self) -> usize {
        self.addr.message_queue_len()
    }

    /// The server's untyped process handle.
    pub fn handle(&self) -> &ProcessHandle {
        self.addr.handle()
    }
}
