//! The name registry: `register`, `whereis`, `unregister`, as Erlang's local names
//! (<https://www.erlang.org/doc/apps/erts/erlang#register/2>).
//!
//! A name belongs to one live process; it is released when that process exits, before its
//! links and monitors are signalled, so a supervisor restarting a named child always finds the
//! name free. Supervised children given a name ([`ChildSpec::name`](crate::ChildSpec::name))
//! are registered by their supervisor at every (re)start, before their body runs: code that
//! addresses them by name never holds a stale handle.

use std::sync::Arc;

use crate::error::RegisterError;
use crate::pid::Pid;
use crate::process::addr::{Addr, ProcessHandle};
use crate::process::mailbox::Ctx;
use crate::runtime::Runtime;

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

impl<M> Ctx<M> {
    /// Registers this process under `name` until it exits or [`unregister`](Self::unregister)s.
    ///
    /// # Errors
    ///
    /// [`RegisterError`] when the name is taken or this process already has a name.
    pub fn register(&self, name: impl Into<Arc<str>>) -> Result<(), RegisterError>
    where
        M: Send + 'static,
    {
        let rt = self.addr.handle.cell.rt();
        rt.registry.register_addr(name.into(), &self.addr)
    }

    /// Releases this process's registered name, if it has one.
    pub fn unregister(&self) {
        let name = self.addr.handle.cell.lock().take_name();
        if let Some(name) = name {
            self.addr
                .handle
                .cell
                .rt()
                .registry
                .release(&name, self.pid());
        }
    }
}
