//! The one way RUSM takes a lock: [`Unpoisoned::locked`].
//!
//! No user code runs under any of RUSM's locks (callbacks, start functions and handlers run
//! after the guard is dropped), so a panic never leaves the data they guard half changed; a
//! poisoned lock — poisoned by a panic elsewhere on that thread, say a process's destructor —
//! still holds consistent data, and is taken as it is rather than turning one panic into
//! panics everywhere.

use std::sync::{Mutex, MutexGuard};

/// Locks a `Mutex`, ignoring poisoning (see the module docs for why that is sound here).
pub(crate) trait Unpoisoned<T: ?Sized> {
    /// The guard, whether or not a panic poisoned the lock.
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T: ?Sized> Unpoisoned<T> for Mutex<T> {
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(|p| p.into_inner())
    }
}
