//! `GET /metrics`: the runtime's figures in the Prometheus text exposition format
//! (OpenMetrics), encoded by `prometheus-client`.
//!
//! Every figure is read at scrape time from the runtime's own counters, so a runtime that is
//! never scraped pays nothing for it: a fresh registry is filled and encoded per request.
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `rusm_processes_alive` | gauge | |
//! | `rusm_processes_spawned_total` | counter | |
//! | `rusm_process_exits_total` | counter | `class`: normal, shutdown, killed, error, panic |
//! | `rusm_supervisor_restarts_total` | counter | `supervisor`: its path in the tree |
//! | `rusm_supervisor_intensity_exceeded_total` | counter | `supervisor` |
//! | `rusm_listener_connections` | gauge | `listener`: its address |
//! | `rusm_listener_connections_accepted_total` | counter | `listener` |
//! | `rusm_listener_max_connections` | gauge | `listener` |
//! | `rusm_listener_accepting` | gauge (0 or 1) | `listener` |
//! | `rusm_listener_accept_errors_total` | counter | `listener`, `class`: per_connection, resource, listener_dead, unknown |

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::{ExitCounts, Runtime};

type Labels = Vec<(&'static str, String)>;
type Counters = Family<Labels, Counter<u64, AtomicU64>>;
type Gauges = Family<Labels, Gauge>;

/// A counter family registered as `name` (encoded with `_total`).
fn counters(registry: &mut Registry, name: &str, help: &str) -> Counters {
    let family = Counters::default();
    registry.register(name, help, family.clone());
    family
}

fn gauges(registry: &mut Registry, name: &str, help: &str) -> Gauges {
    let family = Gauges::default();
    registry.register(name, help, family.clone());
    family
}

fn gauge_value(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The exposition text of `rt`'s figures now.
pub(super) fn render(rt: &Runtime) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::with_prefix("rusm");

    let alive = Gauge::<i64>::default();
    alive.set(gauge_value(rt.alive_processes()));
    registry.register("processes_alive", "Processes alive now", alive);
    let spawned = Counter::<u64, AtomicU64>::default();
    spawned.inc_by(rt.spawned_processes());
    registry.register(
        "processes_spawned",
        "Processes spawned since the runtime started",
        spawned,
    );

    let exits = counters(
        &mut registry,
        "process_exits",
        "Process exits by reason class (error includes noproc)",
    );
    for (class, n) in ExitCounts::CLASSES.iter().zip(rt.exit_counts().by_class()) {
        exits
            .get_or_create(&vec![("class", class.to_string())])
            .inc_by(n);
    }

    let restarts = counters(
        &mut registry,
        "supervisor_restarts",
        "Restarts of a supervisor's children since the supervisor (re)started, by its path in the tree",
    );
    for (path, n) in rt.tree().supervisor_restarts() {
        restarts
            .get_or_create(&vec![("supervisor", path)])
            .inc_by(n);
    }
    let exceeded = counters(
        &mut registry,
        "supervisor_intensity_exceeded",
        "Times a supervisor reached its restart intensity and shut down, by its path in the tree",
    );
    for (path, n) in rt.intensity_exceeded() {
        exceeded
            .get_or_create(&vec![("supervisor", path)])
            .inc_by(n);
    }

    let conns = gauges(
        &mut registry,
        "listener_connections",
        "Connection processes alive now, by listener address",
    );
    let accepted = counters(
        &mut registry,
        "listener_connections_accepted",
        "Connections accepted since the listener started, by listener address",
    );
    let max = gauges(
        &mut registry,
        "listener_max_connections",
        "The limit on connection processes, by listener address",
    );
    let accepting = gauges(
        &mut registry,
        "listener_accepting",
        "1 while the listener accepts, 0 while suspended or draining",
    );
    let errors = counters(
        &mut registry,
        "listener_accept_errors",
        "Accept errors by listener address and class",
    );
    for l in rt.listeners() {
        let info = l.info();
        let at = vec![("listener", info.addr.to_string())];
        conns.get_or_create(&at).set(gauge_value(info.connections));
        accepted.get_or_create(&at).inc_by(info.accepted);
        max.get_or_create(&at)
            .set(gauge_value(info.max_connections));
        accepting.get_or_create(&at).set(i64::from(info.accepting));
        let e = info.accept_errors;
        for (class, n) in [
            ("per_connection", e.per_connection),
            ("resource", e.resource),
            ("listener_dead", e.listener_dead),
            ("unknown", e.unknown),
        ] {
            let mut labels = at.clone();
            labels.push(("class", class.to_string()));
            errors.get_or_create(&labels).inc_by(n);
        }
    }

    let mut out = String::new();
    encode(&mut out, &registry)?;
    Ok(out)
}
