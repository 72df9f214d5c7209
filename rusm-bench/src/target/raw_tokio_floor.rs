//! The floor of a process on tokio: the two allocations any process others can reach needs.
//!
//! A tokio task's future lives in the task's own allocation, and tokio's public API gives no
//! other task a way into it: a `JoinHandle`, an `AbortHandle` or a `Waker` reaches the task's
//! state, never the future's fields. So whatever another task must reach — a mailbox to push
//! to, links and monitors to signal, an exit reason to read — lives in a second allocation,
//! shared by the task and its holders. These programs are bare tokio plus exactly that: each
//! task owns one shared, mutex-guarded block of [`CELL_BYTES`] (the size of RUSM's process
//! cell with its empty mailbox), a clone of which the spawner holds, as it would an address.
//! No channel, no table, no exit signals: what RUSM adds on top of this floor is its own work.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::countdown::Countdown;
use super::interface::{BoxFuture, IdleSet, ProcessOutcome, ProcessRun};
use super::raw_tokio_process::{CountOnDrop, IdleBareTasks, CLOCK_EVERY};

/// Bytes of the shared block, as RUSM's process cell on 64-bit targets: its pid, runtime,
/// counters and flags, and under its lock the process state and the mailbox's queue.
pub(super) const CELL_BYTES: usize = 184;

/// The shared block: a lock and what it guards, [`CELL_BYTES`] in all.
type Shared = Arc<Mutex<[u64; CELL_BYTES / 8 - 1]>>;

fn shared() -> Shared {
    Arc::new(Mutex::new([0; CELL_BYTES / 8 - 1]))
}

/// `spawn-storm`'s floor: `tokio::spawn` of a task owning a shared block that exits at once.
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
            let block = shared();
            let owned = block.clone();
            drop(tokio::spawn(async move {
                // Touched under its lock, as a process's exit touches its state.
                owned.lock().unwrap_or_else(|p| p.into_inner())[0] = 1;
                exited.count_down()
            }));
            // The spawner's address, dropped at once as RUSM's spawn-storm drops its `Addr`.
            drop(block);
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

/// `idle-memory`'s floor: tasks parked on nothing, each owning a shared block.
pub(super) fn idle_processes(run: ProcessRun) -> BoxFuture<'static, Box<dyn IdleSet>> {
    Box::pin(async move {
        let parked = Countdown::new(run.count);
        let exited = Countdown::new(run.count);
        let mut held = Vec::with_capacity(run.count as usize);
        for i in 0..run.count {
            if i % CLOCK_EVERY == 0 && Instant::now() >= run.deadline {
                parked.forget(run.count - i);
                exited.forget(run.count - i);
                break;
            }
            let (parked, exited) = (parked.clone(), exited.clone());
            let block = shared();
            let owned = block.clone();
            let handle = tokio::spawn(async move {
                let _exit = CountOnDrop(exited);
                let _owned = owned;
                parked.count_down();
                std::future::pending::<()>().await;
            });
            held.push((handle, block));
        }
        parked.wait().await;
        Box::new(IdleBareTasks {
            handles: held,
            exited,
        }) as Box<dyn IdleSet>
    })
}
