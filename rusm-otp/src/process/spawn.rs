//! Spawning a process and the task that runs it: its body polled with the process current,
//! exit signals taken between polls, a panic caught as the exit reason, and the exit completed
//! in order (body dropped, queued messages dropped, name and groups released, links and
//! monitors signalled).

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::addr::{Addr, ProcessHandle};
use super::cell::{self, Cell, Exiting, State};
use super::current::{enter, leave, swap_pid};
use super::mailbox::Ctx;
use super::queue::{Queue, TypedCell};
use crate::error::RegisterError;
use crate::exit::{ExitReason, IntoExitReason};
use crate::pid::Pid;
use crate::runtime::{Inner, Runtime};
use crate::signal::MonitorRef;

/// How to spawn: link to the spawner, monitor it, register a name, trap exits from the start.
#[derive(Debug, Default, Clone)]
pub(crate) struct SpawnOpts {
    pub(crate) link: Option<Arc<Cell>>,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) trap_exit: bool,
    pub(crate) monitored_by: Option<Arc<Cell>>,
}

/// Spawns a process on `rt`, whose count moves into the new process's cell.
pub(crate) fn spawn_with<M, F, Fut>(
    rt: Arc<Inner>,
    opts: SpawnOpts,
    f: F,
) -> Result<Addr<M>, RegisterError>
where
    M: Send + 'static,
    F: FnOnce(Ctx<M>) -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoExitReason,
{
    spawn_inner(rt, opts, f).map(|(addr, _)| addr)
}

fn spawn_inner<M, F, Fut>(
    rt: Arc<Inner>,
    opts: SpawnOpts,
    f: F,
) -> Result<(Addr<M>, Option<MonitorRef>), RegisterError>
where
    M: Send + 'static,
    F: FnOnce(Ctx<M>) -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoExitReason,
{
    let pid = rt.next_pid();
    let mut state = State::default();
    state.trap_exit = opts.trap_exit;
    if let Some(parent) = &opts.link {
        state.links.insert(parent.clone());
    }
    let mref = opts.monitored_by.as_ref().map(|watcher| {
        let mref = MonitorRef::new(pid);
        watcher.lock().monitors().of.push(mref);
        state.monitors().by.push((mref, watcher.clone()));
        mref
    });
    let parent = opts.link.as_ref().map_or(Pid::EXTERNAL, |p| p.pid);
    // One allocation for the process's cell and its mailbox; the cell holds the process's one
    // count of the runtime. The mailbox lives as long as the process, not as its `Ctx` (a body
    // that drops its context early still has a mailbox while it runs, as every live Erlang
    // process has), and it is closed when the process exits.
    let started = rt.nanos();
    let tx: Arc<TypedCell<M>> = Arc::new(cell::CellOf::new(
        pid,
        rt,
        started,
        state,
        parent,
        meta::<F, Fut>,
        Queue::new(),
    ));
    let cell: Arc<Cell> = tx.clone();
    if let Some(name) = &opts.name {
        // Registered with its typed cell, so that the typed lookup (`whereis_addr`) finds it.
        cell.rt()
            .registry
            .register_spawned(name.clone(), &cell, &tx)?;
        cell.lock().set_name(Some(name.clone()));
    }
    if let Some(parent) = &opts.link {
        let mut p = parent.lock();
        match &p.exit {
            // The parent is already dead: the link delivers its exit signal at once.
            Some(reason) => {
                let reason = reason.clone();
                drop(p);
                cell.exit_signal(parent.pid, &reason, false, true);
            }
            None => {
                p.links.insert(cell.clone());
            }
        }
    }
    let addr = Addr {
        handle: ProcessHandle::from_cell(cell.clone()),
        tx,
    };
    let ctx = Ctx::new(addr.clone());
    // The runtime, read through the cell that now holds its count.
    let rt = addr.handle.rt();
    rt.insert(cell.clone());
    tracing::debug!(pid = %pid, name = ?opts.name, "process spawned");
    rt.handle.spawn(Task {
        cell: Some(cell),
        waker_stored: false,
        body: Some(f(ctx)),
    });
    Ok((addr, mref))
}

/// What `process_info` reports of a process made from `F`.
fn meta<F, Fut>() -> cell::Meta {
    cell::Meta {
        initial_call: std::any::type_name::<F>(),
        // tokio's task header and scheduler hooks come on top of the future: about 64 bytes.
        task_bytes: std::mem::size_of::<Task<Fut>>() + 64,
    }
}

pin_project_lite::pin_project! {
    /// The process task: polls the body, stops it on an exit signal, contains its panic, then
    /// signals links and monitors.
    ///
    /// A hand-written future rather than an `async fn`: an `async fn` keeps its arguments
    /// apart from its locals, which would hold the body twice in every process's task.
    ///
    /// `repr(C)` keeps the fields every poll reads ahead of the body, on the task's first
    /// cache line, rather than after a body of any size.
    #[repr(C)]
    struct Task<Fut> {
        // `None` only while the body is polled: lent to the thread's current process meanwhile.
        cell: Option<Arc<Cell>>,
        // Whether the task's waker is in the cell (stored at the first pending poll).
        waker_stored: bool,
        #[pin]
        body: Option<Fut>,
    }

    impl<Fut> PinnedDrop for Task<Fut> {
        // A task dropped before its body finished (its tokio runtime shut down): the process
        // is killed, and its exit completes here — body dropped, mailbox closed, name,
        // links and monitors released — so that nothing waits on it for ever.
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            if this.body.is_none() {
                return;
            }
            let Some(cell) = this.cell.as_ref() else {
                return;
            };
            let exiting = cell.begin_exit(&ExitReason::Killed);
            let _ = catch_unwind(AssertUnwindSafe(|| this.body.set(None)));
            finish(cell, ExitReason::Killed, exiting);
        }
    }
}

impl<Fut> Future for Task<Fut>
where
    Fut: Future,
    Fut::Output: IntoExitReason,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let Some(cell) = this.cell.take() else {
            return Poll::Ready(());
        };
        cell.poll_begins();
        let pending_exit = if cell.has_signal() {
            cell.take_pending_exit()
        } else {
            None
        };
        let (cell, reason) = match pending_exit {
            Some(r) => (cell, r),
            None => {
                let prev = enter(cell);
                let polled =
                    catch_unwind(AssertUnwindSafe(|| match this.body.as_mut().as_pin_mut() {
                        Some(fut) => fut.poll(cx),
                        None => Poll::Pending,
                    }));
                let cell = leave(prev).expect("the cell lent for the poll is back");
                match polled {
                    Ok(Poll::Ready(out)) => (cell, out.into_exit_reason()),
                    Ok(Poll::Pending) => {
                        cell.poll_ends();
                        if !*this.waker_stored {
                            // Once: the task's waker never changes.
                            cell.store_task_waker(cx.waker());
                            *this.waker_stored = true;
                        }
                        *this.cell = Some(cell);
                        return Poll::Pending;
                    }
                    Err(payload) => (cell, ExitReason::from_panic(payload)),
                }
            }
        };
        cell.poll_ends();
        let pid = cell.pid;
        // Record the reason before dropping the body, so that a caller whose reply handle is
        // dropped with the queued messages finds the reason already there; the mailbox refuses
        // sends from the same moment.
        let exiting = cell.begin_exit(&reason);
        let prev = swap_pid(pid);
        let dropped = catch_unwind(AssertUnwindSafe(|| this.body.set(None)));
        swap_pid(prev);
        if let Err(payload) = dropped {
            tracing::error!(pid = %pid, reason = %ExitReason::from_panic(payload), "panic while dropping process state");
        }
        finish(&cell, reason, exiting);
        *this.cell = Some(cell);
        Poll::Ready(())
    }
}

thread_local! {
    /// Set by a wrapper that reported the exit itself with more context (a connection's crash
    /// report names its peer and listener): the exit is then logged at debug level only.
    static REPORTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Says that the exit the body is about to return has been reported already.
pub(crate) fn exit_reported() {
    REPORTED.with(|r| r.set(true));
}

/// Completes an exit begun by [`Cell::begin_exit`], once the body is dropped: drops the
/// messages left in the mailbox (reply handles included, which ends the calls waiting on
/// them), releases the name and groups, removes the process from the table, then signals links
/// and monitors and wakes those waiting for the exit.
fn finish(cell: &Arc<Cell>, reason: ExitReason, exiting: Exiting) {
    let reported = REPORTED.with(|r| r.replace(false));
    let Exiting {
        links,
        monitored_by,
        groups,
        name,
        orderly,
        queued,
    } = exiting;
    if let Some(queued) = queued {
        let prev = swap_pid(cell.pid);
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| drop(queued))) {
            tracing::error!(pid = %cell.pid, reason = %ExitReason::from_panic(payload), "panic while dropping queued messages");
        }
        swap_pid(prev);
    }
    let rt = cell.rt();
    let pid = cell.pid;
    if let Some(name) = &name {
        rt.registry.release(name, pid);
    }
    if !groups.is_empty() {
        rt.groups.exited(pid, groups);
    }
    rt.remove(pid, &reason);
    // Made orderly (by a supervisor's shutdown, a drain) after the exit began: read it again,
    // for the log level only.
    let orderly = orderly || reported || (!reason.is_normal() && cell.lock().orderly);
    match &reason {
        r if r.is_normal() || orderly => {
            tracing::debug!(pid = %pid, name = ?name, reason = %r, "process exited")
        }
        r => {
            let at = crate::panics::take_location();
            tracing::warn!(pid = %pid, name = ?name, reason = %r, at, "process exited abnormally")
        }
    }
    for linked in links {
        linked.exit_signal(pid, &reason, false, true);
    }
    for (mref, watcher) in monitored_by {
        watcher.deliver_down(crate::signal::Down {
            monitor: mref,
            pid,
            reason: reason.clone(),
        });
    }
    cell.set_finished();
}

impl Runtime {
    /// Spawns a process with no link and no monitor; its mailbox takes messages of type `M`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use rusm_otp::{Runtime, ExitReason};
    /// # let rt = Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let p = rt.spawn(|_ctx: rusm_otp::Ctx| async { Err::<(), _>("bad input") });
    /// assert_eq!(p.wait().await, ExitReason::error("bad input"));
    /// # });
    /// ```
    pub fn spawn<M, F, Fut>(&self, f: F) -> Addr<M>
    where
        M: Send + 'static,
        F: FnOnce(Ctx<M>) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoExitReason,
    {
        spawn_with(self.inner.clone(), SpawnOpts::default(), f).expect("no name, cannot fail")
    }

    /// Spawns a process registered under `name` before its first instruction runs.
    ///
    /// # Errors
    ///
    /// [`RegisterError::Taken`] when the name is in use; nothing is spawned then.
    pub fn spawn_named<M, F, Fut>(
        &self,
        name: impl Into<Arc<str>>,
        f: F,
    ) -> Result<Addr<M>, RegisterError>
    where
        M: Send + 'static,
        F: FnOnce(Ctx<M>) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoExitReason,
    {
        let opts = SpawnOpts {
            name: Some(name.into()),
            ..SpawnOpts::default()
        };
        spawn_with(self.inner.clone(), opts, f)
    }
}

impl<M> Ctx<M> {
    /// Spawns a process linked to this one, as `spawn_link/1`: the link exists before the new
    /// process runs.
    pub fn spawn_link<N, F, Fut>(&self, f: F) -> Addr<N>
    where
        N: Send + 'static,
        F: FnOnce(Ctx<N>) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoExitReason,
    {
        let opts = SpawnOpts {
            link: Some(self.addr.handle.cell.clone()),
            ..SpawnOpts::default()
        };
        spawn_with(self.addr.handle.rt_arc(), opts, f).expect("no name, cannot fail")
    }

    /// Spawns a process with no link to this one.
    pub fn spawn<N, F, Fut>(&self, f: F) -> Addr<N>
    where
        N: Send + 'static,
        F: FnOnce(Ctx<N>) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoExitReason,
    {
        spawn_with(self.addr.handle.rt_arc(), SpawnOpts::default(), f)
            .expect("no name, cannot fail")
    }

    /// Spawns a process and monitors it, as `spawn_monitor/1`.
    pub fn spawn_monitor<N, F, Fut>(&self, f: F) -> (Addr<N>, MonitorRef)
    where
        N: Send + 'static,
        F: FnOnce(Ctx<N>) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoExitReason,
    {
        let opts = SpawnOpts {
            monitored_by: Some(self.addr.handle.cell.clone()),
            ..SpawnOpts::default()
        };
        let (addr, mref) =
            spawn_inner(self.addr.handle.rt_arc(), opts, f).expect("no name, cannot fail");
        (addr, mref.expect("monitor requested"))
    }
}
