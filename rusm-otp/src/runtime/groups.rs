//! The runtime's process groups table ([`Groups`]): each group's members, typed by the group's
//! mailbox type. The API over it, `Runtime::pg`, is `pg.rs`.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::lock::Unpoisoned;
use crate::pid::Pid;
use crate::process::addr::Addr;

pub(crate) struct Group {
    pub(crate) type_id: TypeId,
    pub(crate) type_name: &'static str,
    /// `Arc<Vec<Addr<M>>>`: copied on write, so that a send iterates outside the lock.
    pub(crate) members: Box<dyn Any + Send + Sync>,
    /// Removes one entry of a pid; returns how many entries are left.
    pub(crate) remove: fn(&mut (dyn Any + Send + Sync), Pid) -> Option<usize>,
    pub(crate) pids: fn(&(dyn Any + Send + Sync)) -> Vec<Pid>,
}

pub(crate) fn members_of<M: Send + 'static>(
    any: &mut (dyn Any + Send + Sync),
) -> &mut Arc<Vec<Addr<M>>> {
    any.downcast_mut()
        .expect("a group's type is checked on join")
}

pub(crate) fn remove_one<M: Send + 'static>(
    any: &mut (dyn Any + Send + Sync),
    pid: Pid,
) -> Option<usize> {
    let v = members_of::<M>(any);
    let i = v.iter().position(|a| a.pid() == pid)?;
    Arc::make_mut(v).remove(i);
    Some(v.len())
}

pub(crate) fn pids_of<M: Send + 'static>(any: &(dyn Any + Send + Sync)) -> Vec<Pid> {
    any.downcast_ref::<Arc<Vec<Addr<M>>>>()
        .map(|v| v.iter().map(|a| a.pid()).collect())
        .unwrap_or_default()
}

#[derive(Default)]
pub(crate) struct Groups {
    groups: Mutex<HashMap<Arc<str>, Group>>,
}

impl Groups {
    pub(crate) fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, Group>> {
        // No user code runs under this lock.
        self.groups.locked()
    }

    pub(crate) fn remove(&self, group: &str, pid: Pid) -> bool {
        let mut groups = self.lock();
        let Some(g) = groups.get_mut(group) else {
            return false;
        };
        match (g.remove)(&mut *g.members, pid) {
            None => false,
            Some(0) => {
                groups.remove(group);
                true
            }
            Some(_) => true,
        }
    }

    /// An exiting process leaves the groups it was in.
    pub(crate) fn exited(&self, pid: Pid, groups: Vec<Arc<str>>) {
        for g in groups {
            self.remove(&g, pid);
        }
    }
}
