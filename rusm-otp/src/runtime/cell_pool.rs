//! Cells of exited processes, kept for the next spawns of the same message type.
//!
//! A process is tokio's task plus its cell, and the cell is the one allocation a process adds
//! (its future lives in tokio's task, which nothing else can point into). In a storm, the
//! spawning thread allocates cells and the workers free them: glibc's cross-thread round trip
//! (its arena lock, its futex wake-ups) then costs more than everything else a spawn does. So
//! a process's task, when it holds the last reference to its cell at exit, gives the cell back
//! here, and the next spawn of a process with the same message type takes it and writes it
//! afresh (see `process/spawn.rs`). Nothing else can hold a pooled cell: it is pooled only when
//! it has no other holder (`Arc::get_mut`), and taken out before it is used again.
//!
//! Cells are kept in the shard of the thread where their process exited, at most
//! [`PER_SHARD`] per shard. A spawn takes from its own thread's shard first; when that has
//! none of its type, it takes a batch of [`BATCH`] from another shard and keeps the rest in its
//! own, so that a storm's spawner and its exiting workers meet on a lock once per batch, and
//! spawns and exits on one thread stay on its shard. A pooled cell still counts its runtime,
//! so the pool is closed and emptied when the runtime shuts down, and gives are refused from
//! then on.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::table::PidHasher;
use crate::lock::Unpoisoned;

/// A pooled cell, its type erased (a `TypedCell<M>`, looked up by `M`'s `TypeId`).
pub(crate) type PooledCell = Arc<dyn Any + Send + Sync>;

/// Shards of the pool.
const SHARDS: usize = 8;
/// Cells kept per shard, of all message types together: about what a storm of spawns from
/// one thread has exited but not yet reused on two cores (fewer and the storm's cells go back
/// to the allocator). A cell is about 200 bytes whatever its message type (its queue's
/// buffer is freed at the exit), so a runtime keeps at most about 6.5 MiB of them.
pub(crate) const PER_SHARD: usize = 4096;

/// The pool: pooled cells by shard and message type.
pub(crate) struct CellPool {
    shards: Box<[Shard]>,
    closed: AtomicBool,
}

/// One shard, on its own cache lines: its count readable without the lock (on the same line
/// as the lock, so that keeping it costs no other line), then the cells.
#[repr(C, align(128))]
#[derive(Default)]
struct Shard {
    total: AtomicUsize,
    kept: Mutex<Kept>,
}

/// Cells a spawn takes at once from another thread's shard when its own has none: the storm's
/// spawner then takes from its own, uncontended, for the next ones.
const BATCH: usize = 32;

/// A shard's cells by message type, and how many in all.
#[derive(Default)]
struct Kept {
    by_type: HashMap<TypeId, Vec<PooledCell>, BuildHasherDefault<PidHasher>>,
    total: usize,
}

impl Kept {
    fn pop(&mut self, ty: TypeId) -> Option<PooledCell> {
        let cell = self.by_type.get_mut(&ty)?.pop()?;
        self.total -= 1;
        Some(cell)
    }

    /// Up to `n` cells of type `ty`, taken out.
    fn split(&mut self, ty: TypeId, n: usize) -> Vec<PooledCell> {
        let Some(cells) = self.by_type.get_mut(&ty) else {
            return Vec::new();
        };
        let batch = cells.split_off(cells.len().saturating_sub(n));
        self.total -= batch.len();
        batch
    }
}

thread_local! {
    static HOME: u8 = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        (NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS) as u8
    };
}

/// The calling thread's shard: where the cells of the processes that exit on it are kept, and
/// where its spawns look first.
#[inline]
pub(crate) fn home() -> u8 {
    HOME.with(|h| *h)
}

impl CellPool {
    pub(crate) fn new() -> Self {
        CellPool {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            closed: AtomicBool::new(false),
        }
    }

    fn shard(&self, home: u8) -> &Shard {
        &self.shards[usize::from(home) % SHARDS]
    }

    /// A pooled cell of message type `ty` for a spawn on a thread of shard `home`: from that
    /// shard, else a batch of them from another shard (the rest kept in `home`'s).
    pub(crate) fn take(&self, home: u8, ty: TypeId) -> Option<PooledCell> {
        let own = self.shard(home);
        if own.total.load(Ordering::Relaxed) > 0 {
            let mut kept = own.kept.locked();
            if let Some(cell) = kept.pop(ty) {
                own.total.store(kept.total, Ordering::Relaxed);
                return Some(cell);
            }
        }
        for i in 1..SHARDS {
            let victim = self.shard(home.wrapping_add(i as u8));
            if victim.total.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let mut batch = {
                let mut kept = victim.kept.locked();
                let batch = kept.split(ty, BATCH);
                victim.total.store(kept.total, Ordering::Relaxed);
                batch
            };
            let Some(cell) = batch.pop() else {
                continue;
            };
            if !batch.is_empty() {
                let mut kept = own.kept.locked();
                if !self.closed.load(Ordering::Acquire) {
                    kept.total += batch.len();
                    kept.by_type.entry(ty).or_default().append(&mut batch);
                    own.total.store(kept.total, Ordering::Relaxed);
                }
            }
            return Some(cell);
        }
        None
    }

    /// Keeps `cell` (of message type `ty`, with no other holder) in the calling thread's
    /// shard, unless it is full or the pool closed: the cell is then dropped, outside the lock.
    pub(crate) fn give(&self, ty: TypeId, cell: PooledCell) {
        let shard = self.shard(home());
        let refused = {
            let mut kept = shard.kept.locked();
            // Read under the shard's lock: `close` sets it before it empties each shard, so a
            // give either lands before the emptying or sees the pool closed.
            if self.closed.load(Ordering::Acquire) || kept.total >= PER_SHARD {
                Some(cell)
            } else {
                kept.by_type.entry(ty).or_default().push(cell);
                kept.total += 1;
                shard.total.store(kept.total, Ordering::Relaxed);
                None
            }
        };
        drop(refused);
    }

    /// Closes the pool and drops what it keeps (each pooled cell counts the runtime, which
    /// would otherwise keep itself alive through them).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        for shard in self.shards.iter() {
            let kept = std::mem::take(&mut *shard.kept.locked());
            shard.total.store(0, Ordering::Relaxed);
            drop(kept);
        }
    }

    /// Cells kept, of every type.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.kept.locked().total).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(n: u32) -> PooledCell {
        Arc::new(n)
    }

    fn shard_len(pool: &CellPool, home: u8) -> usize {
        pool.shard(home).kept.locked().total
    }

    #[test]
    fn a_cell_is_taken_by_its_type_only_first_from_the_own_shard() {
        let pool = CellPool::new();
        let h = home();
        pool.give(TypeId::of::<u32>(), cell(7));
        assert_eq!(
            shard_len(&pool, h),
            1,
            "given to the calling thread's shard"
        );
        assert!(pool.take(h, TypeId::of::<u64>()).is_none(), "another type");
        let back = pool.take(h, TypeId::of::<u32>()).expect("the cell");
        assert_eq!(back.downcast::<u32>().ok().as_deref(), Some(&7));
        assert!(pool.take(h, TypeId::of::<u32>()).is_none(), "taken once");
    }

    #[test]
    fn a_spawn_whose_shard_is_empty_takes_a_batch_from_another() {
        let pool = CellPool::new();
        let h = home();
        for n in 0..100 {
            pool.give(TypeId::of::<u32>(), cell(n));
        }
        let other = h.wrapping_add(1);
        assert!(pool.take(other, TypeId::of::<u32>()).is_some());
        assert_eq!(
            shard_len(&pool, other),
            BATCH - 1,
            "the rest of the batch moved"
        );
        assert_eq!(shard_len(&pool, h), 100 - BATCH);
        assert_eq!(pool.len(), 99);
    }

    #[test]
    fn a_shard_keeps_at_most_its_share_of_every_type_together() {
        let pool = CellPool::new();
        let kept: Vec<PooledCell> = (0..PER_SHARD as u32 + 10).map(cell).collect();
        let watch = Arc::downgrade(&kept[PER_SHARD + 5]);
        for (i, c) in kept.into_iter().enumerate() {
            let ty = if i % 2 == 0 {
                TypeId::of::<u32>()
            } else {
                TypeId::of::<u64>()
            };
            pool.give(ty, c);
        }
        assert_eq!(pool.len(), PER_SHARD);
        assert!(watch.upgrade().is_none(), "a refused cell is dropped");
        assert!(pool.take(home(), TypeId::of::<u64>()).is_some());
        pool.give(TypeId::of::<u32>(), cell(0));
        assert_eq!(pool.len(), PER_SHARD, "a take makes room for one");
    }

    #[test]
    fn a_closed_pool_drops_what_it_kept_and_keeps_nothing_more() {
        let pool = CellPool::new();
        let c = cell(1);
        let watch = Arc::downgrade(&c);
        pool.give(TypeId::of::<u32>(), c);
        pool.close();
        assert!(watch.upgrade().is_none(), "emptied");
        let c = cell(2);
        let watch = Arc::downgrade(&c);
        pool.give(TypeId::of::<u32>(), c);
        assert!(watch.upgrade().is_none(), "refused once closed");
        assert!(pool.take(home(), TypeId::of::<u32>()).is_none());
    }
}
