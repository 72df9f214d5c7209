//! Raw tokio, the baseline: what a careful tokio user writes by hand.
//!
//! The echo server is a `TcpListener` bound through socket2 (so the backlog is the engine's,
//! not tokio's 128) and one `tokio::spawn`ed echo loop per connection; over TLS, the task does
//! the tokio-rustls handshake first, under a 10 s timeout (never the accept loop). Process scenarios use a
//! task for a process and `tokio::sync::mpsc::unbounded_channel` for a mailbox (the like-for-like
//! programs, [`Target`]'s methods), and the bare-tokio physical limits next to them
//! (`*_bare`: a bare `tokio::spawn`, a task parked on nothing, channels made up front). Nothing
//! here counts or instruments: the engine measures from outside.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::load::{self, Deliveries, OutBuf, Tally, Totals, CALL_TIMEOUT};
use super::{
    countdown::Countdown, BoxFuture, BroadcastRun, CallsOutcome, EchoServerOpts, IdleSet,
    ProcessOutcome, ProcessRun, ServerCallRun, ServerGuard, Target,
};
use crate::net;

/// How often the load loops look at the clock: often enough to stop within milliseconds of the
/// deadline, rarely enough that `Instant::now` costs nothing.
const CLOCK_EVERY: u64 = 1024;

/// How long past the deadline a broadcast round may take to be received before the
/// broadcaster gives up on it.
pub(crate) const ROUND_GRACE: Duration = Duration::from_secs(10);

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

/// Idle tasks, each blocked on its own unbounded channel.
#[derive(Debug)]
struct IdleTasks {
    senders: Vec<mpsc::UnboundedSender<u64>>,
    exited: Arc<Countdown>,
}

impl IdleSet for IdleTasks {
    fn len(&self) -> usize {
        self.senders.len()
    }

    fn release(self: Box<Self>) -> BoxFuture<'static, ()> {
        let IdleTasks { senders, exited } = *self;
        // Dropping the senders closes every mailbox: each task's `recv` returns `None`.
        drop(senders);
        Box::pin(async move { exited.wait().await })
    }
}

/// A process's mailbox in the like-for-like programs: the sending half of its own channel.
type Mailbox<M> = mpsc::UnboundedSender<M>;

/// Spawns a process as a careful tokio user would write one, like-for-like with a RUSM
/// process: a task owning the receiver of an unbounded mpsc made for it (its mailbox), given
/// its own sender (`ctx.myself()`); returns the sender (its address).
fn process<M, F, Fut>(body: F) -> Mailbox<M>
where
    M: Send + 'static,
    F: FnOnce(Mailbox<M>, mpsc::UnboundedReceiver<M>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel();
    drop(tokio::spawn(body(tx.clone(), rx)));
    tx
}

/// `fan-in`'s messages in the like-for-like program, as RUSM's.
enum FanIn {
    N(#[allow(dead_code)] u64),
    Done,
}

/// Counts down when dropped: a bare idle task counts its exit as its abort drops it.
struct CountOnDrop(Arc<Countdown>);

impl Drop for CountOnDrop {
    fn drop(&mut self) {
        self.0.count_down();
    }
}

/// Bare idle tasks, each parked on nothing, kept by their `JoinHandle`s.
#[derive(Debug)]
struct IdleBareTasks {
    handles: Vec<JoinHandle<()>>,
    exited: Arc<Countdown>,
}

impl IdleSet for IdleBareTasks {
    fn len(&self) -> usize {
        self.handles.len()
    }

    fn release(self: Box<Self>) -> BoxFuture<'static, ()> {
        let IdleBareTasks { handles, exited } = *self;
        for h in &handles {
            h.abort();
        }
        drop(handles);
        Box::pin(async move { exited.wait().await })
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
    /// no messages, no server process. A lane yields every [`load::CHECK_EVERY`] reads, since
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
        Box::pin(async move {
            let start = Instant::now();
            let exited = Countdown::new(run.count);
            let mut spawned = 0;
            while spawned < run.count {
                if spawned % CLOCK_EVERY == 0 && Instant::now() >= run.deadline {
                    break;
                }
                let exited = exited.clone();
                drop(tokio::spawn(async move { exited.count_down() }));
                spawned += 1;
            }
            exited.forget(run.count - spawned);
            exited.wait().await;
            ProcessOutcome {
                done: spawned,
                elapsed: start.elapsed(),
            }
        })
    }

    /// `idle-memory`'s bare-tokio baseline, the physical limit: a task parked on nothing
    /// (`std::future::pending`), kept by its `JoinHandle` and released by aborting it.
    pub fn idle_processes_bare(&self, run: ProcessRun) -> BoxFuture<'_, Box<dyn IdleSet>> {
        Box::pin(async move {
            let parked = Countdown::new(run.count);
            let exited = Countdown::new(run.count);
            let mut handles = Vec::with_capacity(run.count as usize);
            for i in 0..run.count {
                if i % CLOCK_EVERY == 0 && Instant::now() >= run.deadline {
                    parked.forget(run.count - i);
                    exited.forget(run.count - i);
                    break;
                }
                let (parked, exited) = (parked.clone(), exited.clone());
                handles.push(tokio::spawn(async move {
                    let _exit = CountOnDrop(exited);
                    parked.count_down();
                    std::future::pending::<()>().await;
                }));
            }
            parked.wait().await;
            Box::new(IdleBareTasks { handles, exited }) as Box<dyn IdleSet>
        })
    }

    /// `ping-pong`'s bare-tokio baseline, the physical limit: two tasks and two unbounded
    /// mpsc channels made before either task starts.
    pub fn ping_pong_bare(&self, run: ProcessRun) -> BoxFuture<'_, ProcessOutcome> {
        Box::pin(async move {
            let (to_pong, mut pong_rx) = mpsc::unbounded_channel::<u64>();
            let (to_ping, mut ping_rx) = mpsc::unbounded_channel::<u64>();
            let start = Instant::now();
            let pong = tokio::spawn(async move {
                while let Some(n) = pong_rx.recv().await {
                    if to_ping.send(n + 1).is_err() {
                        break;
                    }
                }
            });
            let ping = tokio::spawn(async move {
                let mut done = 0;
                while done < run.count {
                    if done % CLOCK_EVERY == 0 && Instant::now() >= run.deadline {
                        break;
                    }
                    if to_pong.send(done).is_err() {
                        break;
                    }
                    match ping_rx.recv().await {
                        Some(_) => done += 1,
                        None => break,
                    }
                }
                done
            });
            let done = ping.await.unwrap_or(0);
            let elapsed = start.elapsed();
            let _ = pong.await;
            ProcessOutcome { done, elapsed }
        })
    }

    /// `fan-in`'s bare-tokio baseline, the physical limit: one unbounded mpsc, the sender
    /// tasks each holding a clone of its sender, the receiver counting until the channel closes.
    pub fn fan_in_bare(&self, run: ProcessRun) -> BoxFuture<'_, ProcessOutcome> {
        Box::pin(async move {
            let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
            let start = Instant::now();
            for _ in 0..run.senders {
                let tx = tx.clone();
                drop(tokio::spawn(async move {
                    for i in 0..run.count {
                        if i % CLOCK_EVERY == 0 && Instant::now() >= run.deadline {
                            break;
                        }
                        if tx.send(i).is_err() {
                            break;
                        }
                    }
                }));
            }
            drop(tx);
            let receiver = tokio::spawn(async move {
                let mut done = 0;
                // Ends when every sender has finished and dropped its handle.
                while rx.recv().await.is_some() {
                    done += 1;
                }
                done
            });
            let done = receiver.await.unwrap_or(0);
            ProcessOutcome {
                done,
                elapsed: start.elapsed(),
            }
        })
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
        Box::pin(async move {
            let start = Instant::now();
            let exited = Countdown::new(run.count);
            let mut spawned = 0;
            while spawned < run.count {
                if spawned % CLOCK_EVERY == 0 && Instant::now() >= run.deadline {
                    break;
                }
                let exited = exited.clone();
                // A task with a mailbox, as the RUSM process it is compared with.
                let (tx, rx) = mpsc::unbounded_channel::<u64>();
                drop(tokio::spawn(async move {
                    let _mailbox = (tx, rx);
                    exited.count_down()
                }));
                spawned += 1;
            }
            exited.forget(run.count - spawned);
            exited.wait().await;
            ProcessOutcome {
                done: spawned,
                elapsed: start.elapsed(),
            }
        })
    }

    fn ping_pong(&self, run: ProcessRun) -> BoxFuture<'_, ProcessOutcome> {
        Box::pin(async move {
            let start = Instant::now();
            let (done_tx, done_rx) = oneshot::channel();
            // As RUSM's: ping is spawned with its mailbox and spawns pong, which gets ping's
            // address; each process is a task owning the receiver of its own channel.
            let _ping = process(move |me: Mailbox<u64>, mut rx| async move {
                let pong = process(move |_me: Mailbox<u64>, mut prx| async move {
                    while let Some(n) = prx.recv().await {
                        if me.send(n + 1).is_err() {
                            break;
                        }
                    }
                });
                let mut done = 0;
                while done < run.count {
                    if done % CLOCK_EVERY == 0 && Instant::now() >= run.deadline {
                        break;
                    }
                    if pong.send(done).is_err() {
                        break;
                    }
                    match rx.recv().await {
                        Some(_) => done += 1,
                        None => break,
                    }
                }
                let _ = done_tx.send(done);
            });
            let done = done_rx.await.unwrap_or(0);
            ProcessOutcome {
                done,
                elapsed: start.elapsed(),
            }
        })
    }

    fn idle_processes(&self, run: ProcessRun) -> BoxFuture<'_, Box<dyn IdleSet>> {
        Box::pin(async move {
            let parked = Countdown::new(run.count);
            let exited = Countdown::new(run.count);
            let mut senders = Vec::with_capacity(run.count as usize);
            for i in 0..run.count {
                if i % CLOCK_EVERY == 0 && Instant::now() >= run.deadline {
                    parked.forget(run.count - i);
                    exited.forget(run.count - i);
                    break;
                }
                let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
                let (parked, exited) = (parked.clone(), exited.clone());
                drop(tokio::spawn(async move {
                    parked.count_down();
                    while rx.recv().await.is_some() {}
                    exited.count_down();
                }));
                senders.push(tx);
            }
            parked.wait().await;
            Box::new(IdleTasks { senders, exited }) as Box<dyn IdleSet>
        })
    }

    fn fan_in(&self, run: ProcessRun) -> BoxFuture<'_, ProcessOutcome> {
        Box::pin(async move {
            let start = Instant::now();
            let senders = run.senders;
            let (done_tx, done_rx) = oneshot::channel();
            // As RUSM's: the receiver and every sender are processes with a mailbox of their
            // own; each sender ends with `Done`, which the receiver counts.
            let receiver = process(move |_me: Mailbox<FanIn>, mut rx| async move {
                let (mut done, mut finished) = (0u64, 0);
                while finished < senders {
                    match rx.recv().await {
                        Some(FanIn::N(_)) => done += 1,
                        Some(FanIn::Done) => finished += 1,
                        None => break,
                    }
                }
                let _ = done_tx.send(done);
            });
            for _ in 0..senders {
                let to = receiver.clone();
                process(move |_me: Mailbox<()>, _rx| async move {
                    for i in 0..run.count {
                        if i % CLOCK_EVERY == 0 && Instant::now() >= run.deadline {
                            break;
                        }
                        if to.send(FanIn::N(i)).is_err() {
                            break;
                        }
                    }
                    let _ = to.send(FanIn::Done);
                });
            }
            drop(receiver);
            let done = done_rx.await.unwrap_or(0);
            ProcessOutcome {
                done,
                elapsed: start.elapsed(),
            }
        })
    }

    fn restart_storm(&self, run: ProcessRun) -> BoxFuture<'_, ProcessOutcome> {
        Box::pin(async move {
            let start = Instant::now();
            let mut done = 0;
            // The hand-written "supervisor": await the child's JoinHandle, see the panic, start
            // it again.
            while done < run.count && Instant::now() < run.deadline {
                let child = tokio::spawn(async { panic!("restart-storm: child crashes on start") });
                match child.await {
                    Err(e) if e.is_panic() => done += 1,
                    _ => break,
                }
            }
            ProcessOutcome {
                done,
                elapsed: start.elapsed(),
            }
        })
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
