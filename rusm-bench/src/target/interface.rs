//! What the engine and a target exchange: the [`Target`] trait, the echo server's options and
//! the guard that keeps it running, the bounds of each process scenario and what each returns.
//! The targets (`raw_tokio.rs`, `rusm.rs`) and the engine's modules all import these from
//! here; nothing here depends on a target.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A boxed, sendable future: what [`Target`] methods return, so the trait stays object safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How the engine wants an echo server configured; both targets must honour every field so that
/// they run the same handler.
#[derive(Debug, Clone)]
pub struct EchoServerOpts {
    /// Address to listen on; port 0 picks a free one.
    pub addr: SocketAddr,
    /// Listen backlog. `tokio::net::TcpListener::bind` uses 128, which makes opening 10k
    /// connections take seconds, so the engine asks for ≥ 1024.
    pub backlog: u32,
    /// Size of the per-connection read buffer, allocated once per connection.
    pub buf_size: usize,
    /// Set `SO_REUSEPORT`, so several server processes can share the port.
    pub reuse_port: bool,
    /// Acceptors per listening socket (RUSM's option; tokio: accept tasks on one socket).
    /// `None`: each side's default (RUSM 2, tokio 1).
    pub acceptors: Option<usize>,
    /// Listening sockets on the same port, with `SO_REUSEPORT`; the kernel spreads
    /// connections over them.
    pub listeners: usize,
    /// Serve TLS with this configuration (the `tls-*` scenarios): RUSM's listener option,
    /// tokio-rustls in each connection's task for tokio. `None`: plain TCP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for EchoServerOpts {
    fn default() -> Self {
        EchoServerOpts {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            backlog: 1024,
            buf_size: 4096,
            reuse_port: false,
            acceptors: None,
            listeners: 1,
            tls: None,
        }
    }
}

/// Keeps an echo server running; dropping it stops accepting (live connections may end with the
/// runtime the server runs on, which the engine shuts down right after).
pub struct ServerGuard {
    _inner: Box<dyn Any + Send>,
}

impl ServerGuard {
    /// Wraps whatever keeps the server alive (a task handle that aborts on drop, a listener
    /// handle, a shutdown sender, …).
    pub fn new<T: Send + 'static>(inner: T) -> Self {
        ServerGuard {
            _inner: Box::new(inner),
        }
    }
}

impl fmt::Debug for ServerGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerGuard").finish_non_exhaustive()
    }
}

/// Bounds of one process scenario: a count and a deadline; whichever comes first ends it.
#[derive(Debug, Clone, Copy)]
pub struct ProcessRun {
    /// How many units to do: spawns, round trips, idle processes, messages per sender, restarts.
    pub count: u64,
    /// For `fan-in`: how many senders (each sends `count` messages).
    pub senders: u64,
    /// Stop starting new work after this instant.
    pub deadline: Instant,
}

/// What a process scenario did: the engine turns it into a rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessOutcome {
    /// Units completed (spawned-and-exited, round trips, messages received, restarts).
    pub done: u64,
    /// Time from the first unit started to the last completed.
    pub elapsed: Duration,
}

/// Bounds and shape of `server-call`: `clients` processes, each with `in_flight` calls to one
/// server outstanding at a time, `calls` calls per client in all.
#[derive(Debug, Clone, Copy)]
pub struct ServerCallRun {
    /// Client processes.
    pub clients: u64,
    /// Calls each client keeps in flight (1: unpipelined, each call waits for the previous).
    pub in_flight: u64,
    /// Calls per client.
    pub calls: u64,
    /// Keys in the server's map (`0..keys`, each mapped to `2k + 1`); every reply is checked.
    pub keys: u64,
    /// Stop starting new calls after this instant.
    pub deadline: Instant,
}

/// What `server-call` did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CallsOutcome {
    /// Calls answered with the right value.
    pub done: u64,
    /// Calls that failed (timeout, dead server) or got a wrong reply.
    pub failed: u64,
    /// From the first call sent to the last client finished.
    pub elapsed: Duration,
}

/// Bounds and shape of `broadcast`: one message at a time to a group of `members` processes.
#[derive(Debug, Clone, Copy)]
pub struct BroadcastRun {
    /// Processes in the group.
    pub members: u64,
    /// Broadcasts; each is sent to every member and received by all before the next.
    pub broadcasts: u64,
    /// Bytes per message (an `Arc<[u8]>` frame, shared by all members).
    pub size: usize,
    /// Stop starting new broadcasts after this instant.
    pub deadline: Instant,
}

/// Idle processes kept alive for a memory measurement; see [`Target::idle_processes`].
pub trait IdleSet: Send + fmt::Debug {
    /// How many processes are alive and blocked on receive.
    fn len(&self) -> usize;

    /// Whether the set is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Wakes every process (closes its mailbox or sends it a stop message) and resolves once
    /// all have exited.
    fn release(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// A runtime under test. The engine polls every future on a tokio runtime it built (a 2-worker
/// multi-thread runtime for servers, one worker per core for process scenarios), so a target
/// spawns onto the ambient runtime with `tokio::spawn` or its own equivalent.
pub trait Target: Send + Sync + fmt::Debug {
    /// Short name printed in reports: `"rusm"` or `"tokio"`.
    fn name(&self) -> &'static str;

    /// Binds a listener as `opts` says and serves an echo handler on every accepted connection
    /// (read up to `buf_size` bytes, write them back, until EOF or error). Resolves once the
    /// listener accepts connections.
    fn start_echo_server<'a>(
        &'a self,
        opts: &'a EchoServerOpts,
    ) -> BoxFuture<'a, io::Result<(SocketAddr, ServerGuard)>>;

    /// `spawn-storm`: spawns `run.count` processes that exit at once and waits until all have
    /// exited.
    fn spawn_storm(&self, run: ProcessRun) -> BoxFuture<'_, ProcessOutcome>;

    /// `ping-pong`: two processes exchange a `u64` `run.count` times (one round trip = there and
    /// back) through their mailboxes.
    fn ping_pong(&self, run: ProcessRun) -> BoxFuture<'_, ProcessOutcome>;

    /// `idle-memory`: spawns `run.count` processes blocked on receive and resolves once every
    /// one of them is parked; the engine reads RSS before and after, then releases them.
    fn idle_processes(&self, run: ProcessRun) -> BoxFuture<'_, Box<dyn IdleSet>>;

    /// `fan-in`: `run.senders` processes each send `run.count` messages to one receiver;
    /// `done` counts messages the receiver got.
    fn fan_in(&self, run: ProcessRun) -> BoxFuture<'_, ProcessOutcome>;

    /// `restart-storm`: a child that crashes at once, restarted by its supervisor (for RUSM, a
    /// `one_for_one` supervisor with an intensity high enough not to give up) until the
    /// deadline or `run.count` restarts; `done` counts restarts. The engine silences the panic
    /// hook meanwhile.
    fn restart_storm(&self, run: ProcessRun) -> BoxFuture<'_, ProcessOutcome>;

    /// `server-call`: `run.clients` processes each keep `run.in_flight` calls in flight to one
    /// server that holds a map of `run.keys` keys, `run.calls` calls per client; for RUSM a
    /// gen_server called with `ServerRef::call` (5 s timeout), for tokio the hand-written actor
    /// (a task, an unbounded mpsc, a oneshot per call, `tokio::time::timeout` of 5 s).
    fn server_call(&self, run: ServerCallRun) -> BoxFuture<'_, CallsOutcome>;

    /// `broadcast`: spawns `run.members` connection-shaped processes (a mailbox of `Arc<[u8]>`
    /// frames, each copied into the connection's own output buffer), then sends
    /// `run.broadcasts` frames to all of them, one at a time, each received by every member
    /// before the next; `done` counts deliveries, `elapsed` the broadcasts alone (not the
    /// spawning). RUSM sends to a `pg` group; tokio loops over the unbounded senders.
    fn broadcast(&self, run: BroadcastRun) -> BoxFuture<'_, ProcessOutcome>;

    /// Processes alive now, for the dashboard; `None` lets the engine use tokio's own count
    /// of alive tasks.
    fn alive_processes(&self) -> Option<u64> {
        None
    }

    /// The live supervision tree as JSON (`{"name", "restarts", "children": [...]}`), for the
    /// dashboard; `None` when the target has no tree.
    fn tree_json(&self) -> Option<String> {
        None
    }
}
