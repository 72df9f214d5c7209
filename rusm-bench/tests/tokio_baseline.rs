//! Ensures every scenario runs end to end against the raw tokio baseline with small counts:
//! the TCP scenarios complete connections without errors and every held connection still
//! echoes, and the process scenarios finish their counts, so the figures RUSM is compared with
//! come from working code.

use rusm_bench::engine::{self, Baseline, RunConfig};
use rusm_bench::{Metrics, RunReport, Scenario, TargetKind};

fn run(scenario: Scenario, seconds: f64, tweak: impl FnOnce(&mut RunConfig)) -> RunReport {
    let mut config = RunConfig::new(scenario, seconds);
    config.target = TargetKind::Tokio;
    config.baseline = Baseline::None;
    tweak(&mut config);
    let report = engine::run(&config, &Metrics::new()).expect("scenario runs");
    assert_eq!(report.results.len(), 1, "tokio alone: {report}");
    report
}

fn figure(report: &RunReport, key: &str) -> f64 {
    report.results[0]
        .get(key)
        .unwrap_or_else(|| panic!("no figure {key}: {report}"))
}

#[test]
fn connection_storm_completes_connections_without_errors() {
    let r = run(Scenario::ConnectionStorm, 1.0, |c| c.concurrency = Some(4));
    assert!(figure(&r, "conns_per_s") > 0.0, "{r}");
    assert!(figure(&r, "peak_concurrent") <= 4.0, "{r}");
    assert!(r.results[0].errors.is_empty(), "{r}");
    let json = r.to_json();
    assert_eq!(json["scenario"], "connection-storm");
    assert!(json["cores"].as_u64().unwrap() >= 1);
}

#[test]
fn every_held_connection_still_echoes() {
    let r = run(Scenario::Hold, 0.5, |c| c.connections = Some(300));
    assert_eq!(figure(&r, "held"), 300.0, "{r}");
    assert_eq!(figure(&r, "echoing_after_hold"), 300.0, "{r}");
    assert!(r.results[0].limit.is_none(), "{r}");
}

#[test]
fn echo_throughput_counts_requests() {
    let r = run(Scenario::EchoThroughput, 0.5, |c| {
        c.connections = Some(4);
        c.size = Some(4096);
    });
    assert!(figure(&r, "requests_per_s") > 0.0, "{r}");
    assert!(figure(&r, "mb_per_s") > 0.0, "{r}");
    assert!(r.results[0].errors.is_empty(), "{r}");
}

#[test]
fn process_scenarios_finish_their_counts() {
    for (scenario, done_key, expected) in [
        (Scenario::SpawnStorm, "spawned", 10_000.0),
        (Scenario::PingPong, "round_trips", 10_000.0),
        (Scenario::IdleMemory, "processes", 10_000.0),
        (Scenario::FanIn, "received", 100_000.0),
    ] {
        let r = run(scenario, 30.0, |c| {
            c.count = Some(if scenario == Scenario::FanIn {
                1_000
            } else {
                10_000
            });
        });
        assert_eq!(figure(&r, done_key), expected, "{r}");
        let (primary, _) = scenario.primary();
        assert!(figure(&r, primary) > 0.0, "{r}");
    }
}

#[test]
fn restart_storm_restarts_until_its_count() {
    let r = run(Scenario::RestartStorm, 30.0, |c| c.count = Some(500));
    assert_eq!(figure(&r, "restarts"), 500.0, "{r}");
}

#[test]
fn rusm_target_falls_back_to_tokio_with_a_note_until_compiled_in() {
    let mut config = RunConfig::new(Scenario::SpawnStorm, 5.0);
    config.count = Some(1_000);
    let report = engine::run(&config, &Metrics::new()).unwrap();
    if report.results[0].target == "tokio" {
        assert!(
            report.notes.iter().any(|n| n.contains("not compiled")),
            "{report}"
        );
    } else {
        assert_eq!(
            report.results.len(),
            2,
            "rusm then the tokio baseline: {report}"
        );
        assert!(report.ratio().is_some(), "{report}");
    }
}
