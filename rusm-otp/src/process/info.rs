//! What a process is doing: [`Runtime::process_info`] (OTP's `process_info/1`) and
//! [`Runtime::top`] / [`Runtime::top_window`] (recon's `proc_count` and `proc_window`).
//!
//! Everything here is read without asking the process: a flooded or stuck process is
//! inspected as easily as an idle one, and inspecting never delays it beyond the short
//! lock of its own bookkeeping.
//!
use std::time::Duration;

use crate::pid::Pid;
use crate::process::cell::Cell;
use crate::runtime::Runtime;

/// A process's state, as `process_info(Pid, status)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessStatus {
    /// Its task is being polled now.
    Running,
    /// Waiting for a message, a timer or I/O.
    Waiting,
    /// It has exited and its exit is being completed.
    Exiting,
}

/// A snapshot of one process (OTP's `process_info/1`).
///
/// # What `memory` counts
///
/// [`ProcessInfo::memory`] is the bytes the runtime holds for the process: its task (the
/// body's future with everything it keeps across await points, plus tokio's task header, about
/// 64 B), its cell (pid, links, monitors, signals queued), its mailbox and the buffer of its
/// queue (`capacity × size_of::<M>()`). Not counted: heap memory the body or the queued
/// messages point to (a `Vec`'s buffer, a `String`'s bytes, an `Arc`'s contents), and kernel
/// buffers of its sockets. So a mailbox of 10 M `u64`s shows ~80 MB, and one of 10 M `String`s
/// shows 240 MB plus nothing for their text.
#[derive(Debug, Clone)]
pub struct ProcessInfo {
    /// The pid.
    pub pid: Pid,
    /// Running, waiting or exiting.
    pub status: ProcessStatus,
    /// User messages queued (`message_queue_len`).
    pub message_queue_len: usize,
    /// System messages queued: trapped exit signals and `Down`s not yet received.
    pub signal_queue_len: usize,
    /// Bytes held for the process; see [what is counted](ProcessInfo#what-memory-counts).
    pub memory: usize,
    /// Polls of its task so far: the activity count, as the BEAM's reductions.
    pub reductions: u64,
    /// Its registered name.
    pub registered_name: Option<String>,
    /// The processes it is linked to.
    pub links: Vec<Pid>,
    /// The processes it monitors.
    pub monitors: Vec<Pid>,
    /// The processes that monitor it.
    pub monitored_by: Vec<Pid>,
    /// Whether it traps exits.
    pub trap_exit: bool,
    /// The process groups it is in.
    pub groups: Vec<String>,
    /// The process that spawned it linked — its supervisor for a supervised child.
    pub parent: Option<Pid>,
    /// Its parent, the parent's parent, …, up to a root (OTP's `'$ancestors'`), among the
    /// processes still alive.
    pub ancestors: Vec<Pid>,
    /// Time since it was spawned.
    pub uptime: Duration,
    /// The type name of its body (OTP's initial call).
    pub initial_call: &'static str,
}

/// What [`Runtime::top`] ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopBy {
    /// Longest mailbox (`message_queue_len`).
    MessageQueueLen,
    /// Most memory.
    Memory,
    /// Most polls since spawn (`reductions`).
    Reductions,
}

/// One row of [`Runtime::top`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopEntry {
    /// The pid.
    pub pid: Pid,
    /// The ranked value: messages, bytes or polls.
    pub value: u64,
    /// Its registered name.
    pub registered_name: Option<String>,
    /// The type name of its body.
    pub initial_call: &'static str,
}

/// One row of [`Runtime::process_rows`]: every counter of a process that is read without
/// walking its links or monitors, as a process table shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRow {
    /// The pid.
    pub pid: Pid,
    /// Running, waiting or exiting.
    pub status: ProcessStatus,
    /// User messages queued.
    pub message_queue_len: usize,
    /// Bytes held for the process, as [`TopBy::Memory`] ranks them: its task, cell and
    /// mailbox (the cell's link and signal buffers are left out; [`ProcessInfo::memory`]
    /// counts them).
    pub memory: usize,
    /// Polls of its task so far.
    pub reductions: u64,
    /// Its registered name.
    pub registered_name: Option<String>,
    /// The type name of its body.
    pub initial_call: &'static str,
    /// Time since it was spawned.
    pub uptime: Duration,
}

fn row_of(cell: &Cell) -> ProcessRow {
    let meta = (cell.meta)();
    let (exiting, registered_name, message_queue_len, mailbox_bytes) = {
        let st = cell.lock();
        (
            st.exit.is_some(),
            st.name().map(|n| n.to_string()),
            st.queue().len(),
            st.queue().buffer_bytes(),
        )
    };
    let status = if exiting {
        ProcessStatus::Exiting
    } else if cell.running() {
        ProcessStatus::Running
    } else {
        ProcessStatus::Waiting
    };
    ProcessRow {
        pid: cell.pid,
        status,
        message_queue_len,
        memory: meta.task_bytes + cell.cell_bytes() + mailbox_bytes,
        reductions: cell.polls(),
        registered_name,
        initial_call: meta.initial_call,
        uptime: cell.uptime(),
    }
}

fn info_of(rt: &Runtime, cell: &Cell) -> ProcessInfo {
    let meta = (cell.meta)();
    let st = cell.lock();
    let (message_queue_len, mailbox_bytes) = (st.queue().len(), st.queue().buffer_bytes());
    let status = if st.exit.is_some() {
        ProcessStatus::Exiting
    } else if cell.running() {
        ProcessStatus::Running
    } else {
        ProcessStatus::Waiting
    };
    let links = st.links.pids();
    let (monitors, monitored_by, groups) = match &st.monitors {
        Some(m) => (
            m.of.iter().map(|r| r.target()).collect(),
            m.by.iter().map(|(_, c)| c.pid).collect(),
            m.groups.iter().map(|g| g.to_string()).collect(),
        ),
        None => (Vec::new(), Vec::new(), Vec::new()),
    };
    let signal_queue_len = st.signal_count();
    let cell_bytes = cell.cell_bytes()
        + st.signal_bytes()
        + links.len() * std::mem::size_of::<usize>()
        + st.monitors
            .as_ref()
            .map_or(0, |_| std::mem::size_of::<crate::process::cell::Monitors>());
    let registered_name = st.name().map(|n| n.to_string());
    let trap_exit = st.trap_exit;
    drop(st);
    let parent = (cell.parent != Pid::EXTERNAL).then_some(cell.parent);
    let mut ancestors = Vec::new();
    let mut next = parent;
    while let Some(p) = next {
        ancestors.push(p);
        next = rt
            .inner
            .lookup(p)
            .and_then(|c| (c.parent != Pid::EXTERNAL).then_some(c.parent));
        if ancestors.len() > 64 {
            break;
        }
    }
    ProcessInfo {
        pid: cell.pid,
        status,
        message_queue_len,
        signal_queue_len,
        memory: meta.task_bytes + cell_bytes + mailbox_bytes,
        reductions: cell.polls(),
        registered_name,
        links,
        monitors,
        monitored_by,
        trap_exit,
        groups,
        parent,
        ancestors,
        uptime: cell.uptime(),
        initial_call: meta.initial_call,
    }
}

fn value_of(cell: &Cell, by: TopBy) -> u64 {
    match by {
        TopBy::MessageQueueLen => cell.queue_stats().0 as u64,
        TopBy::Reductions => cell.polls(),
        TopBy::Memory => {
            let meta = (cell.meta)();
            let mailbox = cell.queue_stats().1;
            (meta.task_bytes + cell.cell_bytes() + mailbox) as u64
        }
    }
}

fn entry(cell: &Cell, value: u64) -> TopEntry {
    TopEntry {
        pid: cell.pid,
        value,
        registered_name: cell.lock().name().map(|n| n.to_string()),
        initial_call: (cell.meta)().initial_call,
    }
}

/// The `n` largest by value, largest first (ties in pid order).
fn largest(rows: Vec<(u64, std::sync::Arc<Cell>)>, n: usize) -> Vec<TopEntry> {
    select(rows, n).iter().map(|(v, c)| entry(c, *v)).collect()
}

/// Keeps the `n` largest by value, sorted largest first, ties in pid order.
fn select(
    mut rows: Vec<(u64, std::sync::Arc<Cell>)>,
    n: usize,
) -> Vec<(u64, std::sync::Arc<Cell>)> {
    let n = n.min(rows.len());
    if n == 0 {
        return Vec::new();
    }
    let order = |a: &(u64, std::sync::Arc<Cell>), b: &(u64, std::sync::Arc<Cell>)| {
        b.0.cmp(&a.0).then(a.1.pid.cmp(&b.1.pid))
    };
    if n < rows.len() {
        rows.select_nth_unstable_by(n - 1, order);
        rows.truncate(n);
    }
    rows.sort_unstable_by(order);
    rows
}

impl Runtime {
    /// A snapshot of a live process (OTP's `process_info/1`); `None` if it is not alive.
    ///
    /// # Examples
    ///
    /// ```
    /// use rusm_otp::{Ctx, Runtime};
    ///
    /// let rt = Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let p = rt.spawn_named("sink", |mut ctx: Ctx<u64>| async move {
    ///         ctx.recv_user().await;
    ///     }).unwrap();
    ///     for n in 0..3 {
    ///         p.send(n).unwrap();
    ///     }
    ///     let info = rt.process_info(p.pid()).unwrap();
    ///     assert_eq!(info.registered_name.as_deref(), Some("sink"));
    ///     assert!(info.message_queue_len <= 3);
    ///     assert!(info.memory > 0);
    ///     p.kill();
    /// });
    /// ```
    pub fn process_info(&self, pid: Pid) -> Option<ProcessInfo> {
        let cell = self.inner.lookup(pid)?;
        Some(info_of(self, &cell))
    }

    /// The pids of every live process, in pid order (`processes/0`).
    pub fn processes(&self) -> Vec<Pid> {
        let mut v: Vec<Pid> = self.inner.cells().iter().map(|c| c.pid).collect();
        v.sort();
        v
    }

    /// The `n` processes with the most of `by` now, largest first (recon's `proc_count/2`).
    /// Reads each process's counters once, without locking any process.
    pub fn top(&self, by: TopBy, n: usize) -> Vec<TopEntry> {
        let rows = self
            .inner
            .cells()
            .into_iter()
            .map(|c| (value_of(&c, by), c))
            .collect();
        largest(rows, n)
    }

    /// The `n` processes with the most of `by` now, largest first (ties in pid order), each
    /// with all of its counters: a process table's rows. As [`top`](Self::top), it reads
    /// counters without asking any process; each row takes its process's bookkeeping lock
    /// once, to copy its registered name.
    ///
    /// # Examples
    ///
    /// ```
    /// use rusm_otp::{Ctx, Runtime, TopBy};
    ///
    /// let rt = Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     // Never receives: its mailbox only grows.
    ///     let p = rt.spawn_named("sink", |ctx: Ctx<u64>| async move {
    ///         let _keep = ctx;
    ///         std::future::pending::<()>().await
    ///     }).unwrap();
    ///     for n in 0..3 {
    ///         p.send(n).unwrap();
    ///     }
    ///     let rows = rt.process_rows(TopBy::MessageQueueLen, 10);
    ///     assert_eq!(rows[0].registered_name.as_deref(), Some("sink"));
    ///     assert_eq!(rows[0].message_queue_len, 3);
    ///     p.kill();
    /// });
    /// ```
    pub fn process_rows(&self, by: TopBy, n: usize) -> Vec<ProcessRow> {
        let rows = self
            .inner
            .cells()
            .into_iter()
            .map(|c| (value_of(&c, by), c))
            .collect();
        select(rows, n).iter().map(|(_, c)| row_of(c)).collect()
    }

    /// The `n` processes that were most active over `window`: polls during it, largest
    /// first (recon's `proc_window/3` for reductions).
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe: it only reads counters and sleeps, so dropping the future
    /// changes nothing.
    pub async fn top_window(&self, n: usize, window: Duration) -> Vec<TopEntry> {
        let before: std::collections::HashMap<u64, u64> = self
            .inner
            .cells()
            .iter()
            .map(|c| (c.pid.0, c.polls()))
            .collect();
        tokio::time::sleep(window).await;
        let rows = self
            .inner
            .cells()
            .into_iter()
            .map(|c| {
                let now = c.polls();
                (now - before.get(&c.pid.0).copied().unwrap_or(0), c)
            })
            .collect();
        largest(rows, n)
    }
}
