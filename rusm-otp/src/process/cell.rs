// The shared, type-erased part of a process: what other processes need to signal it, and its
// mailbox, in one allocation.
//
// A process is a tokio task plus this cell: `CellOf<Queue<M>>`, seen untyped as
// `Cell = CellOf<dyn QueueView>` (the mailbox is the cell's unsized tail). Everything that is
// changed by another process sits under the one lock: the process's state (exit, links,
// monitors, system messages), its user queue and the waker a send or a signal wakes.
//
// Invariants:
// - `State::exit` is set exactly once, under the lock, and links, monitors and the name are
//   taken out, and the queue closed, in that same critical section: a link, monitor, signal or
//   message that comes after it sees the process dead.
// - `flag` is true whenever a pending exit is set or system messages are queued; it is written
//   only under the lock, read without it as a fast path.
// - A signal that must reach the process (exit, trapped EXIT, DOWN) wakes the stored waker; a
//   user message wakes it only when the process waits on its mailbox (`waiting`). The task
//   stores its waker at its first pending poll (and a receive, each time its waker changes), so
//   a process that never waits never locks for it.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

use crate::exit::ExitReason;
use crate::lock::Unpoisoned;
use crate::pid::Pid;
use crate::signal::ExitSignal;
use crate::signal::{Down, MonitorRef};

/// A message on the system path: never queued behind user messages.
#[derive(Debug)]
pub(crate) enum Signal {
    Exit(ExitSignal),
    Down(Down),
}

/// What others change of a process, under its lock. The rarely used parts (monitors, system
/// messages, a pending exit, the registered name, exit waiters, groups) are boxed, created on
/// first use: an idle process holds its exit slot, its links, its waker and a few flags.
#[derive(Default)]
pub(crate) struct State {
    pub(crate) exit: Option<ExitReason>,
    pub(crate) links: Links,
    /// Monitors on and by this process, and the other rarely used parts; boxed.
    pub(crate) monitors: Option<Box<Monitors>>,
    /// The waker a signal wakes, and a message when `waiting`.
    waker: Option<Waker>,
    pub(crate) trap_exit: bool,
    /// Set when the exit is complete: body dropped, name released, links and monitors signalled.
    pub(crate) done: bool,
    /// Stopped on purpose by its supervisor (its shutdown spec) or its listener's drain: the
    /// exit is not a crash, and is logged at debug level whatever its reason.
    pub(crate) orderly: bool,
    /// The process waits on an empty mailbox: the next message wakes it.
    waiting: bool,
    /// The process has exited: sends are refused.
    closed: bool,
}

/// A process's links: a short list while small (most processes have one or two), a map once
/// large (a connections supervisor is linked to every connection), so that adding, finding
/// and removing one stay cheap at any count.
#[derive(Default)]
pub(crate) enum Links {
    #[default]
    None,
    /// Kept inline: most processes have exactly one link, to their supervisor.
    One(Arc<Cell>),
    Few(Vec<Arc<Cell>>),
    // Boxed: it keeps every cell 32 bytes smaller, and only large link sets pay the indirection.
    #[allow(clippy::box_collection)]
    Many(Box<HashMap<Pid, Arc<Cell>>>),
}

/// From this many links on, they are kept in a map.
const MANY_LINKS: usize = 16;

impl Links {
    pub(crate) fn contains(&self, pid: Pid) -> bool {
        match self {
            Links::None => false,
            Links::One(c) => c.pid == pid,
            Links::Few(v) => v.iter().any(|c| c.pid == pid),
            Links::Many(m) => m.contains_key(&pid),
        }
    }

    /// Adds a link to `cell`; returns false if there already was one.
    pub(crate) fn insert(&mut self, cell: Arc<Cell>) -> bool {
        if self.contains(cell.pid) {
            return false;
        }
        match std::mem::take(self) {
            Links::None => *self = Links::One(cell),
            Links::One(first) => *self = Links::Few(vec![first, cell]),
            Links::Few(mut v) if v.len() < MANY_LINKS => {
                v.push(cell);
                *self = Links::Few(v);
            }
            Links::Few(v) => {
                let mut m: HashMap<Pid, Arc<Cell>> = v.into_iter().map(|c| (c.pid, c)).collect();
                m.insert(cell.pid, cell);
                *self = Links::Many(Box::new(m));
            }
            Links::Many(mut m) => {
                m.insert(cell.pid, cell);
                *self = Links::Many(m);
            }
        }
        true
    }

    pub(crate) fn remove(&mut self, pid: Pid) {
        match self {
            Links::None => {}
            Links::One(c) if c.pid == pid => *self = Links::None,
            Links::One(_) => {}
            Links::Few(v) => v.retain(|c| c.pid != pid),
            Links::Many(m) => {
                m.remove(&pid);
            }
        }
    }

    pub(crate) fn pids(&self) -> Vec<Pid> {
        self.cells().map(|c| c.pid).collect()
    }

    fn cells(&self) -> Box<dyn Iterator<Item = &Arc<Cell>> + '_> {
        match self {
            Links::None => Box::new(std::iter::empty()),
            Links::One(c) => Box::new(std::iter::once(c)),
            Links::Few(v) => Box::new(v.iter()),
            Links::Many(m) => Box::new(m.values()),
        }
    }

    /// Takes every link out, for the exit signals.
    pub(crate) fn take(&mut self) -> LinksIter {
        match std::mem::take(self) {
            Links::None => LinksIter::One(None),
            Links::One(c) => LinksIter::One(Some(c)),
            Links::Few(v) => LinksIter::Few(v.into_iter()),
            Links::Many(m) => LinksIter::Many(m.into_values()),
        }
    }
}

/// The links taken out of a process, without collecting them.
pub(crate) enum LinksIter {
    One(Option<Arc<Cell>>),
    Few(std::vec::IntoIter<Arc<Cell>>),
    Many(std::collections::hash_map::IntoValues<Pid, Arc<Cell>>),
}

impl Iterator for LinksIter {
    type Item = Arc<Cell>;
    fn next(&mut self) -> Option<Arc<Cell>> {
        match self {
            LinksIter::One(c) => c.take(),
            LinksIter::Few(i) => i.next(),
            LinksIter::Many(i) => i.next(),
        }
    }
}

/// A process's monitors, and the other parts of its state that most processes never use.
#[derive(Default)]
pub(crate) struct Monitors {
    /// Who monitors this process, and with which ref.
    pub(crate) by: Vec<(MonitorRef, Arc<Cell>)>,
    /// Monitors this process holds on others; a `Down` for any other ref is dropped, which is
    /// what makes `demonitor` with flush exact even when the target dies concurrently.
    pub(crate) of: Vec<MonitorRef>,
    /// Tasks waiting for this process's exit to complete ([`CellOf::wait_finished`]).
    pub(crate) exit_waiters: Vec<Waker>,
    /// The process groups this process is in, once per join (left at exit).
    pub(crate) groups: Vec<Arc<str>>,
    /// System messages queued: trapped exit signals and `Down`s.
    pub(crate) signals: VecDeque<Signal>,
    /// The exit an exit signal asked for, taken at the process's next poll.
    pub(crate) pending_exit: Option<ExitReason>,
    /// The registered name.
    pub(crate) name: Option<Arc<str>>,
    /// The timer this process's calls share ([`super::call_timer`]).
    pub(crate) call_timer: Option<super::call_timer::CallTimer>,
}

impl State {
    /// The monitors (and the other rare parts), created on first use.
    pub(crate) fn monitors(&mut self) -> &mut Monitors {
        self.monitors.get_or_insert_with(Default::default)
    }

    /// The registered name.
    pub(crate) fn name(&self) -> Option<&Arc<str>> {
        self.monitors.as_ref()?.name.as_ref()
    }

    /// Sets or clears the registered name.
    pub(crate) fn set_name(&mut self, name: Option<Arc<str>>) {
        if name.is_some() || self.monitors.is_some() {
            self.monitors().name = name;
        }
    }

    /// Takes the registered name out.
    pub(crate) fn take_name(&mut self) -> Option<Arc<str>> {
        self.monitors.as_mut()?.name.take()
    }

    /// The system messages queued.
    pub(crate) fn signal_count(&self) -> usize {
        self.monitors.as_ref().map_or(0, |m| m.signals.len())
    }

    /// Bytes of the system queue's buffer.
    pub(crate) fn signal_bytes(&self) -> usize {
        self.monitors
            .as_ref()
            .map_or(0, |m| m.signals.capacity() * std::mem::size_of::<Signal>())
    }

    fn has_pending(&self) -> bool {
        self.monitors
            .as_ref()
            .is_some_and(|m| m.pending_exit.is_some() || !m.signals.is_empty())
    }

    /// Stores `waker` as the one to wake, unless it is already.
    fn store_waker(&mut self, waker: &Waker) {
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            self.waker = Some(waker.clone());
        }
    }
}

/// The runtime a cell belongs to, as the process layer holds it: the runtime's own state
/// (`runtime::Inner`), typed only above this layer.
pub(crate) type RuntimeRef = Arc<dyn Any + Send + Sync>;

/// What every process's cell is: the fixed part, then `B`, its mailbox's queue
/// ([`crate::process::mailbox::Queue`] typed, [`QueueView`] untyped), under the same lock.
pub(crate) struct CellOf<B: ?Sized> {
    pub(crate) pid: Pid,
    /// The runtime: counted once per process, here (handles and the task borrow it). Opaque
    /// at this layer, which the runtime is built on: `runtime.rs` reads it (`CellOf::rt`).
    pub(crate) runtime: RuntimeRef,
    /// Polls of the task, shifted left by one; the low bit is set while it is being polled
    /// (`process_info`'s running). Only the task writes it.
    activity: AtomicU64,
    flag: AtomicBool,
    /// Nanoseconds from the runtime's start to the spawn.
    pub(crate) started: u64,
    /// The process that spawned it linked (its supervisor), or `Pid::EXTERNAL`.
    pub(crate) parent: Pid,
    /// The body's type name and the size of the process's task, for `process_info`.
    pub(crate) meta: fn() -> Meta,
    state: Mutex<Locked<B>>,
}

/// A process's cell, its mailbox untyped.
pub(crate) type Cell = CellOf<dyn QueueView>;

/// What the lock holds: the state, then the mailbox's queue.
pub(crate) struct Locked<B: ?Sized> {
    st: State,
    pub(crate) queue: B,
}

/// A mailbox's queue, without its message type.
pub(crate) trait QueueView: Send {
    fn len(&self) -> usize;
    /// Bytes of the queue's buffer (not what messages point to).
    fn buffer_bytes(&self) -> usize;
    /// Takes every queued message out, to be dropped outside the lock; `None` when empty.
    fn take_all(&mut self) -> Option<Box<dyn Send>>;
}

/// The locked state of a process; dereferences to its [`State`].
pub(crate) struct Guard<'a, B: ?Sized>(MutexGuard<'a, Locked<B>>);

impl<B: ?Sized> Deref for Guard<'_, B> {
    type Target = State;
    fn deref(&self) -> &State {
        &self.0.st
    }
}

impl<B: ?Sized> DerefMut for Guard<'_, B> {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.0.st
    }
}

impl<B: ?Sized> Guard<'_, B> {
    /// The state and the queue, both borrowed.
    pub(crate) fn split(&mut self) -> (&mut State, &mut B) {
        let locked = &mut *self.0;
        (&mut locked.st, &mut locked.queue)
    }

    /// The queue.
    pub(crate) fn queue(&self) -> &B {
        &self.0.queue
    }
}

/// What a process is, fixed at spawn.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta {
    /// The body's type name (OTP's initial call).
    pub(crate) initial_call: &'static str,
    /// Bytes of the process's task: its future, the body inside it, the task's header.
    pub(crate) task_bytes: usize,
}

/// What the exit takes out of the cell in the critical section that sets the reason.
pub(crate) struct Exiting {
    pub(crate) links: LinksIter,
    pub(crate) monitored_by: Vec<(MonitorRef, Arc<Cell>)>,
    pub(crate) groups: Vec<Arc<str>>,
    pub(crate) name: Option<Arc<str>>,
    /// Stopped on purpose, as far as known when the exit began.
    pub(crate) orderly: bool,
    /// The user messages still queued, dropped after the body.
    pub(crate) queued: Option<Box<dyn Send>>,
}

impl<B: ?Sized> std::fmt::Debug for CellOf<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cell").field("pid", &self.pid).finish()
    }
}

/// What a spawn gives its process's cell: everything but the runtime and the mailbox's queue.
pub(crate) struct Birth {
    pub(crate) pid: Pid,
    pub(crate) started: u64,
    pub(crate) state: State,
    pub(crate) parent: Pid,
    pub(crate) meta: fn() -> Meta,
}

impl<B> CellOf<B> {
    /// A cell for a process that is being spawned, holding `queue`.
    pub(crate) fn new(birth: Birth, runtime: RuntimeRef, queue: B) -> Self {
        CellOf {
            pid: birth.pid,
            runtime,
            activity: AtomicU64::new(0),
            flag: AtomicBool::new(false),
            started: birth.started,
            parent: birth.parent,
            meta: birth.meta,
            state: Mutex::new(Locked {
                st: birth.state,
                queue,
            }),
        }
    }

    /// Makes a pooled cell (of an exited process of the same runtime, emptied by
    /// [`clear_for_pool`](Self::clear_for_pool)) the cell of a process being spawned, as
    /// [`new`](Self::new) would make it: every field is written but the runtime (the same) and
    /// the queue (empty, its buffer freed at the exit). A field added to the cell is set here.
    pub(crate) fn reuse(&mut self, birth: Birth) {
        self.pid = birth.pid;
        *self.activity.get_mut() = 0;
        *self.flag.get_mut() = false;
        self.started = birth.started;
        self.parent = birth.parent;
        self.meta = birth.meta;
        self.state.get_mut().unwrap_or_else(|p| p.into_inner()).st = birth.state;
    }
}

impl<B: ?Sized> CellOf<B> {
    /// Drops what an exited process's state still holds (its exit reason, the rare parts),
    /// before the cell is pooled for reuse.
    pub(crate) fn clear_for_pool(&mut self) {
        let locked = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        locked.st = State::default();
    }
}

impl<B: ?Sized> CellOf<B> {
    pub(crate) fn lock(&self) -> Guard<'_, B> {
        // A panic never happens while this lock is held (no user code runs under it), so a
        // poisoned lock still holds consistent data.
        Guard(self.state.locked())
    }

    /// Polls of the process's task so far (`process_info`'s reductions).
    pub(crate) fn polls(&self) -> u64 {
        self.activity.load(Ordering::Relaxed) >> 1
    }

    /// Whether the process's task is being polled now.
    pub(crate) fn running(&self) -> bool {
        self.activity.load(Ordering::Relaxed) & 1 == 1
    }

    /// Counts a poll and marks the task running (the task alone calls this).
    pub(crate) fn poll_begins(&self) {
        let a = self.activity.load(Ordering::Relaxed);
        self.activity
            .store(((a >> 1) + 1) << 1 | 1, Ordering::Relaxed);
    }

    /// Marks the task not running (the task alone calls this).
    pub(crate) fn poll_ends(&self) {
        let a = self.activity.load(Ordering::Relaxed);
        self.activity.store(a & !1, Ordering::Relaxed);
    }

    pub(crate) fn has_signal(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Sets the flag and gives the waker to wake once the lock is released.
    fn raise(&self, state: &State) -> Option<Waker> {
        self.flag.store(true, Ordering::Release);
        state.waker.clone()
    }

    pub(crate) fn refresh_flag(&self, state: &State) {
        if !state.has_pending() {
            self.flag.store(false, Ordering::Release);
        }
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.lock().exit.is_none()
    }

    pub(crate) fn exit_reason(&self) -> Option<ExitReason> {
        self.lock().exit.clone()
    }

    /// Stores the task's waker at its first pending poll, and wakes it at once when a signal
    /// came before (when there was no waker to wake).
    pub(crate) fn store_task_waker(&self, waker: &Waker) {
        let mut st = self.lock();
        if st.waker.is_none() {
            st.waker = Some(waker.clone());
        }
        let wake = st.has_pending();
        drop(st);
        if wake {
            waker.wake_by_ref();
        }
    }

    /// Waits until the exit is complete and returns its reason.
    pub(crate) async fn wait_finished(&self) -> ExitReason {
        std::future::poll_fn(|cx| {
            let mut st = self.lock();
            if st.done {
                return std::task::Poll::Ready(st.exit.clone().unwrap_or(ExitReason::NoProc));
            }
            let waiters = &mut st.monitors().exit_waiters;
            if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
            std::task::Poll::Pending
        })
        .await
    }

    /// Marks the exit complete and wakes those waiting for it.
    pub(crate) fn set_finished(&self) {
        let waiters = {
            let mut st = self.lock();
            st.done = true;
            st.waker = None;
            st.monitors
                .as_mut()
                .map(|m| std::mem::take(&mut m.exit_waiters))
        };
        for w in waiters.into_iter().flatten() {
            w.wake();
        }
    }

    /// Takes the pending exit, if an exit signal asked this process to stop.
    pub(crate) fn take_pending_exit(&self) -> Option<ExitReason> {
        let mut st = self.lock();
        let r = st.monitors.as_mut().and_then(|m| m.pending_exit.take());
        self.refresh_flag(&st);
        r
    }

    /// The next system message, the lock held.
    pub(crate) fn pop_signal_locked(&self, st: &mut State) -> Option<Signal> {
        let s = st.monitors.as_mut().and_then(|m| m.signals.pop_front());
        self.refresh_flag(st);
        s
    }

    /// Queues a system message (trapped EXIT or DOWN) unless the process is dead.
    pub(crate) fn push_signal(&self, signal: Signal) {
        let mut st = self.lock();
        if st.exit.is_some() {
            return;
        }
        st.monitors().signals.push_back(signal);
        let w = self.raise(&st);
        drop(st);
        wake(w);
    }

    /// Delivers a `Down` for a monitor this process still holds.
    pub(crate) fn deliver_down(&self, down: Down) {
        let mut st = self.lock();
        if st.exit.is_some() {
            return;
        }
        let Some(mons) = st.monitors.as_mut() else {
            return;
        };
        let Some(i) = mons.of.iter().position(|r| *r == down.monitor) else {
            return;
        };
        mons.of.swap_remove(i);
        mons.signals.push_back(Signal::Down(down));
        let w = self.raise(&st);
        drop(st);
        wake(w);
    }

    /// Delivers an exit signal, as `erlang:exit/2` does.
    ///
    /// `kill` is the untrappable `kill` signal. Otherwise a trapping process gets an
    /// [`ExitSignal`] message; a non-trapping one ignores `Normal` and exits with any other reason.
    /// `unlink_from` removes the sender from this process's links (the signal came over a link).
    pub(crate) fn exit_signal(
        &self,
        from: Pid,
        reason: &ExitReason,
        kill: bool,
        unlink_from: bool,
    ) {
        let mut st = self.lock();
        if st.exit.is_some() {
            return;
        }
        if unlink_from {
            st.links.remove(from);
        }
        let w = if kill {
            st.monitors().pending_exit = Some(ExitReason::Killed);
            self.raise(&st)
        } else if st.trap_exit {
            st.monitors().signals.push_back(Signal::Exit(ExitSignal {
                from,
                reason: reason.clone(),
            }));
            self.raise(&st)
        } else if *reason != ExitReason::Normal
            && st
                .monitors
                .as_ref()
                .is_none_or(|m| m.pending_exit.is_none())
        {
            st.monitors().pending_exit = Some(reason.clone());
            self.raise(&st)
        } else {
            None
        };
        drop(st);
        wake(w);
    }
}

impl Cell {
    /// Records the exit reason and, in the same critical section, closes the mailbox and takes
    /// out what the exit signals: links, monitors, groups and name.
    pub(crate) fn begin_exit(&self, reason: &ExitReason) -> Exiting {
        let mut g = self.lock();
        let (st, queue) = g.split();
        st.exit = Some(reason.clone());
        st.closed = true;
        st.waiting = false;
        let queued = queue.take_all();
        let (monitored_by, groups, name) = match st.monitors.as_mut() {
            Some(m) => {
                m.signals.clear();
                m.pending_exit = None;
                (
                    std::mem::take(&mut m.by),
                    std::mem::take(&mut m.groups),
                    m.name.take(),
                )
            }
            None => Default::default(),
        };
        let exiting = Exiting {
            links: st.links.take(),
            monitored_by,
            groups,
            name,
            orderly: st.orderly,
            queued,
        };
        self.flag.store(false, Ordering::Release);
        exiting
    }

    /// User messages queued, and the bytes of the queue's buffer.
    pub(crate) fn queue_stats(&self) -> (usize, usize) {
        let g = self.lock();
        (g.queue().len(), g.queue().buffer_bytes())
    }

    /// Bytes of the cell: its fixed part and the mailbox's queue header.
    pub(crate) fn cell_bytes(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

/// What a mailbox needs of the state it shares a lock with.
impl State {
    /// Whether sends are refused (the process exited).
    pub(crate) fn closed(&self) -> bool {
        self.closed
    }

    /// A message was queued: the waker to wake once the lock is released, if the process
    /// waits on its mailbox.
    pub(crate) fn message_queued(&mut self) -> Option<Waker> {
        if std::mem::take(&mut self.waiting) {
            self.waker.clone()
        } else {
            None
        }
    }

    /// The process found its mailbox empty: the next message wakes `waker`.
    pub(crate) fn wait_for_message(&mut self, waker: &Waker) {
        self.waiting = true;
        self.store_waker(waker);
    }
}

fn wake(w: Option<Waker>) {
    if let Some(w) = w {
        w.wake();
    }
}

/// Locks two cells in pid order, so that two processes linking each other cannot deadlock.
pub(crate) fn lock_pair<'a>(
    a: &'a Cell,
    b: &'a Cell,
) -> (Guard<'a, dyn QueueView>, Guard<'a, dyn QueueView>) {
    if a.pid < b.pid {
        let ga = a.lock();
        let gb = b.lock();
        (ga, gb)
    } else {
        let gb = b.lock();
        let ga = a.lock();
        (ga, gb)
    }
}
