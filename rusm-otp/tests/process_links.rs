//! Ensures links and monitors deliver exit signals as Erlang does: propagation of abnormal
//! reasons, normal ignored, trap_exit turns signals into messages, kill is untrappable,
//! exactly one Down per monitor, noproc for dead targets, demonitor flushes.
#[path = "support/lib.rs"]
mod support;

use rusm_otp::{Ctx, ExitReason, ExitSignal, LinkError, Msg, Runtime};
use support::within;
use tokio::sync::oneshot;

/// Spawns a pair: an outer process that spawn_links an inner one, reports the inner's
/// address, then waits. Returns (outer, inner).
async fn linked_pair(
    rt: &Runtime,
    trap: bool,
) -> (rusm_otp::Addr<ExitSignal>, rusm_otp::Addr<ExitReason>) {
    let (tx, rx) = oneshot::channel();
    let outer = rt.spawn(move |mut ctx: Ctx<ExitSignal>| async move {
        ctx.trap_exit(trap);
        let inner = ctx.spawn_link(|mut c: Ctx<ExitReason>| async move {
            match c.recv().await {
                Msg::User(r) => r,
                _ => ExitReason::error("unexpected"),
            }
        });
        let _ = tx.send(inner);
        match ctx.recv().await {
            // With trap_exit the EXIT arrives as a message; the test reads it from the reason.
            Msg::Exit(sig) => ExitReason::shutdown_with(format!("trapped {}", sig.reason)),
            _ => ExitReason::error("unexpected"),
        }
    });
    let inner = within("inner spawned", rx).await.unwrap();
    (outer, inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abnormal_exit_propagates_over_link_with_same_reason() {
    let rt = Runtime::attach();
    let (outer, inner) = linked_pair(&rt, false).await;
    inner.send(ExitReason::error("db down")).unwrap();
    assert_eq!(
        within("inner", inner.wait()).await,
        ExitReason::error("db down")
    );
    assert_eq!(
        within("outer", outer.wait()).await,
        ExitReason::error("db down")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn normal_exit_does_not_kill_linked_partner() {
    let rt = Runtime::attach();
    let (outer, inner) = linked_pair(&rt, false).await;
    inner.send(ExitReason::Normal).unwrap();
    assert_eq!(within("inner", inner.wait()).await, ExitReason::Normal);
    assert!(outer.is_alive());
    outer.kill();
    assert_eq!(within("outer", outer.wait()).await, ExitReason::Killed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trapping_partner_receives_exit_as_message_even_for_normal() {
    let rt = Runtime::attach();
    for reason in [
        ExitReason::Normal,
        ExitReason::Shutdown(None),
        ExitReason::error("x"),
    ] {
        let (outer, inner) = linked_pair(&rt, true).await;
        inner.send(reason.clone()).unwrap();
        assert_eq!(
            within("outer", outer.wait()).await,
            ExitReason::shutdown_with(format!("trapped {reason}"))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_partner_propagates_killed_which_can_be_trapped() {
    let rt = Runtime::attach();
    let (outer, inner) = linked_pair(&rt, true).await;
    inner.kill();
    assert_eq!(within("inner", inner.wait()).await, ExitReason::Killed);
    assert_eq!(
        within("outer", outer.wait()).await,
        ExitReason::shutdown_with("trapped killed")
    );
    let (outer, inner) = linked_pair(&rt, false).await;
    inner.kill();
    assert_eq!(within("outer", outer.wait()).await, ExitReason::Killed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_propagates_over_link() {
    let rt = Runtime::attach();
    let (tx, rx) = oneshot::channel();
    let outer = rt.spawn(move |mut ctx: Ctx| async move {
        let inner = ctx.spawn_link(|_c: Ctx| async { support::crash("boom") });
        let _ = tx.send(inner.handle().clone());
        ctx.recv().await;
    });
    let inner = within("inner", rx).await.unwrap();
    assert_eq!(
        within("inner", inner.wait()).await,
        ExitReason::Panic("boom".into())
    );
    assert_eq!(
        within("outer", outer.wait()).await,
        ExitReason::Panic("boom".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_to_dead_pid_is_noproc_error() {
    let rt = Runtime::attach();
    let dead = rt.spawn(|_c: Ctx| async {});
    within("dead", dead.wait()).await;
    let dead_pid = dead.pid();
    let p = rt.spawn(move |ctx: Ctx| async move {
        match ctx.link(dead_pid) {
            Err(LinkError::NoProc(pid)) if pid == dead_pid => ExitReason::Normal,
            other => ExitReason::error(format!("{other:?}")),
        }
    });
    assert_eq!(within("p", p.wait()).await, ExitReason::Normal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlink_stops_propagation() {
    let rt = Runtime::attach();
    let victim = rt.spawn(|mut c: Ctx<ExitReason>| async move {
        match c.recv().await {
            Msg::User(r) => r,
            _ => ExitReason::Normal,
        }
    });
    let vpid = victim.pid();
    let (tx, rx) = oneshot::channel();
    let p = rt.spawn(move |mut ctx: Ctx| async move {
        ctx.link(vpid).unwrap();
        assert_eq!(ctx.links(), vec![vpid]);
        ctx.unlink(vpid);
        assert!(ctx.links().is_empty());
        let _ = tx.send(());
        ctx.recv().await;
    });
    within("unlinked", rx).await.unwrap();
    victim.send(ExitReason::error("x")).unwrap();
    within("victim", victim.wait()).await;
    // The partner would have died with the victim; it lives on.
    assert!(p.is_alive());
    p.kill();
    within("p", p.wait()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_delivers_exactly_one_down_with_reason() {
    let rt = Runtime::attach();
    let target = rt.spawn(|mut c: Ctx<()>| async move {
        c.recv().await;
        Err::<(), _>("bye")
    });
    let t = target.handle().clone();
    let target2 = target.clone();
    let watcher = rt.spawn(move |mut ctx: Ctx<()>| async move {
        let mref = ctx.monitor(&t);
        target2.send(()).unwrap();
        let Msg::Down(d) = ctx.recv().await else {
            return ExitReason::error("expected Down");
        };
        assert_eq!(d.monitor, mref);
        assert_eq!(d.pid, t.pid());
        // No second Down arrives.
        if ctx
            .recv_timeout(std::time::Duration::from_millis(50))
            .await
            .is_some()
        {
            return ExitReason::error("second message");
        }
        d.reason
    });
    assert_eq!(
        within("watcher", watcher.wait()).await,
        ExitReason::error("bye")
    );
    // The watcher was not killed by the monitor: its reason is the Down's.
    assert!(!target.is_alive());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_of_dead_process_gives_noproc_down() {
    let rt = Runtime::attach();
    let dead = rt.spawn(|_c: Ctx| async {});
    within("dead", dead.wait()).await;
    let h = dead.handle().clone();
    let w = rt.spawn(move |mut ctx: Ctx| async move {
        let mref = ctx.monitor(&h);
        match ctx.recv().await {
            Msg::Down(d) if d.monitor == mref => d.reason,
            _ => ExitReason::error("expected Down"),
        }
    });
    assert_eq!(within("watcher", w.wait()).await, ExitReason::NoProc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demonitor_flushes_a_queued_down_and_no_down_arrives_later() {
    let rt = Runtime::attach();
    // Repeat: the target dies concurrently with demonitor.
    for _ in 0..200 {
        let target = rt.spawn(|mut c: Ctx<()>| async move {
            c.recv().await;
        });
        let t = target.clone();
        let w = rt.spawn(move |mut ctx: Ctx| async move {
            let mref = ctx.monitor(&t);
            t.send(()).unwrap();
            tokio::task::yield_now().await;
            ctx.demonitor(mref);
            match ctx.recv_timeout(std::time::Duration::from_millis(5)).await {
                None => ExitReason::Normal,
                Some(m) => ExitReason::error(format!("got {m:?} after demonitor")),
            }
        });
        assert_eq!(within("watcher", w.wait()).await, ExitReason::Normal);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_monitor_sees_even_an_immediate_exit() {
    let rt = Runtime::attach();
    let w = rt.spawn(move |mut ctx: Ctx| async move {
        let (_addr, mref) = ctx.spawn_monitor(|_c: Ctx| async { support::crash("instant") });
        match ctx.recv().await {
            Msg::Down(d) if d.monitor == mref => d.reason,
            _ => ExitReason::error("expected Down"),
        }
    });
    assert_eq!(
        within("watcher", w.wait()).await,
        ExitReason::Panic("instant".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_and_kill_race_never_leaves_a_partner_alive() {
    let rt = Runtime::attach();
    let baseline = rt.alive_processes();
    for _ in 0..300 {
        let (outer, inner) = linked_pair(&rt, false).await;
        inner.kill();
        assert_eq!(within("outer", outer.wait()).await, ExitReason::Killed);
    }
    assert_eq!(rt.alive_processes(), baseline);
}
