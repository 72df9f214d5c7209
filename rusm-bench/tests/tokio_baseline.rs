//! Ensures every scenario runs end to end against the raw tokio baseline with small counts:
//! the TCP scenarios complete connections without errors and every held connection still
//! echoes, and the process scenarios finish their counts, so the figures RUSM is compared with
//! come from working code. The `tls-*` scenarios are run on both targets.

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
        let names: Vec<&str> = report.results.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(
            names,
            ["rusm", "tokio-task-mpsc", "tokio-bare", "tokio-task-shared"],
            "rusm then the tokio baselines and the floor: {report}"
        );
        assert!(report.ratio().is_some(), "{report}");
    }
}

#[test]
fn server_call_answers_every_call_right() {
    let r = run(Scenario::ServerCall, 30.0, |c| {
        c.count = Some(200);
        c.runs = Some(1);
    });
    assert_eq!(figure(&r, "calls"), 50.0 * 200.0, "{r}");
    assert_eq!(figure(&r, "failed"), 0.0, "{r}");
    assert_eq!(figure(&r, "in_flight_per_client"), 16.0, "{r}");
    assert_eq!(r.results[0].target, "tokio-actor", "{r}");
    assert!(r.results[0]
        .label
        .as_deref()
        .unwrap()
        .starts_with("like-for-like"));
}

#[test]
fn broadcast_reaches_every_member_every_time() {
    let r = run(Scenario::Broadcast, 30.0, |c| {
        c.connections = Some(500);
        c.count = Some(20);
        c.runs = Some(1);
    });
    assert_eq!(figure(&r, "deliveries"), 500.0 * 20.0, "{r}");
    assert_eq!(figure(&r, "broadcasts"), 20.0, "{r}");
    assert!(figure(&r, "deliveries_per_s") > 0.0, "{r}");
}

#[test]
fn server_call_interleaves_rusm_and_both_labelled_baselines() {
    let mut config = RunConfig::new(Scenario::ServerCall, 30.0);
    config.count = Some(100);
    config.concurrency = Some(1);
    config.runs = Some(3);
    let report = engine::run(&config, &Metrics::new()).unwrap();
    let names: Vec<&str> = report.results.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        names,
        ["rusm", "tokio-actor", "tokio-mutex-map"],
        "{report}"
    );
    assert_eq!(report.run_count(), 3, "{report}");
    for r in &report.results {
        assert_eq!(r.get("calls"), Some(50.0 * 100.0), "{report}");
        assert_eq!(r.get("in_flight_per_client"), Some(1.0), "{report}");
        assert!(r.label.is_some(), "{report}");
    }
    assert_eq!(report.ratio_to(2, "calls_per_s").unwrap().each.len(), 3);
    let json = report.to_json();
    assert_eq!(json["baselines"][0]["target"], "tokio-actor");
    assert!(json["baselines"][1]["label"]
        .as_str()
        .unwrap()
        .contains("physical limit"));
}

#[test]
fn broadcast_on_rusm_reaches_every_group_member() {
    let mut config = RunConfig::new(Scenario::Broadcast, 30.0);
    config.connections = Some(300);
    config.count = Some(10);
    config.runs = Some(1);
    config.baseline = Baseline::None;
    let report = engine::run(&config, &Metrics::new()).unwrap();
    assert_eq!(report.results.len(), 1, "{report}");
    assert_eq!(
        report.results[0].get("deliveries"),
        Some(3_000.0),
        "{report}"
    );
}

#[test]
fn process_scenarios_measure_rusm_and_both_labelled_baselines() {
    for (scenario, done_key, count, expected) in [
        (Scenario::SpawnStorm, "spawned", 2_000, 2_000.0),
        (Scenario::PingPong, "round_trips", 2_000, 2_000.0),
        (Scenario::IdleMemory, "processes", 2_000, 2_000.0),
        (Scenario::FanIn, "received", 100, 10_000.0),
    ] {
        let mut config = RunConfig::new(scenario, 30.0);
        config.count = Some(count);
        config.runs = Some(2);
        let report = engine::run(&config, &Metrics::new()).unwrap();
        let names: Vec<&str> = report.results.iter().map(|r| r.target.as_str()).collect();
        let floor = matches!(scenario, Scenario::SpawnStorm | Scenario::IdleMemory);
        if floor {
            assert_eq!(
                names,
                ["rusm", "tokio-task-mpsc", "tokio-bare", "tokio-task-shared"],
                "{report}"
            );
        } else {
            assert_eq!(names, ["rusm", "tokio-task-mpsc", "tokio-bare"], "{report}");
        }
        assert_eq!(report.run_count(), 2, "{report}");
        for r in &report.results {
            assert_eq!(r.get(done_key), Some(expected), "{report}");
        }
        let labels: Vec<&str> = report.results[1..]
            .iter()
            .map(|r| r.label.as_deref().unwrap())
            .collect();
        assert!(
            labels[0].starts_with("like-for-like: task + channel"),
            "{report}"
        );
        assert!(
            labels[1].starts_with("bare tokio, the physical limit"),
            "{report}"
        );
        let text = report.to_string();
        assert!(
            text.contains("tokio-task-mpsc") && text.contains("tokio-bare"),
            "{text}"
        );
        if floor {
            assert!(
                labels[2].starts_with("the floor of a reachable process"),
                "{report}"
            );
            assert!(text.contains("tokio-task-shared"), "{text}");
        }
        let json = report.to_json();
        assert_eq!(json["baselines"][1]["target"], "tokio-bare");
        if floor {
            assert_eq!(json["baselines"][2]["target"], "tokio-task-shared");
            assert_eq!(
                json["baselines"][2]["ratio_per_run"]
                    .as_array()
                    .unwrap()
                    .len(),
                2
            );
        }
        assert_eq!(
            json["baselines"][1]["ratio_per_run"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }
}

#[test]
fn tls_scenarios_complete_handshakes_and_requests_on_both_targets() {
    for target in [TargetKind::Tokio, TargetKind::Rusm] {
        let r = run(Scenario::TlsHandshakeStorm, 1.0, |c| {
            c.target = target;
            c.concurrency = Some(4);
            c.runs = Some(1);
        });
        assert!(figure(&r, "conns_per_s") > 0.0, "{r}");
        assert!(r.results[0].errors.is_empty(), "{r}");
        let r = run(Scenario::TlsEcho, 0.5, |c| {
            c.target = target;
            c.connections = Some(4);
            c.runs = Some(1);
        });
        assert!(figure(&r, "requests_per_s") > 0.0, "{r}");
        assert!(r.results[0].errors.is_empty(), "{r}");
    }
}
