// The shared, type-erased part of a process: what other processes need to signal it.
//
// Invariants:
// - `State::exit` is set exactly once, under the lock, and links/monitors are taken out in that
//   same critical section: a link or monitor added after it sees the process dead (noproc).
// - `flag` is true whenever `pending_exit` is set or `signals` is non-empty; it is written only
//   under the lock, read without it as a fast path.
// - A signal that must reach the process (exit, trapped EXIT, DOWN) wakes `waker`, which the
//   process task re-registers at the start of every poll.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use atomic_waker::AtomicWaker;

use crate::exit::ExitReason;
use crate::link::ExitSignal;
use crate::monitor::{Down, MonitorRef};
use crate::process::Pid;

/// A message on the system path: never queued behind user messages.
#[derive(Debug)]
pub(crate) enum Signal {
    Exit(ExitSignal),
    Down(Down),
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) exit: Option<ExitReason>,
    pub(crate) pending_exit: Option<ExitReason>,
    pub(crate) trap_exit: bool,
    pub(crate) links: Links,
    /// Monitors on and by this process; boxed, as most processes have none.
    pub(crate) monitors: Option<Box<Monitors>>,
    pub(crate) signals: VecDeque<Signal>,
    pub(crate) name: Option<Arc<str>>,
    /// Set when the exit is complete: body dropped, name released, links and monitors signalled.
    pub(crate) done: bool,
    /// Stopped on purpose by its supervisor (its shutdown spec) or its listener's drain: the
    /// exit is not a crash, and is logged at debug level whatever its reason.
    pub(crate) orderly: bool,
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

/// A process's monitors.
#[derive(Default)]
pub(crate) struct Monitors {
    /// Who monitors this process, and with which ref.
    pub(crate) by: Vec<(MonitorRef, Arc<Cell>)>,
    /// Monitors this process holds on others; a `Down` for any other ref is dropped, which is
    /// what makes `demonitor` with flush exact even when the target dies concurrently.
    pub(crate) of: Vec<MonitorRef>,
    /// Tasks waiting for this process's exit to complete ([`Cell::wait_finished`]).
    pub(crate) exit_waiters: Vec<std::task::Waker>,
    /// The process groups this process is in, once per join (left at exit).
    pub(crate) groups: Vec<Arc<str>>,
}

impl State {
    /// The monitors, created on first use.
    pub(crate) fn monitors(&mut self) -> &mut Monitors {
        self.monitors.get_or_insert_with(Default::default)
    }
}

pub(crate) struct Cell {
    pub(crate) pid: Pid,
    state: Mutex<State>,
    flag: AtomicBool,
    /// True while the process's task is being polled (`process_info`'s `running`).
    pub(crate) polling: AtomicBool,
    pub(crate) waker: AtomicWaker,
    /// Polls of the process's task: the activity count `process_info` calls reductions.
    pub(crate) polls: std::sync::atomic::AtomicU64,
    /// The process that spawned it linked (its supervisor), or `Pid::EXTERNAL`.
    pub(crate) parent: Pid,
    /// The body's type name and the size of the process's task, for `process_info`.
    pub(crate) meta: fn() -> Meta,
    /// The mailbox, seen untyped: its length and size, and closing it at exit.
    pub(crate) mailbox: Arc<dyn MailboxView>,
    pub(crate) started: std::time::Instant,
}

/// What a process is, fixed at spawn.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta {
    /// The body's type name (OTP's initial call).
    pub(crate) initial_call: &'static str,
    /// Bytes of the process's task: its future, the body inside it, the task's header.
    pub(crate) task_bytes: usize,
}

/// A mailbox, without its message type.
pub(crate) trait MailboxView: Send + Sync {
    fn len(&self) -> usize;
    /// Bytes the mailbox holds: itself and its queue's buffer (not what messages point to).
    fn bytes(&self) -> usize;
    /// Refuses further sends and drops what is queued: the process has exited.
    fn close(&self);
}

impl std::fmt::Debug for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cell").field("pid", &self.pid).finish()
    }
}

impl Cell {
    pub(crate) fn new(
        pid: Pid,
        state: State,
        parent: Pid,
        meta: fn() -> Meta,
        mailbox: Arc<dyn MailboxView>,
    ) -> Cell {
        Cell {
            pid,
            state: Mutex::new(state),
            flag: AtomicBool::new(false),
            polling: AtomicBool::new(false),
            waker: AtomicWaker::new(),
            polls: std::sync::atomic::AtomicU64::new(0),
            parent,
            meta,
            mailbox,
            started: std::time::Instant::now(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic never happens while this lock is held (no user code runs under it), so a
        // poisoned lock still holds consistent data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn has_signal(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    fn raise(&self, state: &State) {
        let _ = state;
        self.flag.store(true, Ordering::Release);
        self.waker.wake();
    }

    pub(crate) fn refresh_flag(&self, state: &State) {
        if state.pending_exit.is_none() && state.signals.is_empty() {
            self.flag.store(false, Ordering::Release);
        }
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.lock().exit.is_none()
    }

    pub(crate) fn exit_reason(&self) -> Option<ExitReason> {
        self.lock().exit.clone()
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
        let r = st.pending_exit.take();
        self.refresh_flag(&st);
        r
    }

    pub(crate) fn pop_signal(&self) -> Option<Signal> {
        if !self.has_signal() {
            return None;
        }
        let mut st = self.lock();
        let s = st.signals.pop_front();
        self.refresh_flag(&st);
        s
    }

    /// Queues a system message (trapped EXIT or DOWN) unless the process is dead.
    pub(crate) fn push_signal(&self, signal: Signal) {
        let mut st = self.lock();
        if st.exit.is_some() {
            return;
        }
        st.signals.push_back(signal);
        self.raise(&st);
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
        st.signals.push_back(Signal::Down(down));
        self.raise(&st);
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
        if kill {
            st.pending_exit = Some(ExitReason::Killed);
            self.raise(&st);
        } else if st.trap_exit {
            st.signals.push_back(Signal::Exit(ExitSignal {
                from,
                reason: reason.clone(),
            }));
            self.raise(&st);
        } else if *reason != ExitReason::Normal && st.pending_exit.is_none() {
            st.pending_exit = Some(reason.clone());
            self.raise(&st);
        }
    }
}

/// Locks two cells in pid order, so that two processes linking each other cannot deadlock.
pub(crate) fn lock_pair<'a>(
    a: &'a Cell,
    b: &'a Cell,
) -> (MutexGuard<'a, State>, MutexGuard<'a, State>) {
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
