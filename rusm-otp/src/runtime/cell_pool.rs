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
//! Cells are kept by the home shard of the thread that spawned them (a storm's cells go back
//! to the spawner's shard; spawns and exits spread over threads stay on theirs), at most
//! [`PER_SHARD`] per shard. A pooled cell still counts its runtime, so the
//! pool is closed and emptied when the runtime shuts down, and gives are refused from then on.

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

/// The pool: pooled cells by home shard and message type.
pub(crate) struct CellPool {
    shards: Box<[Shard]>,
    closed: AtomicBool,
}

/// One shard, on its own cache lines.
#[repr(align(128))]
struct Shard(Mutex<Kept>);

/// A shard's cells by message type, and how many in all.
#[derive(Default)]
struct Kept {
    by_type: HashMap<TypeId, Vec<PooledCell>, BuildHasherDefault<PidHasher>>,
    total: usize,
}

thread_local! {
    static HOME: u8 = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        (NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS) as u8
    };
}

/// The calling thread's home shard: where the cells it spawns go back to.
#[inline]
pub(crate) fn home() -> u8 {
    HOME.with(|h| *h)
}

impl CellPool {
    pub(crate) fn new() -> Self {
        CellPool {
            shards: (0..SHARDS).map(|_| Shard(Mutex::default())).collect(),
            closed: AtomicBool::new(false),
        }
    }

    fn shard(&self, home: u8) -> &Shard {
        &self.shards[usize::from(home) % SHARDS]
    }

    /// A pooled cell of message type `ty` from shard `home`, if there is one.
    pub(crate) fn take(&self, home: u8, ty: TypeId) -> Option<PooledCell> {
        let mut kept = self.shard(home).0.locked();
        let cell = kept.by_type.get_mut(&ty)?.pop()?;
        kept.total -= 1;
        Some(cell)
    }

    /// Keeps `cell` (of message type `ty`, with no other holder) in shard `home`, unless the
    /// shard is full or the pool closed: the cell is then dropped, outside the lock.
    pub(crate) fn give(&self, home: u8, ty: TypeId, cell: PooledCell) {
        let refused = {
            let mut kept = self.shard(home).0.locked();
            // Read under the shard's lock: `close` sets it before it empties each shard, so a
            // give either lands before the emptying or sees the pool closed.
            if self.closed.load(Ordering::Acquire) || kept.total >= PER_SHARD {
                Some(cell)
            } else {
                kept.by_type.entry(ty).or_default().push(cell);
                kept.total += 1;
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
            let kept = std::mem::take(&mut *shard.0.locked());
            drop(kept);
        }
    }

    /// Cells kept, of every type.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.0.locked().total).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(n: u32) -> PooledCell {
        Arc::new(n)
    }

    #[test]
    fn a_cell_comes_back_to_its_home_shard_and_type_only() {
        let pool = CellPool::new();
        pool.give(3, TypeId::of::<u32>(), cell(7));
        assert!(pool.take(4, TypeId::of::<u32>()).is_none(), "another shard");
        assert!(pool.take(3, TypeId::of::<u64>()).is_none(), "another type");
        let back = pool.take(3, TypeId::of::<u32>()).expect("the cell");
        assert_eq!(back.downcast::<u32>().ok().as_deref(), Some(&7));
        assert!(pool.take(3, TypeId::of::<u32>()).is_none(), "taken once");
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
            pool.give(0, ty, c);
        }
        assert_eq!(pool.len(), PER_SHARD);
        assert!(watch.upgrade().is_none(), "a refused cell is dropped");
        pool.give(1, TypeId::of::<u32>(), cell(0));
        assert_eq!(pool.len(), PER_SHARD + 1, "another shard has room");
        assert!(pool.take(0, TypeId::of::<u64>()).is_some());
        pool.give(0, TypeId::of::<u32>(), cell(0));
        assert_eq!(pool.len(), PER_SHARD + 1, "a take makes room for one");
    }

    #[test]
    fn a_closed_pool_drops_what_it_kept_and_keeps_nothing_more() {
        let pool = CellPool::new();
        let c = cell(1);
        let watch = Arc::downgrade(&c);
        pool.give(1, TypeId::of::<u32>(), c);
        pool.close();
        assert!(watch.upgrade().is_none(), "emptied");
        let c = cell(2);
        let watch = Arc::downgrade(&c);
        pool.give(1, TypeId::of::<u32>(), c);
        assert!(watch.upgrade().is_none(), "refused once closed");
        assert!(pool.take(1, TypeId::of::<u32>()).is_none());
    }
}
