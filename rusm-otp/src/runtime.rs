//! The [`Runtime`]: a tokio runtime plus the table of the processes that run on it.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::lock::Unpoisoned;
use crate::pid::Pid;
use crate::process::addr::ProcessHandle;
use crate::process::cell::{Cell, CellOf};
use crate::process::current::current_cell;
use crate::process::mailbox::Ctx;

pub(crate) mod cell_pool;
pub(crate) mod groups;
mod names;
mod table;

use groups::Groups;
use names::Registry;
pub(crate) use table::PidMap;

/// A root of the supervision tree as the runtime knows it: its pid, to stop it at shutdown,
/// and its supervisor's shared state, opaque here (the supervisor layer reads it).
struct Root {
    pid: Pid,
    shared: Weak<dyn Any + Send + Sync>,
}

pub(crate) struct Inner {
    pub(crate) handle: tokio::runtime::Handle,
    /// This runtime, uncounted: a spawn borrows the runtime and counts it only for a new cell
    /// (`Inner::counted`), so that a spawn that reuses a cell touches no count shared with
    /// the threads where processes exit.
    me: std::sync::Weak<Inner>,
    next_pid: AtomicU64,
    /// When the runtime started: processes keep their spawn time as an offset from it.
    epoch: std::time::Instant,
    /// Times each supervisor gave up on reaching its restart intensity, by its path in the
    /// tree (see `Runtime::intensity_exceeded`). Written only at that event.
    pub(crate) intensity_exceeded: Mutex<Vec<(String, u64)>>,
    /// Every live process, by pid.
    table: table::Table,
    /// Cells of exited processes, for the next spawns to reuse.
    pub(crate) cells: cell_pool::CellPool,
    pub(crate) registry: Registry,
    pub(crate) groups: Groups,
    /// The supervision roots, in start order.
    roots: Mutex<Vec<Root>>,
    /// State the layers above keep per runtime (the running listeners), one value of each
    /// type, made on first use: the runtime holds it without knowing what it is.
    slots: Mutex<Vec<Arc<dyn Any + Send + Sync>>>,
    owned: Mutex<Option<tokio::runtime::Runtime>>,
    shut_down: std::sync::atomic::AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(rt) = self.owned.get_mut().ok().and_then(Option::take) {
            // May run inside an async context (the last handle dropped by a task):
            // shutdown_background is the one way to drop a runtime that is safe there.
            rt.shutdown_background();
        }
    }
}

impl Inner {
    /// This runtime, counted: for a new process's cell, which holds the process's count.
    pub(crate) fn counted(&self) -> Arc<Inner> {
        // Borrowed through a handle or a cell, both of which count it: never yet dropped.
        self.me
            .upgrade()
            .expect("a borrowed runtime is still counted")
    }

    #[inline]
    pub(crate) fn next_pid(&self) -> Pid {
        Pid(self.next_pid.fetch_add(1, Ordering::Relaxed))
    }

    /// Nanoseconds since the runtime started.
    #[inline]
    pub(crate) fn nanos(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    pub(crate) fn insert(&self, cell: Arc<Cell>) {
        self.table.insert(cell);
    }

    /// Removes an exited process and counts its exit by the class of its reason.
    pub(crate) fn remove(&self, pid: Pid, reason: &crate::ExitReason) {
        self.table.remove(pid, reason);
    }

    pub(crate) fn lookup(&self, pid: Pid) -> Option<Arc<Cell>> {
        self.table.lookup(pid)
    }

    /// Records a supervision root: the supervisor `pid`, whose shared state is `shared`.
    pub(crate) fn add_root<T: Any + Send + Sync>(&self, pid: Pid, shared: &Arc<T>) {
        let mut roots = self.roots.locked();
        roots.retain(|r| r.shared.strong_count() > 0);
        let shared: Arc<dyn Any + Send + Sync> = shared.clone();
        roots.push(Root {
            pid,
            shared: Arc::downgrade(&shared),
        });
    }

    /// The roots still running, in start order, as their supervisors' shared state `T`.
    pub(crate) fn roots<T: Any + Send + Sync>(&self) -> Vec<Arc<T>> {
        let roots = self.roots.locked();
        roots
            .iter()
            .filter_map(|r| r.shared.upgrade()?.downcast().ok())
            .collect()
    }

    /// The pids of the roots still running, in start order.
    fn root_pids(&self) -> Vec<Pid> {
        let roots = self.roots.locked();
        roots
            .iter()
            .filter(|r| r.shared.strong_count() > 0)
            .map(|r| r.pid)
            .collect()
    }

    /// The value of type `T` kept for the layer that owns `T` (made on first use).
    pub(crate) fn slot<T: Any + Send + Sync + Default>(&self) -> Arc<T> {
        let mut slots = self.slots.locked();
        if let Some(t) = slots.iter().find_map(|s| s.clone().downcast::<T>().ok()) {
            return t;
        }
        let t = Arc::new(T::default());
        slots.push(t.clone());
        t
    }

    pub(crate) fn cells(&self) -> Vec<Arc<Cell>> {
        self.table.cells()
    }

    /// See [`Runtime::shutdown`].
    fn shutdown(&self, timeout: Duration) {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return;
        }
        // Pooled cells count the runtime: emptied first, and no exit pools its cell after.
        self.cells.close();
        let owned = self.owned.locked().take();
        let in_async = tokio::runtime::Handle::try_current().is_ok();
        match (owned, in_async) {
            (Some(rt), false) => {
                rt.block_on(self.stop_all(timeout));
                // Drops every task (every body) and joins the worker threads.
                rt.shutdown_timeout(timeout);
            }
            (None, false) => self.handle.block_on(self.stop_all(timeout)),
            (owned, true) => {
                self.stop_now();
                if let Some(rt) = owned {
                    rt.shutdown_background();
                }
            }
        }
    }

    /// Stops the roots in reverse start order under their shutdown specs, then kills the rest
    /// and waits for every exit to complete, all within `timeout`.
    async fn stop_all(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut roots = self.root_pids();
        roots.reverse();
        for root in roots {
            let Some(cell) = self.lookup(root) else {
                continue;
            };
            // A supervisor treats an exit signal from outside as its parent's: it stops its
            // children under their shutdown specs, then itself.
            cell.exit_signal(
                Pid::EXTERNAL,
                &crate::ExitReason::Shutdown(None),
                false,
                false,
            );
            let _ = tokio::time::timeout_at(deadline, cell.wait_finished()).await;
        }
        let left = self.cells();
        if !left.is_empty() {
            tracing::debug!(
                processes = left.len(),
                "runtime shutdown: killing the processes left"
            );
        }
        for cell in &left {
            cell.lock().orderly = true;
            cell.exit_signal(Pid::EXTERNAL, &crate::ExitReason::Killed, true, false);
        }
        // A kill is handled at the process's next poll: a short grace even past the deadline.
        let grace = deadline.max(tokio::time::Instant::now() + Duration::from_millis(100));
        for cell in &left {
            let _ = tokio::time::timeout_at(grace, cell.wait_finished()).await;
        }
    }

    /// What can be done without waiting: tell the roots to stop and kill every process.
    fn stop_now(&self) {
        for root in self.root_pids().into_iter().rev() {
            if let Some(cell) = self.lookup(root) {
                cell.exit_signal(
                    Pid::EXTERNAL,
                    &crate::ExitReason::Shutdown(None),
                    false,
                    false,
                );
            }
        }
        for cell in self.cells() {
            cell.lock().orderly = true;
            cell.exit_signal(Pid::EXTERNAL, &crate::ExitReason::Killed, true, false);
        }
    }
}

thread_local! {
    /// The runtime `Runtime::block_on` lends to the code it runs outside any process.
    static LENT: std::cell::Cell<Option<Arc<Inner>>> = const { std::cell::Cell::new(None) };
}

/// Puts the runtime in the thread's current-runtime slot and returns what was there
/// (`Runtime::block_on`'s future sees its runtime as current).
pub(crate) fn lend_runtime(rt: Option<Arc<Inner>>) -> Option<Arc<Inner>> {
    LENT.with(|l| l.replace(rt))
}

/// A clone of the runtime current on this thread: the running process's, or the one lent by
/// `block_on`.
pub(crate) fn current_runtime() -> Option<Arc<Inner>> {
    if let Some(cell) = current_cell() {
        return Some(cell.rt_arc());
    }
    LENT.with(|l| {
        let rt = l.take();
        let out = rt.clone();
        l.set(rt);
        out
    })
}

impl<B: ?Sized> CellOf<B> {
    /// The runtime this process belongs to.
    pub(crate) fn rt(&self) -> &Inner {
        self.runtime
            .downcast_ref()
            .expect("a process's runtime reference is its runtime's Inner")
    }

    /// The runtime this process belongs to, counted.
    pub(crate) fn rt_arc(&self) -> Arc<Inner> {
        Arc::downcast(self.runtime.clone())
            .expect("a process's runtime reference is its runtime's Inner")
    }

    /// Time since the spawn.
    pub(crate) fn uptime(&self) -> Duration {
        Duration::from_nanos(self.rt().nanos().saturating_sub(self.started))
    }
}

impl ProcessHandle {
    /// The runtime the process runs on, borrowed.
    pub(crate) fn rt(&self) -> &Inner {
        self.cell.rt()
    }

    /// The runtime the process runs on, counted (to spawn on it).
    pub(crate) fn rt_arc(&self) -> Arc<Inner> {
        self.cell.rt_arc()
    }

    /// The runtime the process runs on.
    pub fn runtime(&self) -> Runtime {
        Runtime::borrowed(self.cell.rt_arc())
    }
}

impl<M> Ctx<M> {
    /// The runtime this process runs on.
    pub fn runtime(&self) -> Runtime {
        Runtime::borrowed(self.addr.handle.cell.rt_arc())
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, so a server can hold as many
/// connections as the OS allows; returns the new soft limit.
///
/// # Errors
///
/// The `setrlimit` error.
pub fn raise_fd_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// A RUSM runtime: runs processes on a multi-threaded tokio runtime and knows each of them.
///
/// Cloning a `Runtime` is cheap and gives another handle to the same runtime.
///
/// A process's memory is its tokio task and its cell (its state and mailbox). A cell whose
/// last holder is the process's own task is kept at its exit for a later spawn of a process
/// with the same message type (at most 4,096 per group of threads, about 200 bytes each), and
/// freed when the runtime shuts down.
///
/// # Examples
///
/// ```
/// use rusm_otp::{Runtime, Msg};
///
/// let rt = Runtime::new().unwrap();
/// rt.block_on(async {
///     let echo = rt.spawn(|mut ctx| async move {
///         if let Msg::User(n) = ctx.recv().await {
///             assert_eq!(n, 42u32);
///         }
///     });
///     echo.send(42).unwrap();
///     assert!(echo.wait().await.is_normal());
/// });
/// assert_eq!(rt.alive_processes(), 0);
/// ```
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<Inner>,
    /// Held by the handles made by `new`/`with_handle`/`attach` and their clones, not by
    /// those a process gets (`Ctx::runtime`, `Runtime::current`): when the last one goes, the
    /// runtime shuts down. Processes hold `inner`, so without this nothing would ever free
    /// a runtime whose processes live.
    _owner: Option<Arc<Owner>>,
}

/// The last owning handle's drop shuts the runtime down ([`Runtime::shutdown`]).
struct Owner {
    inner: Arc<Inner>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.inner.shutdown(DEFAULT_SHUTDOWN_TIMEOUT);
    }
}

/// How long dropping the last owning [`Runtime`] handle waits for the supervision tree to
/// stop under its shutdown specs before it kills what is left.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("alive_processes", &self.alive_processes())
            .finish()
    }
}

impl Runtime {
    /// Starts a runtime that owns a new multi-threaded tokio runtime (one worker per core),
    /// after raising `RLIMIT_NOFILE`'s soft limit to the hard limit (see [`raise_fd_limit`];
    /// use [`with_handle`](Self::with_handle) to leave the limit alone).
    ///
    /// # Errors
    ///
    /// The error of `tokio::runtime::Builder::build` when the OS refuses threads.
    pub fn new() -> std::io::Result<Runtime> {
        match raise_fd_limit() {
            Ok(n) => tracing::info!(nofile = n, "RLIMIT_NOFILE soft limit raised"),
            Err(e) => tracing::warn!(error = %e, "could not raise RLIMIT_NOFILE"),
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let this = Runtime::with_handle(rt.handle().clone());
        *this.inner.owned.locked() = Some(rt);
        Ok(this)
    }

    /// Attaches a new RUSM runtime to an existing tokio runtime.
    pub fn with_handle(handle: tokio::runtime::Handle) -> Runtime {
        let inner = Arc::new_cyclic(|me| Inner {
            handle,
            me: me.clone(),
            next_pid: AtomicU64::new(1),
            epoch: std::time::Instant::now(),
            intensity_exceeded: Mutex::new(Vec::new()),
            table: table::Table::new(),
            cells: cell_pool::CellPool::new(),
            registry: Registry::default(),
            groups: Default::default(),
            roots: Mutex::new(Vec::new()),
            slots: Mutex::new(Vec::new()),
            owned: Mutex::new(None),
            shut_down: std::sync::atomic::AtomicBool::new(false),
        });
        let owner = Some(Arc::new(Owner {
            inner: inner.clone(),
        }));
        Runtime {
            inner,
            _owner: owner,
        }
    }

    /// A handle that does not keep the runtime from shutting down (what a process gets).
    pub(crate) fn borrowed(inner: Arc<Inner>) -> Runtime {
        Runtime {
            inner,
            _owner: None,
        }
    }

    /// Shuts the runtime down, as dropping its last owning handle does, waiting at most
    /// `timeout` for the orderly part:
    ///
    /// 1. the root supervisors are stopped in reverse start order, each under its children's
    ///    shutdown specs (OTP's application stop);
    /// 2. every process still alive is killed, and every process body is dropped;
    /// 3. a tokio runtime made by [`Runtime::new`] is shut down and its threads joined.
    ///
    /// Called from inside an async context (where nothing may block), step 1 is only begun:
    /// the roots are told to stop and everything is killed at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use rusm_otp::{Ctx, Runtime};
    ///
    /// let rt = Runtime::new().unwrap();
    /// let p = rt.spawn(|mut ctx: Ctx| async move { ctx.recv().await; });
    /// rt.shutdown(Duration::from_secs(1));
    /// assert!(!p.is_alive());
    /// ```
    pub fn shutdown(self, timeout: Duration) {
        self.inner.shutdown(timeout);
    }

    /// Attaches a new RUSM runtime to the tokio runtime this is called from (e.g. in a
    /// `#[tokio::main]` or `#[tokio::test]`).
    ///
    /// Each call makes a new RUSM runtime, with its own processes, names and tree: call it
    /// once and clone the result. To get the runtime a process runs on, use
    /// [`current`](Self::current).
    ///
    /// # Panics
    ///
    /// When called outside a tokio runtime, as `tokio::runtime::Handle::current` does.
    pub fn attach() -> Runtime {
        Runtime::with_handle(tokio::runtime::Handle::current())
    }

    /// The runtime of the calling process, as tokio's `Handle::current`: from a process's
    /// code, or from a future run by [`block_on`](Self::block_on) (`#[rusm::main]`).
    ///
    /// # Panics
    ///
    /// Outside a RUSM process or `block_on` — in a task spawned with `tokio::spawn`, a plain
    /// thread — saying so; [`try_current`](Self::try_current) returns `None` there instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use rusm_otp::Runtime;
    ///
    /// let rt = Runtime::new().unwrap();
    /// assert!(Runtime::try_current().is_none());
    /// rt.block_on(async {
    ///     let p = rt.spawn(|_ctx: rusm_otp::Ctx| async {
    ///         // The process's own runtime, not a new one.
    ///         assert!(Runtime::current().process(rusm_otp::current_pid()).is_some());
    ///     });
    ///     assert!(p.wait().await.is_normal());
    /// });
    /// ```
    pub fn current() -> Runtime {
        Runtime::try_current().expect(
            "Runtime::current() called outside a RUSM process: call it from a process's code \
             or inside Runtime::block_on / #[rusm::main], or pass the Runtime along \
             (Runtime::attach() makes a new one on the current tokio runtime)",
        )
    }

    /// The runtime of the calling process, or `None` outside a RUSM process or
    /// [`block_on`](Self::block_on).
    pub fn try_current() -> Option<Runtime> {
        current_runtime().map(Runtime::borrowed)
    }

    /// Runs a future to completion on this runtime's tokio runtime, blocking the thread;
    /// inside it, [`Runtime::current`] is this runtime.
    ///
    /// # Panics
    ///
    /// When called from inside an async context, as tokio's `block_on` does.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut mine = Some(self.inner.clone());
        self.inner.handle.block_on(std::future::poll_fn(|cx| {
            let prev = lend_runtime(mine.take());
            let out = future.as_mut().poll(cx);
            mine = lend_runtime(prev);
            out
        }))
    }

    /// The tokio handle processes are spawned on.
    pub fn handle(&self) -> &tokio::runtime::Handle {
        &self.inner.handle
    }

    /// How many processes are alive now: a look at every shard of the process table (for
    /// observers and tests; no spawn or exit updates a shared counter).
    pub fn alive_processes(&self) -> usize {
        self.inner.table.alive()
    }

    /// How many processes were spawned since the runtime started.
    pub fn spawned_processes(&self) -> u64 {
        self.inner.table.spawned()
    }

    /// How many processes have exited since the runtime started, by the class of their
    /// reason.
    ///
    /// # Examples
    ///
    /// ```
    /// use rusm_otp::{Ctx, Runtime};
    ///
    /// let rt = Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     rt.spawn(|_ctx: Ctx| async {}).wait().await;
    ///     rt.spawn(|_ctx: Ctx| async { panic!("boom") as () }).wait().await;
    /// });
    /// let exits = rt.exit_counts();
    /// assert_eq!((exits.normal, exits.panic), (1, 1));
    /// ```
    pub fn exit_counts(&self) -> crate::ExitCounts {
        let n = |i: usize| self.inner.table.exits(i);
        crate::ExitCounts {
            normal: n(0),
            shutdown: n(1),
            killed: n(2),
            error: n(3),
            panic: n(4),
        }
    }

    /// A handle to the same runtime that does not keep it from shutting down, as the one a
    /// process gets from `Ctx::runtime`: for a tool that watches the runtime (an observer)
    /// and should not outlive the application's own handles' say.
    pub fn unowned(&self) -> Runtime {
        Runtime::borrowed(self.inner.clone())
    }

    /// The handle of a live process, by pid.
    pub fn process(&self, pid: Pid) -> Option<crate::ProcessHandle> {
        self.inner.lookup(pid).map(crate::ProcessHandle::from_cell)
    }
}
