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
