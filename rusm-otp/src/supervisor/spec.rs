//! Child specifications: [`ChildSpec`], [`Restart`], [`Shutdown`], [`ChildType`], [`Backoff`],
//! and the [`Starter`] a start function uses to spawn its child.
//!
//! Defaults are OTP's (`supervisor:child_spec()`,
//! <https://www.erlang.org/doc/apps/stdlib/supervisor#t:child_spec/0>): restart `permanent`,
//! shutdown 5000 ms for a worker and `infinity` for a supervisor, type `worker`, not significant.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{RegisterError, StartError};
use crate::exit::IntoExitReason;
use crate::pid::Pid;
use crate::process::addr::Addr;
use crate::process::cell::Cell;
use crate::process::mailbox::Ctx;
use crate::process::spawn::{spawn_with, SpawnOpts};
use crate::runtime::Inner;

/// When a terminated child is restarted (`restart` in OTP's child spec).
///
/// | exit reason | `Permanent` | `Transient` | `Temporary` |
/// |---|---|---|---|
/// | `Normal` | restarted | not restarted, spec kept | not restarted, spec removed |
/// | `Shutdown`, `Shutdown(_)` | restarted | not restarted, spec kept | not restarted, spec removed |
/// | any other | restarted | restarted | not restarted, spec removed |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Restart {
    /// Always restarted (the default).
    #[default]
    Permanent,
    /// Restarted only after an abnormal exit (see [`ExitReason::is_normal`](crate::ExitReason::is_normal)).
    Transient,
    /// Never restarted; its spec is forgotten when it ends.
    Temporary,
}

/// How a supervisor stops a child (`shutdown` in OTP's child spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// Kill at once with the untrappable kill signal.
    BrutalKill,
    /// Send a `Shutdown` exit signal, wait this long, then kill.
    Timeout(Duration),
    /// Send a `Shutdown` exit signal and wait as long as it takes.
    Infinity,
}

impl Shutdown {
    /// When a child stopped at `start` must be killed; `None` for "wait as long as it takes"
    /// (`Infinity`, or a timeout beyond any clock) and for `BrutalKill`, which does not wait.
    pub(crate) fn deadline(&self, start: tokio::time::Instant) -> Option<tokio::time::Instant> {
        match self {
            Shutdown::Timeout(d) => start.checked_add(*d),
            _ => None,
        }
    }
}

/// Runs a child's start function, turning a panic in it into a failed start, as OTP's
/// supervisor catches a crashing start function and returns `{error, Reason}`: the
/// supervisor and its other children live on.
pub(crate) async fn run_start_fn(
    spec: &ChildSpec,
    starter: Starter,
) -> Result<Started, crate::error::StartError> {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    let panicked = |p| {
        Err(crate::error::StartError::Exited(
            crate::exit::ExitReason::from_panic(p),
        ))
    };
    let fut = match catch_unwind(AssertUnwindSafe(|| (spec.start)(starter))) {
        Ok(fut) => fut,
        Err(p) => return panicked(p),
    };
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(p) => std::task::Poll::Ready(panicked(p)),
        },
    )
    .await
}

/// `5000` ms, OTP's default shutdown for a worker.
pub const DEFAULT_WORKER_SHUTDOWN: Shutdown = Shutdown::Timeout(Duration::from_millis(5000));

/// Whether a child is a worker or a supervisor (`type` in OTP's child spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChildType {
    /// A worker (the default).
    #[default]
    Worker,
    /// A supervisor.
    Supervisor,
}

/// An optional delay before restarting a child, growing exponentially with consecutive
/// restarts. Off by default, as in OTP.
///
/// The restart still counts against the supervisor's intensity **when it is decided**, so a
/// backoff never hides a restart storm from the intensity limit; it only spaces the attempts.
/// The delay for the n-th consecutive restart is `min(initial × 2ⁿ, max)`, shortened by a random
/// fraction up to `jitter`; it starts again at `initial` once the child has run for
/// `reset_after` without exiting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay before the first restart.
    pub initial: Duration,
    /// The largest delay.
    pub max: Duration,
    /// Fraction (0.0–1.0) of the delay that is randomised away.
    pub jitter: f64,
    /// Uptime after which the next restart is treated as the first again.
    pub reset_after: Duration,
}

impl Backoff {
    /// Exponential backoff from `initial` up to `max`, 10% jitter, reset after 30 s of uptime.
    pub fn exponential(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            jitter: 0.1,
            reset_after: Duration::from_secs(30),
        }
    }

    /// The delay before the restart that follows `attempt` consecutive ones (0 = first).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(31));
        let base = self.initial.saturating_mul(factor).min(self.max);
        let jitter = self.jitter.clamp(0.0, 1.0);
        if jitter == 0.0 {
            return base;
        }
        base.mul_f64(1.0 - jitter * pseudo_random())
    }
}

fn pseudo_random() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(1);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
pub(crate) type StartFn =
    Arc<dyn Fn(Starter) -> BoxFuture<Result<Started, StartError>> + Send + Sync>;

/// Given to a start function: spawns the child linked to its supervisor and registered under
/// the spec's name (as `proc_lib:start_link` does for OTP's start functions).
pub struct Starter {
    pub(crate) rt: Arc<Inner>,
    pub(crate) parent: Arc<Cell>,
    pub(crate) name: Option<Arc<str>>,
}

impl fmt::Debug for Starter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Starter")
            .field("supervisor", &self.parent.pid)
            .field("name", &self.name)
            .finish()
    }
}

impl Starter {
    /// Spawns the child process, linked to the supervisor and registered under the spec's name
    /// before its body runs.
    ///
    /// # Errors
    ///
    /// [`StartError::Register`] when the name is taken.
    pub fn spawn<M, F, Fut>(&self, f: F) -> Result<Addr<M>, StartError>
    where
        M: Send + 'static,
        F: FnOnce(Ctx<M>) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoExitReason,
    {
        let opts = SpawnOpts {
            link: Some(self.parent.clone()),
            name: self.name.clone(),
            ..SpawnOpts::default()
        };
        spawn_with(&self.rt, opts, f).map_err(StartError::Register)
    }

    /// Spawns the child like [`spawn`](Self::spawn) and waits until its body calls
    /// [`InitAck::ok`] (as `proc_lib:start_link` waits for `init_ack`): the supervisor starts
    /// the next child only then. If the body calls [`InitAck::fail`], or exits or panics
    /// first, the start fails with that reason.
    ///
    /// # Errors
    ///
    /// [`StartError::Register`] when the name is taken; [`StartError::Failed`] when the child
    /// failed its init.
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe: the child is spawned at the first poll, linked to the
    /// supervisor and registered under the spec's name. Dropping the future while it waits for
    /// the child's init leaves the child running, with only its link to the supervisor: the
    /// supervisor never adds it to its table, so it is not restarted, not stopped by its
    /// shutdown spec, and its exit is ignored; its [`InitAck::ok`] reports to no one.
    pub async fn spawn_init<M, F, Fut>(&self, f: F) -> Result<Addr<M>, StartError>
    where
        M: Send + 'static,
        F: FnOnce(Ctx<M>, InitAck) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoExitReason,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let addr = self.spawn(move |ctx| f(ctx, InitAck { tx }))?;
        match rx.await {
            Ok(Ok(())) => Ok(addr),
            Ok(Err(reason)) => {
                // The child reported failure; it is ending, and its EXIT is ignored by the
                // supervisor, which never recorded it.
                addr.exit(crate::ExitReason::Shutdown(None));
                addr.wait().await;
                Err(StartError::Failed(reason))
            }
            Err(_) => Err(StartError::Failed(addr.wait().await)),
        }
    }

    /// The runtime.
    pub fn runtime(&self) -> crate::Runtime {
        crate::Runtime::borrowed(self.rt.clone())
    }
}

/// Given to a child started with [`Starter::spawn_init`]: report the end of its init.
#[derive(Debug)]
pub struct InitAck {
    tx: tokio::sync::oneshot::Sender<Result<(), crate::ExitReason>>,
}

impl InitAck {
    /// Init succeeded: the supervisor may go on.
    pub fn ok(self) {
        let _ = self.tx.send(Ok(()));
    }

    /// Init failed with `reason`: the start fails; the child should then return.
    pub fn fail(self, reason: crate::ExitReason) {
        let _ = self.tx.send(Err(reason));
    }
}

/// What a start function returns: the started child, or `ignore`; optionally with extra
/// information for the caller of `start_child` (OTP's `{ok, Pid, Info}`, see
/// [`with_info`](Self::with_info)).
pub struct Started {
    pub(crate) cell: Option<Arc<Cell>>,
    /// A child supervisor's shared state (its `SupervisorShared`), opaque here: the child
    /// table reads it.
    pub(crate) sup: Option<Arc<dyn Any + Send + Sync>>,
    /// The child's typed mailbox, for [`SupervisorRef::child_addr`](crate::SupervisorRef::child_addr).
    pub(crate) mailbox: Option<Arc<dyn Any + Send + Sync>>,
    pub(crate) info: Option<Box<dyn Any + Send>>,
}

impl fmt::Debug for Started {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Started")
            .field("pid", &self.cell.as_ref().map(|c| c.pid))
            .finish()
    }
}

impl Started {
    /// The start function chose not to start a child (OTP's `ignore`): a permanent or transient
    /// child's spec is kept, not running; a temporary child's spec is dropped.
    pub fn ignore() -> Self {
        Started {
            cell: None,
            sup: None,
            mailbox: None,
            info: None,
        }
    }

    /// Adds information for the caller of `start_child` or `restart_child`, as OTP's start
    /// functions return `{ok, Pid, Info}`:
    /// [`SupervisorRef::start_child_with_info`](crate::SupervisorRef::start_child_with_info)
    /// hands it back. The supervisor itself ignores it, as OTP's does; a restart by the
    /// supervisor drops it.
    ///
    /// # Examples
    ///
    /// ```
    /// use rusm_otp::{ChildSpec, ChildType, Ctx, Runtime, Started, Strategy, SupervisorSpec};
    ///
    /// let rt = Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let sup = rt.start_supervisor(SupervisorSpec::new(Strategy::OneForOne)).await.unwrap();
    ///     let spec = ChildSpec::from_start("db", ChildType::Worker, |starter| async move {
    ///         let addr = starter.spawn(|mut ctx: Ctx<()>| async move { ctx.recv().await; })?;
    ///         Ok(Started::from(addr).with_info("connected to db-1".to_string()))
    ///     });
    ///     let started = sup.start_child_with_info(spec).await.unwrap();
    ///     assert!(started.pid.is_some());
    ///     assert_eq!(started.info_as::<String>().as_deref(), Some("connected to db-1"));
    ///     sup.stop().await;
    /// });
    /// ```
    pub fn with_info<I: Any + Send>(mut self, info: I) -> Self {
        self.info = Some(Box::new(info));
        self
    }
}

/// What `start_child_with_info` and `restart_child_with_info` return: OTP's `{ok, Pid}`,
/// `{ok, Pid, Info}` and `{ok, undefined}`.
#[derive(Debug)]
pub struct StartedChild {
    /// The child's pid; `None` when its start returned [`Started::ignore`].
    pub pid: Option<Pid>,
    /// What its start function added with [`Started::with_info`].
    pub info: Option<Box<dyn Any + Send>>,
}

impl StartedChild {
    /// The information its start function added, if it is a `T`.
    pub fn info_as<T: Any>(self) -> Option<T> {
        self.info?.downcast().ok().map(|b| *b)
    }
}

impl<M: Send + 'static> From<Addr<M>> for Started {
    fn from(addr: Addr<M>) -> Self {
        let mailbox: Arc<dyn Any + Send + Sync> = addr.tx.clone();
        Started {
            cell: Some(addr.handle.cell.clone()),
            sup: None,
            mailbox: Some(mailbox),
            info: None,
        }
    }
}

/// How to start, restart and stop one child of a supervisor.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use rusm_otp::{ChildSpec, Restart, Shutdown, Ctx};
///
/// let spec = ChildSpec::worker("cache", |mut ctx: Ctx<String>| async move {
///     while let Some(_key) = ctx.recv().await.user() {}
/// })
/// .restart(Restart::Transient)
/// .shutdown(Shutdown::Timeout(Duration::from_secs(1)))
/// .name("cache");
/// assert_eq!(spec.id(), "cache");
/// ```
#[derive(Clone)]
pub struct ChildSpec {
    pub(crate) id: Arc<str>,
    pub(crate) start: StartFn,
    pub(crate) restart: Restart,
    pub(crate) shutdown: Option<Shutdown>,
    pub(crate) child_type: ChildType,
    pub(crate) significant: bool,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) backoff: Option<Backoff>,
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown_spec())
            .field("type", &self.child_type)
            .field("significant", &self.significant)
            .field("name", &self.name)
            .field("backoff", &self.backoff)
            .finish()
    }
}

impl ChildSpec {
    /// A worker that runs `body` in a new process at every (re)start.
    pub fn worker<M, F, Fut>(id: impl Into<Arc<str>>, body: F) -> Self
    where
        M: Send + 'static,
        F: Fn(Ctx<M>) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoExitReason,
    {
        let body = Arc::new(body);
        Self::from_start(id, ChildType::Worker, move |starter: Starter| {
            let body = body.clone();
            async move { starter.spawn(move |ctx| body(ctx)).map(Started::from) }
        })
    }

    /// A worker that runs `init` in its new process before the supervisor goes on to the next
    /// child (a `gen_server`'s `init/1`), then `body` with init's result. An `Err` from init
    /// fails the start with that error.
    ///
    /// # Examples
    ///
    /// ```
    /// # use rusm_otp::{ChildSpec, Ctx};
    /// let spec = ChildSpec::worker_with_init(
    ///     "config",
    ///     || async { std::env::var("HOME").map_err(|e| e.to_string()) },
    ///     |mut ctx: Ctx<()>, home: String| async move {
    ///         let _ = home;
    ///         ctx.recv().await;
    ///     },
    /// );
    /// # let _ = spec;
    /// ```
    pub fn worker_with_init<M, S, E, I, IFut, F, Fut>(
        id: impl Into<Arc<str>>,
        init: I,
        body: F,
    ) -> Self
    where
        M: Send + 'static,
        S: Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
        I: Fn() -> IFut + Send + Sync + 'static,
        IFut: Future<Output = Result<S, E>> + Send + 'static,
        F: Fn(Ctx<M>, S) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoExitReason,
    {
        let init = Arc::new(init);
        let body = Arc::new(body);
        Self::from_start(id, ChildType::Worker, move |starter: Starter| {
            let (init, body) = (init.clone(), body.clone());
            async move {
                starter
                    .spawn_init(move |ctx: Ctx<M>, ack: InitAck| async move {
                        match init().await {
                            Ok(state) => {
                                ack.ok();
                                body(ctx, state).await.into_exit_reason()
                            }
                            Err(e) => {
                                let reason = crate::ExitReason::error(e);
                                ack.fail(reason.clone());
                                reason
                            }
                        }
                    })
                    .await
                    .map(Started::from)
            }
        })
    }

    /// A child started by a start function of your own, which may fail
    /// (`Err(StartError::failed(..))`), decline (`Ok(Started::ignore())`), or spawn the child with
    /// [`Starter::spawn`] and return it.
    pub fn from_start<F, Fut>(id: impl Into<Arc<str>>, child_type: ChildType, start: F) -> Self
    where
        F: Fn(Starter) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Started, StartError>> + Send + 'static,
    {
        ChildSpec {
            id: id.into(),
            start: Arc::new(move |s| Box::pin(start(s))),
            restart: Restart::Permanent,
            shutdown: None,
            child_type,
            significant: false,
            name: None,
            backoff: None,
        }
    }

    /// The child's id, unique among its supervisor's children.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sets the restart type (default [`Restart::Permanent`]).
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Sets how the child is stopped (default 5 s for a worker, infinity for a supervisor).
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = Some(shutdown);
        self
    }

    /// Marks the child significant for the supervisor's [`AutoShutdown`](crate::AutoShutdown)
    /// (OTP ≥ 24). Not allowed with [`Restart::Permanent`].
    pub fn significant(mut self, significant: bool) -> Self {
        self.significant = significant;
        self
    }

    /// Registers every incarnation of the child under `name` before it runs.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Delays restarts with exponential backoff (off by default).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = Some(backoff);
        self
    }

    pub(crate) fn shutdown_spec(&self) -> Shutdown {
        self.shutdown.unwrap_or(match self.child_type {
            ChildType::Worker => DEFAULT_WORKER_SHUTDOWN,
            ChildType::Supervisor => Shutdown::Infinity,
        })
    }

    pub(crate) fn starter(&self, rt: Arc<Inner>, parent: &Arc<Cell>) -> Starter {
        Starter {
            rt,
            parent: parent.clone(),
            name: self.name.clone(),
        }
    }

    /// The spec's restart type.
    pub fn restart_type(&self) -> Restart {
        self.restart
    }

    /// The spec's child type.
    pub fn child_type(&self) -> ChildType {
        self.child_type
    }
}

impl From<RegisterError> for StartError {
    fn from(e: RegisterError) -> Self {
        StartError::Register(e)
    }
}
