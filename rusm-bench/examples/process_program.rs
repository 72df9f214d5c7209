//! Runs one program of a process scenario alone (`spawn-storm` or `ping-pong`), for a profiler
//! or an instruction counter: the shared machine's noise moves times, not instructions, so
//! callgrind's count gives the work of each program exactly (without hardware counters too).
//!
//! ```text
//! cargo build -p rusm-bench --release --example process_program
//! valgrind --tool=callgrind target/release/examples/process_program spawn-storm rusm 100000
//! valgrind --tool=callgrind target/release/examples/process_program spawn-storm rusm 200000
//! ```
//!
//! The difference between two counts is the work of that many spawns (or round trips); the
//! programs are `rusm`, `floor` (spawn-storm only), `bare` and `task-mpsc`.

use std::time::{Duration, Instant};

use rusm_bench::target::{ProcessRun, RusmTarget, Target};
use rusm_bench::TokioTarget;

fn main() {
    let mut args = std::env::args().skip(1);
    let scenario = args.next().unwrap_or_default();
    let program = args.next().unwrap_or_default();
    let count: u64 = args
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(1, |n| n.get()))
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let run = ProcessRun {
        count,
        senders: 0,
        deadline: Instant::now() + Duration::from_secs(60),
    };
    let tokio = TokioTarget::new();
    let rusm = RusmTarget::new();
    let out = match (scenario.as_str(), program.as_str()) {
        ("spawn-storm", "rusm") => rt.block_on(rusm.spawn_storm(run)),
        ("spawn-storm", "floor") => rt.block_on(tokio.spawn_storm_floor(run)),
        ("spawn-storm", "bare") => rt.block_on(tokio.spawn_storm_bare(run)),
        ("spawn-storm", "task-mpsc") => rt.block_on(tokio.spawn_storm(run)),
        ("ping-pong", "rusm") => rt.block_on(rusm.ping_pong(run)),
        ("ping-pong", "bare") => rt.block_on(tokio.ping_pong_bare(run)),
        ("ping-pong", "task-mpsc") => rt.block_on(tokio.ping_pong(run)),
        _ => {
            eprintln!(
                "usage: process_program spawn-storm|ping-pong rusm|floor|bare|task-mpsc [COUNT]"
            );
            std::process::exit(2);
        }
    };
    println!(
        "{scenario} {program}: {} done in {:.3} s",
        out.done,
        out.elapsed.as_secs_f64()
    );
}
