//! Ensures the counters an observer or a metrics endpoint reads are exact: exits by reason
//! class, restarts added up per supervisor path, intensity-exceeded shutdowns per supervisor
//! path (kept across the supervisor's own restarts), process table rows, pids parsed back.
#[path = "support/lib.rs"]
mod support;

use std::time::Duration;

use rusm_otp::{
    ChildSpec, Ctx, ExitReason, Pid, Restart, Runtime, Strategy, SupervisorSpec, TopBy,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exits_are_counted_by_reason_class() {
    let rt = Runtime::attach();
    let before = rt.exit_counts();
    assert_eq!(before, Default::default());
    rt.spawn(|_ctx: Ctx| async {}).wait().await;
    rt.spawn(|_ctx: Ctx| async { ExitReason::Shutdown(None) })
        .wait()
        .await;
    rt.spawn(|_ctx: Ctx| async { ExitReason::shutdown_with("bye") })
        .wait()
        .await;
    rt.spawn(|_ctx: Ctx| async { Err::<(), _>("bad") })
        .wait()
        .await;
    rt.spawn(|_ctx: Ctx| async { ExitReason::NoProc })
        .wait()
        .await;
    rt.spawn(|_ctx: Ctx| async { panic!("boom") as () })
        .wait()
        .await;
    let p = rt.spawn(|mut ctx: Ctx| async move {
        ctx.recv().await;
    });
    p.kill();
    p.wait().await;
    let c = rt.exit_counts();
    assert_eq!(
        (c.normal, c.shutdown, c.killed, c.error, c.panic),
        (1, 2, 1, 2, 1),
        "{c:?}"
    );
    assert_eq!(c.by_class(), [1, 2, 1, 2, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intensity_exceeded_is_counted_per_supervisor_path_across_its_restarts() {
    let rt = Runtime::attach();
    // `inner` gives up at its first crash (intensity 0); `app` restarts it up to 10 times.
    let inner = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(0, Duration::from_secs(5))
        .child(ChildSpec::worker("flaky", |mut ctx: Ctx<()>| async move {
            ctx.recv_user().await;
            panic!("told to crash") as ()
        }));
    let app = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne)
                .name("app")
                .intensity(10, Duration::from_secs(5))
                .child(ChildSpec::supervisor("inner", inner)),
        )
        .await
        .unwrap();
    for round in 1..=2u64 {
        let tree = rt.tree();
        let flaky = tree.find("flaky").and_then(|n| n.pid).expect("flaky runs");
        let h = rt.process(flaky).unwrap();
        h.kill();
        support::within("flaky's exit", h.wait()).await;
        support::within("the count", async {
            while rt.intensity_exceeded() != vec![("app/inner".to_string(), round)] {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        // `app` restarted `inner`, which starts `flaky` again.
        support::within("inner's restart", async {
            while rt.tree().find("flaky").and_then(|n| n.pid).is_none() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
    }
    let restarts = rt.tree().supervisor_restarts();
    assert_eq!(
        restarts,
        vec![("app".to_string(), 2), ("app/inner".to_string(), 0)],
        "app restarted inner twice; inner restarted nothing"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_rows_rank_by_each_counter_and_pids_parse_back() {
    let rt = Runtime::attach();
    let sink = rt
        .spawn_named("sink", |ctx: Ctx<u64>| async move {
            let _keep = ctx;
            std::future::pending::<()>().await
        })
        .unwrap();
    for n in 0..100 {
        sink.send(n).unwrap();
    }
    let idle: Vec<_> = (0..5)
        .map(|_| {
            rt.spawn(|mut ctx: Ctx| async move {
                ctx.recv().await;
            })
        })
        .collect();
    let rows = rt.process_rows(TopBy::MessageQueueLen, 3);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].pid, sink.pid());
    assert_eq!(rows[0].message_queue_len, 100);
    assert_eq!(rows[0].registered_name.as_deref(), Some("sink"));
    assert!(rows[0].memory >= 100 * std::mem::size_of::<u64>());
    assert!(rows[1].pid < rows[2].pid, "ties in pid order");
    assert_eq!(rt.process_rows(TopBy::Memory, 1)[0].pid, sink.pid());
    assert_eq!(rt.process_rows(TopBy::Reductions, 100).len(), 6);
    let printed = sink.pid().to_string();
    assert_eq!(printed.parse::<Pid>().unwrap(), sink.pid());
    assert_eq!(
        sink.pid().id().to_string().parse::<Pid>().unwrap(),
        sink.pid()
    );
    assert!("pid".parse::<Pid>().is_err());
    for p in idle {
        p.kill();
    }
    sink.kill();
}

#[test]
fn a_temporary_child_is_never_counted_as_restarted() {
    let rt = Runtime::new().unwrap();
    rt.block_on(async {
        let app = rt
            .start_supervisor(
                SupervisorSpec::new(Strategy::OneForOne).name("t").child(
                    ChildSpec::worker("once", |_ctx: Ctx| async { panic!("once") as () })
                        .restart(Restart::Temporary),
                ),
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(rt.tree().supervisor_restarts(), vec![("t".to_string(), 0)]);
        assert!(rt.intensity_exceeded().is_empty());
        app.stop().await;
    });
}
