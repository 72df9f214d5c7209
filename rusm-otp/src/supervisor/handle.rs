//! [`SupervisorRef`]: the handle to a running static supervisor — OTP's child-management
//! calls (`start_child`, `terminate_child`, `which_children`, …), reads of its table without a
//! call, and the lookup of a supervisor by its registered name.

use std::sync::Arc;

use super::dynamic::{DynMsg, DynamicSupervisorRef};
use super::skeleton;
use super::spec::{ChildSpec, StartedChild};
use super::table::{self, Child, ChildCounts, ChildInfo, ChildState, ChildTable, SupervisorShared};
use crate::call::ReplyTo;
use crate::error::SupervisorError;
use crate::exit::ExitReason;
use crate::pid::Pid;
use crate::process::addr::Addr;
use crate::runtime::Runtime;

/// What a static supervisor's mailbox takes: the requests of [`SupervisorRef`] and its own
/// timed retries.
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
/// Dereferences to the supervisor's [`ProcessHandle`](crate::ProcessHandle).
#[derive(Clone)]
pub struct SupervisorRef {
    pub(super) addr: Addr<SupMsg>,
    pub(crate) shared: Arc<SupervisorShared>,
}

skeleton::supervisor_handle!(SupervisorRef);

impl SupervisorRef {
    async fn request<R>(
        &self,
        make: impl FnOnce(ReplyTo<Result<R, SupervisorError>>) -> SupMsg,
    ) -> Result<R, SupervisorError> {
        skeleton::request(&self.addr, make).await
    }

    /// Adds and starts a child (`start_child/2`). `Ok(None)` when its start returned
    /// [`Started::ignore`](crate::Started::ignore).
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
    /// added with [`Started::with_info`](crate::Started::with_info) (OTP's `{ok, Pid, Info}`).
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
    /// function added with [`Started::with_info`](crate::Started::with_info) (OTP's `{ok, Pid, Info}`).
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
        let (addr, shared) = self.child_sup_parts::<DynMsg>(id)?;
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
    /// The running supervisor registered under `name` ([`SupervisorSpec::name`](crate::SupervisorSpec::name), or a child's
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
        let shared = table::find_supervisor(self.inner.roots::<SupervisorShared>(), addr.pid())?;
        Some(SupervisorRef { addr, shared })
    }

    /// The running dynamic supervisor registered under `name`; see
    /// [`supervisor`](Self::supervisor).
    pub fn dynamic_supervisor(&self, name: &str) -> Option<DynamicSupervisorRef> {
        let addr = self.whereis_addr::<DynMsg>(name)?;
        let shared = table::find_supervisor(self.inner.roots::<SupervisorShared>(), addr.pid())?;
        Some(DynamicSupervisorRef { addr, shared })
    }
}
