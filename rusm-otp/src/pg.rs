//! Process groups, as OTP's `pg` (<https://www.erlang.org/doc/apps/kernel/pg>): named groups
//! of processes that any process can join, leave, list and send to.
//!
//! - A process may join a group several times; it is then listed (and sent to) that many
//!   times and must leave as many times, as in `pg`.
//! - A process leaves every group it is in when it exits, before its links and monitors are
//!   signalled; a group with no members left no longer exists.
//! - A group holds processes of one mailbox type `M`, fixed by its first member: members are
//!   typed [`Addr<M>`], so [`send`](Pg::send) needs no lookup per member. Joining with
//!   another type is refused with [`PgError::WrongType`].
//!
//! Groups belong to the runtime (`pg`'s default scope); this node is the whole cluster.
//!
//! # Examples
//!
//! ```
//! use rusm_otp::{Ctx, Runtime};
//!
//! let rt = Runtime::new().unwrap();
//! rt.block_on(async {
//!     let a = rt.spawn(|mut ctx: Ctx<String>| async move { ctx.recv_user().await; });
//!     let b = rt.spawn(|mut ctx: Ctx<String>| async move { ctx.recv_user().await; });
//!     rt.pg().join("lobby", &a).unwrap();
//!     rt.pg().join("lobby", &b).unwrap();
//!     assert_eq!(rt.pg().send("lobby", "hi".to_string()), 2);
//!     a.wait().await;
//!     b.wait().await;
//!     assert!(rt.pg().members::<String>("lobby").is_empty());
//! });
//! ```

use std::any::TypeId;
use std::fmt;
use std::sync::Arc;

use crate::pid::Pid;
use crate::process::addr::Addr;
use crate::runtime::groups::{members_of, pids_of, remove_one, Group};
use crate::runtime::{Inner, Runtime};

/// Joining a group failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgError {
    /// The group's members take another message type.
    WrongType {
        /// The group.
        group: String,
        /// The message type of its members.
        members_take: &'static str,
    },
    /// The process is not alive.
    NoProc(Pid),
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgError::WrongType {
                group,
                members_take,
            } => write!(
                f,
                "group `{group}` holds processes that take `{members_take}`; join it with an Addr of that type"
            ),
            PgError::NoProc(pid) => write!(f, "cannot join {pid} to a group: no such process"),
        }
    }
}

impl std::error::Error for PgError {}

/// The process groups of a runtime ([`Runtime::pg`]).
#[derive(Clone, Copy)]
pub struct Pg<'a> {
    rt: &'a Arc<Inner>,
}

impl fmt::Debug for Pg<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pg").finish_non_exhaustive()
    }
}

impl Runtime {
    /// The runtime's process groups (OTP `pg`).
    pub fn pg(&self) -> Pg<'_> {
        Pg { rt: &self.inner }
    }
}

impl Pg<'_> {
    /// Adds the process to `group` (`pg:join/2`), creating the group.
    ///
    /// # Errors
    ///
    /// [`PgError::WrongType`] when the group's members take another message type;
    /// [`PgError::NoProc`] when the process is dead.
    pub fn join<M: Send + 'static>(&self, group: &str, addr: &Addr<M>) -> Result<(), PgError> {
        let mut groups = self.rt.groups.lock();
        if let Some(g) = groups.get(group) {
            if g.type_id != TypeId::of::<M>() {
                return Err(PgError::WrongType {
                    group: group.to_string(),
                    members_take: g.type_name,
                });
            }
        }
        let cell = &addr.handle.cell;
        let mut st = cell.lock();
        if st.exit.is_some() {
            return Err(PgError::NoProc(cell.pid));
        }
        let key: Arc<str> = match groups.get_key_value(group) {
            Some((k, _)) => k.clone(),
            None => Arc::from(group),
        };
        st.monitors().groups.push(key.clone());
        drop(st);
        let g = groups.entry(key).or_insert_with(|| Group {
            type_id: TypeId::of::<M>(),
            type_name: std::any::type_name::<M>(),
            members: Box::new(Arc::new(Vec::<Addr<M>>::new())),
            remove: remove_one::<M>,
            pids: pids_of::<M>,
        });
        Arc::make_mut(members_of::<M>(&mut *g.members)).push(addr.clone());
        Ok(())
    }

    /// Removes one membership of `pid` from `group` (`pg:leave/2`); returns whether it was
    /// a member.
    pub fn leave(&self, group: &str, pid: Pid) -> bool {
        let left = self.rt.groups.remove(group, pid);
        if left {
            if let Some(cell) = self.rt.lookup(pid) {
                let mut st = cell.lock();
                if let Some(m) = st.monitors.as_mut() {
                    if let Some(i) = m.groups.iter().position(|g| &**g == group) {
                        m.groups.swap_remove(i);
                    }
                }
            }
        }
        left
    }

    /// The members of `group` that take `M` (`pg:get_members/1`); empty when there is no such
    /// group or its members take another type.
    pub fn members<M: Send + 'static>(&self, group: &str) -> Vec<Addr<M>> {
        self.snapshot::<M>(group)
            .map(|v| v.as_ref().clone())
            .unwrap_or_default()
    }

    /// The pids in `group`, of any message type.
    pub fn pids(&self, group: &str) -> Vec<Pid> {
        let groups = self.rt.groups.lock();
        groups
            .get(group)
            .map(|g| (g.pids)(&*g.members))
            .unwrap_or_default()
    }

    /// Every group that has members (`pg:which_groups/0`), sorted.
    pub fn which_groups(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .rt
            .groups
            .lock()
            .keys()
            .map(|k| k.to_string())
            .collect();
        v.sort();
        v
    }

    /// Sends a clone of `msg` to every member of `group`; returns to how many it was
    /// delivered (members that exited meanwhile are skipped). The group is read once and the
    /// sends happen outside its lock.
    pub fn send<M: Clone + Send + 'static>(&self, group: &str, msg: M) -> usize {
        let Some(members) = self.snapshot::<M>(group) else {
            return 0;
        };
        members
            .iter()
            .filter(|m| m.send(msg.clone()).is_ok())
            .count()
    }

    fn snapshot<M: Send + 'static>(&self, group: &str) -> Option<Arc<Vec<Addr<M>>>> {
        let groups = self.rt.groups.lock();
        groups
            .get(group)?
            .members
            .downcast_ref::<Arc<Vec<Addr<M>>>>()
            .cloned()
    }
}
