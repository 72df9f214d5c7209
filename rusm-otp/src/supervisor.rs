//! Supervisors with OTP's semantics (<https://www.erlang.org/doc/apps/stdlib/supervisor>).
//!
//! A supervisor is a process that traps exits, starts its children in order, restarts them by
//! its [`Strategy`] and each child's [`Restart`] type, and stops them in reverse order.
//!
//! - **Start.** Children start left to right; each start function returns before the next
//!   begins. If one fails, the children already started are stopped in reverse order and the
//!   start returns [`StartError::FailedToStartChild`].
//! - **Restart intensity.** More than `intensity` restarts within `period` (default 1 in 5 s,
//!   OTP's) and the supervisor stops all its children and exits with `Shutdown`, which its own
//!   supervisor sees as a child exit (escalation). Each restart decision counts once: a group
//!   restart is one; a restart whose start fails is retried and counts again.
//! - **A child's normal exit never stops its supervisor**: a permanent child is restarted, a
//!   transient or temporary one is left stopped. Only [`AutoShutdown`] with significant
//!   children ends a supervisor because a child ended.
//! - **Names.** A child with [`ChildSpec::name`] is registered at every start, after the old
//!   incarnation has exited and released the name.
//! - **Mailboxes.** A restarted child is a new process with a new pid and an empty mailbox, as
//!   in OTP; messages queued to the old incarnation are dropped with it.
//! - **Calls.** Every request — [`SupervisorRef::start_child`], `which_children`,
//!   `count_children`, `get_childspec`, … — is a message the supervisor answers between its
//!   other work, after the child exits it has already been told of (exit signals come before
//!   requests), as OTP's `gen_server` calls. [`Runtime::tree`], [`SupervisorRef::child_pid`]
//!   and the handles found from a row ([`SupervisorRef::child_addr`],
//!   [`SupervisorRef::child_supervisor`]) read the table instead: they never wait for a busy
//!   supervisor, and may show it mid-step.
//! - **Orderly stops.** A child stopped on purpose from outside — a drained listener
//!   ([`Listener::drain`](crate::Listener::drain)) — is left stopped, as after
//!   `terminate_child`, whatever its restart type; OTP has no such stop (see
//!   `child_exited` in the source).
//! - **Scale.** Starting and stopping a child costs the same with ten siblings or 100,000
//!   (`examples/supervisor_scale.rs` times OTP's `scale_start_stop_many_children`).
//!
//! # Examples
//!
//! ```
//! use rusm_otp::{Runtime, SupervisorSpec, ChildSpec, Strategy, Ctx};
//!
//! let rt = Runtime::new().unwrap();
//! rt.block_on(async {
//!     let sup = rt
//!         .start_supervisor(
//!             SupervisorSpec::new(Strategy::OneForOne)
//!                 .child(ChildSpec::worker("a", |mut ctx: Ctx<()>| async move {
//!                     ctx.recv().await;
//!                 }))
//!                 .child(ChildSpec::worker("b", |mut ctx: Ctx<()>| async move {
//!                     ctx.recv().await;
//!                 })),
//!         )
//!         .await
//!         .unwrap();
//!     assert_eq!(sup.count_children().await.unwrap().active, 2);
//!     println!("{}", rt.tree());
//!     sup.stop().await;
//! });
//! ```

pub(crate) mod dynamic;
mod spec;
mod strategy;
mod table;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::call::ReplyTo;
use crate::error::{StartError, SupervisorError};
use crate::exit::ExitReason;
use crate::link::ExitSignal;
use crate::process::cell::{lock_pair, Cell, Signal};
use crate::process::{spawn_with, Addr, Ctx, Msg, Pid, ProcessHandle, SpawnOpts};
use crate::runtime::{Inner, Runtime};
use strategy::RestartWindow;
pub(crate) use table::{Child, ChildState, ChildTable, StaticChildren, SupervisorShared};
pub use table::{ChildCounts, ChildInfo};

pub use dynamic::{DynamicSupervisorRef, DynamicSupervisorSpec};
pub use spec::{
    Backoff, ChildSpec, ChildType, InitAck, Restart, Shutdown, Started, StartedChild, Starter,
    DEFAULT_WORKER_SHUTDOWN,
};
pub use strategy::{AutoShutdown, Strategy, DEFAULT_INTENSITY, DEFAULT_PERIOD};

/// A supervisor's flags and its children, in start order.
#[derive(Debug, Clone, Default)]
pub struct SupervisorSpec {
    pub(crate) strategy: Strategy,
    pub(crate) intensity: u32,
    pub(crate) period: Duration,
    pub(crate) auto_shutdown: AutoShutdown,
    pub(crate) children: Vec<ChildSpec>,
    pub(crate) name: Option<Arc<str>>,
    /// Crate-internal: runs when the supervisor starts to stop (see [`StopHook`]).
    pub(crate) on_stop: Option<StopHook>,
}

/// A callback run once, when a supervisor starts to stop — before it stops its children — or
/// at the latest when its process state is dropped (a `kill`), before its exit is published.
/// A listener closes its socket here, so that a stopping listener refuses clients at once.
#[derive(Clone)]
pub(crate) struct StopHook(Arc<StopHookOnce>);

struct StopHookOnce(Mutex<Option<Box<dyn FnOnce() + Send>>>);

impl StopHook {
    pub(crate) fn new(f: impl FnOnce() + Send + 'static) -> Self {
        StopHook(Arc::new(StopHookOnce(Mutex::new(Some(Box::new(f))))))
    }

    fn run(&self) {
        self.0.run();
    }
}

impl StopHookOnce {
    fn run(&self) {
        let f = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(f) = f {
            f();
        }
    }
}

impl Drop for StopHookOnce {
    fn drop(&mut self) {
        self.run();
    }
}

impl std::fmt::Debug for StopHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StopHook")
    }
}

impl SupervisorSpec {
    /// A spec with OTP's defaults: intensity 1, period 5 s, no auto-shutdown, no children.
    pub fn new(strategy: Strategy) -> Self {
        SupervisorSpec {
            strategy,
            intensity: DEFAULT_INTENSITY,
            period: DEFAULT_PERIOD,
            auto_shutdown: AutoShutdown::Never,
            children: Vec::new(),
            name: None,
            on_stop: None,
        }
    }

    /// At most `intensity` restarts within `period` (whole seconds, at least 1), or the
    /// supervisor gives up.
    pub fn intensity(mut self, intensity: u32, period: Duration) -> Self {
        self.intensity = intensity;
        self.period = period;
        self
    }

    /// Sets [`AutoShutdown`].
    pub fn auto_shutdown(mut self, auto_shutdown: AutoShutdown) -> Self {
        self.auto_shutdown = auto_shutdown;
        self
    }

    /// Appends a child; children start in the order they are added.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }

    /// Registers the supervisor itself under `name`.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    fn validate(&self) -> Result<(), StartError> {
        if self.period.as_secs() == 0 {
            return Err(StartError::InvalidSpec(
                "supervisor period must be at least 1 second".into(),
            ));
        }
        check_childspecs(&self.children, self.auto_shutdown)
    }
}

/// Checks child specs as a supervisor started with them under `auto_shutdown` would, without
/// starting anything (OTP's `check_childspecs/2`; `check_childspecs/1` is
/// `AutoShutdown::Never`): ids unique, and `significant` only on transient or temporary
/// children of a supervisor whose auto-shutdown is not `Never`. The rest of what OTP checks
/// (the types of `restart`, `shutdown`, `type`, `modules`) the Rust types already ensure.
///
/// # Errors
///
/// [`StartError::InvalidSpec`] saying what is wrong with the first bad spec.
///
/// # Examples
///
/// ```
/// use rusm_otp::supervisor::check_childspecs;
/// use rusm_otp::{AutoShutdown, ChildSpec, Ctx};
///
/// let w = |id: &str| ChildSpec::worker(id, |mut ctx: Ctx<()>| async move { ctx.recv().await; });
/// assert!(check_childspecs(&[w("a"), w("b")], AutoShutdown::Never).is_ok());
/// assert!(check_childspecs(&[w("a"), w("a")], AutoShutdown::Never).is_err());
/// assert!(check_childspecs(&[w("a").significant(true)], AutoShutdown::AnySignificant).is_err());
/// ```
pub fn check_childspecs(
    specs: &[ChildSpec],
    auto_shutdown: AutoShutdown,
) -> Result<(), StartError> {
    let mut seen = std::collections::HashSet::new();
    for c in specs {
        if !seen.insert(c.id.clone()) {
            return Err(StartError::InvalidSpec(format!(
                "duplicate child id `{}`; give each child its own id",
                c.id
            )));
        }
        validate_child(c, auto_shutdown)?;
    }
    Ok(())
}

pub(crate) fn validate_child(c: &ChildSpec, auto: AutoShutdown) -> Result<(), StartError> {
    if c.significant && c.restart == Restart::Permanent {
        return Err(StartError::InvalidSpec(format!(
            "child `{}` is significant and permanent; make it transient or temporary",
            c.id
        )));
    }
    if c.significant && auto == AutoShutdown::Never {
        return Err(StartError::InvalidSpec(format!(
            "child `{}` is significant but the supervisor's auto_shutdown is never",
            c.id
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Public handle.

pub(crate) enum SupMsg {
    StartChild(ChildSpec, ReplyTo<Result<StartedChild, SupervisorError>>),
    TerminateChild(String, ReplyTo<Result<(), SupervisorError>>),
    RestartChild(String, ReplyTo<Result<StartedChild, SupervisorError>>),
    GetChildSpec(String, ReplyTo<Result<ChildSpec, SupervisorError>>),
    DeleteChild(String, ReplyTo<Result<(), SupervisorError>>),
    WhichChildren(ReplyTo<Result<Vec<ChildInfo>, SupervisorError>>),
    CountChildren(ReplyTo<Result<ChildCounts, SupervisorError>>),
    TryAgain(Arc<str>),
    DelayedRestart(Arc<str>),
    Stop,
}

/// A handle to a running supervisor: OTP's child-management API and introspection.
///
/// Dereferences to the supervisor's [`ProcessHandle`].
#[derive(Clone)]
pub struct SupervisorRef {
    addr: Addr<SupMsg>,
    pub(crate) shared: Arc<SupervisorShared>,
}

impl std::fmt::Debug for SupervisorRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupervisorRef")
            .field("pid", &self.addr.pid())
            .finish()
    }
}

impl std::ops::Deref for SupervisorRef {
    type Target = ProcessHandle;
    fn deref(&self) -> &ProcessHandle {
        &self.addr.handle
    }
}

impl From<SupervisorRef> for Started {
    fn from(s: SupervisorRef) -> Self {
        Started {
            sup: Some(s.shared),
            ..Started::from(s.addr)
        }
    }
}

impl SupervisorRef {
    async fn request<R>(
        &self,
        make: impl FnOnce(ReplyTo<Result<R, SupervisorError>>) -> SupMsg,
    ) -> Result<R, SupervisorError> {
        // Supervisor calls wait as long as it takes, as OTP's (`infinity`).
        match self.addr.call_timeout(make, Duration::MAX).await {
            Ok(r) => r,
            Err(_) => Err(SupervisorError::NoProc(self.addr.pid())),
        }
    }

    /// Adds and starts a child (`start_child/2`). `Ok(None)` when its start returned
    /// [`Started::ignore`].
    ///
    /// # Errors
    ///
    /// [`SupervisorError::AlreadyStarted`] / [`AlreadyPresent`](SupervisorError::AlreadyPresent)
    /// for a used id, [`SupervisorError::Start`] when the start fails (the spec is not kept).
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe: the request is sent at the first poll, and dropping
    /// the future after that does not withdraw it; the child is started all the same.
    pub async fn start_child(&self, spec: ChildSpec) -> Result<Option<Pid>, SupervisorError> {
        self.start_child_with_info(spec).await.map(|s| s.pid)
    }

    /// [`start_child`](Self::start_child), also returning what the child's start function
    /// added with [`Started::with_info`] (OTP's `{ok, Pid, Info}`).
    ///
    /// # Errors
    ///
    /// As [`start_child`](Self::start_child).
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe, as [`start_child`](Self::start_child).
    pub async fn start_child_with_info(
        &self,
        spec: ChildSpec,
    ) -> Result<StartedChild, SupervisorError> {
        self.request(|r| SupMsg::StartChild(spec, r)).await
    }

    /// Stops a child by its shutdown spec and keeps its spec, unless it is temporary
    /// (`terminate_child/2`). Terminating a stopped child is `Ok`; terminating a child being
    /// restarted cancels its restart.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::NotFound`] for an unknown id.
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe: once sent (at the first poll), the request is carried
    /// out whether or not the future is still there to see the answer.
    pub async fn terminate_child(&self, id: &str) -> Result<(), SupervisorError> {
        self.request(|r| SupMsg::TerminateChild(id.to_string(), r))
            .await
    }

    /// Starts a stopped child again (`restart_child/2`); does not count as a restart.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::Running`], [`Restarting`](SupervisorError::Restarting),
    /// [`NotFound`](SupervisorError::NotFound), or [`Start`](SupervisorError::Start).
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe, as [`start_child`](Self::start_child).
    pub async fn restart_child(&self, id: &str) -> Result<Option<Pid>, SupervisorError> {
        self.restart_child_with_info(id).await.map(|s| s.pid)
    }

    /// [`restart_child`](Self::restart_child), also returning what the child's start
    /// function added with [`Started::with_info`] (OTP's `{ok, Pid, Info}`).
    ///
    /// # Errors
    ///
    /// As [`restart_child`](Self::restart_child).
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe, as [`start_child`](Self::start_child).
    pub async fn restart_child_with_info(&self, id: &str) -> Result<StartedChild, SupervisorError> {
        self.request(|r| SupMsg::RestartChild(id.to_string(), r))
            .await
    }

    /// Removes a stopped child's spec (`delete_child/2`).
    ///
    /// # Errors
    ///
    /// [`SupervisorError::Running`], [`Restarting`](SupervisorError::Restarting) or
    /// [`NotFound`](SupervisorError::NotFound).
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe: once sent (at the first poll), the request is carried
    /// out whether or not the future is still there to see the answer.
    pub async fn delete_child(&self, id: &str) -> Result<(), SupervisorError> {
        self.request(|r| SupMsg::DeleteChild(id.to_string(), r))
            .await
    }

    /// The spec of the child with this id (`get_childspec/2`), running or not: a call, as
    /// OTP's.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::NotFound`] for an unknown id, [`NoProc`](SupervisorError::NoProc)
    /// when the supervisor is not alive.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe: dropping the future only stops waiting for the answer.
    ///
    /// # Examples
    ///
    /// ```
    /// use rusm_otp::{ChildSpec, Ctx, Restart, Runtime, Strategy, SupervisorSpec};
    ///
    /// let rt = Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let cache = ChildSpec::worker("cache", |mut ctx: Ctx<()>| async move { ctx.recv().await; })
    ///         .restart(Restart::Transient);
    ///     let sup = rt
    ///         .start_supervisor(SupervisorSpec::new(Strategy::OneForOne).child(cache))
    ///         .await
    ///         .unwrap();
    ///     let spec = sup.get_childspec("cache").await.unwrap();
    ///     assert_eq!((spec.id(), spec.restart_type()), ("cache", Restart::Transient));
    ///     sup.stop().await;
    /// });
    /// ```
    pub async fn get_childspec(&self, id: &str) -> Result<ChildSpec, SupervisorError> {
        self.request(|r| SupMsg::GetChildSpec(id.to_string(), r))
            .await
    }

    /// The children in start order (`which_children/1`).
    ///
    /// A call, as OTP's: the supervisor answers between the messages it handles, so the answer
    /// reflects every child exit it has seen — a child that exited before the call is shown
    /// restarted, stopped or gone, never with its dead pid. It waits while the supervisor is
    /// busy (starting or stopping a child); [`Runtime::tree`] reads the same rows without
    /// waiting, at the cost of showing the supervisor mid-step.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::NoProc`] when the supervisor is not alive.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe: the request changes nothing, and dropping the future only
    /// stops waiting for the answer.
    ///
    /// # Examples
    ///
    /// ```
    /// use rusm_otp::{ChildSpec, Ctx, Runtime, Strategy, SupervisorSpec};
    ///
    /// let rt = Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let worker = ChildSpec::worker("w", |mut ctx: Ctx<()>| async move { ctx.recv().await; });
    ///     let sup = rt
    ///         .start_supervisor(SupervisorSpec::new(Default::default()).child(worker))
    ///         .await
    ///         .unwrap();
    ///     let old = sup.which_children().await.unwrap()[0].pid.unwrap();
    ///     let h = rt.process(old).unwrap();
    ///     h.kill();
    ///     h.wait().await;
    ///     // The supervisor has handled the exit before it answers: a new pid, never the old one.
    ///     let now = sup.which_children().await.unwrap()[0].pid;
    ///     assert!(now.is_some() && now != Some(old));
    ///     sup.stop().await;
    /// });
    /// ```
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.request(SupMsg::WhichChildren).await
    }

    /// Counts of the children (`count_children/1`): a call, ordered with the supervisor's
    /// handling as [`which_children`](Self::which_children).
    ///
    /// # Errors
    ///
    /// [`SupervisorError::NoProc`] when the supervisor is not alive.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe: dropping the future only stops waiting for the answer.
    pub async fn count_children(&self) -> Result<ChildCounts, SupervisorError> {
        self.request(SupMsg::CountChildren).await
    }

    /// The pid of the running child with this id, read from the supervisor's table without
    /// a call (as [`Runtime::tree`]): it does not wait for a busy supervisor, and it may still
    /// show a child that has exited but whose exit the supervisor has not handled yet. Use
    /// [`which_children`](Self::which_children) for an answer ordered with the supervisor.
    pub fn child_pid(&self, id: &str) -> Option<Pid> {
        match &*self.shared.lock() {
            ChildTable::Static(v) => v.find_id(id).and_then(Child::pid),
            ChildTable::Dynamic(_) => None,
        }
    }

    /// The typed address of the running child with this id, if its mailbox takes `M`: the
    /// way from a row of [`which_children`](Self::which_children) to sending the child
    /// messages. Read from the table without a call, as [`child_pid`](Self::child_pid).
    ///
    /// # Examples
    ///
    /// ```
    /// use rusm_otp::{ChildSpec, Ctx, Runtime, Strategy, SupervisorSpec};
    ///
    /// let rt = Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let (tx, rx) = tokio::sync::oneshot::channel();
    ///     let tx = std::sync::Mutex::new(Some(tx));
    ///     let echo = ChildSpec::worker("echo", move |mut ctx: Ctx<String>| {
    ///         let tx = tx.lock().unwrap().take();
    ///         async move {
    ///             if let (Some(s), Some(tx)) = (ctx.recv().await.user(), tx) {
    ///                 let _ = tx.send(s);
    ///             }
    ///         }
    ///     });
    ///     let sup = rt
    ///         .start_supervisor(SupervisorSpec::new(Strategy::OneForOne).child(echo))
    ///         .await
    ///         .unwrap();
    ///     let addr = sup.child_addr::<String>("echo").unwrap();
    ///     addr.send("hello".into()).unwrap();
    ///     assert_eq!(rx.await.unwrap(), "hello");
    ///     assert!(sup.child_addr::<u32>("echo").is_none(), "its mailbox takes String");
    ///     sup.stop().await;
    /// });
    /// ```
    pub fn child_addr<M: Send + 'static>(&self, id: &str) -> Option<Addr<M>> {
        match &*self.shared.lock() {
            ChildTable::Static(v) => v.find_id(id).and_then(|c| c.addr::<M>()),
            ChildTable::Dynamic(_) => None,
        }
    }

    /// A handle to the running child with this id if it is a supervisor
    /// ([`ChildSpec::supervisor`], or a listener's), to manage its children as this one's:
    /// the handle an OTP user gets from `which_children` and passes to `supervisor:start_child`.
    /// Read from the table without a call, as [`child_pid`](Self::child_pid).
    ///
    /// # Examples
    ///
    /// ```
    /// use rusm_otp::{ChildSpec, Ctx, Runtime, Strategy, SupervisorSpec};
    ///
    /// let rt = Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let db = SupervisorSpec::new(Strategy::OneForOne);
    ///     let app = rt
    ///         .start_supervisor(SupervisorSpec::new(Strategy::OneForOne).child(ChildSpec::supervisor("db", db)))
    ///         .await
    ///         .unwrap();
    ///     let db = app.child_supervisor("db").unwrap();
    ///     let pool = ChildSpec::worker("pool", |mut ctx: Ctx<()>| async move { ctx.recv().await; });
    ///     db.start_child(pool).await.unwrap();
    ///     assert_eq!(db.count_children().await.unwrap().active, 1);
    ///     app.stop().await;
    /// });
    /// ```
    pub fn child_supervisor(&self, id: &str) -> Option<SupervisorRef> {
        // The mailbox type tells a static supervisor from a dynamic one.
        let (addr, shared) = self.child_sup_parts::<SupMsg>(id)?;
        Some(SupervisorRef { addr, shared })
    }

    /// A handle to the running child with this id if it is a dynamic supervisor
    /// ([`ChildSpec::dynamic_supervisor`]); see [`child_supervisor`](Self::child_supervisor).
    pub fn child_dynamic_supervisor(&self, id: &str) -> Option<DynamicSupervisorRef> {
        let (addr, shared) = self.child_sup_parts::<dynamic::DynMsg>(id)?;
        Some(DynamicSupervisorRef { addr, shared })
    }

    fn child_sup_parts<M: Send + 'static>(
        &self,
        id: &str,
    ) -> Option<(Addr<M>, Arc<SupervisorShared>)> {
        match &*self.shared.lock() {
            ChildTable::Static(v) => {
                let c = v.find_id(id)?;
                match &c.state {
                    ChildState::Running { sup: Some(sup), .. } => {
                        Some((c.addr::<M>()?, sup.clone()))
                    }
                    _ => None,
                }
            }
            ChildTable::Dynamic(_) => None,
        }
    }

    /// Stops the supervisor: its children in reverse start order, each by its shutdown spec;
    /// then it exits with `Shutdown`. Returns its exit reason.
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe: the stop is requested at the first poll, and dropping
    /// the future only stops waiting for it to complete.
    pub async fn stop(&self) -> ExitReason {
        let _ = self.addr.send(SupMsg::Stop);
        self.addr.wait().await
    }
}

impl Runtime {
    /// The running supervisor registered under `name` ([`SupervisorSpec::name`], or a child's
    /// [`ChildSpec::name`]): OTP addresses a supervisor by its registered name in every call.
    /// `None` if no process has the name or it is not a (static) supervisor. Found by walking
    /// the tree from the roots, one table at a time, as [`Runtime::tree`] does.
    ///
    /// # Examples
    ///
    /// ```
    /// use rusm_otp::{Runtime, Strategy, SupervisorSpec};
    ///
    /// let rt = Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     rt.start_supervisor(SupervisorSpec::new(Strategy::OneForOne).name("app"))
    ///         .await
    ///         .unwrap();
    ///     let app = rt.supervisor("app").expect("registered");
    ///     assert_eq!(app.count_children().await.unwrap().specs, 0);
    ///     app.stop().await;
    ///     assert!(rt.supervisor("app").is_none());
    /// });
    /// ```
    pub fn supervisor(&self, name: &str) -> Option<SupervisorRef> {
        let addr = self.whereis_addr::<SupMsg>(name)?;
        let shared = table::find_supervisor(self.inner.roots(), addr.pid())?;
        Some(SupervisorRef { addr, shared })
    }

    /// The running dynamic supervisor registered under `name`; see
    /// [`supervisor`](Self::supervisor).
    pub fn dynamic_supervisor(&self, name: &str) -> Option<DynamicSupervisorRef> {
        let addr = self.whereis_addr::<dynamic::DynMsg>(name)?;
        let shared = table::find_supervisor(self.inner.roots(), addr.pid())?;
        Some(DynamicSupervisorRef { addr, shared })
    }

    /// Starts a supervisor that has no parent: a root of the supervision tree.
    ///
    /// # Errors
    ///
    /// [`StartError::FailedToStartChild`] when a child fails to start (those already started
    /// are stopped again), [`StartError::InvalidSpec`] for an invalid spec.
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe: dropping the future while the supervisor starts leaves
    /// the supervisor running, without a handle (it is in [`Runtime::tree`]).
    pub async fn start_supervisor(
        &self,
        spec: SupervisorSpec,
    ) -> Result<SupervisorRef, StartError> {
        start_supervisor(&self.inner, None, spec).await
    }
}

impl ChildSpec {
    /// A child that is itself a supervisor (shutdown `infinity`, as OTP's default for
    /// supervisors).
    pub fn supervisor(id: impl Into<Arc<str>>, spec: SupervisorSpec) -> Self {
        ChildSpec::from_start(id, ChildType::Supervisor, move |starter: Starter| {
            let mut spec = spec.clone();
            if starter.name.is_some() {
                spec.name = starter.name.clone();
            }
            async move {
                start_supervisor(&starter.rt, Some(starter.parent.clone()), spec)
                    .await
                    .map(Started::from)
            }
        })
    }
}

pub(crate) async fn start_supervisor(
    rt: &Arc<Inner>,
    parent: Option<Arc<Cell>>,
    spec: SupervisorSpec,
) -> Result<SupervisorRef, StartError> {
    spec.validate()?;
    let (init_tx, init_rx) = oneshot::channel();
    let parent_pid = parent.as_ref().map(|p| p.pid);
    let is_root = parent.is_none();
    let opts = SpawnOpts {
        link: parent,
        name: spec.name.clone(),
        trap_exit: true,
        ..SpawnOpts::default()
    };
    let addr = spawn_with(rt, opts, move |ctx: Ctx<SupMsg>| {
        supervisor_main(ctx, spec, parent_pid, init_tx)
    })?;
    let shared = match init_rx.await {
        Ok(Ok(shared)) => shared,
        Ok(Err(e)) => {
            // Return once the supervisor has exited, as OTP's start_link does after a failed
            // init: the caller finds nothing of it left.
            addr.wait().await;
            return Err(e);
        }
        Err(_) => return Err(StartError::Exited(addr.wait().await)),
    };
    if is_root {
        rt.add_root(&shared);
    }
    Ok(SupervisorRef { addr, shared })
}

// ---------------------------------------------------------------------------------------------
// The supervisor process.

struct Sup {
    ctx: Ctx<SupMsg>,
    on_stop: Option<StopHook>,
    shared: Arc<SupervisorShared>,
    strategy: Strategy,
    auto_shutdown: AutoShutdown,
    window: RestartWindow,
}

async fn supervisor_main(
    ctx: Ctx<SupMsg>,
    spec: SupervisorSpec,
    parent: Option<Pid>,
    init: oneshot::Sender<Result<Arc<SupervisorShared>, StartError>>,
) -> ExitReason {
    let shared = Arc::new(SupervisorShared::new(
        ctx.pid(),
        spec.name.clone(),
        spec.strategy.as_str(),
        spec.intensity,
        spec.period,
        ChildTable::Static(StaticChildren::default()),
    ));
    let mut sup = Sup {
        ctx,
        on_stop: spec.on_stop.clone(),
        shared: shared.clone(),
        strategy: spec.strategy,
        auto_shutdown: spec.auto_shutdown,
        window: RestartWindow::new(spec.intensity, spec.period),
    };
    for child in &spec.children {
        if let Err(e) = sup.start_new(child).await {
            sup.terminate_all().await;
            let e = StartError::FailedToStartChild {
                id: child.id.to_string(),
                reason: Box::new(e),
            };
            tracing::error!(supervisor = %sup.ctx.pid(), error = %e, "supervisor start failed");
            let reason = ExitReason::shutdown_with(e.to_string());
            let _ = init.send(Err(e));
            return reason;
        }
    }
    let _ = init.send(Ok(shared));
    loop {
        let stop = match sup.ctx.recv().await {
            Msg::Exit(ExitSignal { from, reason }) => {
                if Some(from) == parent || from == Pid::EXTERNAL {
                    sup.terminate_all().await;
                    return reason;
                }
                sup.child_exited(from, reason).await
            }
            Msg::Down(_) => None,
            Msg::User(msg) => sup.handle(msg).await,
        };
        if let Some(reason) = stop {
            return reason;
        }
    }
}

impl Sup {
    fn pid(&self) -> Pid {
        self.ctx.pid()
    }

    fn rt(&self) -> &Arc<Inner> {
        self.ctx.handle().rt()
    }

    fn index_of(&self, id: &str) -> Option<usize> {
        self.shared.with_static(|v| v.position_id(id))
    }

    /// Runs a child's start function; links it if the start function did not.
    async fn run_start(&self, spec: &ChildSpec) -> Result<Started, StartError> {
        let starter = spec.starter(self.rt(), &self.ctx.handle().cell);
        let started = spec::run_start_fn(spec, starter).await?;
        if let Some(cell) = &started.cell {
            ensure_link(&self.ctx.handle().cell, cell);
            tracing::debug!(supervisor = %self.pid(), child = %spec.id, pid = %cell.pid, "child started");
        }
        Ok(started)
    }

    /// Starts a child that is not in the table yet and adds it (unless it is a temporary child
    /// that returned ignore).
    async fn start_new(&mut self, spec: &ChildSpec) -> Result<StartedChild, StartError> {
        validate_child(spec, self.auto_shutdown)?;
        let mut started = self.run_start(spec).await?;
        let pid = started.cell.as_ref().map(|c| c.pid);
        let info = started.info.take();
        if pid.is_none() && spec.restart == Restart::Temporary {
            return Ok(StartedChild { pid, info });
        }
        let mut child = Child::new(spec, true);
        child.set_running(started);
        self.shared.with_static(|v| v.push(child));
        Ok(StartedChild { pid, info })
    }

    async fn handle(&mut self, msg: SupMsg) -> Option<ExitReason> {
        match msg {
            SupMsg::StartChild(spec, reply) => {
                let existing = self.shared.with_static(|v| {
                    v.find_id(&spec.id).map(|c| match c.pid() {
                        Some(pid) => SupervisorError::AlreadyStarted(pid),
                        None => SupervisorError::AlreadyPresent,
                    })
                });
                let r = match existing {
                    Some(e) => Err(e),
                    None => self.start_new(&spec).await.map_err(SupervisorError::Start),
                };
                reply.reply(r);
            }
            SupMsg::TerminateChild(id, reply) => {
                let r = match self.index_of(&id) {
                    None => Err(SupervisorError::NotFound),
                    Some(_) => {
                        self.terminate_by_id(&id).await;
                        Ok(())
                    }
                };
                reply.reply(r);
            }
            SupMsg::RestartChild(id, reply) => {
                let r = self.restart_child(&id).await;
                reply.reply(r);
            }
            SupMsg::DeleteChild(id, reply) => {
                let r = self.shared.with_static(|v| {
                    let i = v.position_id(&id).ok_or(SupervisorError::NotFound)?;
                    match v[i].state {
                        ChildState::Running { .. } => Err(SupervisorError::Running),
                        ChildState::Restarting => Err(SupervisorError::Restarting),
                        ChildState::Stopped => {
                            v.remove(i);
                            Ok(())
                        }
                    }
                });
                reply.reply(r);
            }
            SupMsg::GetChildSpec(id, reply) => {
                let r = self.shared.with_static(|v| {
                    let c = v.find_id(&id).ok_or(SupervisorError::NotFound)?;
                    Ok(*c.spec.clone().expect("static children keep their spec"))
                });
                reply.reply(r);
            }
            SupMsg::WhichChildren(reply) => {
                reply.reply(Ok(self.shared.which_children_now()));
            }
            SupMsg::CountChildren(reply) => {
                reply.reply(Ok(self.shared.count_now()));
            }
            // OTP's `try_again_restart`: unless the child was terminated meanwhile.
            SupMsg::TryAgain(id) => {
                if self.is_restarting(&id) {
                    return self.restart(&id).await;
                }
            }
            // A restart delayed by its backoff: unless the child was terminated meanwhile.
            SupMsg::DelayedRestart(id) => {
                if self.is_restarting(&id) {
                    self.start_group(&id).await;
                }
            }
            SupMsg::Stop => {
                self.terminate_all().await;
                return Some(ExitReason::Shutdown(None));
            }
        }
        None
    }

    async fn restart_child(&mut self, id: &str) -> Result<StartedChild, SupervisorError> {
        let spec = self.shared.with_static(|v| {
            let c = v.find_id(id).ok_or(SupervisorError::NotFound)?;
            match c.state {
                ChildState::Running { .. } => Err(SupervisorError::Running),
                ChildState::Restarting => Err(SupervisorError::Restarting),
                ChildState::Stopped => {
                    Ok(*c.spec.clone().expect("static children keep their spec"))
                }
            }
        })?;
        let mut started = self
            .run_start(&spec)
            .await
            .map_err(SupervisorError::Start)?;
        let pid = started.cell.as_ref().map(|c| c.pid);
        let info = started.info.take();
        self.shared.with_static(|v| {
            if let Some(c) = v.find_id_mut(id) {
                c.set_running(started);
            }
        });
        Ok(StartedChild { pid, info })
    }

    /// OTP's `do_restart/3`: what to do when a child exits by itself.
    ///
    /// A child whose own exit was marked orderly — a listener that was drained
    /// ([`Listener::drain`](crate::Listener::drain)) — was stopped on purpose, by an operator,
    /// as `terminate_child/2` stops one: it is left a stopped child, its spec kept (a temporary
    /// one forgotten), to be started again with `restart_child`; it is not restarted and does
    /// not count as a restart or trigger auto-shutdown. OTP has no such stop: a child that
    /// stops itself there is judged by its exit reason alone, and a drained permanent listener
    /// would be restarted, binding its port again.
    async fn child_exited(&mut self, pid: Pid, reason: ExitReason) -> Option<ExitReason> {
        let found = self.shared.with_static(|v| {
            let i = v.position_pid(pid)?;
            let c = &mut v[i];
            let cell = c.cell().cloned();
            c.state = ChildState::Stopped;
            Some((c.id.clone(), c.restart, c.significant, cell))
        });
        let (id, restart, significant, cell) = found?;
        // Read after the table lock is released: one lock at a time.
        if cell.is_some_and(|cell| cell.lock().orderly) {
            tracing::info!(supervisor = %self.pid(), child = %id, pid = %pid, reason = %reason, "child stopped in order; left stopped");
            if restart == Restart::Temporary {
                self.shared.with_static(|v| v.remove_id(&id));
            }
            return None;
        }
        if !reason.is_normal() {
            tracing::error!(supervisor = %self.pid(), child = %id, pid = %pid, reason = %reason, "child terminated");
        }
        match restart {
            Restart::Permanent => self.restart(&id).await,
            Restart::Transient if !reason.is_normal() => self.restart(&id).await,
            Restart::Transient => self.auto_shutdown(significant).await,
            Restart::Temporary => {
                self.shared.with_static(|v| v.remove_id(&id));
                self.auto_shutdown(significant).await
            }
        }
    }

    async fn auto_shutdown(&mut self, significant: bool) -> Option<ExitReason> {
        if !significant {
            return None;
        }
        let stop = match self.auto_shutdown {
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant => self.shared.with_static(|v| {
                !v.iter()
                    .any(|c| c.significant && matches!(c.state, ChildState::Running { .. }))
            }),
        };
        if !stop {
            return None;
        }
        tracing::info!(supervisor = %self.pid(), "auto_shutdown: significant child ended");
        self.terminate_all().await;
        Some(ExitReason::Shutdown(None))
    }

    fn is_restarting(&self, id: &str) -> bool {
        self.shared.with_static(|v| {
            v.find_id(id)
                .is_some_and(|c| matches!(c.state, ChildState::Restarting))
        })
    }

    /// The children a restart of the child at `idx` starts, by strategy (OTP's `restart/3`),
    /// in start order.
    fn group(&self, idx: usize, n: usize) -> std::ops::Range<usize> {
        match self.strategy {
            Strategy::OneForOne => idx..idx + 1,
            Strategy::OneForAll => 0..n,
            Strategy::RestForOne => idx..n,
        }
    }

    /// OTP's `restart/2`: count the restart, then restart by strategy.
    ///
    /// As OTP's `restart_multiple_children/3`, the others of the group are stopped and become
    /// stopped children (pid `undefined`) until the group starts again; only the child the
    /// restart is for shows `restarting`. Until then each can be restarted or deleted by hand,
    /// and a `terminate_child` of the restarting child cancels the whole group's restart.
    async fn restart(&mut self, id: &Arc<str>) -> Option<ExitReason> {
        if !self.window.add_restart() {
            self.ctx.runtime().note_intensity_exceeded(self.pid());
            tracing::error!(
                supervisor = %self.pid(),
                child = %id,
                intensity = self.shared.intensity,
                period_secs = self.shared.period.as_secs(),
                "restart intensity exceeded; shutting down"
            );
            self.shared.with_static(|v| {
                if let Some(c) = v.find_id_mut(id) {
                    c.state = ChildState::Stopped;
                }
            });
            self.terminate_all().await;
            return Some(ExitReason::Shutdown(None));
        }
        let idx = self.index_of(id)?;
        let n = self.shared.with_static(|v| v.len());
        let group = self.group(idx, n);
        // Stop the others of the group, last started first (OTP `terminate_children/2`).
        for i in group.clone().rev() {
            if i == idx {
                continue;
            }
            let running = self
                .shared
                .with_static(|v| v[i].cell().cloned().map(|c| (c, v[i].shutdown)));
            if let Some((cell, how)) = running {
                self.shutdown_child(&cell, how).await;
            }
        }
        let delay = self.shared.with_static(|v| {
            let mut delay = Duration::ZERO;
            for i in group.clone() {
                let c = &mut v[i];
                if i != idx {
                    c.state = ChildState::Stopped;
                    continue;
                }
                c.state = ChildState::Restarting;
                if let Some(b) = c.spec.as_ref().and_then(|s| s.backoff) {
                    let stable = c.last_started.is_some_and(|t| t.elapsed() >= b.reset_after);
                    if stable {
                        c.backoff_attempt = 0;
                    }
                    delay = b.delay(c.backoff_attempt);
                    c.backoff_attempt = c.backoff_attempt.saturating_add(1);
                }
            }
            // Temporary children stopped as bystanders are not restarted (OTP
            // `terminate_children/2`: "Temporary children should not be restarted").
            for i in group.rev() {
                if i != idx && v[i].restart == Restart::Temporary {
                    v.remove(i);
                }
            }
            delay
        });
        tracing::info!(supervisor = %self.pid(), child = %id, strategy = self.strategy.as_str(), delay_ms = delay.as_millis() as u64, "restarting child");
        if delay > Duration::ZERO {
            self.ctx
                .myself()
                .send_after(SupMsg::DelayedRestart(id.clone()), delay);
            return None;
        }
        self.start_group(id).await;
        None
    }

    /// Starts the group of the restarting child `id`, in start order (OTP
    /// `start_children/2`): every child of the group that is not running, the restarting one
    /// and the stopped ones. A failed start leaves that child restarting and those after it
    /// stopped, and retries through the mailbox (OTP's `try_again_restart`), so that the retry
    /// counts against the intensity and other requests are served meanwhile.
    async fn start_group(&mut self, id: &Arc<str>) {
        let Some(idx) = self.index_of(id) else { return };
        let n = self.shared.with_static(|v| v.len());
        let group = self.group(idx, n);
        let (mut i, mut end) = (group.start, group.end);
        while i < end {
            let spec = self.shared.with_static(|v| {
                let c = &v[i];
                let running = matches!(c.state, ChildState::Running { .. });
                (!running).then(|| *c.spec.clone().expect("static children keep their spec"))
            });
            let Some(spec) = spec else {
                i += 1;
                continue;
            };
            match self.run_start(&spec).await {
                Ok(started) => {
                    let temporary_ignored =
                        started.cell.is_none() && spec.restart == Restart::Temporary;
                    self.shared.with_static(|v| {
                        if temporary_ignored {
                            v.remove(i);
                            end -= 1;
                        } else {
                            let c = &mut v[i];
                            c.restarts += 1;
                            c.set_running(started);
                            i += 1;
                        }
                    });
                }
                Err(e) => {
                    tracing::error!(supervisor = %self.pid(), child = %spec.id, error = %e, "child restart failed; retrying");
                    self.shared.with_static(|v| {
                        v[i].state = ChildState::Restarting;
                        for c in v.slice_mut(i + 1..end) {
                            if matches!(c.state, ChildState::Restarting) {
                                c.state = ChildState::Stopped;
                            }
                        }
                    });
                    let _ = self.ctx.myself().send(SupMsg::TryAgain(spec.id.clone()));
                    return;
                }
            }
        }
    }

    async fn terminate_by_id(&mut self, id: &str) {
        let running = self.shared.with_static(|v| {
            let c = v.find_id_mut(id)?;
            let r = c.cell().cloned().map(|cell| (cell, c.shutdown));
            if matches!(c.state, ChildState::Restarting) {
                c.state = ChildState::Stopped;
            }
            r
        });
        if let Some((cell, how)) = running {
            self.shutdown_child(&cell, how).await;
        }
        self.shared.with_static(|v| {
            if let Some(i) = v.position_id(id) {
                v[i].state = ChildState::Stopped;
                if v[i].restart == Restart::Temporary {
                    v.remove(i);
                }
            }
        });
    }

    /// OTP's `terminate/2`: every child, last started first, each by its shutdown spec.
    async fn terminate_all(&mut self) {
        if let Some(hook) = &self.on_stop {
            hook.run();
        }
        let n = self.shared.with_static(|v| v.len());
        for i in (0..n).rev() {
            let running = self.shared.with_static(|v| {
                v.get(i)
                    .and_then(|c| c.cell().cloned().map(|cell| (cell, c.shutdown)))
            });
            if let Some((cell, how)) = running {
                self.shutdown_child(&cell, how).await;
            }
        }
        self.shared.with_static(|v| {
            v.retain(|c| c.restart != Restart::Temporary);
            for c in v.iter_mut() {
                c.state = ChildState::Stopped;
            }
        });
    }

    async fn shutdown_child(&self, cell: &Arc<Cell>, how: Shutdown) -> ExitReason {
        shutdown_child(&self.ctx.handle().cell, &self.shared, cell, how).await
    }
}

/// OTP's `shutdown/1`: stop one child by its shutdown spec and wait until it is dead, then
/// flush its EXIT from the supervisor's system queue. Waiting watches the child's exit itself
/// (a monitor, not the link), so a child that unlinked itself cannot hang the supervisor.
pub(crate) async fn shutdown_child(
    me: &Arc<Cell>,
    shared: &SupervisorShared,
    cell: &Arc<Cell>,
    how: Shutdown,
) -> ExitReason {
    // Stopping a child under its shutdown spec is not a crash, even when it ends `killed`.
    cell.lock().orderly = true;
    let reason = match how {
        Shutdown::BrutalKill => {
            cell.exit_signal(me.pid, &ExitReason::Killed, true, false);
            wait_cell(cell).await
        }
        Shutdown::Timeout(d) => {
            cell.exit_signal(me.pid, &ExitReason::Shutdown(None), false, false);
            match tokio::time::timeout(d, wait_cell(cell)).await {
                Ok(r) => r,
                Err(_) => {
                    cell.exit_signal(me.pid, &ExitReason::Killed, true, false);
                    wait_cell(cell).await
                }
            }
        }
        Shutdown::Infinity => {
            cell.exit_signal(me.pid, &ExitReason::Shutdown(None), false, false);
            wait_cell(cell).await
        }
    };
    flush_exits(me, shared, |pid| pid == cell.pid);
    match &reason {
        ExitReason::Killed | ExitReason::Shutdown(_) | ExitReason::Normal => {}
        r => {
            tracing::error!(supervisor = %me.pid, pid = %cell.pid, reason = %r, "child shutdown error")
        }
    }
    reason
}

pub(crate) async fn wait_cell(cell: &Arc<Cell>) -> ExitReason {
    cell.wait_finished().await
}

/// Removes the queued EXITs of the children `from` selects from the supervisor's system
/// queue: one pass over the queue, counted in `shared.flush_scanned`. Stopping many children
/// at once flushes them all in one call (a call per child would scan the queue of all their
/// EXITs once each: quadratic).
pub(crate) fn flush_exits(me: &Cell, shared: &SupervisorShared, mut from: impl FnMut(Pid) -> bool) {
    let mut st = me.lock();
    shared.flush_scanned.fetch_add(
        st.signal_count() as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    if let Some(m) = st.monitors.as_mut() {
        m.signals
            .retain(|s| !matches!(s, Signal::Exit(e) if from(e.from)));
    }
    me.refresh_flag(&st);
}

/// Links the supervisor with a child started by a start function that did not link it. If
/// the child is already dead, queue its EXIT as the link would have.
pub(crate) fn ensure_link(me: &Arc<Cell>, child: &Arc<Cell>) {
    let dead = {
        let (mut a, mut b) = lock_pair(me, child);
        match b.exit.clone() {
            // Exiting, and still linked to us: it will signal us itself.
            Some(_) if b.links.contains(me.pid) => None,
            Some(reason) => Some(reason),
            None => {
                if a.links.insert(child.clone()) {
                    b.links.insert(me.clone());
                }
                None
            }
        }
    };
    if let Some(reason) = dead {
        me.push_signal(Signal::Exit(ExitSignal {
            from: child.pid,
            reason,
        }));
    }
}
