//! The RUSM target: the same scenarios as `raw_tokio.rs`, written as a RUSM user would —
//! a supervised listener with one process per connection, processes and mailboxes in place
//! of tasks and channels, a one_for_one supervisor for the restart storm.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ::rusm::prelude::*;
use ::rusm::{ChildSpec, SupervisorSpec};

use super::countdown::Countdown;
use super::interface::{
    BoxFuture, BroadcastRun, CallsOutcome, EchoServerOpts, IdleSet, ProcessOutcome, ProcessRun,
    ServerCallRun, ServerGuard, Target,
};
use super::load::{self, Deliveries, OutBuf, Tally, Totals, ROUND_GRACE};

/// Check the clock once per this many units of work.
const CLOCK_EVERY: u64 = 1024;

/// The RUSM runtime under test.
#[derive(Debug, Default)]
pub struct RusmTarget {
    /// The runtime of the latest scenario, for the dashboard's live figures.
    last: Mutex<Option<Runtime>>,
}

impl RusmTarget {
    /// A target; each scenario attaches a RUSM runtime to the tokio runtime it runs on.
    pub fn new() -> Self {
        RusmTarget::default()
    }

    fn runtime(&self) -> Runtime {
        let rt = Runtime::attach();
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(rt.clone());
        rt
    }
}

/// Kills the listener when the engine drops the server.
struct KillOnDrop(ProcessHandle);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.0.kill();
    }
}

#[derive(Debug)]
struct IdleProcesses {
    addrs: Vec<Addr<()>>,
    exited: Arc<Countdown>,
}

impl IdleSet for IdleProcesses {
    fn len(&self) -> usize {
        self.addrs.len()
    }

    fn release(self: Box<Self>) -> BoxFuture<'static, ()> {
        let IdleProcesses { addrs, exited } = *self;
        for a in &addrs {
            let _ = a.send(());
        }
        Box::pin(async move { exited.wait().await })
    }
}

/// Panics, as the baseline's child does; returns `()` so the body has a normal type.
fn crash() {
    panic!("restart-storm: child crashes on start")
}

enum FanIn {
    N(#[allow(dead_code)] u64),
    Done,
}

/// `server-call`'s server: a gen_server holding the map.
struct Store(HashMap<u64, u64>);

impl Server for Store {
    type Args = u64;
    type Info = ();
    async fn init(keys: u64, _ctx: &mut ServerCtx<Self>) -> Init<Self> {
        Init::Ok(Store(load::new_map(keys)))
    }
}

/// Looks a key up.
struct Get(u64);

impl Call<Get> for Store {
    type Reply = Option<u64>;
    async fn handle_call(
        &mut self,
        Get(key): Get,
        _caller: &Caller<Self::Reply>,
        _ctx: &mut ServerCtx<Self>,
    ) -> Reply<Self::Reply> {
        Reply::Reply(self.0.get(&key).copied())
    }
}

/// `broadcast`'s process group.
const GROUP: &str = "broadcast";

impl Target for RusmTarget {
    fn name(&self) -> &'static str {
        "rusm"
    }

    fn start_echo_server<'a>(
        &'a self,
        opts: &'a EchoServerOpts,
    ) -> BoxFuture<'a, io::Result<(SocketAddr, ServerGuard)>> {
        Box::pin(async move {
            let rt = self.runtime();
            let buf_size = opts.buf_size;
            let mut config = ListenerConfig::new(opts.addr.to_string())
                .backlog(opts.backlog)
                .reuse_port(opts.reuse_port || opts.listeners > 1)
                .max_connections(1 << 20);
            if let Some(n) = opts.acceptors {
                config = config.acceptors(n);
            }
            if let Some(tls) = &opts.tls {
                // The handshake runs in each connection's process, under the default 10 s
                // handshake timeout.
                config = config.tls(::rusm::TlsConfig::from_server_config(tls.clone()));
            }
            let handler = move |_ctx: Ctx, mut stream: TcpStream| async move {
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
            };
            // The first socket picks the port; the others share it with SO_REUSEPORT.
            let (addr, first) = rt.listen_with(config.clone(), handler).await?;
            let mut guards = vec![KillOnDrop((*first).clone())];
            for _ in 1..opts.listeners {
                let more = config.clone().addr(addr.to_string());
                let (_, l) = rt.listen_with(more, handler).await?;
                guards.push(KillOnDrop((*l).clone()));
            }
            Ok((addr, ServerGuard::new(guards)))
        })
    }

    fn spawn_storm(&self, run: ProcessRun) -> BoxFuture<'_, ProcessOutcome> {
        Box::pin(async move {
            let rt = self.runtime();
            let start = Instant::now();
            let exited = Countdown::new(run.count);
            let mut spawned = 0;
            while spawned < run.count {
                if spawned % CLOCK_EVERY == 0 && Instant::now() >= run.deadline {
                    break;
                }
                let exited = exited.clone();
                rt.spawn(move |_ctx: Ctx| async move { exited.count_down() });
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
            let rt = self.runtime();
            let start = Instant::now();
            let (done_tx, done_rx) = tokio::sync::oneshot::channel();
            let ping = rt.spawn(move |mut ctx: Ctx<u64>| async move {
                let me = ctx.myself();
                let pong = ctx.spawn_link(move |mut pctx: Ctx<u64>| async move {
                    while let Msg::User(n) = pctx.recv().await {
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
                    match ctx.recv().await {
                        Msg::User(_) => done += 1,
                        _ => break,
                    }
                }
                let _ = done_tx.send(done);
                ExitReason::Shutdown(None)
            });
            let done = done_rx.await.unwrap_or(0);
            let elapsed = start.elapsed();
            ping.wait().await;
            ProcessOutcome { done, elapsed }
        })
    }

    fn idle_processes(&self, run: ProcessRun) -> BoxFuture<'_, Box<dyn IdleSet>> {
        Box::pin(async move {
            let rt = self.runtime();
            let parked = Countdown::new(run.count);
            let exited = Countdown::new(run.count);
            let mut addrs = Vec::with_capacity(run.count as usize);
            for i in 0..run.count {
                if i % CLOCK_EVERY == 0 && Instant::now() >= run.deadline {
                    parked.forget(run.count - i);
                    exited.forget(run.count - i);
                    break;
                }
                let (parked, exited) = (parked.clone(), exited.clone());
                addrs.push(rt.spawn(move |mut ctx: Ctx<()>| async move {
                    parked.count_down();
                    ctx.recv().await;
                    exited.count_down();
                }));
            }
            parked.wait().await;
            Box::new(IdleProcesses { addrs, exited }) as Box<dyn IdleSet>
        })
    }

    fn fan_in(&self, run: ProcessRun) -> BoxFuture<'_, ProcessOutcome> {
        Box::pin(async move {
            let rt = self.runtime();
            let start = Instant::now();
            let senders = run.senders;
            let receiver = rt.spawn(move |mut ctx: Ctx<FanIn>| async move {
                let mut done = 0u64;
                let mut finished = 0;
                while finished < senders {
                    match ctx.recv().await {
                        Msg::User(FanIn::N(_)) => done += 1,
                        Msg::User(FanIn::Done) => finished += 1,
                        _ => {}
                    }
                }
                ExitReason::shutdown_with(done.to_string())
            });
            for _ in 0..senders {
                let to = receiver.clone();
                rt.spawn(move |_ctx: Ctx| async move {
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
            let done = match receiver.wait().await {
                ExitReason::Shutdown(Some(n)) => n.parse().unwrap_or(0),
                _ => 0,
            };
            ProcessOutcome {
                done,
                elapsed: start.elapsed(),
            }
        })
    }

    fn restart_storm(&self, run: ProcessRun) -> BoxFuture<'_, ProcessOutcome> {
        Box::pin(async move {
            let rt = self.runtime();
            let start = Instant::now();
            let spec = SupervisorSpec::new(Strategy::OneForOne)
                .intensity(u32::MAX, Duration::from_secs(1))
                .child(ChildSpec::worker("crasher", |_ctx: Ctx| async { crash() }));
            let Ok(sup) = rt.start_supervisor(spec).await else {
                return ProcessOutcome {
                    done: 0,
                    elapsed: start.elapsed(),
                };
            };
            // A call through the supervisor's mailbox, served between restarts.
            let restarts = || async {
                let children = sup.which_children().await.unwrap_or_default();
                children.first().map_or(0, |c| c.restarts)
            };
            while restarts().await < run.count && Instant::now() < run.deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let done = restarts().await;
            let elapsed = start.elapsed();
            sup.stop().await;
            ProcessOutcome { done, elapsed }
        })
    }

    fn server_call(&self, run: ServerCallRun) -> BoxFuture<'_, CallsOutcome> {
        Box::pin(async move {
            let rt = self.runtime();
            let Ok(store) = rt.start_server::<Store>(run.keys).await else {
                return CallsOutcome {
                    failed: run.clients * run.calls,
                    ..CallsOutcome::default()
                };
            };
            let totals = Totals::new(run.clients);
            let start = Instant::now();
            for c in 0..run.clients {
                let (store, totals) = (store.clone(), totals.clone());
                rt.spawn(move |_ctx: Ctx| async move {
                    let t = load::client(run, c, |mut keys, n| {
                        let store = store.clone();
                        async move {
                            let mut t = Tally::default();
                            for i in 0..n {
                                if load::past(run.deadline, i) {
                                    break;
                                }
                                let key = keys.next_key();
                                t.reply(key, store.call(Get(key)).await.ok());
                            }
                            t
                        }
                    })
                    .await;
                    totals.add(t);
                });
            }
            let out = totals.wait(start).await;
            store.stop(ExitReason::Normal).await;
            out
        })
    }

    fn broadcast(&self, run: BroadcastRun) -> BoxFuture<'_, ProcessOutcome> {
        Box::pin(async move {
            let rt = self.runtime();
            let deliveries = Deliveries::new();
            let ready = Countdown::new(run.members);
            let mut members = Vec::with_capacity(run.members as usize);
            for _ in 0..run.members {
                let (deliveries, ready) = (deliveries.clone(), ready.clone());
                let addr = rt.spawn(move |mut ctx: Ctx<Arc<[u8]>>| async move {
                    let mut out = OutBuf::new(run.size);
                    ready.count_down();
                    while let Msg::User(frame) = ctx.recv().await {
                        out.write(&frame);
                        deliveries.delivered();
                    }
                });
                // A fresh process of the group's type joins; only a dead one could not.
                if rt.pg().join(GROUP, &addr).is_ok() {
                    members.push(addr);
                }
            }
            let joined = members.len() as u64;
            let _ = tokio::time::timeout(ROUND_GRACE, ready.wait()).await;
            // The broadcaster is a process too, on a worker as the members are.
            let (done_tx, done_rx) = tokio::sync::oneshot::channel();
            let group = rt.clone();
            rt.spawn(move |_ctx: Ctx| async move {
                let frame: Arc<[u8]> = vec![7u8; run.size].into();
                let grace = tokio::time::Instant::from_std(run.deadline) + ROUND_GRACE;
                let start = Instant::now();
                let mut rounds = 0;
                while rounds < run.broadcasts && Instant::now() < run.deadline {
                    let goal = deliveries.expect(joined);
                    group.pg().send(GROUP, frame.clone());
                    if !deliveries.reach(goal, grace).await {
                        break;
                    }
                    rounds += 1;
                }
                let _ = done_tx.send(ProcessOutcome {
                    done: deliveries.received(),
                    elapsed: start.elapsed(),
                });
            });
            let out = done_rx.await.unwrap_or(ProcessOutcome {
                done: 0,
                elapsed: Duration::ZERO,
            });
            // The connections close: each member leaves the group as it exits.
            for m in &members {
                m.kill();
            }
            let _ = tokio::time::timeout(ROUND_GRACE, async {
                for m in &members {
                    m.wait().await;
                }
            })
            .await;
            out
        })
    }

    fn alive_processes(&self) -> Option<u64> {
        let rt = self
            .last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        Some(rt.alive_processes() as u64)
    }

    fn tree_json(&self) -> Option<String> {
        let rt = self
            .last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        Some(rt.tree().to_json())
    }
}
