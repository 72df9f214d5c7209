//! Processes: spawn, [`Pid`], [`ProcessHandle`] and the typed [`Addr`].
//!
//! A process is a tokio task with a pid, a typed mailbox, a system mailbox for exit signals and
//! `Down` messages, links and monitors. Its body is an `async` closure that receives a
//! [`Ctx`]. When the body returns, panics, or is stopped by an exit signal, the process is
//! dead: its body (and with it its mailbox and everything it owned) is dropped first, then its
//! registered name is released, then its links and monitors are signalled.
//!
//! # Pre-emption
//!
//! A process is stopped by `kill` or an exit signal **at its next await point**. Unlike the
//! BEAM, tokio cannot pre-empt a task: a process that loops without awaiting (or blocks its
//! thread) cannot be stopped until it yields, and it holds a worker thread meanwhile. Run
//! blocking work in `tokio::task::spawn_blocking`.

pub(crate) mod call_timer;
pub(crate) mod cell;
mod info;
pub(crate) mod mailbox;

pub use info::{ProcessInfo, ProcessRow, ProcessStatus, TopBy, TopEntry};

use std::cell::Cell as StdCell;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::error::{RegisterError, SendError};
use crate::exit::{ExitReason, IntoExitReason};
use crate::monitor::MonitorRef;
use crate::runtime::{Inner, Runtime};
use cell::{Cell, Exiting, State};

pub use mailbox::{Ctx, Msg};

/// A process identifier, unique for the life of its runtime.
///
/// Prints as Erlang does, `<0.42.0>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pid(pub(crate) u64);

impl Pid {
    /// The pseudo-pid of code that runs outside any process (a test, `main`).
    pub const EXTERNAL: Pid = Pid(0);

    /// The number inside the pid.
    pub fn id(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<0.{}.0>", self.0)
    }
}

/// Parses a pid as it prints, `<0.42.0>`, or its number alone, `42` (OTP's `list_to_pid`):
/// for tools that take a pid from a person or a URL. The pid need not be alive.
///
/// ```
/// use rusm_otp::Pid;
///
/// let pid: Pid = "<0.42.0>".parse().unwrap();
/// assert_eq!(pid.id(), 42);
/// assert_eq!("42".parse::<Pid>().unwrap(), pid);
/// assert!("<0.x.0>".parse::<Pid>().is_err());
/// ```
impl std::str::FromStr for Pid {
    type Err = crate::error::ParsePidError;

    fn from_str(s: &str) -> Result<Pid, Self::Err> {
        let s = s.trim();
        let n = match s.strip_prefix("<0.").and_then(|r| r.strip_suffix(".0>")) {
            Some(n) => n,
            None => s,
        };
        n.parse()
            .map(Pid)
            .map_err(|_| crate::error::ParsePidError(()))
    }
}

impl fmt::Debug for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// What runs on this thread now: a process's pid and its cell (lent by the process's task, not
/// cloned, for the length of a poll), or the runtime `Runtime::block_on` lends. One
/// thread-local, so that a poll sets both at once.
struct Current {
    pid: StdCell<Pid>,
    cell: StdCell<Option<Arc<Cell>>>,
    rt: StdCell<Option<Arc<Inner>>>,
}

thread_local! {
    static CURRENT: Current = const {
        Current {
            pid: StdCell::new(Pid::EXTERNAL),
            cell: StdCell::new(None),
            rt: StdCell::new(None),
        }
    };
}

/// The pid of the process whose code is running on this thread, or [`Pid::EXTERNAL`].
pub fn current_pid() -> Pid {
    CURRENT.with(|c| c.pid.get())
}

/// Makes the process of `cell` current; returns what was current before.
fn enter(cell: Arc<Cell>) -> (Pid, Option<Arc<Cell>>) {
    CURRENT.with(|c| (c.pid.replace(cell.pid), c.cell.replace(Some(cell))))
}

/// Makes `prev` current again; returns the cell that `enter` lent.
fn leave(prev: (Pid, Option<Arc<Cell>>)) -> Option<Arc<Cell>> {
    CURRENT.with(|c| {
        c.pid.set(prev.0);
        c.cell.replace(prev.1)
    })
}

/// Puts the runtime in the thread's current-runtime slot and returns what was there
/// (`Runtime::block_on`'s future sees its runtime as current).
pub(crate) fn lend_runtime(rt: Option<Arc<Inner>>) -> Option<Arc<Inner>> {
    CURRENT.with(|c| c.rt.replace(rt))
}

/// A clone of the cell of the process whose code is running on this thread.
pub(crate) fn current_cell() -> Option<Arc<Cell>> {
    CURRENT.with(|c| {
        let cell = c.cell.take();
        let out = cell.clone();
        c.cell.set(cell);
        out
    })
}

/// A clone of the runtime current on this thread: the running process's, or the one lent by
/// `block_on`.
pub(crate) fn current_runtime() -> Option<Arc<Inner>> {
    CURRENT.with(|c| {
        let cell = c.cell.take();
        let out = match &cell {
            Some(cell) => Some(cell.rt.clone()),
            None => {
                let rt = c.rt.take();
                let out = rt.clone();
                c.rt.set(rt);
                out
            }
        };
        c.cell.set(cell);
        out
    })
}

/// A handle to a process of any message type: await its exit, kill it, ask if it is alive.
///
/// Awaiting a handle (or [`wait`](Self::wait)) returns the [`ExitReason`]; it can be awaited
/// by any number of holders, before or after the exit.
#[derive(Clone)]
pub struct ProcessHandle {
    pub(crate) cell: Arc<Cell>,
}

impl fmt::Debug for ProcessHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessHandle")
            .field("pid", &self.cell.pid)
            .finish()
    }
}

impl ProcessHandle {
    pub(crate) fn from_cell(cell: Arc<Cell>) -> Self {
        ProcessHandle { cell }
    }

    /// The runtime the process runs on, borrowed.
    pub(crate) fn rt(&self) -> &Arc<Inner> {
        &self.cell.rt
    }

    /// The process's pid.
    pub fn pid(&self) -> Pid {
        self.cell.pid
    }

    /// Whether the process has not exited yet.
    pub fn is_alive(&self) -> bool {
        self.cell.is_alive()
    }

    /// The exit reason, once the process is dead.
    pub fn exit_reason(&self) -> Option<ExitReason> {
        self.cell.exit_reason()
    }

    /// Kills the process with the untrappable `kill` signal, as `exit(Pid, kill)`.
    ///
    /// The process stops at its next await point with reason [`ExitReason::Killed`]; a process
    /// that never yields cannot be stopped (see the [module docs](crate::process)).
    pub fn kill(&self) {
        self.cell
            .exit_signal(current_pid(), &ExitReason::Killed, true, false);
    }

    /// Sends an exit signal, as `erlang:exit(Pid, Reason)`: a process that traps exits receives
    /// it as [`Msg::Exit`]; otherwise `Normal` is ignored and any other reason stops it.
    pub fn exit(&self, reason: ExitReason) {
        self.cell.exit_signal(current_pid(), &reason, false, false);
    }

    /// Waits for the process to exit and returns its reason.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe: waiting changes nothing, and dropping the future only stops
    /// waiting; the exit reason stays there for a later `wait`.
    pub async fn wait(&self) -> ExitReason {
        self.cell.wait_finished().await
    }

    /// The runtime the process runs on.
    pub fn runtime(&self) -> Runtime {
        Runtime::borrowed(self.cell.rt.clone())
    }
}

/// `handle.await` waits for the process to exit and returns its reason, as
/// [`wait`](ProcessHandle::wait).
///
/// # Cancel safety
///
/// This future is cancel safe, as [`wait`](ProcessHandle::wait).
impl IntoFuture for ProcessHandle {
    type Output = ExitReason;
    type IntoFuture = Pin<Box<dyn Future<Output = ExitReason> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.wait().await })
    }
}

/// The address of a process whose mailbox takes messages of type `M`.
///
/// Dereferences to its [`ProcessHandle`] (pid, kill, wait, …).
pub struct Addr<M> {
    pub(crate) handle: ProcessHandle,
    /// The same cell as the handle's, typed: its mailbox takes `M`.
    pub(crate) tx: Arc<mailbox::TypedCell<M>>,
}

impl<M> Clone for Addr<M> {
    fn clone(&self) -> Self {
        Addr {
            handle: self.handle.clone(),
            tx: self.tx.clone(),
        }
    }
}

impl<M> fmt::Debug for Addr<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Addr")
            .field("pid", &self.handle.pid())
            .finish()
    }
}

impl<M> std::ops::Deref for Addr<M> {
    type Target = ProcessHandle;
    fn deref(&self) -> &ProcessHandle {
        &self.handle
    }
}

/// `addr.await` waits for the process to exit and returns its reason, as
/// [`wait`](ProcessHandle::wait).
///
/// # Cancel safety
///
/// This future is cancel safe, as [`wait`](ProcessHandle::wait).
impl<M: Send + 'static> IntoFuture for Addr<M> {
    type Output = ExitReason;
    type IntoFuture = Pin<Box<dyn Future<Output = ExitReason> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        self.handle.into_future()
    }
}

impl<M> Addr<M> {
    /// Sends a message to the process's mailbox. Mailboxes are unbounded, as Erlang's are.
    ///
    /// # Errors
    ///
    /// [`SendError`], holding the message, when the process has exited.
    pub fn send(&self, msg: M) -> Result<(), SendError<M>> {
        self.tx.send(msg).map_err(SendError)
    }

    /// The untyped handle.
    pub fn handle(&self) -> &ProcessHandle {
        &self.handle
    }

    /// How many user messages wait in the mailbox (OTP's `message_queue_len`): one uncontended
    /// lock, cheap enough to check before every send (e.g. to drop a slow consumer).
    ///
    /// # Examples
    ///
    /// ```
    /// # use rusm_otp::{Runtime, Ctx};
    /// # let rt = Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let p = rt.spawn(|mut ctx: Ctx<u8>| async move { ctx.recv_user().await; });
    /// // Nothing reads until the process is scheduled: both may still be queued.
    /// p.send(1).unwrap();
    /// assert!(p.message_queue_len() <= 1);
    /// # p.wait().await;
    /// # });
    /// ```
    pub fn message_queue_len(&self) -> usize {
        self.tx.len()
    }
}

/// How to spawn: link to the spawner, monitor it, register a name, trap exits from the start.
#[derive(Debug, Default, Clone)]
pub(crate) struct SpawnOpts {
    pub(crate) link: Option<Arc<Cell>>,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) trap_exit: bool,
    pub(crate) monitored_by: Option<Arc<Cell>>,
}

pub(crate) fn spawn_with<M, F, Fut>(
    rt: &Arc<Inner>,
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
    rt: &Arc<Inner>,
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
    let tx: Arc<mailbox::TypedCell<M>> = Arc::new(cell::CellOf::new(
        pid,
        rt.clone(),
        state,
        parent,
        meta::<F, Fut>,
        mailbox::Queue::new(),
    ));
    let cell: Arc<Cell> = tx.clone();
    if let Some(name) = &opts.name {
        // Registered with its typed cell, so that the typed lookup (`whereis_addr`) finds it.
        rt.registry.register_spawned(name.clone(), &cell, &tx)?;
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
        let prev = CURRENT.with(|c| c.pid.replace(pid));
        let dropped = catch_unwind(AssertUnwindSafe(|| this.body.set(None)));
        CURRENT.with(|c| c.pid.set(prev));
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
    static REPORTED: StdCell<bool> = const { StdCell::new(false) };
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
        let prev = CURRENT.with(|c| c.pid.replace(cell.pid));
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| drop(queued))) {
            tracing::error!(pid = %cell.pid, reason = %ExitReason::from_panic(payload), "panic while dropping queued messages");
        }
        CURRENT.with(|c| c.pid.set(prev));
    }
    let rt = &*cell.rt;
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
        watcher.deliver_down(crate::monitor::Down {
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
