//! Runs one scenario against the system under test and then, unless `--baseline none`, against
//! raw tokio, and collects both into a [`RunReport`]; with `--runs N` it does so N times,
//! interleaved (RUSM, the baselines, RUSM, …), and the report gives medians with min–max.

use std::io;
use std::sync::Arc;

use crate::metrics::Metrics;
use crate::report::RunReport;
use crate::scenario::{self, Ctx};
use crate::target::{TargetKind, TokioTarget};

// What a run is asked is in `config.rs`; these paths stay for the callers of `engine::run`.
pub use crate::config::{Baseline, RunConfig};

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
///
/// # Errors
///
/// `setrlimit` failed.
pub fn raise_nofile() -> io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// The RLIMIT_NOFILE `(soft, hard)` limits.
pub fn nofile_limits() -> (u64, u64) {
    rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap_or((1024, 1024))
}

/// Runs `config`, publishing live figures on `metrics`.
///
/// When the RUSM target is not compiled in, it measures raw tokio alone and says so in the
/// report's notes.
///
/// # Errors
///
/// A scenario could not be set up (runtime, listener, child process).
pub fn run(config: &RunConfig, metrics: &Arc<Metrics>) -> io::Result<RunReport> {
    let mut notes = Vec::new();
    let (sut_kind, sut) = match config.target.build() {
        Ok(t) => (config.target, t),
        Err(why) => {
            notes.push(format!("{why}: measured raw tokio instead"));
            (TargetKind::Tokio, Arc::new(TokioTarget::new()) as _)
        }
    };
    let mut targets = vec![(sut_kind, sut)];
    match config.baseline {
        Baseline::Tokio if sut_kind != TargetKind::Tokio => {
            targets.push((TargetKind::Tokio, Arc::new(TokioTarget::new()) as _));
        }
        Baseline::Tokio => {
            notes.push("the target is raw tokio itself: no separate baseline".into())
        }
        Baseline::None => {}
    }
    let (soft, hard) = nofile_limits();
    let runs = config
        .runs
        .unwrap_or_else(|| config.scenario.default_runs())
        .max(1);
    let mut per_run = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut results = Vec::new();
        for (i, (kind, target)) in targets.iter().enumerate() {
            // What the previous target freed must not be reused, unseen, by this one.
            crate::rss::release_freed_memory();
            metrics.begin(config.scenario.name(), target.name());
            metrics.set_target(Some(target.clone()));
            let ctx = Ctx {
                target: target.clone(),
                kind: *kind,
                config,
                metrics,
                nofile_hard: hard,
                is_baseline: i > 0,
            };
            let result = scenario::run(config.scenario, &ctx);
            metrics.end();
            results.extend(result?);
        }
        per_run.push(results);
    }
    let (primary, higher_is_better) = config.scenario.primary();
    let report = RunReport {
        scenario: config.scenario.name().to_owned(),
        seconds: config.seconds,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        nofile_limit: soft,
        primary,
        higher_is_better,
        results: Vec::new(),
        runs: Vec::new(),
        notes,
    };
    Ok(if runs > 1 {
        report.with_runs(per_run)
    } else {
        RunReport {
            results: per_run.pop().unwrap_or_default(),
            ..report
        }
    })
}
