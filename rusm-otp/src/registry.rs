//! The name registry: `register`, `whereis`, `unregister`, as Erlang's local names
//! (<https://www.erlang.org/doc/apps/erts/erlang#register/2>).
//!
//! A name belongs to one live process; it is released when that process exits, before its
//! links and monitors are signalled, so a supervisor restarting a named child always finds the
//! name free. Supervised children given a name ([`ChildSpec::name`](crate::ChildSpec::name))
//! are registered by their supervisor at every (re)start, before their body runs: code that
//! addresses them by name never holds a stale handle.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::lock::Unpoisoned;
use crate::process::mailbox::TypedCell;

use crate::error::RegisterError;
use crate::process::cell::Cell;
use crate::process::{Addr, Pid, ProcessHandle};
use crate::runtime::Runtime;

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

    fn whereis(&self, name: &str) -> Option<Arc<Cell>> {
        self.lock().get(name).map(|e| e.cell.clone())
    }

    fn whereis_tx<M: Send + 'static>(&self, name: &str) -> Option<(Arc<Cell>, Arc<TypedCell<M>>)> {
        let names = self.lock();
        let e = names.get(name)?;
        let tx = e.tx.clone()?.downcast::<TypedCell<M>>().ok()?;
        Some((e.cell.clone(), tx))
    }

    fn names(&self) -> Vec<(String, Pid)> {
        self.lock()
            .iter()
            .map(|(n, e)| (n.to_string(), e.cell.pid))
            .collect()
    }
}

impl Runtime {
    /// Registers a process under `name` (`register/2`).
    ///
    /// # Errors
    ///
    /// [`RegisterError::Taken`] if another process has the name, [`RegisterError::AlreadyNamed`]
    /// if this one has another name, [`RegisterError::NoProc`] if it is dead.
    ///
    /// # Examples
    ///
    /// ```
    /// # use rusm_otp::{Runtime, Msg};
    /// # let rt = Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let p = rt.spawn(|mut ctx: rusm_otp::Ctx<u8>| async move { let _ = ctx.recv().await; });
    /// rt.register("logger", &p).unwrap();
    /// let found: rusm_otp::Addr<u8> = rt.whereis_addr("logger").unwrap();
    /// assert_eq!(found.pid(), p.pid());
    /// found.send(1).unwrap();
    /// p.wait().await;
    /// assert!(rt.whereis("logger").is_none());
    /// # });
    /// ```
    pub fn register<M: Send + 'static>(
        &self,
        name: impl Into<Arc<str>>,
        addr: &Addr<M>,
    ) -> Result<(), RegisterError> {
        self.inner.registry.register_addr(name.into(), addr)
    }

    /// Removes a name (`unregister/1`). Returns whether it was registered.
    pub fn unregister(&self, name: &str) -> bool {
        let Some(cell) = self.inner.registry.whereis(name) else {
            return false;
        };
        let mut st = cell.lock();
        if st.name().is_some_and(|n| &**n == name) {
            st.set_name(None);
        }
        drop(st);
        self.inner.registry.release(name, cell.pid);
        true
    }

    /// The process registered under `name` (`whereis/1`).
    pub fn whereis(&self, name: &str) -> Option<ProcessHandle> {
        self.inner
            .registry
            .whereis(name)
            .map(ProcessHandle::from_cell)
    }

    /// The typed address of the process registered under `name`; `None` if there is none or its
    /// mailbox does not take `M`.
    pub fn whereis_addr<M: Send + 'static>(&self, name: &str) -> Option<Addr<M>> {
        let (cell, tx) = self.inner.registry.whereis_tx::<M>(name)?;
        Some(Addr {
            handle: ProcessHandle::from_cell(cell),
            tx,
        })
    }

    /// Every registered name with its pid (`registered/0`).
    pub fn registered(&self) -> Vec<(String, Pid)> {
        self.inner.registry.names()
    }
}
