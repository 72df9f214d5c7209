//! Restart strategies and the restart-intensity window.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Which children a supervisor restarts when one of them must be restarted
/// (<https://www.erlang.org/doc/system/sup_princ#restart-strategy>).
///
/// ```text
///  one_for_one          one_for_all           rest_for_one
///  A  B  C              A  B  C               A  B  C
///     ✗                    ✗                     ✗
///     ↻                 ↻  ↻  ↻                  ↻  ↻
/// ```
/// With `OneForAll` and `RestForOne` the others are stopped in reverse start order, then all
/// are started again in start order; temporary children among them are not restarted.
///
/// While the group waits to start again — its restart delayed by a [`Backoff`](crate::Backoff),
/// or a failed start being retried — only the child the restart is for shows `restarting`;
/// the others are stopped children (OTP's pid `undefined`, `restart_multiple_children/3`),
/// which `restart_child` and `delete_child` accept. Terminating the restarting child cancels
/// the group's restart, and its stopped siblings stay stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Restart only the child that exited (the default).
    #[default]
    OneForOne,
    /// Restart every child.
    OneForAll,
    /// Restart the child and every child started after it.
    RestForOne,
}

impl Strategy {
    /// OTP's name for the strategy.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::OneForOne => "one_for_one",
            Strategy::OneForAll => "one_for_all",
            Strategy::RestForOne => "rest_for_one",
        }
    }
}

/// When a supervisor ends itself because of its significant children (OTP ≥ 24).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoShutdown {
    /// Never (the default).
    #[default]
    Never,
    /// When any significant child exits by itself and is not restarted.
    AnySignificant,
    /// When the last running significant child exits by itself and is not restarted.
    AllSignificant,
}

/// OTP's default restart intensity: 1 restart…
pub const DEFAULT_INTENSITY: u32 = 1;
/// …in 5 seconds.
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(5);

/// The sliding window of OTP's `add_restart/1`: each restart decision records the current
/// monotonic time in whole seconds and forgets those older than `period`; more than `intensity`
/// entries and the supervisor gives up. A group restart is one decision.
#[derive(Debug)]
pub(crate) struct RestartWindow {
    intensity: u32,
    period_secs: u64,
    epoch: Instant,
    restarts: VecDeque<u64>,
}

impl RestartWindow {
    pub(crate) fn new(intensity: u32, period: Duration) -> Self {
        RestartWindow {
            intensity,
            period_secs: period.as_secs().max(1),
            epoch: Instant::now(),
            restarts: VecDeque::new(),
        }
    }

    /// Records a restart; returns `false` when the intensity is exceeded.
    pub(crate) fn add_restart(&mut self) -> bool {
        let now = self.epoch.elapsed().as_secs();
        let oldest = now.saturating_sub(self.period_secs);
        while self.restarts.front().is_some_and(|t| *t < oldest) {
            self.restarts.pop_front();
        }
        self.restarts.push_back(now);
        self.restarts.len() <= self.intensity as usize
    }
}
