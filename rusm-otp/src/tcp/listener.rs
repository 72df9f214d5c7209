//! [`Listener`]: the handle `listen` returns — info, max connections at run time,
//! suspend/resume, drain.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};

use crate::exit::ExitReason;
use crate::lock::Unpoisoned;
use crate::process::addr::ProcessHandle;
use crate::supervisor::{DynamicSupervisorRef, SupervisorRef};
use crate::tcp::config::{ListenerConfig, UNLIMITED};
use crate::tcp::socket::bind;

/// The state a listener shares between its handle and its acceptors.
pub(crate) struct Control {
    /// The listening socket; `None` while suspended or stopped. Replaced, never reused:
    /// `generation` counts the changes so acceptors refresh their copy with one atomic load.
    socket: Mutex<Option<Arc<TcpListener>>>,
    generation: AtomicU64,
    /// Options to bind again with on `resume` (the address is the bound one).
    rebind: ListenerConfig,
    /// One permit per free connection slot; acceptors take one before accepting.
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) max: AtomicUsize,
    /// Connections accepted and not yet ended: exact, unlike the permits, of which acceptors
    /// waiting in `accept` hold one each.
    live: AtomicUsize,
    /// Connections accepted since the listener started (ranch's accept count).
    accepted: AtomicU64,
    /// Acceptors waiting in [`Control::occupy`] for a lowered limit, and their wake-up.
    over_limit: AtomicUsize,
    slot_freed: Notify,
    pub(crate) conns: Mutex<Option<DynamicSupervisorRef>>,
    /// Set by `drain`: acceptors that see the socket shut down park instead of exiting.
    pub(crate) stopping: AtomicBool,
    /// Set, under the runtime's listener list lock, when the listener has stopped.
    pub(crate) stopped: AtomicBool,
    /// `true` while suspended: the socket is not listening and acceptors wait for `false`.
    pub(crate) suspended: watch::Sender<bool>,
    pub(crate) acceptors: usize,
    pub(crate) addr: SocketAddr,
    /// Accept errors seen, by class (`AcceptErrorClass as usize`).
    pub(crate) errors: [AtomicU64; 4],
    /// Errors injected by [`Listener::inject_accept_errors`]; `injecting` keeps the accept
    /// path to one relaxed load when there are none.
    injected: Mutex<Injected>,
    injecting: AtomicBool,
}

impl Control {
    pub(crate) fn new(listener: TcpListener, config: &ListenerConfig) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        let mut rebind = config.clone();
        rebind.addr = addr.to_string();
        Ok(Control {
            addr,
            socket: Mutex::new(Some(Arc::new(listener))),
            generation: AtomicU64::new(0),
            rebind,
            slots: Arc::new(Semaphore::new(config.max_connections.min(UNLIMITED))),
            max: AtomicUsize::new(config.max_connections.min(UNLIMITED)),
            live: AtomicUsize::new(0),
            accepted: AtomicU64::new(0),
            over_limit: AtomicUsize::new(0),
            slot_freed: Notify::new(),
            conns: Mutex::new(None),
            stopping: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            suspended: watch::Sender::new(false),
            acceptors: config.acceptors,
            errors: Default::default(),
            injected: Mutex::new(Injected::default()),
            injecting: AtomicBool::new(false),
        })
    }

    pub(crate) fn conns(&self) -> Option<DynamicSupervisorRef> {
        self.conns.locked().clone()
    }

    /// The socket's generation; it changes whenever the socket is closed or replaced.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The current socket and its generation.
    pub(crate) fn socket(&self) -> (u64, Option<Arc<TcpListener>>) {
        let socket = self.socket.locked();
        (self.generation(), socket.clone())
    }

    /// Stops listening at once: `shutdown(2)` refuses new connects and wakes every acceptor
    /// waiting in `accept`, even one slow to drop its copy of the socket.
    pub(crate) fn close_socket(&self) {
        let old = {
            let mut socket = self.socket.locked();
            self.generation.fetch_add(1, Ordering::AcqRel);
            socket.take()
        };
        if let Some(old) = old {
            let _ = socket2::SockRef::from(&*old).shutdown(std::net::Shutdown::Both);
        }
    }

    /// Binds a fresh socket on the bound address, with the listener's options.
    fn open_socket(&self) -> io::Result<()> {
        let fresh = Arc::new(bind(&self.rebind)?);
        let mut socket = self.socket.locked();
        self.generation.fetch_add(1, Ordering::AcqRel);
        *socket = Some(fresh);
        Ok(())
    }

    /// Counts an accepted connection. Its permit guarantees room unless max connections was
    /// lowered while the acceptor waited in `accept` with it; then the connection waits,
    /// accepted but not served, until enough others end, so the limit holds exactly.
    pub(crate) async fn occupy(self: &Arc<Self>, permit: OwnedSemaphorePermit) -> Slot {
        permit.forget();
        self.accepted.fetch_add(1, Ordering::Relaxed);
        let slot = Slot {
            control: self.clone(),
        };
        if self.live.fetch_add(1, Ordering::SeqCst) >= self.max.load(Ordering::SeqCst) {
            self.over_limit.fetch_add(1, Ordering::SeqCst);
            loop {
                let freed = self.slot_freed.notified();
                let mut freed = std::pin::pin!(freed);
                freed.as_mut().enable();
                if self.live.load(Ordering::SeqCst) <= self.max.load(Ordering::SeqCst) {
                    break;
                }
                freed.await;
            }
            self.over_limit.fetch_sub(1, Ordering::SeqCst);
        }
        slot
    }

    /// Waits while the listener is suspended.
    pub(crate) async fn resumed(&self) {
        if *self.suspended.borrow() {
            let _ = self.suspended.subscribe().wait_for(|s| !*s).await;
        }
    }

    /// Accepts one connection on `socket`, or returns the next injected error.
    pub(crate) async fn accept(&self, socket: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
        if self.injecting.load(Ordering::Relaxed) {
            if let Some(next) = self.injected().next() {
                return next;
            }
        }
        let accepted = socket.accept().await?;
        if self.injecting.load(Ordering::Relaxed) {
            // An acceptor already waiting in accept(2) when errors were injected: the errors
            // come first, this connection after them.
            let mut q = self.injected();
            if let Some(e) = q.errors.pop_front() {
                q.held.push_back(accepted);
                return Err(e);
            }
        }
        Ok(accepted)
    }

    fn injected(&self) -> InjectedGuard<'_> {
        InjectedGuard {
            q: self.injected.locked(),
            flag: &self.injecting,
        }
    }
}

/// A connection's place under max connections; freed when its process ends.
/// Holds one permit of `control.slots`, forgotten when taken and given back on drop (a
/// pointer, where an `OwnedSemaphorePermit` would add the semaphore's).
pub(crate) struct Slot {
    pub(crate) control: Arc<Control>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.control.live.fetch_sub(1, Ordering::SeqCst);
        if self.control.over_limit.load(Ordering::SeqCst) > 0 {
            self.control.slot_freed.notify_waiters();
        }
        self.control.slots.add_permits(1);
    }
}

/// Injected accept errors, and connections accepted while errors were pending.
#[derive(Default)]
struct Injected {
    errors: VecDeque<io::Error>,
    held: VecDeque<(TcpStream, SocketAddr)>,
}

/// The locked queue; dropping it updates the `injecting` flag.
struct InjectedGuard<'a> {
    q: std::sync::MutexGuard<'a, Injected>,
    flag: &'a AtomicBool,
}

impl InjectedGuard<'_> {
    fn next(&mut self) -> Option<io::Result<(TcpStream, SocketAddr)>> {
        match self.q.errors.pop_front() {
            Some(e) => Some(Err(e)),
            None => self.q.held.pop_front().map(Ok),
        }
    }
}

impl std::ops::Deref for InjectedGuard<'_> {
    type Target = Injected;
    fn deref(&self) -> &Injected {
        &self.q
    }
}

impl std::ops::DerefMut for InjectedGuard<'_> {
    fn deref_mut(&mut self) -> &mut Injected {
        &mut self.q
    }
}

impl Drop for InjectedGuard<'_> {
    fn drop(&mut self) {
        let pending = !self.q.errors.is_empty() || !self.q.held.is_empty();
        self.flag.store(pending, Ordering::Relaxed);
    }
}

/// A running listener. Dereferences to the listener supervisor's [`ProcessHandle`]: `kill()`
/// stops it at once (the port is free as soon as it returns from `wait`).
#[derive(Clone)]
pub struct Listener {
    pub(crate) handle: ProcessHandle,
    pub(crate) sup: SupervisorRef,
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

/// The running listeners of a runtime, in start order (the runtime keeps it for this layer,
/// `Inner::slot`); each removes itself when it stops.
#[derive(Default)]
pub(crate) struct Listeners(pub(crate) Mutex<Vec<Listener>>);

/// A listener's figures ([`Listener::info`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerInfo {
    /// The bound address.
    pub addr: SocketAddr,
    /// Number of acceptors.
    pub acceptors: usize,
    /// Connection processes alive now.
    pub connections: usize,
    /// Connections accepted since the listener started (a counter: the accept rate is its
    /// change over time).
    pub accepted: u64,
    /// The limit on connection processes.
    pub max_connections: usize,
    /// Whether it accepts now (false while suspended and once draining).
    pub accepting: bool,
    /// Accept errors seen since the listener started, by class.
    pub accept_errors: AcceptErrors,
}

/// Accept errors a listener has seen, by what they mean and what the acceptors did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AcceptErrors {
    /// Errors of one pending connection (`ECONNABORTED`, `EPROTO`, …): retried at once.
    pub per_connection: u64,
    /// Out of descriptors, buffers or memory (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`):
    /// each one backed off 100 ms.
    pub resource: u64,
    /// The listening socket is gone (`EBADF`, `ENOTSOCK`, `EINVAL`, `EFAULT`): each one ended
    /// an acceptor, for its supervisor to restart.
    pub listener_dead: u64,
    /// Anything else: backed off; ten in a row end the acceptor.
    pub unknown: u64,
}

impl Listener {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.control.addr
    }

    /// Connection processes alive now.
    pub fn connections(&self) -> usize {
        self.control
            .conns()
            .map_or(0, |c| c.shared.count_now().specs)
    }

    /// The listener's figures.
    pub fn info(&self) -> ListenerInfo {
        ListenerInfo {
            addr: self.control.addr,
            acceptors: self.control.acceptors,
            connections: self.connections(),
            accepted: self.control.accepted.load(Ordering::Relaxed),
            max_connections: self.control.max.load(Ordering::Acquire),
            accepting: self.handle.is_alive()
                && !self.control.stopping.load(Ordering::Acquire)
                && !*self.control.suspended.borrow(),
            accept_errors: {
                let e = &self.control.errors;
                let n = |i: usize| e[i].load(Ordering::Relaxed);
                AcceptErrors {
                    per_connection: n(0),
                    resource: n(1),
                    listener_dead: n(2),
                    unknown: n(3),
                }
            },
        }
    }

    /// Changes max connections at run time (ranch's `set_max_connections`). Raising it wakes
    /// waiting acceptors at once; lowering it stops nothing: acceptors wait until enough
    /// connections have ended.
    pub fn set_max_connections(&self, max: usize) {
        let max = max.clamp(1, UNLIMITED);
        let old = self.control.max.swap(max, Ordering::AcqRel);
        if max > old {
            self.control.slots.add_permits(max - old);
        } else if max < old {
            // Retire slots as connections end; the semaphore is fair, so acceptors queue
            // behind this.
            let slots = self.control.slots.clone();
            let n = u32::try_from(old - max).unwrap_or(u32::MAX);
            self.handle.rt().handle.spawn(async move {
                if let Ok(p) = slots.acquire_many_owned(n).await {
                    p.forget();
                }
            });
        }
    }

    /// Stops accepting, keeping every connection (ranch's `suspend_listener`): the listening
    /// socket is closed, so new connects are refused and clients queued in its backlog are
    /// reset. Undo with [`resume`](Self::resume).
    pub fn suspend(&self) {
        if self.control.suspended.send_replace(true) {
            return;
        }
        self.control.close_socket();
        tracing::info!(addr = %self.control.addr, "listener suspended");
    }

    /// Listens again on the same address after [`suspend`](Self::suspend)
    /// (ranch's `resume_listener`); the acceptors go back to accepting.
    ///
    /// # Errors
    ///
    /// The `io::Error` of binding the address again (another program may have taken the
    /// port meanwhile); the listener then stays suspended.
    pub fn resume(&self) -> io::Result<()> {
        if !*self.control.suspended.borrow() || self.control.stopping.load(Ordering::Acquire) {
            return Ok(());
        }
        self.control.open_socket()?;
        self.control.suspended.send_replace(false);
        tracing::info!(addr = %self.control.addr, "listener resumed");
        Ok(())
    }

    /// Fault injection for tests: the next accepts fail with `errors`, in order, as if
    /// `accept(2)` had returned them, and the acceptors handle each by its class (see
    /// [`AcceptErrors`]). An acceptor already waiting in `accept(2)` sees them when its next
    /// connection arrives, before that connection. Real accepts resume once they are used up.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    /// # let rt = rusm_otp::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (addr, listener) = rt.listen("127.0.0.1:0", |_ctx, _s| async {}).await.unwrap();
    /// listener.inject_accept_errors([io::Error::from_raw_os_error(103)]); // ECONNABORTED
    /// let _client = rusm_otp::connect(addr).await.unwrap();
    /// # });
    /// ```
    pub fn inject_accept_errors(&self, errors: impl IntoIterator<Item = io::Error>) {
        self.control.injected().errors.extend(errors);
    }

    /// Drains the listener in one call: stops accepting at once (new connects are refused),
    /// reports the connections left to `progress` (now, then every 100 ms), kills those still
    /// open at `timeout`, then stops the listener. Returns the listener's exit reason.
    ///
    /// A drain is an orderly stop, not a crash. A listener started as a child of a supervisor
    /// ([`ListenerConfig::child_spec`]) is not restarted, whatever its restart type: it is left
    /// a stopped child with its spec kept, as `terminate_child` leaves one, and
    /// `restart_child` starts it again (binding its address again); under a dynamic
    /// supervisor, it is forgotten.
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe: at the first poll the listener closes its socket (new
    /// connects are refused) and is marked to be left stopped, not restarted, however it ends.
    /// Dropping the future then leaves it so, not accepting, its open connections neither
    /// waited for nor killed; the listener itself is stopped only if the future runs to the
    /// end.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use rusm_otp::{ListenerConfig, Runtime, Strategy, SupervisorSpec};
    ///
    /// let rt = Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let web = ListenerConfig::new("127.0.0.1:0").child_spec("web", |_ctx, _s| async {});
    ///     let app = rt
    ///         .start_supervisor(SupervisorSpec::new(Strategy::OneForOne).child(web))
    ///         .await
    ///         .unwrap();
    ///     rt.listeners()[0].drain(Duration::from_secs(5), |_left| {}).await;
    ///     let web = &app.which_children().await.unwrap()[0];
    ///     assert_eq!((web.pid, web.restarting), (None, false), "stopped, not restarted");
    ///     app.restart_child("web").await.unwrap();
    ///     assert_eq!(rt.listeners().len(), 1);
    ///     app.stop().await;
    /// });
    /// ```
    pub async fn drain(&self, timeout: Duration, mut progress: impl FnMut(usize)) -> ExitReason {
        // Marked first: however the listener ends from here on, its supervisor leaves it
        // stopped rather than restart it (binding the port again would undo the drain).
        self.handle.cell.lock().orderly = true;
        self.control.stopping.store(true, Ordering::Release);
        self.control.close_socket();
        tracing::info!(addr = %self.control.addr, "listener draining");
        // Duration::MAX: wait as long as connections last (OTP's `infinity`).
        let deadline = tokio::time::Instant::now().checked_add(timeout);
        loop {
            let left = self.connections();
            progress(left);
            let now = tokio::time::Instant::now();
            let wait = deadline.map_or(Duration::MAX, |d| d.saturating_duration_since(now));
            if left == 0 || wait.is_zero() {
                break;
            }
            tokio::time::sleep(wait.min(Duration::from_millis(100))).await;
        }
        if let Some(conns) = self.control.conns() {
            let mut killed = 0usize;
            for c in conns.shared.which_children_now() {
                if let Some(pid) = c.pid {
                    if let Some(h) = self.handle.runtime().process(pid) {
                        h.cell.lock().orderly = true;
                        h.kill();
                        killed += 1;
                    }
                }
            }
            if killed > 0 {
                tracing::info!(addr = %self.control.addr, connections = killed, "drain timeout: killed the connections left");
            }
        }
        self.sup.stop().await
    }
}
