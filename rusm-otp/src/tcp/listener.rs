//! [`Listener`]: the handle `listen` returns — info, max connections at run time, drain.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::exit::ExitReason;
use crate::process::ProcessHandle;
use crate::supervisor::DynamicSupervisorRef;

/// The state a listener shares between its handle and its acceptors.
pub(crate) struct Control {
    pub(crate) listener: Arc<TcpListener>,
    /// One permit per free connection slot; acceptors take one before accepting.
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) max: AtomicUsize,
    pub(crate) conns: Mutex<Option<DynamicSupervisorRef>>,
    /// Set by `drain`: acceptors that see the socket shut down park instead of exiting.
    pub(crate) stopping: AtomicBool,
    pub(crate) acceptors: usize,
    pub(crate) addr: SocketAddr,
}

impl Control {
    fn conns(&self) -> Option<DynamicSupervisorRef> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A running listener. Dereferences to the listener supervisor's [`ProcessHandle`]: `kill()`
/// stops it at once (the port is free as soon as it returns from `wait`).
#[derive(Clone)]
pub struct Listener {
    pub(crate) handle: ProcessHandle,
    pub(crate) control: Arc<Control>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("addr", &self.control.addr)
            .field("pid", &self.handle.pid())
            .finish()
    }
}

impl std::ops::Deref for Listener {
    type Target = ProcessHandle;
    fn deref(&self) -> &ProcessHandle {
        &self.handle
    }
}

/// A listener's figures ([`Listener::info`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerInfo {
    /// The bound address.
    pub addr: SocketAddr,
    /// Number of acceptors.
    pub acceptors: usize,
    /// Connection processes alive now.
    pub connections: usize,
    /// The limit on connection processes.
    pub max_connections: usize,
    /// Whether it still accepts (false once draining).
    pub accepting: bool,
}

impl Listener {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.control.addr
    }

    /// Connection processes alive now.
    pub fn connections(&self) -> usize {
        self.control.conns().map_or(0, |c| c.count_children().specs)
    }

    /// The listener's figures.
    pub fn info(&self) -> ListenerInfo {
        ListenerInfo {
            addr: self.control.addr,
            acceptors: self.control.acceptors,
            connections: self.connections(),
            max_connections: self.control.max.load(Ordering::Acquire),
            accepting: self.handle.is_alive() && !self.control.stopping.load(Ordering::Acquire),
        }
    }

    /// Changes max connections at run time (ranch's `set_max_connections`). Raising it wakes
    /// waiting acceptors at once; lowering it stops nothing: acceptors wait until enough
    /// connections have ended.
    pub fn set_max_connections(&self, max: usize) {
        let max = max.clamp(1, Semaphore::MAX_PERMITS);
        let old = self.control.max.swap(max, Ordering::AcqRel);
        if max > old {
            self.control.slots.add_permits(max - old);
        } else if max < old {
            // Retire slots as connections end; the semaphore is fair, so acceptors queue
            // behind this.
            let slots = self.control.slots.clone();
            let n = u32::try_from(old - max).unwrap_or(u32::MAX);
            self.handle.rt.handle.spawn(async move {
                if let Ok(p) = slots.acquire_many_owned(n).await {
                    p.forget();
                }
            });
        }
    }

    /// Drains the listener in one call: stops accepting at once (new connects are refused),
    /// reports the connections left to `progress` (now, then every 100 ms), kills those still
    /// open at `timeout`, then stops the listener. Returns the listener's exit reason.
    pub async fn drain(&self, timeout: Duration, mut progress: impl FnMut(usize)) -> ExitReason {
        self.control.stopping.store(true, Ordering::Release);
        let _ = socket2::SockRef::from(&*self.control.listener).shutdown(std::net::Shutdown::Both);
        tracing::info!(addr = %self.control.addr, "listener draining");
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = self.connections();
            progress(left);
            let now = tokio::time::Instant::now();
            if left == 0 || now >= deadline {
                break;
            }
            tokio::time::sleep((deadline - now).min(Duration::from_millis(100))).await;
        }
        if let Some(conns) = self.control.conns() {
            for c in conns.which_children() {
                if let Some(pid) = c.pid {
                    if let Some(h) = self.handle.runtime().process(pid) {
                        h.kill();
                    }
                }
            }
        }
        self.handle.exit(ExitReason::Shutdown(None));
        self.handle.wait().await
    }
}
