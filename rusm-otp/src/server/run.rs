//! The server loop (`gen_server:loop`) and the ways to start one.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use super::behaviour::{Envelope, Kind};
use super::behaviour::{Init, Next, Server, ServerCtx, ServerRef};
use crate::error::StartError;
use crate::exit::ExitReason;
use crate::pid::Pid;
use crate::process::mailbox::Ctx;
use crate::process::queue::Msg;
use crate::process::spawn::{spawn_with, SpawnOpts};
use crate::runtime::{Inner, Runtime};
use crate::supervisor::spec::{ChildSpec, ChildType, Started, Starter};

/// What `init` told the starter.
enum Ack {
    Started,
    Ignore,
    Failed(ExitReason),
}

pin_project_lite::pin_project! {
    /// A callback's future, with its panic caught so that `terminate` can still run.
    struct Guarded<F> {
        #[pin]
        fut: F,
    }
}

impl<F: Future> Future for Guarded<F> {
    type Output = Result<F::Output, ExitReason>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = self.project().fut;
        match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(ExitReason::from_panic(payload))),
        }
    }
}

fn guarded<F: Future>(fut: F) -> Guarded<F> {
    Guarded { fut }
}

/// The body of a server process.
async fn run<S: Server>(
    ctx: Ctx<Envelope<S>>,
    args: S::Args,
    parent: Option<Pid>,
    ack: oneshot::Sender<Ack>,
) -> ExitReason {
    let mut ctx = ServerCtx { ctx, parent };
    let init = match guarded(S::init(args, &mut ctx)).await {
        Ok(init) => init,
        Err(panic) => Init::Stop(panic),
    };
    let (mut state, mut next) = match init {
        Init::Ok(s) => (s, Next::Noreply),
        Init::Continue(s) => (s, Next::Continue),
        Init::Ignore | Init::Stop(_) => {
            // A failed start is the starter's error, not an exit signal to it (as
            // `proc_lib:init_fail/3` with `start_link` since OTP 26).
            if let Some(p) = parent {
                ctx.ctx.unlink(p);
            }
            return match init {
                Init::Stop(reason) => {
                    let _ = ack.send(Ack::Failed(reason.clone()));
                    reason
                }
                _ => {
                    let _ = ack.send(Ack::Ignore);
                    ExitReason::Normal
                }
            };
        }
    };
    let _ = ack.send(Ack::Started);
    let mut panic_at = None;
    loop {
        let outcome = match next {
            Next::Noreply => {
                let msg = match ctx.ctx.recv().await {
                    Msg::User(Envelope(Kind::Stop(reason))) => {
                        return terminate(&mut state, &mut ctx, reason).await;
                    }
                    Msg::Exit(e) if Some(e.from) == ctx.parent => {
                        // gen_server: an exit signal from the parent (a supervisor's shutdown,
                        // received because the server traps exits) terminates the server.
                        return terminate(&mut state, &mut ctx, e.reason).await;
                    }
                    msg => msg,
                };
                match msg {
                    Msg::User(Envelope(Kind::Call(env))) => {
                        guarded(env.dispatch(&mut state, &mut ctx)).await
                    }
                    Msg::User(Envelope(Kind::Cast(env))) => {
                        guarded(env.dispatch(&mut state, &mut ctx)).await
                    }
                    Msg::User(Envelope(Kind::Info(info))) => {
                        guarded(state.handle_info(Msg::User(info), &mut ctx)).await
                    }
                    Msg::User(Envelope(Kind::Stop(_))) => unreachable!("handled above"),
                    Msg::User(Envelope(Kind::Inspect(look))) => {
                        catch_unwind(AssertUnwindSafe(|| look(&state)))
                            .map(|()| Next::Noreply)
                            .map_err(ExitReason::from_panic)
                    }
                    Msg::Exit(e) => guarded(state.handle_info(Msg::Exit(e), &mut ctx)).await,
                    Msg::Down(d) => guarded(state.handle_info(Msg::Down(d), &mut ctx)).await,
                }
            }
            Next::Continue => guarded(state.handle_continue(&mut ctx)).await,
            Next::Stop(reason) => {
                let reason = terminate(&mut state, &mut ctx, reason).await;
                // The exit is reported with the panic's location, if a callback panicked.
                crate::panics::restore_location(panic_at);
                return reason;
            }
        };
        next = match outcome {
            Ok(next) => next,
            Err(panic) => {
                panic_at = crate::panics::take_location();
                Next::Stop(panic)
            }
        };
    }
}

async fn terminate<S: Server>(
    state: &mut S,
    ctx: &mut ServerCtx<S>,
    reason: ExitReason,
) -> ExitReason {
    match guarded(state.terminate(&reason, ctx)).await {
        Ok(()) => reason,
        Err(panic) => {
            tracing::error!(pid = %ctx.pid(), server = std::any::type_name::<S>(), reason = %panic, while_stopping = %reason, "server terminate panicked");
            panic
        }
    }
}

/// Spawns a server and waits for its `init`.
async fn start<S: Server>(
    rt: Arc<Inner>,
    opts: SpawnOpts,
    args: S::Args,
) -> Result<ServerRef<S>, StartError> {
    let parent = opts.link.as_ref().map(|c| c.pid);
    let (tx, rx) = oneshot::channel();
    let addr = spawn_with(&rt, opts, move |ctx| run::<S>(ctx, args, parent, tx))?;
    match rx.await {
        Ok(Ack::Started) => Ok(ServerRef { addr }),
        Ok(Ack::Ignore) => {
            addr.wait().await;
            Err(StartError::Ignored)
        }
        Ok(Ack::Failed(reason)) => {
            addr.wait().await;
            Err(StartError::Failed(reason))
        }
        // Killed during init.
        Err(_) => Err(StartError::Failed(addr.wait().await)),
    }
}

impl Runtime {
    /// Starts a server with no link (`gen_server:start/3`) and returns once its
    /// [`init`](Server::init) has returned.
    ///
    /// # Errors
    ///
    /// [`StartError::Failed`] with the reason when `init` returned [`Init::Stop`] or panicked;
    /// [`StartError::Ignored`] for [`Init::Ignore`].
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe: the server process is spawned at the first poll, and
    /// dropping the future while `init` runs does not stop it. It runs `init` to its end and,
    /// if that succeeds, serves; but no [`ServerRef`] comes back, so it is reached only by its
    /// pid ([`Runtime::processes`]) or its name.
    pub async fn start_server<S: Server>(&self, args: S::Args) -> Result<ServerRef<S>, StartError> {
        start::<S>(self.inner.clone(), SpawnOpts::default(), args).await
    }

    /// Starts a server registered under `name` before its `init` runs
    /// (`gen_server:start({local, Name}, …)`); [`whereis_server`](Self::whereis_server) finds
    /// it by that name.
    ///
    /// # Errors
    ///
    /// As [`start_server`](Self::start_server), and [`StartError::Register`] when the name is
    /// taken.
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe, as [`start_server`](Self::start_server): the name is
    /// taken at the first poll, and a server whose start future was dropped keeps it;
    /// [`whereis_server`](Self::whereis_server) finds it.
    pub async fn start_server_named<S: Server>(
        &self,
        name: impl Into<Arc<str>>,
        args: S::Args,
    ) -> Result<ServerRef<S>, StartError> {
        let opts = SpawnOpts {
            name: Some(name.into()),
            ..SpawnOpts::default()
        };
        start::<S>(self.inner.clone(), opts, args).await
    }

    /// The server of type `S` registered under `name`; `None` if there is none, or the
    /// process under that name is not an `S`.
    pub fn whereis_server<S: Server>(&self, name: &str) -> Option<ServerRef<S>> {
        self.whereis_addr::<Envelope<S>>(name)
            .map(|addr| ServerRef { addr })
    }
}

impl<M> Ctx<M> {
    /// Starts a server linked to this process (`gen_server:start_link/3`): this process is its
    /// parent, whose exit signal terminates it (calling `terminate` when it traps exits).
    ///
    /// # Errors
    ///
    /// As [`Runtime::start_server`]. A failed start is returned, not sent as an exit signal.
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe: the server is spawned and linked at the first poll, and
    /// dropping the future while `init` runs does not stop it; it goes on, linked to this
    /// process, with no [`ServerRef`] returned.
    pub async fn start_server_link<S: Server>(
        &self,
        args: S::Args,
    ) -> Result<ServerRef<S>, StartError> {
        let opts = SpawnOpts {
            link: Some(self.addr.handle.cell.clone()),
            ..SpawnOpts::default()
        };
        start::<S>(self.addr.handle.rt_arc(), opts, args).await
    }
}

impl<S: Server> From<ServerRef<S>> for Started {
    fn from(server: ServerRef<S>) -> Self {
        Started::from(server.addr)
    }
}

impl Starter {
    /// Starts a server as this child (linked to the supervisor, under the spec's name), for
    /// start functions of your own; [`ChildSpec::server`] is the usual way.
    ///
    /// # Errors
    ///
    /// As [`Runtime::start_server`].
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe: the server is spawned at the first poll, linked to the
    /// supervisor and registered under the spec's name, and dropping the future while `init`
    /// runs does not stop it. The supervisor then never records it (see
    /// [`spawn_init`](Self::spawn_init)): it runs with only its link to the supervisor.
    pub async fn start_server<S: Server>(&self, args: S::Args) -> Result<ServerRef<S>, StartError> {
        let opts = SpawnOpts {
            link: Some(self.parent.clone()),
            name: self.name.clone(),
            ..SpawnOpts::default()
        };
        start::<S>(self.rt.clone(), opts, args).await
    }
}

impl ChildSpec {
    /// A worker that starts server `S` with a clone of `args` at every (re)start, as an OTP
    /// child spec `{Module, start_link, [Args]}`. A failed `init` is a failed start; `ignore`
    /// keeps the child as not running. Give it a [`name`](Self::name) to find every
    /// incarnation with [`Runtime::whereis_server`].
    ///
    /// # Examples
    ///
    /// ```
    /// use rusm_otp::server::{Init, Server, ServerCtx};
    /// use rusm_otp::{ChildSpec, Runtime, Strategy, SupervisorSpec};
    ///
    /// struct Counter(u64);
    /// impl Server for Counter {
    ///     type Args = u64;
    ///     type Info = ();
    ///     async fn init(start: u64, _: &mut ServerCtx<Self>) -> Init<Self> {
    ///         Init::Ok(Counter(start))
    ///     }
    /// }
    ///
    /// let rt = Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let spec = SupervisorSpec::new(Strategy::OneForOne)
    ///         .child(ChildSpec::server::<Counter>("counter", 10).name("counter"));
    ///     let sup = rt.start_supervisor(spec).await.unwrap();
    ///     let counter = rt.whereis_server::<Counter>("counter").unwrap();
    ///     counter.kill();
    ///     counter.wait().await;
    ///     // Restarted under the same name.
    ///     # while rt.whereis_server::<Counter>("counter").is_none_or(|c| c.pid() == counter.pid()) {
    ///     #     tokio::task::yield_now().await;
    ///     # }
    ///     assert_ne!(rt.whereis_server::<Counter>("counter").unwrap().pid(), counter.pid());
    ///     sup.stop().await;
    /// });
    /// ```
    pub fn server<S>(id: impl Into<Arc<str>>, args: S::Args) -> ChildSpec
    where
        S: Server,
        S::Args: Clone + Sync,
    {
        ChildSpec::from_start(id, ChildType::Worker, move |starter: Starter| {
            let args = args.clone();
            async move {
                match starter.start_server::<S>(args).await {
                    Ok(server) => Ok(Started::from(server)),
                    Err(StartError::Ignored) => Ok(Started::ignore()),
                    Err(e) => Err(e),
                }
            }
        })
    }
}
