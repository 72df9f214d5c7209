//! A supervisor's child table, shared with inspection: [`Child`] rows, the ordered table of a
//! static supervisor ([`StaticChildren`]) and the pid-keyed one of a dynamic supervisor,
//! and the rows and counts of `which_children` and `count_children`.
//!
//! A static table holds its children in start order with an index from id to position, as
//! OTP's `{Ids, Db}` (a list of ids and a map): finding a child by id costs the same with ten
//! children or a hundred thousand, so `start_child` and `terminate_child` of N children cost
//! O(N) in all (OTP's `scale_start_stop_many_children`). Removing a row (`delete_child`, a
//! temporary child's end) shifts those after it, O(N), as OTP's `lists:delete/2`. Finding a
//! child by pid, on its exit, walks the rows, as OTP's `find_child_by_pid/2` folds its map.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::spec::{ChildSpec, ChildType, Restart, Shutdown, Started};
use crate::lock::Unpoisoned;
use crate::pid::Pid;
use crate::process::addr::{Addr, ProcessHandle};
use crate::process::cell::Cell;
use crate::process::queue::TypedCell;
use crate::runtime::PidMap;

#[derive(Debug)]
pub(crate) enum ChildState {
    Running {
        cell: Arc<Cell>,
        since: Instant,
        sup: Option<Arc<SupervisorShared>>,
    },
    Restarting,
    Stopped,
}

#[derive(Debug)]
pub(crate) struct Child {
    pub(crate) id: Arc<str>,
    /// `None` for temporary children of a dynamic supervisor: their start is never needed
    /// again, so it is not retained (OTP-16804).
    pub(crate) spec: Option<Box<ChildSpec>>,
    pub(crate) restart: Restart,
    pub(crate) child_type: ChildType,
    pub(crate) shutdown: Shutdown,
    pub(crate) significant: bool,
    pub(crate) state: ChildState,
    pub(crate) restarts: u64,
    pub(crate) backoff_attempt: u32,
    pub(crate) last_started: Option<Instant>,
    /// The peer address of a connection process; formatted only when inspected.
    pub(crate) peer: Option<std::net::SocketAddr>,
    /// The typed mailbox of its current or last incarnation, for a typed address while it
    /// runs (`child_addr`).
    pub(crate) mailbox: Option<Arc<dyn Any + Send + Sync>>,
}

impl Child {
    pub(crate) fn new(spec: &ChildSpec, keep_spec: bool) -> Self {
        Child {
            id: spec.id.clone(),
            spec: keep_spec.then(|| Box::new(spec.clone())),
            restart: spec.restart,
            child_type: spec.child_type,
            shutdown: spec.shutdown_spec(),
            significant: spec.significant,
            state: ChildState::Stopped,
            restarts: 0,
            backoff_attempt: 0,
            last_started: None,
            peer: None,
            mailbox: None,
        }
    }

    pub(crate) fn cell(&self) -> Option<&Arc<Cell>> {
        match &self.state {
            ChildState::Running { cell, .. } => Some(cell),
            _ => None,
        }
    }

    pub(crate) fn pid(&self) -> Option<Pid> {
        self.cell().map(|c| c.pid)
    }

    /// The typed address of the running child, if its mailbox takes `M`.
    pub(crate) fn addr<M: Send + 'static>(&self) -> Option<Addr<M>> {
        let cell = self.cell()?;
        let tx = self.mailbox.clone()?.downcast::<TypedCell<M>>().ok()?;
        Some(Addr {
            handle: ProcessHandle::from_cell(cell.clone()),
            tx,
        })
    }

    pub(crate) fn set_running(&mut self, started: Started) {
        let now = Instant::now();
        self.last_started = Some(now);
        self.mailbox = started.mailbox;
        self.state = match started.cell {
            Some(cell) => ChildState::Running {
                cell,
                since: now,
                sup: started
                    .sup
                    .and_then(|s| s.downcast::<SupervisorShared>().ok()),
            },
            None => ChildState::Stopped,
        };
    }
}

/// A static supervisor's children in start order, with an index from id to position.
///
/// Every access counts the rows it visits ([`visits`](Self::visits)): the table's methods
/// are the only way to the rows, so a scan per operation shows up in the count, and the
/// tests below hold starting and stopping N children to O(N) visits.
#[derive(Debug, Default)]
pub(crate) struct StaticChildren {
    rows: Vec<Child>,
    by_id: HashMap<Arc<str>, usize>,
    visits: std::cell::Cell<u64>,
}

impl StaticChildren {
    fn visit(&self, n: usize) {
        self.visits.set(self.visits.get() + n as u64);
    }

    /// Rows visited so far.
    #[cfg(test)]
    pub(crate) fn visits(&self) -> u64 {
        self.visits.get()
    }

    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// The position of the child with this id.
    pub(crate) fn position_id(&self, id: &str) -> Option<usize> {
        self.visit(1);
        self.by_id.get(id).copied()
    }

    /// The child with this id.
    pub(crate) fn find_id(&self, id: &str) -> Option<&Child> {
        self.position_id(id).map(|i| &self.rows[i])
    }

    /// The child with this id, to change (not its id: the index is keyed by it).
    pub(crate) fn find_id_mut(&mut self, id: &str) -> Option<&mut Child> {
        self.position_id(id).map(|i| &mut self.rows[i])
    }

    /// The position of the running child with this pid: a walk over the rows.
    pub(crate) fn position_pid(&self, pid: Pid) -> Option<usize> {
        self.iter().position(|c| c.pid() == Some(pid))
    }

    /// Appends a child; its id must not be in the table.
    pub(crate) fn push(&mut self, child: Child) {
        self.visit(1);
        debug_assert!(!self.by_id.contains_key(&child.id));
        self.by_id.insert(child.id.clone(), self.rows.len());
        self.rows.push(child);
    }

    /// Removes the child at `i`; those after it move up one.
    pub(crate) fn remove(&mut self, i: usize) -> Child {
        let child = self.rows.remove(i);
        self.by_id.remove(&child.id);
        self.visit(self.rows.len() - i + 1);
        for (j, c) in self.rows.iter().enumerate().skip(i) {
            if let Some(at) = self.by_id.get_mut(&c.id) {
                *at = j;
            }
        }
        child
    }

    /// Removes the child with this id, if there is one.
    pub(crate) fn remove_id(&mut self, id: &str) {
        if let Some(i) = self.position_id(id) {
            self.remove(i);
        }
    }

    /// Keeps the children for which `keep` is true, in order.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&Child) -> bool) {
        self.visit(self.rows.len());
        let before = self.rows.len();
        self.rows.retain(|c| keep(c));
        if self.rows.len() != before {
            self.by_id.clear();
            for (j, c) in self.rows.iter().enumerate() {
                self.by_id.insert(c.id.clone(), j);
            }
        }
    }

    /// The children in start order; each row the iterator yields counts as visited.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &Child> + '_ {
        let visits = &self.visits;
        self.rows
            .iter()
            .inspect(move |_| visits.set(visits.get() + 1))
    }

    /// The children in start order, to change (not their ids); each row counts as visited.
    pub(crate) fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut Child> + '_ {
        let visits = &self.visits;
        self.rows
            .iter_mut()
            .inspect(move |_| visits.set(visits.get() + 1))
    }

    /// The children at `range`, to change (not their ids).
    pub(crate) fn slice_mut(&mut self, range: std::ops::Range<usize>) -> &mut [Child] {
        self.visit(range.len());
        &mut self.rows[range]
    }

    pub(crate) fn get(&self, i: usize) -> Option<&Child> {
        self.visit(1);
        self.rows.get(i)
    }
}

impl std::ops::Index<usize> for StaticChildren {
    type Output = Child;
    fn index(&self, i: usize) -> &Child {
        self.visit(1);
        &self.rows[i]
    }
}

impl std::ops::IndexMut<usize> for StaticChildren {
    /// The child at `i`, to change (not its id).
    fn index_mut(&mut self, i: usize) -> &mut Child {
        self.visit(1);
        &mut self.rows[i]
    }
}

#[derive(Debug)]
pub(crate) enum ChildTable {
    Static(StaticChildren),
    /// Boxed entries: the map's spare capacity then costs a pointer per slot, not a child.
    Dynamic(PidMap<Box<Child>>),
}

/// What a supervisor shares with inspection: its flags and its child table.
#[derive(Debug)]
pub(crate) struct SupervisorShared {
    pub(crate) pid: Pid,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) strategy: &'static str,
    pub(crate) intensity: u32,
    pub(crate) period: Duration,
    pub(crate) started: Instant,
    pub(crate) children: Mutex<ChildTable>,
    /// Queued signals scanned to flush children's EXITs: a cost counter, with
    /// [`StaticChildren::visits`], for the tests that keep starting and stopping linear.
    pub(crate) flush_scanned: AtomicU64,
}

impl SupervisorShared {
    pub(crate) fn new(
        pid: Pid,
        name: Option<Arc<str>>,
        strategy: &'static str,
        intensity: u32,
        period: Duration,
        children: ChildTable,
    ) -> Self {
        SupervisorShared {
            pid,
            name,
            strategy,
            intensity,
            period,
            started: Instant::now(),
            children: Mutex::new(children),
            flush_scanned: AtomicU64::new(0),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, ChildTable> {
        self.children.locked()
    }

    /// The work done on the table so far: rows visited and queued signals scanned. Starting
    /// and stopping a child costs a bounded number of each, whatever the number of siblings;
    /// the scaling tests hold it to that.
    #[cfg(test)]
    pub(crate) fn work(&self) -> u64 {
        let rows = match &*self.lock() {
            ChildTable::Static(v) => v.visits(),
            ChildTable::Dynamic(_) => 0,
        };
        rows + self
            .flush_scanned
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The rows of [`SupervisorRef::which_children`](crate::SupervisorRef::which_children), read now: the caller decides whether
    /// that is ordered with the supervisor's handling (a call answered by the supervisor) or
    /// a snapshot (inspection, a listener's drain).
    pub(crate) fn which_children_now(&self) -> Vec<ChildInfo> {
        match &*self.lock() {
            ChildTable::Static(v) => v.iter().map(child_info).collect(),
            ChildTable::Dynamic(m) => {
                let mut v: Vec<ChildInfo> = m.values().map(|c| child_info(c)).collect();
                v.sort_by_key(|c| c.pid);
                v
            }
        }
    }

    /// [`SupervisorRef::count_children`](crate::SupervisorRef::count_children), read now (see [`which_children_now`](Self::which_children_now)).
    pub(crate) fn count_now(&self) -> ChildCounts {
        match &*self.lock() {
            ChildTable::Static(v) => count(v.iter()),
            ChildTable::Dynamic(m) => count(m.values().map(|c| &**c)),
        }
    }

    pub(crate) fn with_static<R>(&self, f: impl FnOnce(&mut StaticChildren) -> R) -> R {
        match &mut *self.lock() {
            ChildTable::Static(v) => f(v),
            ChildTable::Dynamic(_) => unreachable!("static supervisor with a dynamic table"),
        }
    }
}

/// The supervisor `pid`, found by walking the supervision tree down from `roots` through the
/// rows of running supervisor children, one table lock at a time: the cost of a lookup grows
/// with the number of rows walked, as `Runtime::tree`'s.
pub(crate) fn find_supervisor(
    roots: Vec<Arc<SupervisorShared>>,
    pid: Pid,
) -> Option<Arc<SupervisorShared>> {
    let mut stack = roots;
    while let Some(s) = stack.pop() {
        if s.pid == pid {
            return Some(s);
        }
        let sub = |c: &Child| match &c.state {
            ChildState::Running { sup: Some(sup), .. } => Some(sup.clone()),
            _ => None,
        };
        match &*s.lock() {
            ChildTable::Static(v) => stack.extend(v.iter().filter_map(sub)),
            ChildTable::Dynamic(m) => stack.extend(m.values().filter_map(|c| sub(c))),
        }
    }
    None
}

/// One row of [`SupervisorRef::which_children`](crate::SupervisorRef::which_children) and [`DynamicSupervisorRef::which_children`](crate::DynamicSupervisorRef::which_children).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildInfo {
    /// The child's id; for a dynamic supervisor's child, the id of the spec it was started
    /// with (a label there: its children are addressed by pid), empty for a connection.
    pub id: String,
    /// Its pid while running; `None` while stopped or restarting (OTP's `undefined` and
    /// `restarting`).
    pub pid: Option<Pid>,
    /// Whether it is being restarted (OTP shows `restarting` instead of a pid): its exit was
    /// handled and its new process is not running yet — the restart is delayed by its
    /// [`Backoff`](crate::Backoff), or its start failed and is retried.
    pub restarting: bool,
    /// Worker or supervisor.
    pub child_type: ChildType,
    /// Its restart type.
    pub restart: Restart,
    /// How many times it was restarted.
    pub restarts: u64,
}

/// [`SupervisorRef::count_children`](crate::SupervisorRef::count_children), as OTP's `count_children/1`: every child is counted,
/// running, stopped or restarting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChildCounts {
    /// All child specs, running or not.
    ///
    /// For a [dynamic supervisor](crate::DynamicSupervisorRef::count_children), its children: each
    /// was started from a spec of its own, as in Elixir's `DynamicSupervisor` (whose `specs`
    /// is its number of children). OTP's `simple_one_for_one` says `1` there, its one
    /// template, from which every child starts with extra arguments; a RUSM dynamic supervisor
    /// has no template to count, and 1 would tell nothing.
    pub specs: usize,
    /// Children whose process is alive.
    pub active: usize,
    /// Children of type supervisor.
    pub supervisors: usize,
    /// Children of type worker.
    pub workers: usize,
}

pub(crate) fn child_info(c: &Child) -> ChildInfo {
    ChildInfo {
        id: c.id.to_string(),
        pid: c.pid(),
        restarting: matches!(c.state, ChildState::Restarting),
        child_type: c.child_type,
        restart: c.restart,
        restarts: c.restarts,
    }
}

pub(crate) fn count<'a>(children: impl Iterator<Item = &'a Child>) -> ChildCounts {
    let mut n = ChildCounts::default();
    for c in children {
        n.specs += 1;
        if c.cell().is_some_and(|cell| cell.is_alive()) {
            n.active += 1;
        }
        match c.child_type {
            ChildType::Worker => n.workers += 1,
            ChildType::Supervisor => n.supervisors += 1,
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use crate::{
        ChildSpec, Ctx, DynamicSupervisorSpec, Restart, Runtime, Strategy, SupervisorSpec,
    };

    fn idle(id: String) -> ChildSpec {
        ChildSpec::worker(id, |mut ctx: Ctx<()>| async move {
            ctx.recv().await;
        })
    }

    /// OTP's `scale_start_stop_many_children`: `start_child` × n, then `terminate_child` × n
    /// by id. Returns the table work it took.
    async fn static_work(rt: &Runtime, n: usize) -> u64 {
        let sup = rt
            .start_supervisor(SupervisorSpec::new(Strategy::OneForOne))
            .await
            .unwrap();
        for i in 0..n {
            sup.start_child(idle(i.to_string())).await.unwrap();
        }
        for i in 0..n {
            sup.terminate_child(&i.to_string()).await.unwrap();
        }
        let work = sup.shared.work();
        sup.stop().await;
        work
    }

    /// OTP's `simple_one_for_one_scale_many_temporary_children`: n temporary children, then
    /// one stop of them all. Returns the table work it took.
    async fn dynamic_work(rt: &Runtime, n: usize) -> u64 {
        let sup = rt
            .start_dynamic_supervisor(DynamicSupervisorSpec::new())
            .await
            .unwrap();
        for i in 0..n {
            let spec = idle(i.to_string()).restart(Restart::Temporary);
            sup.start_child(spec).await.unwrap();
        }
        sup.stop().await;
        sup.shared.work()
    }

    /// Starting and stopping a child visits a bounded number of rows and queued signals,
    /// however many siblings it has: N children cost O(N), never O(N²). A count of work,
    /// not a timing: it holds on any machine, in any build (timings: `examples/supervisor_scale.rs`).
    #[test]
    fn starting_and_stopping_n_children_costs_work_linear_in_n() {
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            for n in [500u64, 2_000] {
                let work = static_work(&rt, n as usize).await;
                // About 8 per child; a scan per start or stop would be about n²/2.
                assert!(work <= 16 * n, "one_for_one, {n} children: work {work}");
                let work = dynamic_work(&rt, n as usize).await;
                // One pass over the queued EXITs; a flush per child would be about n²/2.
                assert!(work <= 4 * n, "dynamic, {n} children: work {work}");
            }
        });
    }
}
