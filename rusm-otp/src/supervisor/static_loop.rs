//! The static supervisor's process: it starts its children in order, then handles their
//! exits by its strategy and restart intensity (OTP's `do_restart/3`, `restart/2`), the
//! requests of its [`SupervisorRef`](super::SupervisorRef), and its stop.

use std::sync::Arc;
use std::time::Duration;

use super::handle::SupMsg;
use super::shutdown::{ensure_link, shutdown_child};
use super::skeleton::{self, SupervisorProcess};
use super::spec::{self, ChildSpec, Restart, Shutdown, Started, StartedChild};
use super::stop_hook::StopHook;
use super::strategy::{AutoShutdown, RestartWindow, Strategy};
use super::supervisor_spec::{validate_child, SupervisorSpec};
use super::table::{Child, ChildState, ChildTable, StaticChildren, SupervisorShared};
use crate::error::{StartError, SupervisorError};
use crate::exit::ExitReason;
use crate::pid::Pid;
use crate::process::cell::Cell;
use crate::process::mailbox::Ctx;
use crate::runtime::Inner;

struct Sup {
    ctx: Ctx<SupMsg>,
    on_stop: Option<StopHook>,
    shared: Arc<SupervisorShared>,
    strategy: Strategy,
    auto_shutdown: AutoShutdown,
    window: RestartWindow,
}

pub(super) async fn supervisor_main(
    ctx: Ctx<SupMsg>,
    spec: SupervisorSpec,
    parent: Option<Pid>,
    init: skeleton::InitAck,
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
    skeleton::run(&mut sup, parent).await
}

impl SupervisorProcess for Sup {
    type Request = SupMsg;

    fn ctx(&mut self) -> &mut Ctx<SupMsg> {
        &mut self.ctx
    }

    async fn child_exited(&mut self, pid: Pid, reason: ExitReason) -> Option<ExitReason> {
        Sup::child_exited(self, pid, reason).await
    }

    async fn handle(&mut self, request: SupMsg) -> Option<ExitReason> {
        Sup::handle(self, request).await
    }

    async fn terminate_all(&mut self) {
        Sup::terminate_all(self).await;
    }
}

impl Sup {
    fn pid(&self) -> Pid {
        self.ctx.pid()
    }

    fn rt(&self) -> Arc<Inner> {
        self.ctx.handle().rt_arc()
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
            skeleton::intensity_exceeded(&self.ctx, &self.shared, id);
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
