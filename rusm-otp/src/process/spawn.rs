//! Spawning a process and the task that runs it: its body polled with the process current,
//! exit signals taken between polls, a panic caught as the exit reason, and the exit completed
//! in order (body dropped, queued messages dropped, name and groups released, links and
//! monitors signalled).

use std::any::TypeId;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::addr::{Addr, ProcessHandle};
use super::cell::{self, Birth, Cell, Exiting, State};
use super::current::{enter, leave, swap_pid};
use super::mailbox::Ctx;
use super::queue::{Queue, TypedCell};
use crate::error::RegisterError;
use crate::exit::{ExitReason, IntoExitReason};
use crate::pid::Pid;
use crate::runtime::{cell_pool, Inner, Runtime};
use crate::signal::MonitorRef;

/// How to spawn: link to the spawner, monitor it, register a name, trap exits from the start.
#[derive(Debug, Default, Clone)]
pub(crate) struct SpawnOpts {
    pub(crate) link: Option<Arc<Cell>>,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) trap_exit: bool,
    pub(crate) monitored_by: Option<Arc<Cell>>,
}

/// Spawns a process on `rt`, borrowed: its new cell counts it (a reused one already does).
pub(crate) fn spawn_with<M, F, Fut>(
    rt: &Inner,
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
    rt: &Inner,
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
    let birth = Birth {
        pid,
        started: rt.nanos(),
        state,
        parent,
        meta: meta::<M, F, Fut>,
    };
    let tx = new_cell::<M>(rt, birth);
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
    rt.insert(cell.clone());
    tracing::debug!(pid = %pid, name = ?opts.name, "process spawned");
    rt.handle.spawn(Task {
        typed: Some(addr.tx.clone()),
        cell: Some(cell),
        waker_stored: false,
        body: Some(f(ctx)),
    });
    Ok((addr, mref))
}

/// The cell of a process being spawned on `rt`: a pooled one of an exited process with the
/// same message type when the pool has one (`runtime/cell_pool.rs`), else a new allocation
/// holding `rt`'s count.
fn new_cell<M: Send + 'static>(rt: &Inner, birth: Birth) -> Arc<TypedCell<M>> {
    let pooled = rt
        .cells
        .take(cell_pool::home(), TypeId::of::<M>())
        .and_then(|c| c.downcast::<TypedCell<M>>().ok());
    // A pooled cell has no other holder (only `take` removes it from the pool), so `get_mut`
    // succeeds; were it not to, a new cell is always right.
    if let Some(mut cell) = pooled {
        if let Some(c) = Arc::get_mut(&mut cell) {
            // The pooled cell already counts this runtime.
            c.reuse(birth);
            return cell;
        }
    }
    Arc::new(cell::CellOf::new(birth, rt.counted(), Queue::new()))
}

/// Gives an exited process's cell back to its runtime's pool when the task holds the last
/// reference to it; drops it otherwise (an `Addr` or a supervisor still holds it).
fn recycle<M: Send + 'static>(mut cell: Arc<TypedCell<M>>) {
    let Some(c) = Arc::get_mut(&mut cell) else {
        return;
    };
    c.clear_for_pool();
    // Counted for the give: the cell, which holds the runtime's count, moves into the pool.
    let rt = cell.rt_arc();
    rt.cells.give(TypeId::of::<M>(), cell);
}

/// What `process_info` reports of a process made from `F`.
fn meta<M, F, Fut>() -> cell::Meta {
    cell::Meta {
        initial_call: std::any::type_name::<F>(),
        // tokio's task header and scheduler hooks come on top of the future: about 64 bytes.
        task_bytes: std::mem::size_of::<Task<M, Fut>>() + 64,
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
    struct Task<M, Fut> {
        // `None` only while the body is polled: lent to the thread's current process meanwhile.
        cell: Option<Arc<Cell>>,
        // The same cell, typed: given back to the runtime's pool at the exit if nothing else
        // holds it (`recycle`).
        typed: Option<Arc<TypedCell<M>>>,
        // Whether the task's waker is in the cell (stored at the first pending poll).
        waker_stored: bool,
        #[pin]
        body: Option<Fut>,
    }

    impl<M, Fut> PinnedDrop for Task<M, Fut> {
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

impl<M, Fut> Future for Task<M, Fut>
where
    M: Send + 'static,
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
        drop(cell);
        if let Some(typed) = this.typed.take() {
            recycle(typed);
        }
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
        spawn_with(&self.inner, SpawnOpts::default(), f).expect("no name, cannot fail")
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
        spawn_with(&self.inner, opts, f)
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
        spawn_with(self.addr.handle.rt(), opts, f).expect("no name, cannot fail")
    }

    /// Spawns a process with no link to this one.
    pub fn spawn<N, F, Fut>(&self, f: F) -> Addr<N>
    where
        N: Send + 'static,
        F: FnOnce(Ctx<N>) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoExitReason,
    {
        spawn_with(self.addr.handle.rt(), SpawnOpts::default(), f).expect("no name, cannot fail")
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
            spawn_inner(self.addr.handle.rt(), opts, f).expect("no name, cannot fail");
        (addr, mref.expect("monitor requested"))
    }
}

#[cfg(test)]
mod tests {
    //! Reuse of exited processes' cells (`runtime/cell_pool.rs`), on one thread, where a
    //! process's exit (its DOWN, then its cell given back) completes within one poll, before
    //! the watcher that gets the DOWN runs again.

    use std::sync::Arc;

    use crate::{Ctx, ExitReason, Msg, Runtime};

    /// A process that used everything a cell holds, then exited with an error: trapping exits,
    /// registered, in a group, with user messages queued and a monitor that fired.
    async fn busy(mut ctx: Ctx<u64>) -> ExitReason {
        ctx.trap_exit(true);
        ctx.register("busy").unwrap();
        let me = ctx.myself();
        ctx.runtime().pg().join("busy", &me).unwrap();
        let (watched, _) = ctx.spawn_monitor(|_: Ctx| async {});
        drop(watched);
        while !matches!(ctx.recv().await, Msg::Down(_)) {}
        for n in 0..3 {
            me.send(n).unwrap();
        }
        ExitReason::error("done")
    }

    #[tokio::test]
    async fn a_reused_cell_starts_as_a_new_process_and_the_old_pid_is_gone() {
        let rt = Runtime::attach();
        let checked = rt.spawn(|mut ctx: Ctx| async move {
            let rt = ctx.runtime();
            let (p, _) = ctx.spawn_monitor(busy);
            let old = p.pid();
            drop(p);
            let down = loop {
                if let Msg::Down(d) = ctx.recv().await {
                    break d;
                }
            };
            assert_eq!(down.reason, ExitReason::error("done"));
            let pooled = rt.inner.cells.len();
            assert!(pooled >= 1, "the busy process's cell was pooled");
            let q = ctx.spawn(|mut ctx: Ctx<u64>| async move {
                ctx.recv_user().await;
            });
            assert_eq!(rt.inner.cells.len(), pooled - 1, "and reused");
            assert_ne!(q.pid(), old);
            assert!(rt.process_info(old).is_none(), "the old pid names nothing");
            assert!(rt.whereis("busy").is_none());
            assert!(rt.pg().members::<u64>("busy").is_empty());
            let info = rt.process_info(q.pid()).expect("alive");
            assert!(!info.trap_exit);
            assert_eq!(info.registered_name, None);
            assert_eq!((info.message_queue_len, info.signal_queue_len), (0, 0));
            assert!(info.links.is_empty() && info.monitors.is_empty());
            assert!(info.monitored_by.is_empty() && info.groups.is_empty());
            assert!(info.reductions <= 1, "{}", info.reductions);
            assert_eq!(q.exit_reason(), None);
            q.send(7).unwrap();
            assert_eq!(q.wait().await, ExitReason::Normal);
        });
        assert_eq!(checked.wait().await, ExitReason::Normal);
    }

    #[test]
    fn a_runtime_with_pooled_cells_is_freed_when_it_shuts_down() {
        let tokio_rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let rt = Runtime::with_handle(tokio_rt.handle().clone());
        let inner = Arc::downgrade(&rt.inner);
        let rt2 = rt.clone();
        tokio_rt.block_on(async move {
            let w = rt2.spawn(|mut ctx: Ctx| async move {
                for _ in 0..10 {
                    let (p, _) = ctx.spawn_monitor(|_: Ctx<u64>| async {});
                    drop(p);
                }
                let mut downs = 0;
                while downs < 10 {
                    if let Msg::Down(_) = ctx.recv().await {
                        downs += 1;
                    }
                }
            });
            w.wait().await;
            assert!(rt2.inner.cells.len() >= 10, "cells were pooled");
        });
        drop(rt);
        drop(tokio_rt);
        assert!(
            inner.upgrade().is_none(),
            "the pool emptied at shutdown: its cells no longer keep the runtime"
        );
    }
}
