//! Ensures a process's life is as in Erlang: exit reasons from return, error and panic;
//! kill at the next await point; panics contained; nothing left behind after exit.
#[path = "support/lib.rs"]
mod support;

use std::time::Duration;

use rusm_otp::{ExitReason, Msg, Pid, Runtime};
use support::within;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_return_is_normal_exit() {
    let rt = Runtime::attach();
    let p = rt.spawn(|_ctx: rusm_otp::Ctx| async {});
    assert_eq!(within("exit", p.wait()).await, ExitReason::Normal);
    assert!(!p.is_alive());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returned_error_becomes_exit_reason_with_its_io_kind() {
    let rt = Runtime::attach();
    let p = rt.spawn(|_ctx: rusm_otp::Ctx| async {
        Err::<(), _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "peer reset",
        ))
    });
    let r = within("exit", p.wait()).await;
    assert_eq!(r.io_error_kind(), Some(std::io::ErrorKind::ConnectionReset));
    assert_eq!(r.to_string(), "error: peer reset");
    assert!(!r.is_normal());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_is_contained_to_its_process() {
    let rt = Runtime::attach();
    let bystander = rt.spawn(|mut ctx: rusm_otp::Ctx<u32>| async move {
        let Msg::User(n) = ctx.recv().await else {
            unreachable!()
        };
        assert_eq!(n, 7);
    });
    let p = rt.spawn(|_ctx: rusm_otp::Ctx| async { support::crash("index out of range") });
    assert_eq!(
        within("panic exit", p.wait()).await,
        ExitReason::Panic("index out of range".into())
    );
    // The runtime and the other process are untouched.
    assert!(bystander.is_alive());
    bystander.send(7).unwrap();
    assert_eq!(
        within("bystander", bystander.wait()).await,
        ExitReason::Normal
    );
    let again = rt.spawn(|_ctx: rusm_otp::Ctx| async {});
    assert_eq!(
        within("later spawn", again.wait()).await,
        ExitReason::Normal
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_stops_a_blocked_process_with_killed() {
    let rt = Runtime::attach();
    let p = rt.spawn(|mut ctx: rusm_otp::Ctx| async move {
        ctx.trap_exit(true); // kill cannot be trapped
        while !matches!(ctx.recv().await, Msg::User(())) {}
    });
    p.kill();
    assert_eq!(within("killed", p.wait()).await, ExitReason::Killed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_before_first_poll_still_kills() {
    let rt = Runtime::attach();
    for _ in 0..200 {
        let p = rt.spawn(|mut ctx: rusm_otp::Ctx| async move {
            ctx.recv().await;
        });
        p.kill();
        assert_eq!(within("killed", p.wait()).await, ExitReason::Killed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_signal_normal_is_ignored_by_non_trapping_process() {
    let rt = Runtime::attach();
    let p = rt.spawn(|mut ctx: rusm_otp::Ctx<u8>| async move {
        let _ = ctx.recv().await;
    });
    p.exit(ExitReason::Normal);
    p.exit(ExitReason::shutdown_with("stop"));
    assert_eq!(
        within("exit", p.wait()).await,
        ExitReason::shutdown_with("stop")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alive_count_returns_to_baseline_after_many_processes() {
    let rt = Runtime::attach();
    let baseline = rt.alive_processes();
    let mut handles = Vec::new();
    for i in 0..1000u32 {
        handles.push(rt.spawn(move |mut ctx: rusm_otp::Ctx<u32>| async move {
            let _ = ctx.recv_timeout(Duration::from_millis(1)).await;
            if i % 3 == 0 {
                support::crash("some fail");
            }
        }));
    }
    for h in &handles {
        within("exit", h.wait()).await;
    }
    assert_eq!(rt.alive_processes(), baseline);
    assert!(handles.iter().all(|h| rt.process(h.pid()).is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_messages_overtake_a_flooded_mailbox() {
    let rt = Runtime::attach();
    for _ in 0..5 {
        let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<()>();
        let p = rt.spawn(move |mut ctx: rusm_otp::Ctx<u64>| async move {
            ctx.trap_exit(true);
            let _ = ready_tx.send(());
            let _ = go_rx.await;
            match ctx.recv().await {
                Msg::Exit(_) => ExitReason::Normal,
                other => ExitReason::error(format!("user message before EXIT: {other:?}")),
            }
        });
        within("trap_exit set", ready_rx).await.unwrap();
        for i in 0..100_000 {
            p.send(i).unwrap();
        }
        p.exit(ExitReason::Shutdown(None));
        go_tx.send(()).unwrap();
        assert_eq!(within("exit", p.wait()).await, ExitReason::Normal);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recv_timeout_returns_none_when_nothing_arrives() {
    let rt = Runtime::attach();
    let p = rt.spawn(|mut ctx: rusm_otp::Ctx<u8>| async move {
        assert!(ctx.recv_timeout(Duration::from_millis(20)).await.is_none());
        ctx.myself().send(5).unwrap();
        match ctx.recv_timeout(Duration::from_secs(5)).await {
            Some(Msg::User(5)) => Ok(()),
            other => Err(format!("unexpected {other:?}")),
        }
    });
    assert_eq!(within("exit", p.wait()).await, ExitReason::Normal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_to_dead_process_returns_the_message() {
    let rt = Runtime::attach();
    let p = rt.spawn(|_ctx: rusm_otp::Ctx<String>| async {});
    within("exit", p.wait()).await;
    let err = p.send("hello".to_string()).unwrap_err();
    assert_eq!(err.0, "hello");
    assert_eq!(err.to_string(), "send to a process that has exited");
}

#[test]
fn pid_prints_like_erlang() {
    assert_eq!(Pid::EXTERNAL.to_string(), "<0.0.0>");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pids_are_unique_and_printable() {
    let rt = Runtime::attach();
    let a = rt.spawn(|_ctx: rusm_otp::Ctx| async {});
    let b = rt.spawn(|_ctx: rusm_otp::Ctx| async {});
    assert_ne!(a.pid(), b.pid());
    assert!(a.pid().to_string().starts_with("<0.") && a.pid().to_string().ends_with(".0>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_while_dropping_process_state_does_not_escape() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("drop bomb");
        }
    }
    let rt = Runtime::attach();
    let p = rt.spawn(|mut ctx: rusm_otp::Ctx| async move {
        let _bomb = Bomb;
        ctx.recv().await;
    });
    p.kill();
    assert_eq!(within("killed", p.wait()).await, ExitReason::Killed);
    assert_eq!(rt.alive_processes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_process_has_a_mailbox_even_if_its_body_dropped_its_ctx() {
    let rt = Runtime::attach();
    let (go, gate) = tokio::sync::oneshot::channel::<()>();
    // The body does not move its context into its future: the context is dropped at once.
    let p = rt.spawn(move |_ctx: rusm_otp::Ctx<u32>| async move {
        let _ = gate.await;
    });
    assert!(p.is_alive());
    assert!(p.send(1).is_ok(), "a live process accepts messages");
    assert_eq!(p.message_queue_len(), 1);
    go.send(()).unwrap();
    assert_eq!(within("exit", p.wait()).await, ExitReason::Normal);
    assert_eq!(p.send(2).map_err(|e| e.0), Err(2), "a dead one does not");
    assert_eq!(p.message_queue_len(), 0, "what was queued went with it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linking_to_a_dead_process_while_trapping_exits_delivers_noproc() {
    let rt = Runtime::attach();
    let dead = rt.spawn(|_ctx: rusm_otp::Ctx| async {});
    within("exit", dead.wait()).await;
    let dead_pid = dead.pid();
    let p = rt.spawn(move |mut ctx: rusm_otp::Ctx| async move {
        // Not trapping: the error, as Erlang's `noproc` exception.
        assert_eq!(
            ctx.link(dead_pid),
            Err(rusm_otp::LinkError::NoProc(dead_pid))
        );
        ctx.trap_exit(true);
        assert_eq!(ctx.link(dead_pid), Ok(()));
        match ctx.recv().await {
            Msg::Exit(e) => {
                assert_eq!(e.from, dead_pid);
                assert_eq!(e.reason, ExitReason::NoProc);
            }
            other => panic!("expected {{'EXIT', Pid, noproc}}, got {other:?}"),
        }
    });
    assert_eq!(within("exit", p.wait()).await, ExitReason::Normal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_current_is_the_runtime_of_the_calling_process() {
    let rt = Runtime::attach();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let p = rt
        .spawn_named("probe", move |_ctx: rusm_otp::Ctx| async move {
            // The process's own runtime (a new one would not know its name).
            let _ = tx.send(Runtime::current().whereis("probe").map(|h| h.pid()));
        })
        .unwrap();
    assert_eq!(within("reply", rx).await.unwrap(), Some(p.pid()));
    within("exit", p.wait()).await;
    // Outside any process or block_on: none, and a panic that says why.
    assert!(Runtime::try_current().is_none());
    let panic = std::panic::catch_unwind(Runtime::current).unwrap_err();
    let msg = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(msg.contains("outside a RUSM process"), "{msg}");
}
