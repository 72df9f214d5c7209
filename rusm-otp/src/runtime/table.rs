//! The process table: every live process's cell by pid, in shards.
//!
//! Pids are handed out in order, so the table is laid out by pid rather than hashed: each shard
//! owns blocks of [`BLOCK`] consecutive pids (block `b` belongs to shard `b % SHARDS`), and keeps
//! its pids in a window, a ring of slots indexed by the pid's place among the shard's own. A
//! spawn appends at the window's end and an exit clears its slot; slots cleared at the front
//! are dropped, so that a storm of short-lived processes walks the window forwards on memory
//! that is already in the cache, with no hashing and no probing. A process that outlives many
//! others (a supervisor) would pin the window's front: once the window holds more than four
//! slots per live entry, its front is moved into a small map of the old ones, and the window
//! starts again after it.
//!
//! A spawning thread stays on one shard (one lock, one cache line) for [`BLOCK`] spawns in a
//! row, and the exits of those processes, wherever they run, meet the same line later, rather
//! than every spawn and every exit taking a line from another core.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::exit::ExitReason;
use crate::lock::Unpoisoned;
use crate::pid::Pid;
use crate::process::cell::Cell;

/// A hasher for pids, which are already unique sequential integers.
#[derive(Default)]
pub(crate) struct PidHasher(u64);

impl Hasher for PidHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub(crate) type PidMap<V> = HashMap<u64, V, BuildHasherDefault<PidHasher>>;

/// Shards of the table.
pub(crate) const SHARDS: u64 = 64;
/// Consecutive pids that share a shard.
pub(crate) const BLOCK: u64 = 32;
/// A window shorter than this is never compacted.
const MIN_WINDOW: usize = 64;

/// The process table.
pub(crate) struct Table {
    shards: Box<[Shard]>,
}

/// One shard, aligned to 128 bytes (two cache lines, what the adjacent-line prefetcher pulls
/// together), so that two threads on neighbouring shards do not share a line.
#[repr(align(128))]
struct Shard(Mutex<Slots>);

/// A shard's processes (`T`: their cells), and the counts kept under the same lock (spawns
/// and exits by reason class), so that a spawn and an exit touch no counter shared by every
/// thread.
struct Slots<T = Arc<Cell>> {
    /// Which shard this is.
    shard: u64,
    /// The shard-local index of `window[0]`.
    base: u64,
    window: VecDeque<Option<T>>,
    /// Entries of `window` that are `Some`.
    in_window: usize,
    /// Entries older than the window's start, by pid.
    old: PidMap<T>,
    spawned: u64,
    /// Exits by reason class (`ExitReason::class_index`).
    exits: [u64; 5],
}

impl<T> Slots<T> {
    fn new(shard: u64) -> Self {
        Slots {
            shard,
            base: 0,
            window: VecDeque::new(),
            in_window: 0,
            old: PidMap::default(),
            spawned: 0,
            exits: [0; 5],
        }
    }
}

/// Which shard `pid` belongs to, and its index among that shard's pids.
fn place(pid: Pid) -> (usize, u64) {
    let block = pid.0 / BLOCK;
    let shard = (block % SHARDS) as usize;
    (shard, (block / SHARDS) * BLOCK + pid.0 % BLOCK)
}

/// The pid of shard `shard`'s `i`-th: `place`'s inverse.
fn pid_of(shard: u64, i: u64) -> u64 {
    ((i / BLOCK) * SHARDS + shard) * BLOCK + i % BLOCK
}

impl<T> Slots<T> {
    /// Adds the entry of `pid`, the shard's `i`-th.
    fn insert(&mut self, i: u64, pid: Pid, entry: T) {
        self.spawned += 1;
        if self.window.is_empty() && self.old.is_empty() && self.base == 0 {
            self.base = i;
        }
        if i < self.base {
            self.old.insert(pid.0, entry);
            return;
        }
        let at = (i - self.base) as usize;
        if at == self.window.len() {
            // The common case: the shard's next pid, appended.
            self.window.push_back(Some(entry));
            self.in_window += 1;
            return;
        }
        if at > self.window.len() {
            self.window.resize_with(at + 1, || None);
        }
        if self.window[at].replace(entry).is_none() {
            self.in_window += 1;
        }
    }

    fn get(&self, i: u64, pid: Pid) -> Option<&T> {
        if i >= self.base {
            let at = usize::try_from(i - self.base).ok()?;
            return self.window.get(at)?.as_ref();
        }
        self.old.get(&pid.0)
    }

    fn remove(&mut self, i: u64, pid: Pid) -> Option<T> {
        if i < self.base {
            return self.old.remove(&pid.0);
        }
        let at = usize::try_from(i - self.base).ok()?;
        let entry = self.window.get_mut(at)?.take()?;
        self.in_window -= 1;
        if at == 0 {
            // The common case: the oldest exits first; only the cleared front moves.
            self.drop_cleared_front();
            if self.window.len() <= MIN_WINDOW {
                return Some(entry);
            }
        }
        self.trim();
        Some(entry)
    }

    /// Drops the cleared slots at the window's front; moves the front into `old` while the
    /// window holds more than four slots per live entry.
    fn trim(&mut self) {
        self.drop_cleared_front();
        if self.window.len() > MIN_WINDOW && self.window.len() > 4 * self.in_window {
            while self.window.len() > 2 * self.in_window {
                match self.window.pop_front() {
                    Some(Some(entry)) => {
                        self.in_window -= 1;
                        self.old.insert(pid_of(self.shard, self.base), entry);
                    }
                    Some(None) => {}
                    None => break,
                }
                self.base += 1;
            }
            self.drop_cleared_front();
            if self.window.capacity() > 4 * self.window.len().max(MIN_WINDOW) {
                self.window.shrink_to(2 * self.window.len().max(MIN_WINDOW));
            }
        }
    }

    fn drop_cleared_front(&mut self) {
        while let Some(None) = self.window.front() {
            self.window.pop_front();
            self.base += 1;
        }
    }

    fn len(&self) -> usize {
        self.in_window + self.old.len()
    }

    fn entries(&self) -> impl Iterator<Item = &T> {
        self.window.iter().flatten().chain(self.old.values())
    }
}

impl Table {
    pub(crate) fn new() -> Self {
        Table {
            shards: (0..SHARDS)
                .map(|s| Shard(Mutex::new(Slots::new(s))))
                .collect(),
        }
    }

    fn lock(&self, shard: usize) -> MutexGuard<'_, Slots> {
        // No user code runs under this lock.
        self.shards[shard].0.locked()
    }

    pub(crate) fn insert(&self, cell: Arc<Cell>) {
        let (shard, i) = place(cell.pid);
        let pid = cell.pid;
        self.lock(shard).insert(i, pid, cell);
    }

    /// Removes an exited process and counts its exit by the class of its reason.
    pub(crate) fn remove(&self, pid: Pid, reason: &ExitReason) {
        let (shard, i) = place(pid);
        let removed = {
            let mut slots = self.lock(shard);
            slots.exits[reason.class_index()] += 1;
            slots.remove(i, pid)
        };
        // The table's count of the cell is dropped outside the lock.
        drop(removed);
    }

    pub(crate) fn lookup(&self, pid: Pid) -> Option<Arc<Cell>> {
        let (shard, i) = place(pid);
        self.lock(shard).get(i, pid).cloned()
    }

    pub(crate) fn cells(&self) -> Vec<Arc<Cell>> {
        let mut cells = Vec::new();
        for shard in 0..self.shards.len() {
            cells.extend(self.lock(shard).entries().cloned());
        }
        cells
    }

    pub(crate) fn alive(&self) -> usize {
        (0..self.shards.len()).map(|s| self.lock(s).len()).sum()
    }

    pub(crate) fn spawned(&self) -> u64 {
        (0..self.shards.len()).map(|s| self.lock(s).spawned).sum()
    }

    /// Exits of reason class `class` (`ExitReason::class_index`).
    pub(crate) fn exits(&self, class: usize) -> u64 {
        (0..self.shards.len())
            .map(|s| self.lock(s).exits[class])
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_of_a_block_share_a_shard_and_get_dense_indexes() {
        let pids: Vec<(usize, u64)> = (0..BLOCK).map(|n| place(Pid(n))).collect();
        assert!(pids.iter().all(|&(s, _)| s == 0));
        assert_eq!(
            pids.iter().map(|&(_, i)| i).collect::<Vec<_>>(),
            (0..BLOCK).collect::<Vec<_>>()
        );
        assert_eq!(place(Pid(BLOCK)), (1, 0));
        assert_eq!(place(Pid(BLOCK * SHARDS)), (0, BLOCK));
        assert_eq!(place(Pid(BLOCK * SHARDS + 3)), (0, BLOCK + 3));
    }

    /// A shard of plain numbers: the window logic without cells (which need a runtime).
    fn slots() -> Slots<u64> {
        Slots::new(5)
    }

    fn pid(i: u64) -> Pid {
        let pid = Pid(pid_of(5, i));
        assert_eq!(place(pid), (5, i));
        pid
    }

    fn insert(s: &mut Slots<u64>, i: u64) {
        s.insert(i, pid(i), i);
    }

    fn remove(s: &mut Slots<u64>, i: u64) -> bool {
        s.remove(i, pid(i)) == Some(i)
    }

    fn contains(s: &Slots<u64>, i: u64) -> bool {
        s.get(i, pid(i)) == Some(&i)
    }

    #[test]
    fn a_long_lived_entry_among_short_lived_ones_keeps_the_window_short() {
        let mut s = slots();
        insert(&mut s, 1);
        for i in 2..100_000 {
            insert(&mut s, i);
            assert!(remove(&mut s, i));
            assert!(
                s.window.len() <= MIN_WINDOW + 1,
                "window {}",
                s.window.len()
            );
        }
        assert!(contains(&s, 1), "the long-lived entry is still found");
        assert!(
            s.old.contains_key(&pid(1).0),
            "and was moved out of the window"
        );
        assert_eq!(s.len(), 1);
        assert!(remove(&mut s, 1));
        assert!(!contains(&s, 1));
        assert_eq!((s.len(), s.spawned), (0, 99_999));
    }

    #[test]
    fn a_storm_walks_the_window_forwards_without_growing_it() {
        let mut s = slots();
        for i in 0..10_000 {
            insert(&mut s, i);
            if i >= 100 {
                assert!(remove(&mut s, i - 100));
            }
        }
        assert_eq!(s.len(), 100);
        assert!(s.old.is_empty(), "nothing outlived the window");
        assert!(s.window.len() <= 101, "window {}", s.window.len());
        assert_eq!(s.entries().count(), 100);
    }

    #[test]
    fn out_of_order_inserts_and_removes_keep_every_entry() {
        let mut s = slots();
        let mut live = std::collections::BTreeSet::new();
        // A deterministic shuffle: inserts in pairs, some out of order, removes of any.
        let mut x: u64 = 12345;
        let mut next = 1u64;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x % 3 < 2 {
                let (a, b) = (next, next + 1);
                next += 2;
                if x % 2 == 0 {
                    insert(&mut s, b);
                    insert(&mut s, a);
                } else {
                    insert(&mut s, a);
                    insert(&mut s, b);
                }
                live.insert(a);
                live.insert(b);
            } else if let Some(&i) = live.iter().nth((x as usize / 3) % live.len().max(1)) {
                assert!(remove(&mut s, i));
                live.remove(&i);
            }
        }
        for i in 1..next {
            assert_eq!(contains(&s, i), live.contains(&i), "index {i}");
        }
        assert_eq!(s.len(), live.len());
        let mut all: Vec<u64> = s.entries().copied().collect();
        all.sort_unstable();
        assert_eq!(all, live.into_iter().collect::<Vec<_>>());
    }
}
