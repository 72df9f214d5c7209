//! [`StopHook`]: what a supervisor runs once as it starts to stop.

use crate::lock::Unpoisoned;
use std::sync::{Arc, Mutex};

/// A callback run once, when a supervisor starts to stop — before it stops its children — or
/// at the latest when its process state is dropped (a `kill`), before its exit is published.
/// A listener closes its socket here, so that a stopping listener refuses clients at once.
#[derive(Clone)]
pub(crate) struct StopHook(Arc<StopHookOnce>);

struct StopHookOnce(Mutex<Option<Box<dyn FnOnce() + Send>>>);

impl StopHook {
    pub(crate) fn new(f: impl FnOnce() + Send + 'static) -> Self {
        StopHook(Arc::new(StopHookOnce(Mutex::new(Some(Box::new(f))))))
    }

    pub(crate) fn run(&self) {
        self.0.run();
    }
}

impl StopHookOnce {
    fn run(&self) {
        let f = self.0.locked().take();
        if let Some(f) = f {
            f();
        }
    }
}

impl Drop for StopHookOnce {
    fn drop(&mut self) {
        self.run();
    }
}

impl std::fmt::Debug for StopHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StopHook")
    }
}
