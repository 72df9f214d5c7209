//! Runs one spawn-storm program alone, for a profiler or an instruction counter: noise from
//! the shared machine moves times, not instructions, so `perf stat -e instructions:u` on this
//! binary gives the work per spawn of each program exactly.
//!
//! ```text
//! cargo build -p rusm-bench --release --example spawn_program
//! perf stat -e instructions:u target/release/examples/spawn_program rusm 1000000
//! perf stat -e instructions:u target/release/examples/spawn_program floor 1000000
//! perf stat -e instructions:u target/release/examples/spawn_program bare 1000000
//! ```
//!
//! Run each with a count of 0 as well: the difference is the spawns' own work.

use std::time::{Duration, Instant};

use rusm_bench::target::{ProcessRun, RusmTarget, Target};
use rusm_bench::TokioTarget;

fn main() {
    let mut args = std::env::args().skip(1);
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
    let out = match program.as_str() {
        "rusm" => rt.block_on(rusm.spawn_storm(run)),
        "floor" => rt.block_on(tokio.spawn_storm_floor(run)),
        "bare" => rt.block_on(tokio.spawn_storm_bare(run)),
        "task-mpsc" => rt.block_on(tokio.spawn_storm(run)),
        _ => {
            eprintln!("usage: spawn_program rusm|floor|bare|task-mpsc [COUNT]");
            std::process::exit(2);
        }
    };
    println!(
        "{program}: {} spawns in {:.3} s",
        out.done,
        out.elapsed.as_secs_f64()
    );
}
