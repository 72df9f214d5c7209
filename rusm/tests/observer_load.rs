//! Ensures the observer does not stall the application it watches: with 10,000 processes
//! alive, the process table of all of them is served while an echo listener keeps
//! answering. The measurement behind docs/BENCHMARKS.md ("Observer") is the ignored test:
//!
//! ```text
//! cargo test -p rusm --release --test observer_load -- --ignored --nocapture
//! ```
#![cfg(feature = "observer")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusm::prelude::*;
use rusm::TopBy;

const PROCESSES: usize = 10_000;

/// A runtime with `PROCESSES` idle processes and an echo listener.
fn application() -> (Runtime, SocketAddr, Vec<ProcessHandle>) {
    let rt = Runtime::new().unwrap();
    let idle: Vec<ProcessHandle> = (0..PROCESSES)
        .map(|_| {
            rt.spawn(|mut ctx: Ctx| async move {
                ctx.recv().await;
            })
            .handle()
            .clone()
        })
        .collect();
    let (addr, _listener) = rt
        .block_on(rt.listen("127.0.0.1:0", |_ctx, mut s| async move {
            let mut buf = [0u8; 512];
            loop {
                let n = s.read(&mut buf).await?;
                if n == 0 {
                    return Ok::<(), std::io::Error>(());
                }
                s.write_all(&buf[..n]).await?;
            }
        }))
        .unwrap();
    (rt, addr, idle)
}

/// The body of one `GET path` over a fresh connection.
fn get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

/// Round-trip latencies (µs) of 64-byte echoes on `conns` connections for `run`.
fn echo_latencies(addr: SocketAddr, conns: usize, run: Duration) -> Vec<u64> {
    let threads: Vec<_> = (0..conns)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_nodelay(true).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let msg = [7u8; 64];
                let mut back = [0u8; 64];
                let mut out = Vec::new();
                let end = Instant::now() + run;
                while Instant::now() < end {
                    let t = Instant::now();
                    s.write_all(&msg).unwrap();
                    s.read_exact(&mut back).unwrap();
                    out.push(t.elapsed().as_micros() as u64);
                }
                out
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect()
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Fetches the whole table every `every` (`None`: back to back) until `stop`, counting the
/// fetches and their time; `fresh` alternates the limit so that no answer is a reused one.
fn table_reader(
    addr: SocketAddr,
    every: Option<Duration>,
    fresh: bool,
    stop: Arc<AtomicBool>,
    fetches: Arc<AtomicU64>,
    busy_us: Arc<AtomicU64>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            n += 1;
            let limit = if fresh && n % 2 == 0 {
                PROCESSES - 1
            } else {
                PROCESSES
            };
            let body = get(addr, &format!("/api/processes?sort=memory&limit={limit}"));
            assert!(body.len() > PROCESSES * 50, "a table of every process");
            busy_us.fetch_add(t.elapsed().as_micros() as u64, Ordering::Relaxed);
            fetches.fetch_add(1, Ordering::Relaxed);
            if let Some(every) = every {
                std::thread::sleep(every.saturating_sub(t.elapsed()));
            }
        }
    })
}

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

#[test]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
fn echo_latency_with_the_process_table_open() {
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
