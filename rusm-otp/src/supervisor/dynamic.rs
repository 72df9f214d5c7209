//! The dynamic supervisor: many children started at run time, addressed by pid.
//!
//! OTP's `simple_one_for_one` and Elixir's `DynamicSupervisor`: restart strategy one_for_one,
//! children added with [`DynamicSupervisorRef::start_child`] (each with its own spec, as in
//! Elixir), terminated by pid, and stopped **all at once** on shutdown, sharing one deadline
//! (`terminate_dynamic_children/1`), so N children with a 5 s shutdown take 5 s, not N × 5 s.
//! Temporary children keep no spec (OTP-16804): a supervisor of many short-lived children
//! holds only what is alive.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::shutdown::{ensure_link, flush_exits, shutdown_child, wait_cell};
use super::skeleton::{self, SupervisorProcess};
use super::spec::{ChildSpec, ChildType, Restart, Shutdown, Started, StartedChild, Starter};
use super::strategy::{RestartWindow, DEFAULT_INTENSITY, DEFAULT_PERIOD};
use super::table::{Child, ChildCounts, ChildInfo, ChildState, ChildTable, SupervisorShared};
use crate::call::ReplyTo;
use crate::error::{StartError, SupervisorError};
use crate::exit::ExitReason;
use crate::pid::Pid;
use crate::process::addr::Addr;
use crate::process::cell::Cell;
use crate::process::mailbox::Ctx;
use crate::process::spawn::{spawn_with, SpawnOpts};
use crate::runtime::{Inner, PidMap, Runtime};

/// Flags of a dynamic supervisor.
#[derive(Debug, Clone)]
pub struct DynamicSupervisorSpec {
    pub(crate) intensity: u32,
    pub(crate) period: Duration,
    pub(crate) max_children: Option<usize>,
    pub(crate) name: Option<Arc<str>>,
}

impl Default for DynamicSupervisorSpec {
    fn default() -> Self {
        DynamicSupervisorSpec::new()
    }
}

impl DynamicSupervisorSpec {
    /// OTP's defaults: intensity 1 in 5 s; no limit on children.
    pub fn new() -> Self {
        DynamicSupervisorSpec {
            intensity: DEFAULT_INTENSITY,
            period: DEFAULT_PERIOD,
            max_children: None,
            name: None,
        }
    }

    /// At most `intensity` restarts within `period`.
    pub fn intensity(mut self, intensity: u32, period: Duration) -> Self {
        self.intensity = intensity;
        self.period = period;
        self
    }

    /// Refuse [`start_child`](DynamicSupervisorRef::start_child) beyond this many children
    /// (Elixir's `:max_children`).
    pub fn max_children(mut self, max: usize) -> Self {
        self.max_children = Some(max);
        self
    }

    /// Registers the supervisor under `name`.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }
}

pub(crate) enum DynMsg {
    StartChild(ChildSpec, ReplyTo<Result<StartedChild, SupervisorError>>),
    GetChildSpec(Pid, ReplyTo<Result<ChildSpec, SupervisorError>>),
    TerminateChild(Pid, ReplyTo<Result<(), SupervisorError>>),
    WhichChildren(ReplyTo<Vec<ChildInfo>>),
    CountChildren(ReplyTo<ChildCounts>),
    TryAgain(Pid),
    Stop,
}

/// A handle to a running dynamic supervisor.
#[derive(Clone)]
pub struct DynamicSupervisorRef {
    pub(crate) addr: Addr<DynMsg>,
    pub(crate) shared: Arc<SupervisorShared>,
}

skeleton::supervisor_handle!(DynamicSupervisorRef);

impl DynamicSupervisorRef {
    /// Starts a child from its spec (its id is only a label here); `Ok(None)` if its start
    /// returned ignore.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::MaxChildren`], or [`SupervisorError::Start`] when the start fails.
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
        skeleton::request(&self.addr, |r| DynMsg::StartChild(spec, r)).await
    }

    /// The spec the child `pid` was started with, running or being restarted
    /// (`get_childspec/2`). Temporary children keep no spec (OTP-16804: a supervisor of many
    /// short-lived children holds only what is alive), so for them it is `NotFound`; OTP's
    /// `simple_one_for_one` answers with its one template instead, which RUSM does not have.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::NotFound`] when `pid` is no child or a temporary one,
    /// [`NoProc`](SupervisorError::NoProc) when the supervisor is not alive.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe: dropping the future only stops waiting for the answer.
    pub async fn get_childspec(&self, pid: Pid) -> Result<ChildSpec, SupervisorError> {
        skeleton::request(&self.addr, |r| DynMsg::GetChildSpec(pid, r)).await
    }

    /// The typed address of the running child `pid`, if its mailbox takes `M`: the way from a
    /// row of [`which_children`](Self::which_children) to sending the child messages. Read
    /// from the table without a call.
    pub fn child_addr<M: Send + 'static>(&self, pid: Pid) -> Option<Addr<M>> {
        match &*self.shared.lock() {
            ChildTable::Dynamic(m) => m.get(&pid.0).and_then(|c| c.addr::<M>()),
            ChildTable::Static(_) => None,
        }
    }

    /// Terminates a child by pid, by its shutdown spec, and forgets it (`terminate_child/2`).
    /// A child being restarted is addressed by the pid it had: this cancels its restart.
    /// Terminating a pid that is no longer alive is `Ok`, as in OTP (`child_adm_simple`): a
    /// former child whose exit was handled, or one that exits while the call is on its way.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::NotFound`] when `pid` is a live process that is not a child (that
    /// process is left alone).
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe: once the request is sent (at the first poll), dropping
    /// the future does not withdraw it, and the child is stopped all the same.
    pub async fn terminate_child(&self, pid: Pid) -> Result<(), SupervisorError> {
        skeleton::request(&self.addr, |r| DynMsg::TerminateChild(pid, r)).await
    }

    /// The children, in pid order (`which_children/1`): a call, answered by the supervisor
    /// between the messages it handles, so a child that exited before the call is shown
    /// restarted or gone, never with its dead pid (see [`SupervisorRef::which_children`](crate::SupervisorRef::which_children)).
    /// A child whose restart is being retried is listed with no pid and `restarting`, as
    /// OTP's `{undefined, restarting, Type, Mods}`.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::NoProc`] when the supervisor is not alive.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe: dropping the future only stops waiting for the answer.
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.addr
            .call_timeout(DynMsg::WhichChildren, Duration::MAX)
            .await
            .map_err(|_| SupervisorError::NoProc(self.addr.pid()))
    }

    /// Counts of the children (`count_children/1`): a call, as
    /// [`which_children`](Self::which_children). Restarting children are counted, not
    /// active. `specs` is the number of children, as Elixir's `DynamicSupervisor` counts, not
    /// OTP's `1` (see [`ChildCounts::specs`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use rusm_otp::{ChildCounts, ChildSpec, Ctx, DynamicSupervisorSpec, Runtime};
    ///
    /// let rt = Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let sup = rt.start_dynamic_supervisor(DynamicSupervisorSpec::new()).await.unwrap();
    ///     for i in 0..2 {
    ///         let w = ChildSpec::worker(format!("w{i}"), |mut ctx: Ctx<()>| async move {
    ///             ctx.recv().await;
    ///         });
    ///         sup.start_child(w).await.unwrap();
    ///     }
    ///     let counts = sup.count_children().await.unwrap();
    ///     assert_eq!(counts, ChildCounts { specs: 2, active: 2, supervisors: 0, workers: 2 });
    ///     sup.stop().await;
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`SupervisorError::NoProc`] when the supervisor is not alive.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe: dropping the future only stops waiting for the answer.
    pub async fn count_children(&self) -> Result<ChildCounts, SupervisorError> {
        self.addr
            .call_timeout(DynMsg::CountChildren, Duration::MAX)
            .await
            .map_err(|_| SupervisorError::NoProc(self.addr.pid()))
    }

    /// Stops every child (all at once, one shared deadline), then the supervisor.
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe: the stop is requested at the first poll, and dropping
    /// the future only stops waiting for it to complete.
    pub async fn stop(&self) -> ExitReason {
        let _ = self.addr.send(DynMsg::Stop);
        self.addr.wait().await
    }

    /// Starts a temporary child directly from the calling process, without a round trip
    /// through the supervisor's mailbox: the child is linked to the supervisor and entered in
    /// its table before it runs. Used by listeners, where each connection is one.
    pub(crate) fn start_temporary<M, F, Fut>(
        &self,
        peer: Option<std::net::SocketAddr>,
        shutdown: Shutdown,
        f: F,
    ) -> Option<Addr<M>>
    where
        M: Send + 'static,
        F: FnOnce(Ctx<M>) -> Fut + Send + 'static,
        Fut: std::future::Future + Send + 'static,
        Fut::Output: crate::IntoExitReason,
    {
        let sup = &self.addr.handle.cell;
        let mut table = self.shared.lock();
        let ChildTable::Dynamic(map) = &mut *table else {
            return None;
        };
        // Holding the table lock across the spawn: the child's EXIT, however early, is handled
        // by the supervisor only after the child is in the table.
        let opts = SpawnOpts {
            link: Some(sup.clone()),
            ..SpawnOpts::default()
        };
        let addr = spawn_with(self.addr.handle.rt(), opts, f).ok()?;
        // One shared empty id, not an allocation per connection.
        static NO_ID: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| Arc::from(""));
        let mut child = Child {
            id: NO_ID.clone(),
            spec: None,
            restart: Restart::Temporary,
            child_type: ChildType::Worker,
            shutdown,
            significant: false,
            state: ChildState::Stopped,
            restarts: 0,
            backoff_attempt: 0,
            last_started: None,
            peer,
            mailbox: None,
        };
        child.set_running(Started::from(addr.clone()));
        map.insert(addr.pid().0, Box::new(child));
        Some(addr)
    }

    /// Replaces the peer address a child was started with: a connection whose PROXY protocol
    /// header named the client behind the proxy is shown (in the tree, in its crash report)
    /// with the client's address, as its handler sees it in `peer_addr`.
    pub(crate) fn set_peer(&self, pid: Pid, peer: std::net::SocketAddr) {
        if let ChildTable::Dynamic(m) = &mut *self.shared.lock() {
            if let Some(c) = m.get_mut(&pid.0) {
                c.peer = Some(peer);
            }
        }
    }

    /// The peer address a child was started with ([`start_temporary`](Self::start_temporary)),
    /// or the client's behind a proxy ([`set_peer`](Self::set_peer)).
    pub(crate) fn peer_of(&self, pid: Pid) -> Option<std::net::SocketAddr> {
        match &*self.shared.lock() {
            ChildTable::Dynamic(m) => m.get(&pid.0).and_then(|c| c.peer),
            ChildTable::Static(_) => None,
        }
    }
}

impl Runtime {
    /// Starts a dynamic supervisor with no parent.
    ///
    /// # Errors
    ///
    /// [`StartError::InvalidSpec`] for a zero period.
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe, as [`Runtime::start_supervisor`]: the supervisor is
    /// spawned at the first poll, and dropping the future before it returns leaves it running
    /// with no handle and not yet recorded as a root (missing from [`Runtime::tree`]).
    pub async fn start_dynamic_supervisor(
        &self,
        spec: DynamicSupervisorSpec,
    ) -> Result<DynamicSupervisorRef, StartError> {
        start_dynamic(&self.inner, None, spec).await
    }
}

impl ChildSpec {
    /// A child that is a dynamic supervisor.
    pub fn dynamic_supervisor(id: impl Into<Arc<str>>, spec: DynamicSupervisorSpec) -> Self {
        ChildSpec::from_start(id, ChildType::Supervisor, move |starter: Starter| {
            let spec = spec.clone();
            async move {
                start_dynamic(&starter.rt, Some(starter.parent.clone()), spec)
                    .await
                    .map(Started::from)
            }
        })
    }
}

pub(crate) async fn start_dynamic(
    rt: &Arc<Inner>,
    parent: Option<Arc<Cell>>,
    spec: DynamicSupervisorSpec,
) -> Result<DynamicSupervisorRef, StartError> {
    if spec.period.as_secs() == 0 {
        return Err(StartError::InvalidSpec(
            "supervisor period must be at least 1 second".into(),
        ));
    }
    let name = spec.name.clone();
    let (addr, shared) =
        skeleton::start(rt, parent, name, move |ctx: Ctx<DynMsg>, parent, init| {
            dynamic_main(ctx, spec, parent, init)
        })
        .await?;
    Ok(DynamicSupervisorRef { addr, shared })
}

struct DynSup {
    ctx: Ctx<DynMsg>,
    shared: Arc<SupervisorShared>,
    window: RestartWindow,
    max_children: Option<usize>,
}

async fn dynamic_main(
    ctx: Ctx<DynMsg>,
    spec: DynamicSupervisorSpec,
    parent: Option<Pid>,
    init: skeleton::InitAck,
) -> ExitReason {
    let shared = Arc::new(SupervisorShared::new(
        ctx.pid(),
        spec.name.clone(),
        "dynamic",
        spec.intensity,
        spec.period,
        ChildTable::Dynamic(PidMap::default()),
    ));
    let mut sup = DynSup {
        ctx,
        shared: shared.clone(),
        window: RestartWindow::new(spec.intensity, spec.period),
        max_children: spec.max_children,
    };
    let _ = init.send(Ok(shared));
    skeleton::run(&mut sup, parent).await
}

impl SupervisorProcess for DynSup {
    type Request = DynMsg;

    fn ctx(&mut self) -> &mut Ctx<DynMsg> {
        &mut self.ctx
    }

    async fn child_exited(&mut self, pid: Pid, reason: ExitReason) -> Option<ExitReason> {
        DynSup::child_exited(self, pid, reason).await
    }

    async fn handle(&mut self, request: DynMsg) -> Option<ExitReason> {
        match request {
            DynMsg::StartChild(spec, reply) => {
                let r = self.start_child(spec).await;
                reply.reply(r);
                None
            }
            DynMsg::GetChildSpec(pid, reply) => {
                let spec = self.map(|m| m.get(&pid.0).and_then(|c| c.spec.clone()));
                reply.reply(spec.map(|s| *s).ok_or(SupervisorError::NotFound));
                None
            }
            DynMsg::TerminateChild(pid, reply) => {
                let r = self.terminate_child(pid).await;
                reply.reply(r);
                None
            }
            DynMsg::WhichChildren(reply) => {
                reply.reply(self.shared.which_children_now());
                None
            }
            DynMsg::CountChildren(reply) => {
                reply.reply(self.shared.count_now());
                None
            }
            DynMsg::TryAgain(pid) => self.try_again(pid).await,
            DynMsg::Stop => {
                self.terminate_all().await;
                Some(ExitReason::Shutdown(None))
            }
        }
    }

    async fn terminate_all(&mut self) {
        DynSup::terminate_all(self).await;
    }
}

impl DynSup {
    fn map<R>(&self, f: impl FnOnce(&mut PidMap<Box<Child>>) -> R) -> R {
        match &mut *self.shared.lock() {
            ChildTable::Dynamic(m) => f(m),
            ChildTable::Static(_) => unreachable!("dynamic supervisor with a static table"),
        }
    }

    async fn run_start(&self, spec: &ChildSpec) -> Result<Started, StartError> {
        let me = &self.ctx.handle().cell;
        let started =
            super::spec::run_start_fn(spec, spec.starter(self.ctx.handle().rt_arc(), me)).await?;
        if let Some(cell) = &started.cell {
            ensure_link(me, cell);
        }
        Ok(started)
    }

    async fn start_child(&mut self, spec: ChildSpec) -> Result<StartedChild, SupervisorError> {
        if let Some(max) = self.max_children {
            if self.map(|m| m.len()) >= max {
                return Err(SupervisorError::MaxChildren);
            }
        }
        let mut started = self
            .run_start(&spec)
            .await
            .map_err(SupervisorError::Start)?;
        let info = started.info.take();
        let Some(pid) = started.cell.as_ref().map(|c| c.pid) else {
            // OTP does not store an ignored dynamic child, whatever its restart type.
            return Ok(StartedChild { pid: None, info });
        };
        let mut child = Child::new(&spec, spec.restart != Restart::Temporary);
        child.set_running(started);
        self.map(|m| m.insert(pid.0, Box::new(child)));
        Ok(StartedChild {
            pid: Some(pid),
            info,
        })
    }

    /// OTP's `terminate_child/2` by pid (`find_child/2` for `simple_one_for_one`): a child,
    /// running or restarting, is stopped and forgotten; a pid that is no child is `not_found`
    /// only while that process is alive (it is left alone). A dead one — a former child whose
    /// exit was handled, or any ended process — is `ok`: what it asked for is already so.
    async fn terminate_child(&mut self, pid: Pid) -> Result<(), SupervisorError> {
        let found = self.map(|m| m.get(&pid.0).map(|c| (c.cell().cloned(), c.shutdown)));
        let Some((cell, how)) = found else {
            let alive = self
                .ctx
                .handle()
                .rt()
                .lookup(pid)
                .is_some_and(|c| c.is_alive());
            return if alive {
                Err(SupervisorError::NotFound)
            } else {
                Ok(())
            };
        };
        // A restarting child has no process: forgetting it cancels its restart (the pending
        // retry finds nothing), as terminating OTP's `{restarting, OldPid}` does.
        if let Some(cell) = cell {
            shutdown_child(&self.ctx.handle().cell, &self.shared, &cell, how).await;
        }
        self.map(|m| m.remove(&pid.0));
        Ok(())
    }

    /// OTP's `restart_child/3` and `do_restart/3`: a child that is restarted stays in the table,
    /// under its old pid and marked restarting, until its new process runs; the others are
    /// forgotten.
    /// A child whose exit was orderly (a drained listener) is forgotten, never restarted, as
    /// [`terminate_child`](DynamicSupervisorRef::terminate_child) forgets one.
    async fn child_exited(&mut self, pid: Pid, reason: ExitReason) -> Option<ExitReason> {
        let cell = self.map(|m| m.get(&pid.0).and_then(|c| c.cell().cloned()));
        // Read after the table lock is released: one lock at a time.
        if cell.is_some_and(|cell| cell.lock().orderly) {
            self.map(|m| m.remove(&pid.0));
            return None;
        }
        let restart = self.map(|m| {
            let c = m.get_mut(&pid.0)?;
            let restart = match c.restart {
                Restart::Permanent => true,
                Restart::Transient => !reason.is_normal(),
                Restart::Temporary => false,
            };
            if !reason.is_normal() && c.restart != Restart::Temporary {
                tracing::error!(supervisor = %self.shared.pid, pid = %pid, reason = %reason, "child terminated");
            }
            if restart {
                c.state = ChildState::Restarting;
            } else {
                m.remove(&pid.0);
            }
            Some(restart)
        })?;
        if !restart {
            return None;
        }
        self.restart(pid).await
    }

    /// OTP's `restart/2` for `simple_one_for_one`: count the restart, start the child again.
    /// A failed start leaves it restarting under its old pid (`{restarting, OldPid}`), listed
    /// and counted, and retries through the mailbox so that requests are served meanwhile.
    async fn restart(&mut self, old: Pid) -> Option<ExitReason> {
        if !self.window.add_restart() {
            skeleton::intensity_exceeded(&self.ctx, &self.shared, &old);
            self.terminate_all().await;
            return Some(ExitReason::Shutdown(None));
        }
        let spec = self.map(|m| m.get(&old.0).and_then(|c| c.spec.clone()))?;
        tracing::info!(supervisor = %self.ctx.pid(), pid = %old, "restarting child");
        match self.run_start(&spec).await {
            Ok(started) => self.map(|m| {
                let mut child = m.remove(&old.0)?;
                // A restart that returns ignore forgets the child (OTP
                // `simple_one_for_one_restart_ignore`).
                let pid = started.cell.as_ref()?.pid;
                child.restarts += 1;
                child.set_running(started);
                m.insert(pid.0, child);
                Some(())
            }),
            Err(e) => {
                tracing::error!(supervisor = %self.ctx.pid(), error = %e, "child restart failed; retrying");
                let _ = self.ctx.myself().send(DynMsg::TryAgain(old));
                None
            }
        };
        None
    }

    async fn try_again(&mut self, old: Pid) -> Option<ExitReason> {
        let restarting = self.map(|m| {
            m.get(&old.0)
                .is_some_and(|c| matches!(c.state, ChildState::Restarting))
        });
        if !restarting {
            return None;
        }
        self.restart(old).await
    }

    /// Stops every child at once: signals all, then waits for each until its own deadline,
    /// killing those that are late.
    async fn terminate_all(&mut self) {
        let me = self.ctx.handle().cell.clone();
        let start = Instant::now();
        let children: Vec<(Arc<Cell>, Shutdown)> = self.map(|m| {
            let v = m
                .values()
                .filter_map(|c| c.cell().cloned().map(|cell| (cell, c.shutdown)))
                .collect();
            m.clear();
            v
        });
        for (cell, how) in &children {
            let kill = *how == Shutdown::BrutalKill;
            let reason = if kill {
                ExitReason::Killed
            } else {
                ExitReason::Shutdown(None)
            };
            cell.exit_signal(me.pid, &reason, kill, false);
        }
        for (cell, how) in &children {
            let done = match how.deadline(start) {
                Some(at) => tokio::time::timeout_at(at, wait_cell(cell)).await.is_ok(),
                None => {
                    wait_cell(cell).await;
                    true
                }
            };
            if !done {
                cell.exit_signal(me.pid, &ExitReason::Killed, true, false);
                wait_cell(cell).await;
            }
        }
        // Their EXITs, flushed in one pass over the queue.
        let pids: PidMap<()> = children.iter().map(|(c, _)| (c.pid.0, ())).collect();
        flush_exits(&me, &self.shared, |pid| pids.contains_key(&pid.0));
    }
}
