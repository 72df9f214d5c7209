//! Ensures the observer does not stall the application it watches: with 10,000 processes
//! alive, the process table of all of them is served while an echo listener keeps
//! answering. The measurement behind docs/BENCHMARKS.md ("Observer") is an example:
//!
//! ```text
//! cargo run -p rusm --release --example observer_latency
//! ```
#![cfg(feature = "observer")]

mod observer_support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use observer_support::*;

#[test]
fn a_table_of_10000_processes_is_served_while_echo_answers() {
    let (rt, echo, idle) = application();
    let observer = rusm::observer::serve(&rt, "127.0.0.1:0").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let fetches = Arc::new(AtomicU64::new(0));
    let reader = table_reader(
        observer.local_addr(),
        None,
        true,
        stop.clone(),
        fetches.clone(),
        Arc::new(AtomicU64::new(0)),
    );
    let lat = echo_latencies(echo, 2, Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    assert!(fetches.load(Ordering::Relaxed) >= 1, "the table was served");
    assert!(
        lat.len() > 100,
        "echo kept answering: {} round trips",
        lat.len()
    );
    let table: serde_json::Value = serde_json::from_str(&get(
        observer.local_addr(),
        &format!("/api/processes?limit={PROCESSES}"),
    ))
    .unwrap();
    assert_eq!(table["rows"].as_array().unwrap().len(), PROCESSES);
    drop(observer);
    for p in idle {
        p.kill();
    }
}
