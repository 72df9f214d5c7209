//! How much the observer costs the application it watches: echo round-trip latency with
//! 10,000 processes alive, without observer requests, with the process table page open, and
//! with the table fetched or rebuilt back to back (docs/BENCHMARKS.md, "Observer").
//!
//! ```text
//! cargo run -p rusm --release --example observer_latency
//! ```

#[path = "../tests/observer_support/mod.rs"]
mod observer_support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use observer_support::*;
use rusm::TopBy;

fn main() {
    let (rt, echo, idle) = application();
    let observer = rusm::observer::serve(&rt, "127.0.0.1:0").unwrap();
    let run = Duration::from_secs(5);
    let conns = 4;
    println!(
        "{PROCESSES} idle processes; {conns} connections echoing 64 B round trips for {run:?} per phase"
    );
    let t = Instant::now();
    for _ in 0..20 {
        assert_eq!(rt.process_rows(TopBy::Memory, PROCESSES).len(), PROCESSES);
    }
    println!(
        "Runtime::process_rows(Memory, {PROCESSES}): {:.1} ms each (20 calls, nothing else running)",
        t.elapsed().as_secs_f64() * 1000.0 / 20.0
    );
    let t = Instant::now();
    for i in 0..20 {
        // Alternating limits: each answer is built anew, none is the reused last one.
        get(
            observer.local_addr(),
            &format!("/api/processes?sort=memory&limit={}", PROCESSES - i % 2),
        );
    }
    println!(
        "GET /api/processes?limit={PROCESSES}: {:.1} ms each (20 requests, nothing else running)",
        t.elapsed().as_secs_f64() * 1000.0 / 20.0
    );
    println!("phase                               round trips    p50 µs    p99 µs  p99.9 µs    max µs   table fetches (mean ms)");
    for round in 1..=2 {
        for (name, mode) in [
            ("no observer requests", 0),
            ("table page open (1 fetch/s)", 1),
            ("table fetched back to back", 2),
            ("table built back to back", 3),
        ] {
            let stop = Arc::new(AtomicBool::new(false));
            let fetches = Arc::new(AtomicU64::new(0));
            let busy = Arc::new(AtomicU64::new(0));
            let reader = (mode > 0).then(|| {
                table_reader(
                    observer.local_addr(),
                    (mode == 1).then_some(Duration::from_secs(1)),
                    mode == 3,
                    stop.clone(),
                    fetches.clone(),
                    busy.clone(),
                )
            });
            let mut lat = echo_latencies(echo, conns, run);
            stop.store(true, Ordering::Relaxed);
            if let Some(r) = reader {
                r.join().unwrap();
            }
            lat.sort_unstable();
            let n = fetches.load(Ordering::Relaxed);
            let mean_ms = if n > 0 {
                busy.load(Ordering::Relaxed) as f64 / n as f64 / 1000.0
            } else {
                0.0
            };
            println!(
                "{round}: {name:<32} {:>11} {:>9} {:>9} {:>9} {:>9}   {n} ({mean_ms:.1})",
                lat.len(),
                percentile(&lat, 0.50),
                percentile(&lat, 0.99),
                percentile(&lat, 0.999),
                lat.last().copied().unwrap_or(0),
            );
        }
    }
    drop(observer);
    for p in idle {
        p.kill();
    }
}
