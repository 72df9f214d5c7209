//! Ensures the child-management API, shutdown specs, auto-shutdown, dynamic supervisors and
//! tree inspection behave as OTP's `supervisor_SUITE` cases `child_adm`, `child_adm_simple`,
//! `sup_stop_*`, `count_children`, `significant_*`, `child_unlink`, `tree` require.
#[path = "support/lib.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use rusm_otp::{
    AutoShutdown, ChildSpec, ChildType, Ctx, DynamicSupervisorSpec, ExitReason, Msg, Restart,
    Runtime, Shutdown, StartError, Started, Strategy, SupervisorError, SupervisorSpec,
};
use support::{events, trapping_worker, within, worker, Cmd};
use tokio::sync::{mpsc, Notify};

fn failing(id: &str) -> ChildSpec {
    ChildSpec::from_start(id, ChildType::Worker, |_s| async {
        Err::<Started, _>(StartError::failed("no database"))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_adm_api_returns_otp_errors() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let sup = rt
        .start_supervisor(SupervisorSpec::new(Strategy::OneForOne).child(worker("a", &ev)))
        .await
        .unwrap();
    let a = rx.started("a").await;
    assert_eq!(
        sup.start_child(worker("a", &ev)).await,
        Err(SupervisorError::AlreadyStarted(a.pid()))
    );
    assert_eq!(sup.restart_child("a").await, Err(SupervisorError::Running));
    assert_eq!(sup.delete_child("a").await, Err(SupervisorError::Running));
    assert_eq!(
        sup.restart_child("zz").await,
        Err(SupervisorError::NotFound)
    );
    assert_eq!(
        sup.terminate_child("zz").await,
        Err(SupervisorError::NotFound)
    );
    assert_eq!(sup.delete_child("zz").await, Err(SupervisorError::NotFound));
    // terminate keeps the spec and is idempotent
    assert_eq!(sup.terminate_child("a").await, Ok(()));
    assert!(!a.is_alive());
    assert_eq!(sup.terminate_child("a").await, Ok(()));
    let info = sup.which_children().await.unwrap();
    assert_eq!((info.len(), info[0].pid), (1, None));
    assert_eq!(
        sup.start_child(worker("a", &ev)).await,
        Err(SupervisorError::AlreadyPresent)
    );
    // restart_child starts it again without counting as a restart
    let pid = sup.restart_child("a").await.unwrap().unwrap();
    assert_eq!(rx.started("a").await.pid(), pid);
    sup.terminate_child("a").await.unwrap();
    assert_eq!(sup.delete_child("a").await, Ok(()));
    assert!(sup.which_children().await.unwrap().is_empty());
    // a start that fails adds nothing
    assert!(matches!(
        sup.start_child(failing("db")).await,
        Err(SupervisorError::Start(StartError::Failed(_)))
    ));
    assert!(sup.which_children().await.unwrap().is_empty());
    // start_child appends in order
    sup.start_child(worker("b", &ev)).await.unwrap();
    rx.started("b").await;
    assert_eq!(
        sup.count_children().await.unwrap(),
        rusm_otp::ChildCounts {
            specs: 1,
            active: 1,
            supervisors: 0,
            workers: 1
        }
    );
    sup.stop().await;
    // calls to a dead supervisor are noproc
    assert_eq!(
        sup.restart_child("b").await,
        Err(SupervisorError::NoProc(sup.pid()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_child_start_rolls_back_started_children() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let r = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne)
                .child(trapping_worker("a", &ev))
                .child(failing("db"))
                .child(worker("never", &ev)),
        )
        .await;
    match r {
        Err(StartError::FailedToStartChild { id, .. }) => assert_eq!(id, "db"),
        other => panic!("expected failed_to_start_child, got {other:?}"),
    }
    rx.started("a").await;
    assert_eq!(rx.stopped("a").await, ExitReason::Shutdown(None));
    assert!(rx.try_next().is_none());
    // The supervisor reports the error before its own process has finished exiting.
    support::until("the supervisor to exit", || rt.alive_processes() == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_specs_are_rejected_with_a_reason() {
    let rt = Runtime::attach();
    let (ev, _rx) = events();
    let dup = SupervisorSpec::new(Strategy::OneForOne)
        .child(worker("a", &ev))
        .child(worker("a", &ev));
    assert!(
        matches!(rt.start_supervisor(dup).await, Err(StartError::InvalidSpec(s)) if s.contains("duplicate"))
    );
    let sig = SupervisorSpec::new(Strategy::OneForOne)
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(worker("a", &ev).significant(true));
    assert!(
        matches!(rt.start_supervisor(sig).await, Err(StartError::InvalidSpec(s)) if s.contains("permanent"))
    );
    let never = SupervisorSpec::new(Strategy::OneForOne).child(
        worker("a", &ev)
            .restart(Restart::Transient)
            .significant(true),
    );
    assert!(matches!(
        rt.start_supervisor(never).await,
        Err(StartError::InvalidSpec(_))
    ));
    let period = SupervisorSpec::new(Strategy::OneForOne).intensity(1, Duration::ZERO);
    assert!(matches!(
        rt.start_supervisor(period).await,
        Err(StartError::InvalidSpec(_))
    ));
    assert_eq!(rt.alive_processes(), 0);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn shutdown_timeout_kills_a_child_that_ignores_it() {
    let rt = Runtime::attach();
    let sup = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne)
                .child(
                    ChildSpec::worker("stubborn", support::stubborn)
                        .shutdown(Shutdown::Timeout(Duration::from_millis(1000))),
                )
                .child(
                    ChildSpec::worker("brutal", support::stubborn).shutdown(Shutdown::BrutalKill),
                ),
        )
        .await
        .unwrap();
    let stubborn = rt.process(sup.child_pid("stubborn").unwrap()).unwrap();
    let brutal = rt.process(sup.child_pid("brutal").unwrap()).unwrap();
    let t0 = tokio::time::Instant::now();
    assert_eq!(within("stop", sup.stop()).await, ExitReason::Shutdown(None));
    assert!(t0.elapsed() >= Duration::from_millis(1000));
    assert_eq!(stubborn.wait().await, ExitReason::Killed);
    assert_eq!(brutal.wait().await, ExitReason::Killed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinity_shutdown_waits_for_a_graceful_exit() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let sup = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne)
                .child(trapping_worker("a", &ev).shutdown(Shutdown::Infinity)),
        )
        .await
        .unwrap();
    let a = rx.started("a").await;
    sup.stop().await;
    assert_eq!(a.wait().await, ExitReason::Shutdown(None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_that_unlinked_itself_cannot_hang_shutdown() {
    let rt = Runtime::attach();
    let sup = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne).child(ChildSpec::worker(
                "unlinker",
                |mut ctx: Ctx<()>| async move {
                    for pid in ctx.links() {
                        ctx.unlink(pid);
                    }
                    ctx.recv().await;
                },
            )),
        )
        .await
        .unwrap();
    let _ = sup.restart_child("x").await;
    assert_eq!(within("stop", sup.stop()).await, ExitReason::Shutdown(None));
    assert_eq!(rt.alive_processes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_exiting_during_shutdown_keep_their_own_reasons() {
    let rt = Runtime::attach();
    for _ in 0..50 {
        let (ev, mut rx) = events();
        let sup = rt
            .start_supervisor(
                SupervisorSpec::new(Strategy::OneForOne)
                    .intensity(100, Duration::from_secs(5))
                    .child(worker("a", &ev))
                    .child(worker("b", &ev).restart(Restart::Transient)),
            )
            .await
            .unwrap();
        let a = rx.started("a").await;
        let b = rx.started("b").await;
        a.send(Cmd::Exit(ExitReason::error("own reason"))).unwrap();
        b.send(Cmd::Exit(ExitReason::shutdown_with("mine")))
            .unwrap();
        within("stop", sup.stop()).await;
        let ra = a.wait().await;
        assert!(
            ra == ExitReason::error("own reason") || ra == ExitReason::Shutdown(None),
            "{ra}"
        );
        let rb = b.wait().await;
        assert!(
            rb == ExitReason::shutdown_with("mine") || rb == ExitReason::Shutdown(None),
            "{rb}"
        );
        assert_eq!(rt.alive_processes(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_shutdown_any_and_all_significant() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let sup = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne)
                .auto_shutdown(AutoShutdown::AllSignificant)
                .child(
                    worker("s1", &ev)
                        .restart(Restart::Transient)
                        .significant(true),
                )
                .child(
                    worker("s2", &ev)
                        .restart(Restart::Temporary)
                        .significant(true),
                )
                .child(worker("other", &ev)),
        )
        .await
        .unwrap();
    let s1 = rx.started("s1").await;
    let s2 = rx.started("s2").await;
    rx.started("other").await;
    s1.send(Cmd::Exit(ExitReason::Normal)).unwrap();
    s1.wait().await;
    let _ = sup.restart_child("x").await;
    assert!(sup.is_alive(), "one significant child is still running");
    s2.send(Cmd::Exit(ExitReason::error("x"))).unwrap();
    assert_eq!(
        within("auto shutdown", sup.wait()).await,
        ExitReason::Shutdown(None)
    );

    let (ev, mut rx) = events();
    let sup = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne)
                .auto_shutdown(AutoShutdown::AnySignificant)
                .child(
                    worker("s", &ev)
                        .restart(Restart::Transient)
                        .significant(true),
                )
                .child(worker("other", &ev)),
        )
        .await
        .unwrap();
    let s = rx.started("s").await;
    rx.started("other").await;
    // Terminated by the supervisor: no auto shutdown.
    sup.terminate_child("s").await.unwrap();
    assert!(sup.is_alive());
    sup.restart_child("s").await.unwrap();
    drop(s);
    let s = rx.started("s").await;
    s.send(Cmd::Exit(ExitReason::shutdown_with("done")))
        .unwrap();
    assert_eq!(
        within("auto shutdown", sup.wait()).await,
        ExitReason::Shutdown(None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_supervisor_children_by_pid() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let sup = rt
        .start_dynamic_supervisor(
            DynamicSupervisorSpec::new().intensity(10, Duration::from_secs(5)),
        )
        .await
        .unwrap();
    let mut pids = Vec::new();
    for i in 0..20 {
        let restart = if i % 2 == 0 {
            Restart::Temporary
        } else {
            Restart::Permanent
        };
        let id = format!("w{i}");
        let pid = sup
            .start_child(worker(&id, &ev).restart(restart))
            .await
            .unwrap()
            .unwrap();
        rx.started(&id).await;
        pids.push(pid);
    }
    assert_eq!(sup.count_children().await.unwrap().active, 20);
    // terminate by pid; an unknown pid is not_found and that process is left alone
    sup.terminate_child(pids[0]).await.unwrap();
    let outsider = rt.spawn(|mut ctx: Ctx<()>| async move {
        ctx.recv().await;
    });
    assert_eq!(
        sup.terminate_child(outsider.pid()).await,
        Err(SupervisorError::NotFound)
    );
    assert!(outsider.is_alive());
    outsider.kill();
    outsider.wait().await;
    // OTP child_adm_simple: terminating a pid that is no longer alive is ok, whether it was
    // a child (terminated, or ended and handled) or never one.
    assert_eq!(sup.terminate_child(pids[0]).await, Ok(()));
    assert_eq!(sup.terminate_child(outsider.pid()).await, Ok(()));
    let ended = rt.process(pids[2]).unwrap();
    ended.kill();
    ended.wait().await;
    assert_eq!(
        sup.count_children().await.unwrap().specs,
        18,
        "pids[2] was temporary"
    );
    assert_eq!(sup.terminate_child(pids[2]).await, Ok(()));
    // a permanent child is restarted under a new pid
    rt.process(pids[1]).unwrap().kill();
    let again = rx.started("w1").await;
    assert_ne!(again.pid(), pids[1]);
    assert_eq!(
        sup.terminate_child(pids[1]).await,
        Ok(()),
        "its old pid is dead"
    );
    assert!(again.is_alive(), "and that is not its new incarnation");
    assert_eq!(sup.count_children().await.unwrap().specs, 18);
    assert_eq!(
        sup.which_children()
            .await
            .unwrap()
            .iter()
            .filter(|c| c.restarts == 1)
            .count(),
        1
    );
    assert_eq!(within("stop", sup.stop()).await, ExitReason::Shutdown(None));
    assert_eq!(rt.alive_processes(), 0);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn dynamic_children_stop_in_parallel_sharing_one_deadline() {
    let rt = Runtime::attach();
    let sup = rt
        .start_dynamic_supervisor(DynamicSupervisorSpec::new())
        .await
        .unwrap();
    for i in 0..20 {
        sup.start_child(
            ChildSpec::worker(format!("s{i}"), support::stubborn)
                .restart(Restart::Temporary)
                .shutdown(Shutdown::Timeout(Duration::from_secs(2))),
        )
        .await
        .unwrap();
    }
    let t0 = tokio::time::Instant::now();
    sup.stop().await;
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert_eq!(rt.alive_processes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_supervisor_keeps_nothing_of_ended_temporary_children() {
    let rt = Runtime::attach();
    let sup = rt
        .start_dynamic_supervisor(DynamicSupervisorSpec::new().max_children(3000))
        .await
        .unwrap();
    for i in 0..2000 {
        sup.start_child(
            ChildSpec::worker(format!("t{i}"), |mut ctx: Ctx<()>| async move {
                ctx.recv().await;
            })
            .restart(Restart::Temporary),
        )
        .await
        .unwrap();
    }
    assert_eq!(sup.count_children().await.unwrap().active, 2000);
    let handles: Vec<_> = sup
        .which_children()
        .await
        .unwrap()
        .iter()
        .map(|c| rt.process(c.pid.unwrap()).unwrap())
        .collect();
    for h in &handles {
        h.kill();
    }
    for h in &handles {
        within("child exit", h.wait()).await;
    }
    // Exit signals are handled before any request: this call's answer has seen them all.
    assert_eq!(sup.count_children().await.unwrap().specs, 0);
    assert_eq!(rt.alive_processes(), 1);
    sup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_shows_nested_supervisors_workers_and_restarts() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let top = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForAll)
                .name("app")
                .intensity(10, Duration::from_secs(5))
                .child(ChildSpec::supervisor(
                    "db",
                    SupervisorSpec::new(Strategy::RestForOne).child(worker("pool", &ev)),
                ))
                .child(ChildSpec::dynamic_supervisor(
                    "conns",
                    DynamicSupervisorSpec::new(),
                ))
                .child(worker("cache", &ev).restart(Restart::Transient)),
        )
        .await
        .unwrap();
    rx.started("pool").await;
    let cache = rx.started("cache").await;
    cache.send(Cmd::Panic).unwrap();
    rx.started("pool").await;
    rx.started("cache").await;
    let _ = top.restart_child("x").await;
    let tree = rt.tree();
    let app = &tree.roots[0];
    assert_eq!(
        (app.id.as_str(), app.strategy),
        ("app", Some("one_for_all"))
    );
    let ids: Vec<_> = app.children.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["db", "conns", "cache"]);
    assert_eq!(app.children[0].children[0].id, "pool");
    assert_eq!(app.children[1].strategy, Some("dynamic"));
    assert!(app.children.iter().all(|c| c.restarts == 1));
    let text = tree.to_string();
    assert!(text.starts_with("app <0."), "{text}");
    assert!(text.contains("│   └── pool"), "{text}");
    assert!(text.contains("restarts=1"), "{text}");
    let json = tree.to_json();
    assert!(json.starts_with("{\"roots\":[{\"id\":\"app\""), "{json}");
    assert!(json.contains("\"restart\":\"transient\""), "{json}");
    top.stop().await;
    assert!(rt.tree().roots.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_with_init_failure_fails_the_start() {
    let rt = Runtime::attach();
    let spec = SupervisorSpec::new(Strategy::OneForOne).child(ChildSpec::worker_with_init(
        "cfg",
        || async { Err::<u32, _>("missing setting") },
        |mut ctx: Ctx<()>, _n: u32| async move { while let Msg::User(()) = ctx.recv().await {} },
    ));
    match rt.start_supervisor(spec).await {
        Err(StartError::FailedToStartChild { id, reason }) => {
            assert_eq!(id, "cfg");
            assert_eq!(
                *reason,
                StartError::Failed(ExitReason::error("missing setting"))
            );
        }
        other => panic!("{other:?}"),
    }
}

/// A child whose start function reports that it began, then waits for `gate` before it
/// spawns: while it waits, its supervisor is busy and handles nothing else.
fn gated(id: &str, entered: mpsc::UnboundedSender<()>, gate: Arc<Notify>) -> ChildSpec {
    ChildSpec::from_start(id, ChildType::Worker, move |starter| {
        let (entered, gate) = (entered.clone(), gate.clone());
        async move {
            let _ = entered.send(());
            gate.notified().await;
            Ok(Started::from(starter.spawn(
                |mut ctx: Ctx<()>| async move {
                    ctx.recv().await;
                },
            )?))
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn which_and_count_children_answer_after_the_exits_the_supervisor_has_seen() {
    // OTP's which_children and count_children are calls: ordered with the EXITs the
    // supervisor handles. Held busy in a start function, the supervisor has not handled the
    // exits of `t` and `p` yet; the calls are answered after it has.
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let sup = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne)
                .intensity(10, Duration::from_secs(5))
                .child(worker("p", &ev))
                .child(worker("t", &ev).restart(Restart::Temporary)),
        )
        .await
        .unwrap();
    let p = rx.started("p").await;
    let t = rx.started("t").await;
    let (entered_tx, mut entered) = mpsc::unbounded_channel();
    let gate = Arc::new(Notify::new());
    let start = tokio::spawn({
        let (sup, gate) = (sup.clone(), gate.clone());
        async move { sup.start_child(gated("g", entered_tx, gate)).await }
    });
    within("the start to begin", entered.recv()).await.unwrap();
    t.kill();
    p.kill();
    within("t's exit", t.wait()).await;
    within("p's exit", p.wait()).await;
    // Inspection does not wait for the busy supervisor; it shows the table as it is now.
    let tree = rt.tree();
    let ids: Vec<_> = tree.roots[0]
        .children
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(ids, ["p", "t"], "mid-step: neither exit handled yet");
    let which = tokio::spawn({
        let sup = sup.clone();
        async move { sup.which_children().await }
    });
    let counts = tokio::spawn({
        let sup = sup.clone();
        async move { sup.count_children().await }
    });
    gate.notify_one();
    let g = within("start_child", start)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let children = within("which_children", which).await.unwrap().unwrap();
    let ids: Vec<_> = children.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["p", "g"], "t ended and is forgotten");
    let new_p = children[0].pid.expect("p was restarted");
    assert_ne!(new_p, p.pid());
    assert_eq!(rx.started("p").await.pid(), new_p);
    assert_eq!(children[1].pid, Some(g));
    let counts = within("count_children", counts).await.unwrap().unwrap();
    assert_eq!((counts.specs, counts.active, counts.workers), (2, 2, 2));
    sup.stop().await;
    assert_eq!(
        sup.which_children().await,
        Err(SupervisorError::NoProc(sup.pid()))
    );

    // The same for a dynamic supervisor.
    let dynamic = rt
        .start_dynamic_supervisor(DynamicSupervisorSpec::new())
        .await
        .unwrap();
    let d = dynamic
        .start_child(worker("d", &ev).restart(Restart::Temporary))
        .await
        .unwrap()
        .unwrap();
    rx.started("d").await;
    let (entered_tx, mut entered) = mpsc::unbounded_channel();
    let start = tokio::spawn({
        let (dynamic, gate) = (dynamic.clone(), gate.clone());
        async move { dynamic.start_child(gated("g", entered_tx, gate)).await }
    });
    within("the start to begin", entered.recv()).await.unwrap();
    let h = rt.process(d).unwrap();
    h.kill();
    within("d's exit", h.wait()).await;
    let which = tokio::spawn({
        let dynamic = dynamic.clone();
        async move { dynamic.which_children().await }
    });
    gate.notify_one();
    let g = within("start_child", start)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let children = within("which_children", which).await.unwrap().unwrap();
    assert_eq!(children.len(), 1, "d ended and is forgotten: {children:?}");
    assert_eq!(children[0].pid, Some(g));
    assert_eq!(dynamic.count_children().await.unwrap().active, 1);
    dynamic.stop().await;
}
