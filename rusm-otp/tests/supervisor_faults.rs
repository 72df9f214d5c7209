//! Ensures supervisors stay bounded when children fail in ways of their own: a child whose
//! restart always fails exhausts the intensity and the supervisor shuts down, leaving nothing;
//! a child stuck restarting can be terminated and never hangs shutdown; a start function that
//! panics fails that start; stopping many dynamic children scales linearly (RELIABILITY.md
//! scenarios 26, 27, 30 and 35; OTP `hanging_restart_loop`, OTP-9242).
#[path = "support/lib.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusm_otp::{
    Backoff, ChildSpec, ChildType, Ctx, DynamicSupervisorSpec, ExitReason, Restart, Runtime,
    StartError, Started, Strategy, SupervisorError, SupervisorSpec,
};
use support::{events, trapping_worker, within, worker, Cmd, SERIAL};
use tokio::sync::mpsc;

/// A worker that starts once, then never again: every later start fails. Counts attempts.
fn starts_once(id: &str, attempts: Arc<AtomicUsize>, ev: &support::Events) -> ChildSpec {
    let (id2, ev) = (id.to_string(), ev.clone());
    ChildSpec::from_start(id, ChildType::Worker, move |starter| {
        let (id, ev, attempts) = (id2.clone(), ev.clone(), attempts.clone());
        async move {
            if attempts.fetch_add(1, Ordering::SeqCst) > 0 {
                return Err(StartError::failed("cannot start again"));
            }
            starter
                .spawn_init(move |ctx: Ctx<Cmd>, ack| {
                    support::worker_body(id, ev, false, ctx, Some(ack))
                })
                .await
                .map(Started::from)
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_whose_restart_always_fails_exhausts_intensity_and_shuts_the_supervisor_down() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let attempts = Arc::new(AtomicUsize::new(0));
    let sup = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne)
                .intensity(3, Duration::from_secs(5))
                .child(trapping_worker("sibling", &ev))
                .child(starts_once("flaky", attempts.clone(), &ev)),
        )
        .await
        .unwrap();
    rx.started("sibling").await;
    let flaky = rx.started("flaky").await;
    flaky.send(Cmd::Panic).unwrap();
    // OTP: every attempt counts as a restart; the fourth within the period exceeds 3.
    assert_eq!(
        within("the supervisor to give up", sup.wait()).await,
        ExitReason::Shutdown(None)
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 1 + 3, "start attempts");
    assert_eq!(rx.stopped("sibling").await, ExitReason::Shutdown(None));
    assert_eq!(rt.alive_processes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_stuck_restarting_can_be_terminated_and_never_hangs_shutdown() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    // A restart delayed by a minute: the child stays "restarting" for the whole test.
    let slow = Backoff {
        initial: Duration::from_secs(60),
        max: Duration::from_secs(60),
        jitter: 0.0,
        reset_after: Duration::from_secs(60),
    };
    for terminate_first in [true, false] {
        let sup = rt
            .start_supervisor(
                SupervisorSpec::new(Strategy::OneForOne)
                    .intensity(10, Duration::from_secs(5))
                    .child(worker("a", &ev).backoff(slow))
                    .child(trapping_worker("b", &ev)),
            )
            .await
            .unwrap();
        let a = rx.started("a").await;
        rx.started("b").await;
        a.send(Cmd::Panic).unwrap();
        a.wait().await;
        // A call: answered once the supervisor has handled a's exit and scheduled its restart.
        assert!(sup.which_children().await.unwrap()[0].restarting);
        // OTP hanging_restart_loop: the API answers, and says "restarting".
        assert_eq!(
            sup.restart_child("a").await,
            Err(SupervisorError::Restarting)
        );
        assert_eq!(
            sup.delete_child("a").await,
            Err(SupervisorError::Restarting)
        );
        assert!(sup.start_child(worker("a", &ev)).await.is_err());
        let counts = sup.count_children().await.unwrap();
        assert_eq!((counts.specs, counts.active), (2, 1));
        if terminate_first {
            assert_eq!(sup.terminate_child("a").await, Ok(()));
            let a_info = &sup.which_children().await.unwrap()[0];
            assert!(!a_info.restarting && a_info.pid.is_none());
            assert_eq!(sup.delete_child("a").await, Ok(()));
        }
        let t0 = Instant::now();
        assert_eq!(within("stop", sup.stop()).await, ExitReason::Shutdown(None));
        assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
        assert_eq!(rx.stopped("b").await, ExitReason::Shutdown(None));
        assert_eq!(rt.alive_processes(), 0);
        assert!(rx.try_next().is_none(), "a restarted after all");
    }
}

fn panicking_start() -> ChildSpec {
    ChildSpec::from_start("bad", ChildType::Worker, |_starter| async {
        support::crash("start function bug");
        Ok::<Started, StartError>(Started::ignore())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_function_that_panics_fails_the_supervisor_start_leaving_nothing() {
    let rt = Runtime::attach();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(trapping_worker("first", &events().0))
        .child(panicking_start());
    let e = within("start", rt.start_supervisor(spec))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("start function bug"), "{e}");
    assert_eq!(rt.alive_processes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_function_that_panics_fails_only_that_start_child() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let sup = rt
        .start_supervisor(SupervisorSpec::new(Strategy::OneForOne).child(worker("good", &ev)))
        .await
        .unwrap();
    let good = rx.started("good").await;
    match within("start_child", sup.start_child(panicking_start())).await {
        Err(SupervisorError::Start(e)) => {
            assert!(e.to_string().contains("start function bug"), "{e}");
        }
        other => panic!("expected a start error, got {other:?}"),
    }
    assert!(sup.is_alive() && good.is_alive());
    assert_eq!(sup.count_children().await.unwrap().specs, 1);
    let dynamic = rt
        .start_dynamic_supervisor(DynamicSupervisorSpec::new())
        .await
        .unwrap();
    assert!(matches!(
        within(
            "dynamic start_child",
            dynamic.start_child(panicking_start())
        )
        .await,
        Err(SupervisorError::Start(_))
    ));
    assert!(dynamic.is_alive());
    assert_eq!(within("stop", sup.stop()).await, ExitReason::Shutdown(None));
    assert_eq!(
        within("stop", dynamic.stop()).await,
        ExitReason::Shutdown(None)
    );
}

/// Starts a dynamic supervisor with `n` temporary children and times its stop.
async fn time_to_stop(rt: &Runtime, n: usize) -> Duration {
    let sup = rt
        .start_dynamic_supervisor(DynamicSupervisorSpec::new().max_children(n))
        .await
        .unwrap();
    for i in 0..n {
        sup.start_child(
            ChildSpec::worker(format!("t{i}"), |mut ctx: Ctx<()>| async move {
                ctx.recv().await;
            })
            .restart(Restart::Temporary),
        )
        .await
        .unwrap();
    }
    assert_eq!(sup.count_children().await.unwrap().active, n);
    let t0 = Instant::now();
    assert_eq!(within("stop", sup.stop()).await, ExitReason::Shutdown(None));
    let took = t0.elapsed();
    assert_eq!(rt.alive_processes(), 0);
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_temporary_children_start_and_stop_leaving_nothing() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    // time_to_stop asserts every child ran and that no process is left after the stop.
    time_to_stop(&rt, 5_000).await;
}

/// A worker whose first start succeeds and whose every later start reports on `entered`,
/// then fails after 100 ms: under a paused clock, a restart loop that leaves the supervisor
/// free between attempts.
fn restart_fails_slowly(id: &str, entered: mpsc::UnboundedSender<String>) -> ChildSpec {
    let started = Arc::new(AtomicUsize::new(0));
    let id2 = id.to_string();
    ChildSpec::from_start(id, ChildType::Worker, move |starter| {
        let (id, entered, started) = (id2.clone(), entered.clone(), started.clone());
        async move {
            if started.fetch_add(1, Ordering::SeqCst) > 0 {
                let _ = entered.send(id);
                tokio::time::sleep(Duration::from_millis(100)).await;
                return Err(StartError::failed("cannot start again"));
            }
            Ok(Started::from(starter.spawn(
                |mut ctx: Ctx<()>| async move {
                    ctx.recv().await;
                },
            )?))
        }
    })
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn dynamic_children_in_a_restart_loop_are_listed_counted_and_terminated_by_old_pid() {
    // OTP hanging_restart_loop_simple: a dynamic child whose restart keeps failing is
    // `{undefined, restarting, worker, Mods}` in which_children and counted; terminate_child
    // with the pid it had ends its restart loop.
    let rt = Runtime::attach();
    let sup = rt
        .start_dynamic_supervisor(
            DynamicSupervisorSpec::new().intensity(1000, Duration::from_secs(5)),
        )
        .await
        .unwrap();
    let (entered_tx, mut entered) = mpsc::unbounded_channel();
    let idle = ChildSpec::worker("idle", |mut ctx: Ctx<()>| async move {
        ctx.recv().await;
    });
    let healthy = sup.start_child(idle).await.unwrap().unwrap();
    let a = sup
        .start_child(restart_fails_slowly("a", entered_tx.clone()))
        .await
        .unwrap()
        .unwrap();
    let b = sup
        .start_child(restart_fails_slowly("b", entered_tx))
        .await
        .unwrap()
        .unwrap();
    let a_handle = rt.process(a).unwrap();
    a_handle.kill();
    assert_eq!(within("a's restart", entered.recv()).await.unwrap(), "a");
    // Mid-attempt, the table still holds a, as restarting (inspection reads it directly).
    let tree = rt.tree();
    let node = tree.find("a");
    assert_eq!(
        node.map(|n| (n.pid, n.status)),
        Some((None, rusm_otp::NodeStatus::Restarting)),
        "{tree}"
    );
    rt.process(b).unwrap().kill();
    let children = sup.which_children().await.unwrap();
    let rows: Vec<_> = children
        .iter()
        .map(|c| (c.id.as_str(), c.pid, c.restarting))
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.contains(&("idle", Some(healthy), false)), "{rows:?}");
    assert!(rows.contains(&("a", None, true)), "{rows:?}");
    assert!(rows.contains(&("b", None, true)), "{rows:?}");
    // [specs, active, supervisors, workers]: OTP says [1, 1, 0, 3]; RUSM counts one spec per
    // child, as Elixir's DynamicSupervisor.
    let counts = sup.count_children().await.unwrap();
    assert_eq!(
        (
            counts.specs,
            counts.active,
            counts.supervisors,
            counts.workers
        ),
        (3, 1, 0, 3)
    );
    assert_eq!(sup.terminate_child(a).await, Ok(()));
    let counts = sup.count_children().await.unwrap();
    assert_eq!((counts.specs, counts.active, counts.workers), (2, 1, 2));
    assert_eq!(sup.terminate_child(b).await, Ok(()));
    // Their pending retries find nothing: the loop is over for both.
    tokio::time::sleep(Duration::from_secs(1)).await;
    while let Ok(id) = entered.try_recv() {
        assert!(["a", "b"].contains(&id.as_str()));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        entered.try_recv().is_err(),
        "a restart went on after terminate_child"
    );
    let children = sup.which_children().await.unwrap();
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].pid, Some(healthy));
    assert_eq!(sup.stop().await, ExitReason::Shutdown(None));
    assert_eq!(rt.alive_processes(), 0);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn rest_for_one_siblings_of_a_child_stuck_restarting_are_stopped_children() {
    // OTP restart_multiple_children/3: while b's restart keeps failing, b is `restarting`
    // and c, stopped for it, has pid `undefined`; terminate_child(b) ends the loop, and c is
    // an ordinary stopped child: restart_child and delete_child work on it.
    let rt = Runtime::attach();
    let (entered_tx, mut entered) = mpsc::unbounded_channel();
    let idle = |id: &str| {
        ChildSpec::worker(id, |mut ctx: Ctx<()>| async move {
            ctx.recv().await;
        })
    };
    let sup = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::RestForOne)
                .intensity(1000, Duration::from_secs(5))
                .child(idle("a"))
                .child(restart_fails_slowly("b", entered_tx))
                .child(idle("c")),
        )
        .await
        .unwrap();
    let row = |children: &[rusm_otp::ChildInfo], id: &str| {
        let c = children.iter().find(|c| c.id == id).unwrap();
        (c.pid.is_some(), c.restarting)
    };
    let a = sup.child_pid("a").unwrap();
    let b = rt.process(sup.child_pid("b").unwrap()).unwrap();
    b.kill();
    assert_eq!(within("b's restart", entered.recv()).await.unwrap(), "b");
    // Answered after that attempt failed (the retry is queued behind this call).
    let children = sup.which_children().await.unwrap();
    assert_eq!(row(&children, "a"), (true, false));
    assert_eq!(row(&children, "b"), (false, true), "b is restarting");
    assert_eq!(row(&children, "c"), (false, false), "c is a stopped child");
    assert_eq!(sup.terminate_child("b").await, Ok(()));
    let children = sup.which_children().await.unwrap();
    assert_eq!(row(&children, "b"), (false, false));
    assert_eq!(row(&children, "c"), (false, false));
    let c = sup.restart_child("c").await.unwrap().unwrap();
    assert_eq!(sup.child_pid("c"), Some(c));
    assert_eq!(sup.terminate_child("c").await, Ok(()));
    assert_eq!(sup.delete_child("c").await, Ok(()));
    // The loop is over: no attempt follows, and a was never touched.
    while entered.try_recv().is_ok() {}
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(entered.try_recv().is_err(), "b's restart went on");
    assert_eq!(sup.child_pid("a"), Some(a));
    let ids: Vec<_> = sup
        .which_children()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(sup.stop().await, ExitReason::Shutdown(None));
    assert_eq!(rt.alive_processes(), 0);
}
