//! Times starting and stopping many children, as OTP's `supervisor_SUITE` cases
//! `scale_start_stop_many_children` (a one_for_one supervisor: `start_child` N permanent
//! workers, then `terminate_child` each by id) and `simple_one_for_one_scale_many_temporary_children`
//! (a dynamic supervisor: N temporary children, then one stop).
//!
//! ```text
//! cargo run --release -p rusm-otp --example supervisor_scale -- 1000 10000 100000
//! ```
//!
//! Prints one line per count and kind, with the ratio of its times to the previous count's:
//! linear scaling keeps them near the ratio of the counts (OTP's test allows 10× that).

use std::time::{Duration, Instant};

use rusm_otp::{ChildSpec, Ctx, DynamicSupervisorSpec, Restart, Runtime, Strategy, SupervisorSpec};

fn idle(id: String) -> ChildSpec {
    ChildSpec::worker(id, |mut ctx: Ctx<()>| async move {
        ctx.recv().await;
    })
}

/// One_for_one: `start_child` × n, then `terminate_child` × n (OTP's test).
async fn static_sup(rt: &Runtime, n: usize) -> (Duration, Duration) {
    let sup = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne).intensity(0, Duration::from_secs(1)),
        )
        .await
        .expect("supervisor starts");
    let t0 = Instant::now();
    for i in 0..n {
        sup.start_child(idle(i.to_string()))
            .await
            .expect("child starts");
    }
    let start = t0.elapsed();
    let t0 = Instant::now();
    for i in 0..n {
        sup.terminate_child(&i.to_string())
            .await
            .expect("child stops");
    }
    let stop = t0.elapsed();
    sup.stop().await;
    (start, stop)
}

/// Dynamic: `start_child` × n temporary children, then stop the supervisor (all at once).
async fn dynamic_sup(rt: &Runtime, n: usize) -> (Duration, Duration) {
    let sup = rt
        .start_dynamic_supervisor(DynamicSupervisorSpec::new())
        .await
        .expect("supervisor starts");
    let t0 = Instant::now();
    for i in 0..n {
        sup.start_child(idle(i.to_string()).restart(Restart::Temporary))
            .await
            .expect("child starts");
    }
    let start = t0.elapsed();
    let t0 = Instant::now();
    sup.stop().await;
    (start, t0.elapsed())
}

fn main() {
    let counts: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("counts are numbers"))
        .collect();
    let counts = if counts.is_empty() {
        vec![1_000, 10_000, 100_000]
    } else {
        counts
    };
    let rt = Runtime::new().expect("runtime");
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for (kind, dynamic) in [("one_for_one", false), ("dynamic", true)] {
        let mut prev: Option<(usize, Duration, Duration)> = None;
        for &n in &counts {
            let (start, stop) = rt.block_on(async {
                if dynamic {
                    dynamic_sup(&rt, n).await
                } else {
                    static_sup(&rt, n).await
                }
            });
            let ratios = match prev {
                Some((n0, s0, t0)) => format!(
                    "  ×{:.0} children: start ×{:.1}, stop ×{:.1}",
                    n as f64 / n0 as f64,
                    start.as_secs_f64() / s0.as_secs_f64(),
                    stop.as_secs_f64() / t0.as_secs_f64(),
                ),
                None => String::new(),
            };
            println!(
                "{kind:<12} {n:>7} children: start {:>9.1} ms, stop {:>9.1} ms{ratios}",
                ms(start),
                ms(stop),
            );
            prev = Some((n, start, stop));
        }
    }
}
