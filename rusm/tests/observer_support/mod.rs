//! An application with 10,000 processes and an echo listener, echo latencies and a reader
//! of the observer's process table: shared by `tests/observer_load.rs` (that the observer
//! does not stall the application) and `examples/observer_latency.rs` (how much it costs).
#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusm::prelude::*;

pub const PROCESSES: usize = 10_000;

/// A runtime with `PROCESSES` idle processes and an echo listener.
pub fn application() -> (Runtime, SocketAddr, Vec<ProcessHandle>) {
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
pub fn get(addr: SocketAddr, path: &str) -> String {
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
pub fn echo_latencies(addr: SocketAddr, conns: usize, run: Duration) -> Vec<u64> {
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

pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Fetches the whole table every `every` (`None`: back to back) until `stop`, counting the
/// fetches and their time; `fresh` alternates the limit so that no answer is a reused one.
pub fn table_reader(
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
