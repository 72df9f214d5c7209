//! What `rusm-bench run` (or the dashboard's `/run`) was asked: the scenario, the system under
//! test, the baseline and every knob. The engine runs it; the scenarios read it.

use crate::scenario::Scenario;
use crate::target::TargetKind;

/// The baseline a run compares with (`--baseline`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Baseline {
    /// Raw tokio, in the same run.
    Tokio,
    /// No baseline: measure the system under test only.
    None,
}

/// Everything `rusm-bench run` was asked.
#[derive(Debug, Clone, PartialEq)]
pub struct RunConfig {
    /// The scenario.
    pub scenario: Scenario,
    /// Time bound, seconds.
    pub seconds: f64,
    /// The system under test.
    pub target: TargetKind,
    /// What to compare with.
    pub baseline: Baseline,
    /// Connector loops (`connection-storm`) or senders (`fan-in`).
    pub concurrency: Option<usize>,
    /// Connections (`hold`, `echo-throughput`).
    pub connections: Option<usize>,
    /// Request size in bytes (`echo-throughput`).
    pub size: Option<usize>,
    /// Count for the process scenarios.
    pub count: Option<u64>,
    /// Client source addresses `127.0.0.1 ..= 127.0.0.<sources>`.
    pub sources: u8,
    /// Run TCP servers in a child process.
    pub server_process: bool,
    /// Acceptors per listening socket (`connection-storm`); `None`: each side's default.
    pub acceptors: Option<usize>,
    /// Listening sockets sharing the port (`connection-storm`).
    pub listeners: usize,
    /// Server and client processes (`hold`).
    pub processes: usize,
    /// Interleaved runs of every target; `None`: the scenario's default
    /// ([`Scenario::default_runs`]).
    pub runs: Option<usize>,
}

impl RunConfig {
    /// `scenario` for `seconds` with every default: RUSM against raw tokio.
    pub fn new(scenario: Scenario, seconds: f64) -> Self {
        RunConfig {
            scenario,
            seconds,
            target: TargetKind::Rusm,
            baseline: Baseline::Tokio,
            concurrency: None,
            connections: None,
            size: None,
            count: None,
            sources: 16,
            server_process: false,
            acceptors: None,
            listeners: 1,
            processes: 1,
            runs: None,
        }
    }
}
