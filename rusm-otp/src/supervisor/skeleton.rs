//! What every supervisor process does the same way, static or dynamic: its receive loop (an
//! exit signal from its parent or from outside stops it and its children, a child's exit goes
//! to its restart policy, a request to its handler) and what it does when its restart
//! intensity is reached. Each kind of supervisor brings its child table and its policy
//! ([`SupervisorProcess`]).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::table::SupervisorShared;
use crate::call::ReplyTo;
use crate::error::{StartError, SupervisorError};
use crate::exit::ExitReason;
use crate::pid::Pid;
use crate::process::addr::Addr;
use crate::process::cell::Cell;
use crate::process::mailbox::Ctx;
use crate::process::queue::Msg;
use crate::process::spawn::{spawn_with, SpawnOpts};
use crate::runtime::Inner;
use crate::signal::ExitSignal;

/// A supervisor process's own parts: its context, its handling of a child's exit and of a
/// request, and its shutdown of every child. Each returns `Some(reason)` to stop the
/// supervisor with that reason.
pub(super) trait SupervisorProcess {
    /// What its mailbox takes.
    type Request: Send + 'static;

    fn ctx(&mut self) -> &mut Ctx<Self::Request>;

    /// OTP's `do_restart/3`: a child exited by itself.
    async fn child_exited(&mut self, pid: Pid, reason: ExitReason) -> Option<ExitReason>;

    /// A request from its handle (or one it sent itself: a retry, a delayed restart).
    async fn handle(&mut self, request: Self::Request) -> Option<ExitReason>;

    /// OTP's `terminate/2`: every child, each by its shutdown spec.
    async fn terminate_all(&mut self);
}

/// How a supervisor's process tells its starter that its init is done: its shared state, or
/// why it could not start.
pub(super) type InitAck = oneshot::Sender<Result<Arc<SupervisorShared>, StartError>>;

/// Starts a supervisor process running `main` (OTP's `supervisor:start_link`): linked to
/// `parent` (a root of the tree when `None`), registered as `name`, trapping exits from its
/// first instruction. Returns once `main` has acknowledged its init, with its address and
/// shared state; after a failed init, once the process has exited, as OTP's `start_link`
/// does, so that the caller finds nothing of it left.
pub(super) async fn start<M, F, Fut>(
    rt: &Arc<Inner>,
    parent: Option<Arc<Cell>>,
    name: Option<Arc<str>>,
    main: F,
) -> Result<(Addr<M>, Arc<SupervisorShared>), StartError>
where
    M: Send + 'static,
    F: FnOnce(Ctx<M>, Option<Pid>, InitAck) -> Fut + Send + 'static,
    Fut: Future<Output = ExitReason> + Send + 'static,
{
    let (init_tx, init_rx) = oneshot::channel();
    let parent_pid = parent.as_ref().map(|p| p.pid);
    let is_root = parent.is_none();
    let opts = SpawnOpts {
        link: parent,
        name,
        trap_exit: true,
        ..SpawnOpts::default()
    };
    let addr = spawn_with(rt, opts, move |ctx: Ctx<M>| main(ctx, parent_pid, init_tx))?;
    let shared = match init_rx.await {
        Ok(Ok(shared)) => shared,
        Ok(Err(e)) => {
            addr.wait().await;
            return Err(e);
        }
        Err(_) => return Err(StartError::Exited(addr.wait().await)),
    };
    if is_root {
        rt.add_root(addr.pid(), &shared);
    }
    Ok((addr, shared))
}

/// Runs `sup` until it stops; returns its exit reason. An exit signal from `parent`, or from
/// outside (`Pid::EXTERNAL`: the runtime's shutdown), stops it with that reason once its
/// children are stopped, as OTP's supervisor does on an `EXIT` from its parent.
pub(super) async fn run<S: SupervisorProcess>(sup: &mut S, parent: Option<Pid>) -> ExitReason {
    loop {
        let stop = match sup.ctx().recv().await {
            Msg::Exit(ExitSignal { from, reason }) => {
                if Some(from) == parent || from == Pid::EXTERNAL {
                    sup.terminate_all().await;
                    return reason;
                }
                sup.child_exited(from, reason).await
            }
            Msg::Down(_) => None,
            Msg::User(request) => sup.handle(request).await,
        };
        if let Some(reason) = stop {
            return reason;
        }
    }
}

/// The restart intensity is reached on a restart of `child`: counted for the runtime's
/// figures and logged. The caller then stops every child and exits `Shutdown`, which its own
/// supervisor sees as a child exit (escalation).
pub(super) fn intensity_exceeded<M>(
    ctx: &Ctx<M>,
    shared: &SupervisorShared,
    child: &dyn fmt::Display,
) {
    ctx.runtime().note_intensity_exceeded(ctx.pid());
    tracing::error!(
        supervisor = %ctx.pid(),
        child = %child,
        intensity = shared.intensity,
        period_secs = shared.period.as_secs(),
        "restart intensity exceeded; shutting down"
    );
}

/// A request to a supervisor, answered between its other work: it waits as long as it takes,
/// as OTP's supervisor calls (`infinity`); a supervisor that is not alive gives `NoProc`.
pub(super) async fn request<M, R>(
    addr: &Addr<M>,
    make: impl FnOnce(ReplyTo<Result<R, SupervisorError>>) -> M,
) -> Result<R, SupervisorError> {
    addr.call_timeout(make, Duration::MAX)
        .await
        .unwrap_or(Err(SupervisorError::NoProc(addr.pid())))
}

/// What both supervisor handles are alike in (`addr` and `shared` fields): `Debug` by pid,
/// `Deref` to the supervisor's [`ProcessHandle`](crate::ProcessHandle), and `Started::from`
/// for a start function that starts one.
macro_rules! supervisor_handle {
    ($handle:ident) => {
        impl std::fmt::Debug for $handle {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($handle))
                    .field("pid", &self.addr.pid())
                    .finish()
            }
        }

        impl std::ops::Deref for $handle {
            type Target = $crate::process::addr::ProcessHandle;
            fn deref(&self) -> &$crate::process::addr::ProcessHandle {
                &self.addr.handle
            }
        }

        impl From<$handle> for $crate::supervisor::spec::Started {
            fn from(s: $handle) -> Self {
                $crate::supervisor::spec::Started {
                    sup: Some(s.shared as std::sync::Arc<dyn std::any::Any + Send + Sync>),
                    ..$crate::supervisor::spec::Started::from(s.addr)
                }
            }
        }
    };
}
pub(super) use supervisor_handle;
