//! Ensures supervisors restart as OTP's `supervisor_SUITE` requires: each restart type against
//! each kind of exit reason, each strategy, start order and reverse stop order, temporary
//! bystanders, failed group restarts, restart intensity in a sliding window and escalation.
#[path = "support/lib.rs"]
mod support;

use std::time::Duration;

use rusm_otp::{
    Backoff, ChildSpec, Ctx, ExitReason, Restart, Runtime, StartError, Started, Strategy,
    SupervisorSpec,
};
use support::{events, trapping_worker, within, worker, Cmd, Event};

fn spec(strategy: Strategy) -> SupervisorSpec {
    SupervisorSpec::new(strategy).intensity(100, Duration::from_secs(5))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_types_against_exit_reasons() {
    let rt = Runtime::attach();
    let reasons = [
        ExitReason::Normal,
        ExitReason::Shutdown(None),
        ExitReason::shutdown_with("info"),
        ExitReason::error("abnormal"),
    ];
    for restart in [Restart::Permanent, Restart::Transient, Restart::Temporary] {
        for reason in reasons.clone() {
            let (ev, mut rx) = events();
            let sup = rt
                .start_supervisor(
                    spec(Strategy::OneForOne).child(worker("c", &ev).restart(restart)),
                )
                .await
                .unwrap();
            let c = rx.started("c").await;
            c.send(Cmd::Exit(reason.clone())).unwrap();
            within("child exit", c.wait()).await;
            let restarted = match restart {
                Restart::Permanent => true,
                Restart::Transient => !reason.is_normal(),
                Restart::Temporary => false,
            };
            if restarted {
                rx.started("c").await;
                // A call: served after the supervisor recorded the restart.
                assert_eq!(
                    sup.count_children().await.unwrap().active,
                    1,
                    "{restart:?} {reason}"
                );
            } else {
                // A call: served after the supervisor handled the EXIT.
                let counts = sup.count_children().await.unwrap();
                assert_eq!(counts.active, 0, "{restart:?} {reason}");
                // transient keeps its spec; temporary is forgotten
                let kept = usize::from(restart == Restart::Transient);
                assert_eq!(counts.specs, kept, "{restart:?} {reason}");
            }
            // A child's exit never stops its supervisor.
            assert!(sup.is_alive());
            assert_eq!(within("stop", sup.stop()).await, ExitReason::Shutdown(None));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_for_one_restarts_only_the_failed_child() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let sup = rt
        .start_supervisor(
            spec(Strategy::OneForOne)
                .child(worker("a", &ev))
                .child(worker("b", &ev)),
        )
        .await
        .unwrap();
    let a = rx.started("a").await;
    let b = rx.started("b").await;
    a.send(Cmd::Panic).unwrap();
    let a2 = rx.started("a").await;
    // A request is served only after the supervisor recorded the restart.
    let _ = sup.restart_child("none").await;
    assert_ne!(a.pid(), a2.pid());
    assert!(b.is_alive());
    assert_eq!(sup.child_pid("b"), Some(b.pid()));
    assert_eq!(sup.which_children().await.unwrap()[0].restarts, 1);
    sup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_for_all_restarts_every_child_and_no_old_pid_survives() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let sup = rt
        .start_supervisor(
            spec(Strategy::OneForAll)
                .child(trapping_worker("a", &ev))
                .child(trapping_worker("b", &ev))
                .child(trapping_worker("c", &ev)),
        )
        .await
        .unwrap();
    let old: Vec<_> = vec![
        rx.started("a").await,
        rx.started("b").await,
        rx.started("c").await,
    ];
    rx.clear_log();
    old[1].send(Cmd::Panic).unwrap();
    // c then a are stopped (reverse order), then all start in order.
    assert_eq!(rx.stopped("c").await, ExitReason::Shutdown(None));
    assert_eq!(rx.stopped("a").await, ExitReason::Shutdown(None));
    let new = [
        rx.started("a").await,
        rx.started("b").await,
        rx.started("c").await,
    ];
    assert_eq!(
        rx.log(),
        ["stop c", "stop a", "start a", "start b", "start c"]
    );
    for (o, n) in old.iter().zip(&new) {
        assert!(!o.is_alive());
        assert_ne!(o.pid(), n.pid());
    }
    sup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_for_one_restarts_the_failed_child_and_those_after_it() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let sup = rt
        .start_supervisor(
            spec(Strategy::RestForOne)
                .child(trapping_worker("a", &ev))
                .child(trapping_worker("b", &ev))
                .child(trapping_worker("c", &ev)),
        )
        .await
        .unwrap();
    let a = rx.started("a").await;
    let b = rx.started("b").await;
    let _c = rx.started("c").await;
    rx.clear_log();
    b.send(Cmd::Panic).unwrap();
    rx.stopped("c").await;
    rx.started("b").await;
    rx.started("c").await;
    assert_eq!(rx.log(), ["stop c", "start b", "start c"]);
    assert!(a.is_alive());
    assert_eq!(sup.child_pid("a"), Some(a.pid()));
    sup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_start_in_order_and_stop_in_reverse_order() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let sup = rt
        .start_supervisor(
            spec(Strategy::OneForOne)
                .child(trapping_worker("a", &ev))
                .child(trapping_worker("b", &ev))
                .child(trapping_worker("c", &ev)),
        )
        .await
        .unwrap();
    for id in ["a", "b", "c"] {
        rx.started(id).await;
    }
    assert_eq!(within("stop", sup.stop()).await, ExitReason::Shutdown(None));
    assert_eq!(
        rx.log(),
        ["start a", "start b", "start c", "stop c", "stop b", "stop a"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_bystander_is_not_restarted_by_group_restart() {
    let rt = Runtime::attach();
    for strategy in [Strategy::OneForAll, Strategy::RestForOne] {
        let (ev, mut rx) = events();
        let sup = rt
            .start_supervisor(
                spec(strategy)
                    .child(worker("a", &ev))
                    .child(worker("tmp", &ev).restart(Restart::Temporary)),
            )
            .await
            .unwrap();
        let a = rx.started("a").await;
        let tmp = rx.started("tmp").await;
        a.send(Cmd::Panic).unwrap();
        rx.started("a").await;
        assert!(!tmp.is_alive());
        let ids: Vec<_> = sup
            .which_children()
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(ids, ["a"], "{strategy:?}");
        assert!(rx.try_next().is_none());
        sup.stop().await;
    }
}

/// A child whose next `fail` starts fail.
fn flaky(
    id: &'static str,
    fail: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ev: &support::Events,
) -> ChildSpec {
    let ev = ev.clone();
    ChildSpec::from_start(id, rusm_otp::ChildType::Worker, move |starter| {
        let fail = fail.clone();
        let ev = ev.clone();
        async move {
            let dec = |n: usize| n.checked_sub(1);
            if fail
                .fetch_update(
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                    dec,
                )
                .is_ok()
            {
                return Err(StartError::failed("cannot start now"));
            }
            starter
                .spawn_init(move |ctx: Ctx<Cmd>, ack| {
                    support::worker_body(id.to_string(), ev, true, ctx, Some(ack))
                })
                .await
                .map(Started::from)
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_for_all_stops_siblings_again_when_a_restart_fails() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let fail = Arc::new(AtomicUsize::new(0));
    let sup = rt
        .start_supervisor(
            spec(Strategy::OneForAll)
                .child(trapping_worker("a", &ev))
                .child(flaky("b", fail.clone(), &ev)),
        )
        .await
        .unwrap();
    rx.started("a").await;
    let b = rx.started("b").await;
    fail.store(1, Ordering::SeqCst);
    b.send(Cmd::Panic).unwrap();
    // a is stopped, restarted, then b's start fails: a is stopped again for the retry,
    // which then starts both.
    rx.stopped("a").await;
    rx.started("a").await;
    assert_eq!(rx.stopped("a").await, ExitReason::Shutdown(None));
    rx.started("a").await;
    rx.started("b").await;
    let _ = sup.restart_child("none").await;
    assert_eq!(sup.count_children().await.unwrap().active, 2);
    assert!(!matches!(rx.try_next(), Some(Event::Started(..))));
    sup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_for_one_failed_restart_does_not_restart_earlier_children() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let fail = Arc::new(AtomicUsize::new(0));
    let sup = rt
        .start_supervisor(
            spec(Strategy::RestForOne)
                .child(trapping_worker("a", &ev))
                .child(flaky("b", fail.clone(), &ev))
                .child(trapping_worker("c", &ev)),
        )
        .await
        .unwrap();
    let a = rx.started("a").await;
    let b = rx.started("b").await;
    rx.started("c").await;
    fail.store(3, Ordering::SeqCst);
    b.send(Cmd::Panic).unwrap();
    rx.stopped("c").await;
    // Three failed attempts, then b and c start; a is never touched.
    rx.started("b").await;
    assert_eq!(fail.load(Ordering::SeqCst), 0);
    rx.started("c").await;
    assert!(a.is_alive());
    assert_eq!(sup.child_pid("a"), Some(a.pid()));
    sup.stop().await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn third_crash_within_period_exceeds_intensity_two() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let sup = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne)
                .intensity(2, Duration::from_secs(5))
                .child(worker("a", &ev))
                .child(trapping_worker("b", &ev)),
        )
        .await
        .unwrap();
    let mut a = rx.started("a").await;
    rx.started("b").await;
    for _ in 0..2 {
        a.send(Cmd::Panic).unwrap();
        a = rx.started("a").await;
    }
    a.send(Cmd::Panic).unwrap();
    assert_eq!(
        within("supervisor exit", sup.wait()).await,
        ExitReason::Shutdown(None)
    );
    // The sibling was stopped by the supervisor before it exited.
    assert_eq!(rx.stopped("b").await, ExitReason::Shutdown(None));
    assert_eq!(rt.alive_processes(), 0);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn default_intensity_dies_on_second_restart_within_five_seconds() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let sup = rt
        .start_supervisor(SupervisorSpec::new(Strategy::OneForOne).child(worker("a", &ev)))
        .await
        .unwrap();
    let a = rx.started("a").await;
    a.send(Cmd::Panic).unwrap();
    let a = rx.started("a").await;
    tokio::time::advance(Duration::from_secs(4)).await;
    a.send(Cmd::Panic).unwrap();
    assert_eq!(
        within("supervisor exit", sup.wait()).await,
        ExitReason::Shutdown(None)
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn restarts_spaced_beyond_the_period_never_trip_the_limit() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let sup = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne)
                .intensity(1, Duration::from_secs(1))
                .child(worker("a", &ev)),
        )
        .await
        .unwrap();
    let mut a = rx.started("a").await;
    for _ in 0..5 {
        tokio::time::advance(Duration::from_millis(2100)).await;
        a.send(Cmd::Panic).unwrap();
        a = rx.started("a").await;
    }
    let _ = sup.restart_child("none").await;
    assert!(sup.is_alive());
    assert_eq!(sup.which_children().await.unwrap()[0].restarts, 5);
    sup.stop().await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn intensity_zero_gives_up_on_first_restart() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let sup = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne)
                .intensity(0, Duration::from_secs(5))
                .child(worker("a", &ev)),
        )
        .await
        .unwrap();
    rx.started("a")
        .await
        .send(Cmd::Exit(ExitReason::Normal))
        .unwrap();
    assert_eq!(
        within("supervisor exit", sup.wait()).await,
        ExitReason::Shutdown(None)
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn exceeded_intensity_escalates_to_the_parent_supervisor() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let inner = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(0, Duration::from_secs(5))
        .child(worker("leaf", &ev));
    let top = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne)
                .intensity(5, Duration::from_secs(5))
                .name("top")
                .child(ChildSpec::supervisor("inner", inner))
                .child(worker("sibling", &ev)),
        )
        .await
        .unwrap();
    let leaf = rx.started("leaf").await;
    let sibling = rx.started("sibling").await;
    let inner_pid = top.child_pid("inner").unwrap();
    leaf.send(Cmd::Panic).unwrap();
    // The inner supervisor gives up; the top one restarts it (a permanent child), and with
    // it a fresh leaf.
    let leaf2 = rx.started("leaf").await;
    let _ = top.restart_child("none").await;
    assert_ne!(leaf.pid(), leaf2.pid());
    let new_inner = top.child_pid("inner").unwrap();
    assert_ne!(new_inner, inner_pid);
    assert!(sibling.is_alive());
    let tree = rt.tree();
    assert_eq!(tree.find("inner").unwrap().restarts, 1);
    top.stop().await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn backoff_delays_restarts_but_still_counts_them() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let b = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(1),
        jitter: 0.0,
        reset_after: Duration::from_secs(30),
    };
    let sup = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne)
                .intensity(2, Duration::from_secs(60))
                .child(worker("a", &ev).backoff(b)),
        )
        .await
        .unwrap();
    let a = rx.started("a").await;
    let t0 = tokio::time::Instant::now();
    a.send(Cmd::Panic).unwrap();
    let a = rx.started("a").await;
    assert!(t0.elapsed() >= Duration::from_millis(100));
    let t1 = tokio::time::Instant::now();
    a.send(Cmd::Panic).unwrap();
    let a = rx.started("a").await;
    assert!(t1.elapsed() >= Duration::from_millis(200));
    // Third restart within 60 s exceeds intensity 2, backoff or not.
    a.send(Cmd::Panic).unwrap();
    assert_eq!(
        within("supervisor exit", sup.wait()).await,
        ExitReason::Shutdown(None)
    );
}

#[test]
fn backoff_delay_grows_exponentially_to_its_cap() {
    let b = Backoff {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(100),
        jitter: 0.0,
        reset_after: Duration::from_secs(1),
    };
    let d: Vec<_> = (0..6).map(|n| b.delay(n).as_millis()).collect();
    assert_eq!(d, [10, 20, 40, 80, 100, 100]);
    let j = Backoff { jitter: 0.5, ..b };
    for n in 0..6 {
        let d = j.delay(n);
        assert!(d <= b.delay(n) && d >= b.delay(n) / 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_waits_for_the_old_incarnation_and_reuses_its_name() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let sup = rt
        .start_supervisor(
            spec(Strategy::OneForOne).child(worker("named", &ev).name("registry-svc")),
        )
        .await
        .unwrap();
    for _ in 0..50 {
        let c = rx.started("named").await;
        // Whoever looks the name up finds the current incarnation.
        assert_eq!(rt.whereis("registry-svc").unwrap().pid(), c.pid());
        // The typed lookup finds it too: a name given at spawn carries the mailbox.
        let by_name: rusm_otp::Addr<Cmd> = rt
            .whereis_addr("registry-svc")
            .expect("a supervised child named at spawn is found by its message type");
        assert_eq!(by_name.pid(), c.pid());
        by_name.send(Cmd::Panic).unwrap();
    }
    rx.started("named").await;
    sup.stop().await;
    assert!(rt.whereis("registry-svc").is_none());
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn backoff_starts_over_after_a_stable_run() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let b = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(10),
        jitter: 0.0,
        reset_after: Duration::from_secs(5),
    };
    let sup = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne)
                .intensity(10, Duration::from_secs(1))
                .child(worker("a", &ev).backoff(b)),
        )
        .await
        .unwrap();
    // Crashes in quick succession: 100 ms, then 200 ms, then 400 ms.
    let mut a = rx.started("a").await;
    for expected in [100, 200, 400] {
        let t = tokio::time::Instant::now();
        a.send(Cmd::Panic).unwrap();
        a = rx.started("a").await;
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(expected) && took < Duration::from_millis(expected * 2),
            "expected a {expected} ms delay, got {took:?}"
        );
    }
    // A run longer than reset_after: the next delay is the initial one again.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let t = tokio::time::Instant::now();
    a.send(Cmd::Panic).unwrap();
    rx.started("a").await;
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(100) && took < Duration::from_millis(200),
        "after a stable run the delay starts over: {took:?}"
    );
    sup.stop().await;
}
