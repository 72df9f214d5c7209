//! Supervision-tree inspection: [`Runtime::tree`] returns a [`TreeSnapshot`] of every
//! supervisor started on the runtime and its descendants.
//!
//! Taking a snapshot never sends a message to a supervisor and never holds more than one
//! supervisor's table lock at a time (each only long enough to copy its rows), so inspecting
//! a tree under load neither stalls it nor waits for a busy supervisor.

use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::time::Duration;

use crate::lock::Unpoisoned;
use crate::pid::Pid;
use crate::process::cell::Cell;
use crate::runtime::Runtime;
use crate::supervisor::{ChildState, ChildTable, ChildType, Restart, SupervisorShared};

/// Whether a node is a supervisor or a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A supervisor.
    Supervisor,
    /// A worker.
    Worker,
}

/// A node's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeStatus {
    /// Running.
    Alive,
    /// Being restarted by its supervisor.
    Restarting,
    /// Not running; its spec is kept.
    Stopped,
}

/// One node of the tree.
#[derive(Debug, Clone)]
pub struct Node {
    /// The child id, or the supervisor's registered name for a root.
    pub id: String,
    /// Its pid while running.
    pub pid: Option<Pid>,
    /// Supervisor or worker.
    pub kind: NodeKind,
    /// For supervisors: `one_for_one`, `one_for_all`, `rest_for_one` or `dynamic`.
    pub strategy: Option<&'static str>,
    /// For supervisors: the restart intensity.
    pub intensity: Option<u32>,
    /// For supervisors: the restart period.
    pub period: Option<Duration>,
    /// The restart type (none for a root).
    pub restart: Option<Restart>,
    /// How many times its supervisor restarted it.
    pub restarts: u64,
    /// Its state.
    pub status: NodeStatus,
    /// Time since its current incarnation started.
    pub uptime: Option<Duration>,
    /// Extra detail, such as a connection's peer address.
    pub detail: Option<String>,
    /// The name it is registered under, if any.
    pub name: Option<String>,
    /// Children, in start order (pid order for dynamic supervisors).
    pub children: Vec<Node>,
}

/// A snapshot of the supervision tree. Prints as an indented tree; [`to_json`](Self::to_json)
/// gives JSON for tools.
#[derive(Debug, Clone)]
pub struct TreeSnapshot {
    /// The root supervisors, in start order.
    pub roots: Vec<Node>,
}

impl Runtime {
    /// A snapshot of the whole supervision tree.
    ///
    /// # Examples
    ///
    /// ```
    /// # use rusm_otp::{Runtime, SupervisorSpec, Strategy, ChildSpec, Ctx};
    /// # let rt = Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let sup = rt.start_supervisor(SupervisorSpec::new(Strategy::OneForAll).name("app")
    ///     .child(ChildSpec::worker("db", |mut ctx: Ctx| async move { ctx.recv().await; })))
    ///     .await.unwrap();
    /// let tree = rt.tree();
    /// assert_eq!(tree.roots[0].children[0].id, "db");
    /// assert!(tree.to_string().contains("└── db"));
    /// assert!(tree.to_json().contains("\"strategy\":\"one_for_all\""));
    /// # sup.stop().await;
    /// # });
    /// ```
    pub fn tree(&self) -> TreeSnapshot {
        let roots = self
            .inner
            .roots::<SupervisorShared>()
            .into_iter()
            .filter(|s| self.inner.lookup(s.pid).is_some())
            .map(|s| {
                let uptime = Some(s.started.elapsed());
                let id = root_id(&s);
                supervisor_node(&s, id, None, 0, uptime)
            })
            .collect();
        TreeSnapshot { roots }
    }
}

impl Runtime {
    /// How many times each supervisor reached its restart intensity and shut down, by its
    /// path in the tree ([`TreeSnapshot::supervisor_restarts`] names supervisors the same
    /// way), in the order each first did. A supervisor restarted by its own supervisor keeps
    /// its path, so its count goes on.
    ///
    /// # Examples
    ///
    /// ```
    /// # use rusm_otp::{Runtime, SupervisorSpec, Strategy, ChildSpec, Ctx};
    /// # let rt = Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let sup = rt.start_supervisor(SupervisorSpec::new(Strategy::OneForOne).name("app")
    ///     .child(ChildSpec::worker("flaky", |_ctx: Ctx| async { panic!("boom") as () })))
    ///     .await;
    /// // It crashes at once every time: the default intensity (1 in 5 s) is reached.
    /// # let _ = sup;
    /// # tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    /// assert_eq!(rt.intensity_exceeded(), vec![("app".to_string(), 1)]);
    /// # });
    /// ```
    pub fn intensity_exceeded(&self) -> Vec<(String, u64)> {
        self.inner.intensity_exceeded.locked().clone()
    }

    /// Counts one intensity-exceeded shutdown of the supervisor `sup`, which is still alive
    /// and listed by its own supervisor. Called at that rare event only: it walks the tables
    /// on the way from a root down to `sup`, one lock at a time.
    pub(crate) fn note_intensity_exceeded(&self, sup: Pid) {
        let path = self.supervisor_path(sup).unwrap_or_else(|| sup.to_string());
        let mut counts = self.inner.intensity_exceeded.locked();
        match counts.iter_mut().find(|(p, _)| *p == path) {
            Some((_, n)) => *n += 1,
            None => counts.push((path, 1)),
        }
    }

    /// The path of the supervisor `pid` in the tree: the ids from its root down, joined
    /// by `/` (a root's id is its registered name, or `supervisor`).
    fn supervisor_path(&self, pid: Pid) -> Option<String> {
        let roots = self.inner.roots::<SupervisorShared>();
        // `pid`, its parent, …, up to a root supervisor.
        let mut chain = vec![pid];
        let root = loop {
            let last = *chain.last()?;
            if let Some(r) = roots.iter().find(|r| r.pid == last) {
                break r.clone();
            }
            let parent = self.inner.lookup(last)?.parent;
            if parent == Pid::EXTERNAL || chain.len() > 64 {
                return None;
            }
            chain.push(parent);
        };
        let mut path = root_id(&root);
        let mut sup = root;
        for &next in chain.iter().rev().skip(1) {
            let (id, below) = {
                let table = sup.lock();
                let found = match &*table {
                    ChildTable::Static(v) => v.iter().find(|c| c.pid() == Some(next)).map(row),
                    ChildTable::Dynamic(m) => {
                        m.values().find(|c| c.pid() == Some(next)).map(|c| row(c))
                    }
                };
                let (node, below, _) = found?;
                (node.id, below)
            };
            path.push('/');
            path.push_str(&id);
            match below {
                Some(below) => sup = below,
                None => return None,
            }
        }
        Some(path)
    }
}

fn root_id(s: &SupervisorShared) -> String {
    s.name.as_deref().unwrap_or("supervisor").to_string()
}

fn supervisor_node(
    s: &Arc<SupervisorShared>,
    id: String,
    restart: Option<Restart>,
    restarts: u64,
    uptime: Option<Duration>,
) -> Node {
    // Copy the rows under the lock, recurse after releasing it.
    let rows: Vec<Row> = {
        let table = s.lock();
        let mut rows: Vec<_> = match &*table {
            ChildTable::Static(v) => v.iter().map(row).collect(),
            ChildTable::Dynamic(m) => m.values().map(|c| row(c)).collect(),
        };
        if matches!(&*table, ChildTable::Dynamic(_)) {
            rows.sort_by_key(|(n, _, _)| n.pid);
        }
        rows
    };
    let children = rows
        .into_iter()
        .map(|(node, sup, cell)| {
            // Read after the table lock is released: one lock at a time.
            let name = cell.and_then(|c| c.lock().name().map(|n| n.to_string()));
            let mut node = match sup {
                Some(sup) => {
                    supervisor_node(&sup, node.id, node.restart, node.restarts, node.uptime)
                }
                None => node,
            };
            node.name = name;
            node
        })
        .collect();
    Node {
        id,
        pid: Some(s.pid),
        kind: NodeKind::Supervisor,
        strategy: Some(s.strategy),
        intensity: Some(s.intensity),
        period: Some(s.period),
        restart,
        restarts,
        status: NodeStatus::Alive,
        uptime,
        detail: None,
        name: s.name.as_deref().map(str::to_string),
        children,
    }
}

type Row = (Node, Option<Arc<SupervisorShared>>, Option<Arc<Cell>>);

fn row(c: &crate::supervisor::Child) -> Row {
    let (status, pid, uptime, sup, cell) = match &c.state {
        ChildState::Running { cell, since, sup } => (
            NodeStatus::Alive,
            Some(cell.pid),
            Some(since.elapsed()),
            sup.clone(),
            Some(cell.clone()),
        ),
        ChildState::Restarting => (NodeStatus::Restarting, None, None, None, None),
        ChildState::Stopped => (NodeStatus::Stopped, None, None, None, None),
    };
    let id = if c.id.is_empty() {
        pid.map(|p| p.to_string()).unwrap_or_default()
    } else {
        c.id.to_string()
    };
    let node = Node {
        id,
        pid,
        kind: match c.child_type {
            ChildType::Worker => NodeKind::Worker,
            ChildType::Supervisor => NodeKind::Supervisor,
        },
        strategy: None,
        intensity: None,
        period: None,
        restart: Some(c.restart),
        restarts: c.restarts,
        status,
        uptime,
        detail: c.peer.map(|p| p.to_string()),
        name: None,
        children: Vec::new(),
    };
    (node, sup, cell)
}

fn restart_str(r: Restart) -> &'static str {
    match r {
        Restart::Permanent => "permanent",
        Restart::Transient => "transient",
        Restart::Temporary => "temporary",
    }
}

fn status_str(s: NodeStatus) -> &'static str {
    match s {
        NodeStatus::Alive => "alive",
        NodeStatus::Restarting => "restarting",
        NodeStatus::Stopped => "stopped",
    }
}

impl Node {
    /// How many nodes this subtree holds, itself included.
    pub fn len(&self) -> usize {
        1 + self.children.iter().map(Node::len).sum::<usize>()
    }

    /// Always false: a node counts itself.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The first node in this subtree, depth first, whose id is `id`.
    pub fn find(&self, id: &str) -> Option<&Node> {
        if self.id == id {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(id))
    }

    fn line(&self, out: &mut String) {
        let _ = write!(out, "{}", self.id);
        // A child without an id (a connection) is shown by its pid, once.
        if let Some(pid) = self.pid.filter(|p| p.to_string() != self.id) {
            let _ = write!(out, " {pid}");
        }
        if let Some(name) = self.name.as_deref().filter(|n| *n != self.id) {
            let _ = write!(out, " registered={name}");
        }
        match self.kind {
            NodeKind::Supervisor => {
                let _ = write!(
                    out,
                    " supervisor {} {}/{}s",
                    self.strategy.unwrap_or("?"),
                    self.intensity.unwrap_or(0),
                    self.period.map(|p| p.as_secs()).unwrap_or(0)
                );
            }
            NodeKind::Worker => out.push_str(" worker"),
        }
        if let Some(r) = self.restart {
            let _ = write!(out, " {}", restart_str(r));
        }
        if self.status != NodeStatus::Alive {
            let _ = write!(out, " {}", status_str(self.status));
        }
        if self.restarts > 0 {
            let _ = write!(out, " restarts={}", self.restarts);
        }
        if let Some(u) = self.uptime {
            let _ = write!(out, " up {:.1}s", u.as_secs_f64());
        }
        if let Some(d) = &self.detail {
            let _ = write!(out, " {d}");
        }
    }

    fn draw(&self, prefix: &str, out: &mut String) {
        let n = self.children.len();
        for (i, c) in self.children.iter().enumerate() {
            let last = i + 1 == n;
            out.push_str(prefix);
            out.push_str(if last { "└── " } else { "├── " });
            c.line(out);
            out.push('\n');
            let deeper = format!("{prefix}{}", if last { "    " } else { "│   " });
            c.draw(&deeper, out);
        }
    }

    fn json(&self, out: &mut String) {
        out.push('{');
        out.push_str("\"id\":");
        json_str(&self.id, out);
        out.push_str(",\"pid\":");
        match self.pid {
            Some(p) => json_str(&p.to_string(), out),
            None => out.push_str("null"),
        }
        let _ = write!(
            out,
            ",\"kind\":\"{}\"",
            match self.kind {
                NodeKind::Supervisor => "supervisor",
                NodeKind::Worker => "worker",
            }
        );
        if let Some(s) = self.strategy {
            let _ = write!(out, ",\"strategy\":\"{s}\"");
        }
        if let Some(i) = self.intensity {
            let _ = write!(out, ",\"intensity\":{i}");
        }
        if let Some(p) = self.period {
            let _ = write!(out, ",\"period_secs\":{}", p.as_secs());
        }
        if let Some(r) = self.restart {
            let _ = write!(out, ",\"restart\":\"{}\"", restart_str(r));
        }
        let _ = write!(
            out,
            ",\"restarts\":{},\"status\":\"{}\"",
            self.restarts,
            status_str(self.status)
        );
        match self.uptime {
            Some(u) => {
                let _ = write!(out, ",\"uptime_ms\":{}", u.as_millis());
            }
            None => out.push_str(",\"uptime_ms\":null"),
        }
        if let Some(n) = &self.name {
            out.push_str(",\"name\":");
            json_str(n, out);
        }
        if let Some(d) = &self.detail {
            out.push_str(",\"detail\":");
            json_str(d, out);
        }
        out.push_str(",\"children\":[");
        for (i, c) in self.children.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            c.json(out);
        }
        out.push_str("]}");
    }
}

fn json_str(s: &str, out: &mut String) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl TreeSnapshot {
    /// The tree as JSON: `{"roots":[{"id":…,"pid":"<0.1.0>","kind":"supervisor",…,"children":[…]}]}`.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\"roots\":[");
        for (i, r) in self.roots.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            r.json(&mut out);
        }
        out.push_str("]}");
        out
    }

    /// The first node, depth first, whose id is `id`.
    pub fn find(&self, id: &str) -> Option<&Node> {
        self.roots.iter().find_map(|r| r.find(id))
    }

    /// Every supervisor in the tree, depth first, by its path (the ids from its root down,
    /// joined by `/`), with the restarts of its children added up: how often it restarted
    /// one of them. The count starts again from zero when the supervisor itself is restarted.
    ///
    /// # Examples
    ///
    /// ```
    /// # use rusm_otp::{Runtime, SupervisorSpec, Strategy, ChildSpec, Ctx};
    /// # let rt = Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let inner = SupervisorSpec::new(Strategy::OneForOne)
    ///     .child(ChildSpec::worker("db", |mut ctx: Ctx| async move { ctx.recv().await; }));
    /// let app = rt.start_supervisor(SupervisorSpec::new(Strategy::OneForOne).name("app")
    ///     .child(ChildSpec::supervisor("store", inner)))
    ///     .await.unwrap();
    /// let paths: Vec<String> = rt.tree().supervisor_restarts().into_iter().map(|(p, _)| p).collect();
    /// assert_eq!(paths, ["app", "app/store"]);
    /// # app.stop().await;
    /// # });
    /// ```
    pub fn supervisor_restarts(&self) -> Vec<(String, u64)> {
        fn walk(node: &Node, path: String, out: &mut Vec<(String, u64)>) {
            let restarts = node.children.iter().map(|c| c.restarts).sum();
            out.push((path.clone(), restarts));
            for c in &node.children {
                if c.kind == NodeKind::Supervisor {
                    walk(c, format!("{path}/{}", c.id), out);
                }
            }
        }
        let mut out = Vec::new();
        for r in &self.roots {
            walk(r, r.id.clone(), &mut out);
        }
        out
    }
}

impl fmt::Display for TreeSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        for r in &self.roots {
            r.line(&mut out);
            out.push('\n');
            r.draw("", &mut out);
        }
        f.write_str(&out)
    }
}
