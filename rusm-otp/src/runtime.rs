//! The [`Runtime`]: a tokio runtime plus the table of the processes that run on it.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::lock::Unpoisoned;
use crate::process::cell::Cell;
use crate::process::Pid;
use crate::registry::Registry;
use crate::supervisor::SupervisorShared;

mod table;

/// A hasher for pids, which are already unique sequential integers.
#[derive(Default)]
pub(crate) struct PidHasher(u64);

impl Hasher for PidHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub(crate) type PidMap<V> = HashMap<u64, V, BuildHasherDefault<PidHasher>>;

pub(crate) struct Inner {
    pub(crate) handle: tokio::runtime::Handle,
    next_pid: AtomicU64,
    /// When the runtime started: processes keep their spawn time as an offset from it.
    epoch: std::time::Instant,
    /// Times each supervisor gave up on reaching its restart intensity, by its path in the
    /// tree (see `Runtime::intensity_exceeded`). Written only at that event.
    pub(crate) intensity_exceeded: Mutex<Vec<(String, u64)>>,
    /// Every live process, by pid.
    table: table::Table,
    pub(crate) registry: Registry,
    pub(crate) groups: crate::pg::Groups,
    roots: Mutex<Vec<Weak<SupervisorShared>>>,
    owned: Mutex<Option<tokio::runtime::Runtime>>,
    /// Running listeners, in start order; each removes itself when it stops.
    pub(crate) listeners: Mutex<Vec<crate::tcp::Listener>>,
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
    pub(crate) fn next_pid(&self) -> Pid {
        Pid(self.next_pid.fetch_add(1, Ordering::Relaxed))
    }

    /// Nanoseconds since the runtime started.
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

    pub(crate) fn add_root(&self, sup: &Arc<SupervisorShared>) {
        let mut roots = self.roots.locked();
        roots.retain(|w| w.strong_count() > 0);
        roots.push(Arc::downgrade(sup));
    }

    pub(crate) fn roots(&self) -> Vec<Arc<SupervisorShared>> {
        let roots = self.roots.locked();
        roots.iter().filter_map(Weak::upgrade).collect()
    }

    pub(crate) fn cells(&self) -> Vec<Arc<Cell>> {
        self.table.cells()
    }

    /// See [`Runtime::shutdown`].
    fn shutdown(&self, timeout: Duration) {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return;
        }
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
        let mut roots = self.roots();
        roots.reverse();
        for root in roots {
            let Some(cell) = self.lookup(root.pid) else {
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
        for root in self.roots().into_iter().rev() {
            if let Some(cell) = self.lookup(root.pid) {
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
        let inner = Arc::new(Inner {
            handle,
            next_pid: AtomicU64::new(1),
            epoch: std::time::Instant::now(),
            intensity_exceeded: Mutex::new(Vec::new()),
            table: table::Table::new(),
            registry: Registry::default(),
            groups: Default::default(),
            roots: Mutex::new(Vec::new()),
            owned: Mutex::new(None),
            listeners: Mutex::new(Vec::new()),
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
        crate::process::current_runtime().map(Runtime::borrowed)
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
            let prev = crate::process::lend_runtime(mine.take());
            let out = future.as_mut().poll(cx);
            mine = crate::process::lend_runtime(prev);
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
