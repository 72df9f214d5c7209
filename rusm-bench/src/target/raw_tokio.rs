//! Raw tokio, the baseline: what a careful tokio user writes by hand.
//!
//! The echo server is a `TcpListener` bound through socket2 (so the backlog is the engine's,
//! not tokio's 128) and one `tokio::spawn`ed echo loop per connection; over TLS, the task does
//! the tokio-rustls handshake first, under a 10 s timeout (never the accept loop). Process scenarios use a
//! task for a process and `tokio::sync::mpsc::unbounded_channel` for a mailbox (the like-for-like
//! programs, [`Target`]'s methods), and the bare-tokio physical limits next to them
//! (`*_bare`: a bare `tokio::spawn`, a task parked on nothing, channels made up front); those
//! programs are in `raw_tokio_process.rs` (their floors in `raw_tokio_floor.rs`), the echo server, `server-call` and `broadcast` here.
//! Nothing here counts or instruments: the engine measures from outside.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::countdown::Countdown;
use super::interface::{
    BoxFuture, BroadcastRun, CallsOutcome, EchoServerOpts, IdleSet, ProcessOutcome, ProcessRun,
    ServerCallRun, ServerGuard, Target,
};
use super::load::{self, Deliveries, OutBuf, Tally, Totals, CALL_TIMEOUT, ROUND_GRACE};
use super::{raw_tokio_floor, raw_tokio_process};
use crate::net;

/// The raw tokio target.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioTarget;

impl TokioTarget {
    /// Creates the target.
    pub fn new() -> Self {
        TokioTarget
    }
}

/// Aborts the accept loop when the engine drops the server.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How long a TLS handshake may take, as RUSM's default handshake timeout.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

async fn accept_loop(
    listener: Arc<TcpListener>,
    buf_size: usize,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => match &tls {
                None => drop(tokio::spawn(echo(stream, buf_size))),
                Some(acceptor) => {
                    let accept = acceptor.accept(stream);
                    drop(tokio::spawn(async move {
                        if let Ok(Ok(stream)) =
                            tokio::time::timeout(HANDSHAKE_TIMEOUT, accept).await
                        {
                            echo(stream, buf_size).await;
                        }
                    }));
                }
            },
            // Out of fds, or a connection reset before accept: keep serving the others, as a
            // production server would; the client side counts what failed.
            Err(e) if net::is_transient_accept_error(&e) => {
                tokio::time::sleep(net::ACCEPT_BACKOFF).await;
            }
            Err(_) => return,
        }
    }
}

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, buf_size: usize) {
    let mut buf = vec![0u8; buf_size];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// A request to the hand-written actor: the key and where to send the reply.
struct Get(u64, oneshot::Sender<Option<u64>>);

/// The hand-written actor: a task that owns the map and answers each request on its oneshot.
async fn actor(mut rx: mpsc::UnboundedReceiver<Get>, map: HashMap<u64, u64>) {
    while let Some(Get(key, reply)) = rx.recv().await {
        let _ = reply.send(map.get(&key).copied());
    }
}

/// A call to the actor, as a tokio user writes one: send, then wait on the oneshot under
/// `tokio::time::timeout`.
async fn call(to: &mpsc::UnboundedSender<Get>, key: u64) -> Option<Option<u64>> {
    let (tx, rx) = oneshot::channel();
    to.send(Get(key, tx)).ok()?;
    tokio::time::timeout(CALL_TIMEOUT, rx).await.ok()?.ok()
}

impl TokioTarget {
    /// `server-call`'s bare-tokio baseline, the physical limit: the clients and lanes of
    /// [`Target::server_call`], but each "call" locks an `Arc<Mutex<HashMap>>` and reads it —
    /// no messages, no server process. A lane yields every `load::CHECK_EVERY` reads, since
    /// nothing else would make it give the worker up.
    pub fn server_call_shared_map(&self, run: ServerCallRun) -> BoxFuture<'_, CallsOutcome> {
        Box::pin(async move {
            let map = Arc::new(Mutex::new(load::new_map(run.keys)));
            let totals = Totals::new(run.clients);
            let start = Instant::now();
            for c in 0..run.clients {
                let (map, totals) = (map.clone(), totals.clone());
                drop(tokio::spawn(async move {
                    let t = load::client(run, c, |mut keys, n| {
                        let map = map.clone();
                        async move {
                            let mut t = Tally::default();
                            for i in 0..n {
                                if i % load::CHECK_EVERY == 0 {
                                    if Instant::now() >= run.deadline {
                                        break;
                                    }
                                    tokio::task::yield_now().await;
                                }
                                let key = keys.next_key();
                                let v = map
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .get(&key)
                                    .copied();
                                t.reply(key, Some(v));
                            }
                            t
                        }
                    })
                    .await;
                    totals.add(t);
                }));
            }
            totals.wait(start).await
        })
    }
}

impl TokioTarget {
    /// `spawn-storm`'s bare-tokio baseline, the physical limit: `tokio::spawn` of a task that
    /// exits at once, with no channel.
    pub fn spawn_storm_bare(&self, run: ProcessRun) -> BoxFuture<'_, ProcessOutcome> {
        raw_tokio_process::spawn_storm_bare(run)
    }

    /// `idle-memory`'s bare-tokio baseline, the physical limit: a task parked on nothing
    /// (`std::future::pending`), kept by its `JoinHandle` and released by aborting it.
    pub fn idle_processes_bare(&self, run: ProcessRun) -> BoxFuture<'_, Box<dyn IdleSet>> {
        raw_tokio_process::idle_processes_bare(run)
    }

    /// `spawn-storm`'s floor: a bare `tokio::spawn` plus one shared allocation the size of
    /// RUSM's process cell, a clone of which the spawner holds (`raw_tokio_floor.rs` says why
    /// every process others can reach on tokio needs it).
    pub fn spawn_storm_floor(&self, run: ProcessRun) -> BoxFuture<'_, ProcessOutcome> {
        raw_tokio_floor::spawn_storm(run)
    }

    /// `idle-memory`'s floor: a task parked on nothing owning one shared allocation the size
    /// of RUSM's process cell, kept by its `JoinHandle` and a clone of that allocation.
    pub fn idle_processes_floor(&self, run: ProcessRun) -> BoxFuture<'_, Box<dyn IdleSet>> {
        raw_tokio_floor::idle_processes(run)
    }

    /// `ping-pong`'s bare-tokio baseline, the physical limit: two tasks and two unbounded
    /// mpsc channels made before either task starts.
    pub fn ping_pong_bare(&self, run: ProcessRun) -> BoxFuture<'_, ProcessOutcome> {
        raw_tokio_process::ping_pong_bare(run)
    }

    /// `fan-in`'s bare-tokio baseline, the physical limit: one unbounded mpsc, the sender
    /// tasks each holding a clone of its sender, the receiver counting until the channel closes.
    pub fn fan_in_bare(&self, run: ProcessRun) -> BoxFuture<'_, ProcessOutcome> {
        raw_tokio_process::fan_in_bare(run)
    }
}

impl Target for TokioTarget {
    fn name(&self) -> &'static str {
        "tokio"
    }

    fn start_echo_server<'a>(
        &'a self,
        opts: &'a EchoServerOpts,
    ) -> BoxFuture<'a, io::Result<(SocketAddr, ServerGuard)>> {
        Box::pin(async move {
            // The first socket picks the port; the others share it with SO_REUSEPORT.
            let mut opts = opts.clone();
            opts.reuse_port |= opts.listeners > 1;
            let first = net::bind_listener(&opts)?;
            let addr = first.local_addr()?;
            let mut sockets = vec![Arc::new(first)];
            opts.addr = addr;
            for _ in 1..opts.listeners {
                sockets.push(Arc::new(net::bind_listener(&opts)?));
            }
            let tls = opts.tls.clone().map(tokio_rustls::TlsAcceptor::from);
            let mut tasks = Vec::new();
            for socket in sockets {
                for _ in 0..opts.acceptors.unwrap_or(1) {
                    tasks.push(AbortOnDrop(tokio::spawn(accept_loop(
                        socket.clone(),
                        opts.buf_size,
                        tls.clone(),
                    ))));
                }
            }
            Ok((addr, ServerGuard::new(tasks)))
        })
    }

    fn spawn_storm(&self, run: ProcessRun) -> BoxFuture<'_, ProcessOutcome> {
        raw_tokio_process::spawn_storm(run)
    }

    fn ping_pong(&self, run: ProcessRun) -> BoxFuture<'_, ProcessOutcome> {
        raw_tokio_process::ping_pong(run)
    }

    fn idle_processes(&self, run: ProcessRun) -> BoxFuture<'_, Box<dyn IdleSet>> {
        raw_tokio_process::idle_processes(run)
    }

    fn fan_in(&self, run: ProcessRun) -> BoxFuture<'_, ProcessOutcome> {
        raw_tokio_process::fan_in(run)
    }

    fn restart_storm(&self, run: ProcessRun) -> BoxFuture<'_, ProcessOutcome> {
        raw_tokio_process::restart_storm(run)
    }

    fn server_call(&self, run: ServerCallRun) -> BoxFuture<'_, CallsOutcome> {
        Box::pin(async move {
            let (to_actor, rx) = mpsc::unbounded_channel::<Get>();
            let server = tokio::spawn(actor(rx, load::new_map(run.keys)));
            let totals = Totals::new(run.clients);
            let start = Instant::now();
            for c in 0..run.clients {
                let (to_actor, totals) = (to_actor.clone(), totals.clone());
                drop(tokio::spawn(async move {
                    let t = load::client(run, c, |mut keys, n| {
                        let to_actor = to_actor.clone();
                        async move {
                            let mut t = Tally::default();
                            for i in 0..n {
                                if load::past(run.deadline, i) {
                                    break;
                                }
                                let key = keys.next_key();
                                t.reply(key, call(&to_actor, key).await);
                            }
                            t
                        }
                    })
                    .await;
                    totals.add(t);
                }));
            }
            let out = totals.wait(start).await;
            // Every sender is gone with its client: the actor's loop ends.
            drop(to_actor);
            let _ = server.await;
            out
        })
    }

    fn broadcast(&self, run: BroadcastRun) -> BoxFuture<'_, ProcessOutcome> {
        Box::pin(async move {
            let deliveries = Deliveries::new();
            let ready = Countdown::new(run.members);
            let exited = Countdown::new(run.members);
            let mut senders = Vec::with_capacity(run.members as usize);
            for _ in 0..run.members {
                let (tx, mut rx) = mpsc::unbounded_channel::<Arc<[u8]>>();
                let (deliveries, ready, exited) =
                    (deliveries.clone(), ready.clone(), exited.clone());
                drop(tokio::spawn(async move {
                    let mut out = OutBuf::new(run.size);
                    ready.count_down();
                    while let Some(frame) = rx.recv().await {
                        out.write(&frame);
                        deliveries.delivered();
                    }
                    exited.count_down();
                }));
                senders.push(tx);
            }
            ready.wait().await;
            // The broadcaster is a task too, on a worker as the members are.
            let broadcaster = tokio::spawn(async move {
                let frame: Arc<[u8]> = vec![7u8; run.size].into();
                let grace = tokio::time::Instant::from_std(run.deadline) + ROUND_GRACE;
                let start = Instant::now();
                let mut rounds = 0;
                while rounds < run.broadcasts && Instant::now() < run.deadline {
                    let goal = deliveries.expect(senders.len() as u64);
                    for tx in &senders {
                        let _ = tx.send(frame.clone());
                    }
                    if !deliveries.reach(goal, grace).await {
                        break;
                    }
                    rounds += 1;
                }
                let elapsed = start.elapsed();
                // Closing every mailbox ends the members.
                drop(senders);
                ProcessOutcome {
                    done: deliveries.received(),
                    elapsed,
                }
            });
            let out = broadcaster.await.unwrap_or(ProcessOutcome {
                done: 0,
                elapsed: Duration::ZERO,
            });
            let _ = tokio::time::timeout(ROUND_GRACE, exited.wait()).await;
            out
        })
    }
}
