//! The runtime's name table ([`Registry`]): each registered name with its process's cell and
//! typed mailbox. The API over it, `Runtime::register`, `whereis` and the rest, is
//! `registry.rs`.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::RegisterError;
use crate::lock::Unpoisoned;
use crate::pid::Pid;
use crate::process::addr::Addr;
use crate::process::cell::Cell;
use crate::process::queue::TypedCell;

struct Entry {
    cell: Arc<Cell>,
    // The typed cell (the same as `cell`), for `whereis_addr`: every way of naming a process
    // records it.
    tx: Option<Arc<dyn Any + Send + Sync>>,
}

#[derive(Default)]
pub(crate) struct Registry {
    names: Mutex<HashMap<Arc<str>, Entry>>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, Entry>> {
        self.names.locked()
    }

    fn insert(
        &self,
        name: Arc<str>,
        cell: &Arc<Cell>,
        tx: Option<Arc<dyn Any + Send + Sync>>,
    ) -> Result<(), RegisterError> {
        let mut names = self.lock();
        if let Some(e) = names.get(&name) {
            return Err(RegisterError::Taken {
                name: name.to_string(),
                pid: e.cell.pid,
            });
        }
        names.insert(
            name,
            Entry {
                cell: cell.clone(),
                tx,
            },
        );
        Ok(())
    }

    /// Registers a process that is being spawned, with its mailbox (its cell records the name
    /// itself).
    pub(crate) fn register_spawned<M: Send + 'static>(
        &self,
        name: Arc<str>,
        cell: &Arc<Cell>,
        tx: &Arc<TypedCell<M>>,
    ) -> Result<(), RegisterError> {
        self.insert(name, cell, Some(tx.clone()))
    }

    pub(crate) fn register_addr<M: Send + 'static>(
        &self,
        name: Arc<str>,
        addr: &Addr<M>,
    ) -> Result<(), RegisterError> {
        let cell = &addr.handle.cell;
        // Hold the process's lock across the insert so that it cannot exit in between and
        // leave the name behind.
        let mut st = cell.lock();
        if st.exit.is_some() {
            return Err(RegisterError::NoProc(cell.pid));
        }
        if let Some(old) = st.name() {
            return Err(RegisterError::AlreadyNamed {
                pid: cell.pid,
                name: old.to_string(),
            });
        }
        self.insert(name.clone(), cell, Some(addr.tx.clone()))?;
        st.set_name(Some(name));
        Ok(())
    }

    /// Removes `name` if it still belongs to `pid`.
    pub(crate) fn release(&self, name: &str, pid: Pid) {
        let mut names = self.lock();
        if names.get(name).is_some_and(|e| e.cell.pid == pid) {
            names.remove(name);
        }
    }

    pub(crate) fn whereis(&self, name: &str) -> Option<Arc<Cell>> {
        self.lock().get(name).map(|e| e.cell.clone())
    }

    pub(crate) fn whereis_tx<M: Send + 'static>(
        &self,
        name: &str,
    ) -> Option<(Arc<Cell>, Arc<TypedCell<M>>)> {
        let names = self.lock();
        let e = names.get(name)?;
        let tx = e.tx.clone()?.downcast::<TypedCell<M>>().ok()?;
        Some((e.cell.clone(), tx))
    }

    pub(crate) fn names(&self) -> Vec<(String, Pid)> {
        self.lock()
            .iter()
            .map(|(n, e)| (n.to_string(), e.cell.pid))
            .collect()
    }
}
