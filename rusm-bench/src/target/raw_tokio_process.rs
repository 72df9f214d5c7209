//! Raw tokio's process-scenario programs: the like-for-like ones behind [`TokioTarget`]'s
//! [`Target`] methods (a task for a process, `tokio::sync::mpsc::unbounded_channel` for its
//! mailbox) and the bare-tokio physical limits next to them (`*_bare`: a bare `tokio::spawn`, a
//! task parked on nothing, channels made up front).
//!
//! [`TokioTarget`]: super::TokioTarget
//! [`Target`]: super::Target

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::countdown::Countdown;
use super::interface::{BoxFuture, IdleSet, ProcessOutcome, ProcessRun};

/// How often the load loops look at the clock: often enough to stop within milliseconds of the
/// deadline, rarely enough that `Instant::now` costs nothing.
pub(super) const CLOCK_EVERY: u64 = 1024;

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
pub(super) struct CountOnDrop(pub(super) Arc<Countdown>);

impl Drop for CountOnDrop {
    fn drop(&mut self) {
        self.0.count_down();
    }
}

/// Idle tasks, each parked on nothing, kept by their `JoinHandle`s and, beside each, what the
/// holder keeps of it (`()` for bare tasks: no bytes; the shared block for the floor's).
#[derive(Debug)]
pub(super) struct IdleBareTasks<K = ()> {
    pub(super) handles: Vec<(JoinHandle<()>, K)>,
    pub(super) exited: Arc<Countdown>,
}

impl<K: Send + std::fmt::Debug + 'static> IdleSet for IdleBareTasks<K> {
    fn len(&self) -> usize {
        self.handles.len()
    }

    fn release(self: Box<Self>) -> BoxFuture<'static, ()> {
        let IdleBareTasks { handles, exited } = *self;
        for (h, _) in &handles {
            h.abort();
        }
        drop(handles);
        Box::pin(async move { exited.wait().await })
    }
}

/// `spawn-storm`, like-for-like with RUSM's: each process a task with a mailbox of its own.
pub(super) fn spawn_storm(run: ProcessRun) -> BoxFuture<'static, ProcessOutcome> {
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

/// `ping-pong`, like-for-like with RUSM's: ping and pong are [`process`]es, each with its own
/// mailbox.
pub(super) fn ping_pong(run: ProcessRun) -> BoxFuture<'static, ProcessOutcome> {
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

/// `idle-memory`, like-for-like with RUSM's: tasks blocked on their own unbounded channel.
pub(super) fn idle_processes(run: ProcessRun) -> BoxFuture<'static, Box<dyn IdleSet>> {
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

/// `fan-in`, like-for-like with RUSM's: the receiver and every sender are [`process`]es.
pub(super) fn fan_in(run: ProcessRun) -> BoxFuture<'static, ProcessOutcome> {
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

/// `restart-storm`: a child task that panics at once, restarted by a hand-written
/// "supervisor".
pub(super) fn restart_storm(run: ProcessRun) -> BoxFuture<'static, ProcessOutcome> {
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

/// The program of [`TokioTarget::spawn_storm_bare`](super::TokioTarget::spawn_storm_bare).
pub(super) fn spawn_storm_bare(run: ProcessRun) -> BoxFuture<'static, ProcessOutcome> {
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

/// The program of [`TokioTarget::idle_processes_bare`](super::TokioTarget::idle_processes_bare).
pub(super) fn idle_processes_bare(run: ProcessRun) -> BoxFuture<'static, Box<dyn IdleSet>> {
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
            let handle = tokio::spawn(async move {
                let _exit = CountOnDrop(exited);
                parked.count_down();
                std::future::pending::<()>().await;
            });
            handles.push((handle, ()));
        }
        parked.wait().await;
        Box::new(IdleBareTasks { handles, exited }) as Box<dyn IdleSet>
    })
}

/// The program of [`TokioTarget::ping_pong_bare`](super::TokioTarget::ping_pong_bare).
pub(super) fn ping_pong_bare(run: ProcessRun) -> BoxFuture<'static, ProcessOutcome> {
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

/// The program of [`TokioTarget::fan_in_bare`](super::TokioTarget::fan_in_bare).
pub(super) fn fan_in_bare(run: ProcessRun) -> BoxFuture<'static, ProcessOutcome> {
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
