//! Ensures request/reply and timers follow gen_server and erlang:send_after: replies arrive,
//! timeouts leave the callee alive, a callee that dies mid-call ends the call with its reason
//! at once, a process calling itself is told so, and cancelled timers never fire.
#[path = "support/lib.rs"]
mod support;

use std::time::Duration;

use rusm_otp::{CallError, Ctx, ExitReason, Msg, ReplyTo, Runtime};
use support::within;

enum Req {
    Double(u32, ReplyTo<u32>),
    Ignore(ReplyTo<u32>),
    Drop(ReplyTo<u32>),
    Die(ReplyTo<u32>),
    CallSelf(ReplyTo<Result<u32, CallError>>),
}

fn server(rt: &Runtime) -> rusm_otp::Addr<Req> {
    rt.spawn(|mut ctx: Ctx<Req>| async move {
        let mut parked = Vec::new();
        loop {
            match ctx.recv().await {
                Msg::User(Req::Double(n, r)) => {
                    r.reply(n * 2);
                }
                Msg::User(Req::Ignore(r)) => parked.push(r),
                Msg::User(Req::Drop(r)) => drop(r),
                Msg::User(Req::Die(_r)) => return Err::<(), _>("died mid-call"),
                Msg::User(Req::CallSelf(r)) => {
                    let me = ctx.myself();
                    let res = me.call(|r2| Req::Double(1, r2)).await;
                    r.reply(res);
                }
                _ => {}
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_returns_the_reply() {
    let rt = Runtime::attach();
    let s = server(&rt);
    assert_eq!(s.call(|r| Req::Double(21, r)).await, Ok(42));
    s.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_timeout_leaves_callee_alive() {
    let rt = Runtime::attach();
    let s = server(&rt);
    let r = s.call_timeout(Req::Ignore, Duration::from_millis(30)).await;
    assert_eq!(r, Err(CallError::Timeout));
    assert!(s.is_alive());
    assert_eq!(s.call(|r| Req::Double(2, r)).await, Ok(4));
    s.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callee_dying_mid_call_ends_the_call_with_its_reason() {
    let rt = Runtime::attach();
    let s = server(&rt);
    let pid = s.pid();
    let r = within("call", s.call(Req::Die)).await;
    assert_eq!(
        r,
        Err(CallError::Exited(pid, ExitReason::error("died mid-call")))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callee_dropping_the_request_unanswered_times_out_and_lives_on() {
    let rt = Runtime::attach();
    let s = server(&rt);
    let r = s.call_timeout(Req::Drop, Duration::from_millis(30)).await;
    assert_eq!(r, Err(CallError::Timeout));
    assert!(s.is_alive());
    s.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_to_dead_process_is_noproc() {
    let rt = Runtime::attach();
    let s = server(&rt);
    s.kill();
    within("exit", s.wait()).await;
    assert_eq!(
        s.call(|r| Req::Double(1, r)).await,
        Err(CallError::NoProc(s.pid(), ()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calling_self_is_an_immediate_error_not_a_deadlock() {
    let rt = Runtime::attach();
    let s = server(&rt);
    let r = within("call", s.call(Req::CallSelf)).await.unwrap();
    assert_eq!(r, Err(CallError::CallingSelf(s.pid())));
    s.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_waiters_do_not_leak_when_callee_is_killed() {
    let rt = Runtime::attach();
    let s = server(&rt);
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.call(Req::Ignore).await })
        })
        .collect();
    // Every call reaches the mailbox before the kill: they are parked by the server.
    while s
        .call_timeout(|r| Req::Double(0, r), Duration::from_secs(5))
        .await
        != Ok(0)
    {}
    s.kill();
    for c in calls {
        let r = within("call", c).await.unwrap();
        assert!(
            matches!(
                r,
                Err(CallError::Exited(_, ExitReason::Killed)) | Err(CallError::NoProc(..))
            ),
            "{r:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_after_delivers_and_cancel_prevents_delivery() {
    let rt = Runtime::attach();
    let p = rt.spawn(|mut ctx: Ctx<&'static str>| async move {
        let me = ctx.myself();
        let cancelled = me.send_after("cancelled", Duration::from_millis(20));
        let _fired = me.send_after("fired", Duration::from_millis(40));
        assert!(cancelled.cancel());
        match ctx.recv().await {
            Msg::User(m) => ExitReason::shutdown_with(m),
            _ => ExitReason::error("unexpected"),
        }
    });
    assert_eq!(
        within("exit", p.wait()).await,
        ExitReason::shutdown_with("fired")
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn cancel_after_fire_returns_false() {
    let rt = Runtime::attach();
    let p = rt.spawn(|mut ctx: Ctx<u8>| async move {
        let t = ctx.myself().send_after(1, Duration::from_millis(10));
        let _ = ctx.recv().await;
        if t.cancel() {
            ExitReason::error("cancel after delivery said true")
        } else {
            ExitReason::Normal
        }
    });
    assert_eq!(within("exit", p.wait()).await, ExitReason::Normal);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn call_timeout_is_one_deadline_even_when_the_reply_handle_is_dropped_late() {
    let rt = Runtime::attach();
    // Holds the reply handle for 80 ms, then drops it unanswered and lives on.
    let s = rt.spawn(|mut ctx: rusm_otp::Ctx<rusm_otp::ReplyTo<u8>>| async move {
        let Msg::User(reply) = ctx.recv().await else {
            return;
        };
        tokio::time::sleep(Duration::from_millis(80)).await;
        drop(reply);
        ctx.recv().await;
    });
    let t = tokio::time::Instant::now();
    let r = s
        .call_timeout(|reply| reply, Duration::from_millis(100))
        .await;
    assert_eq!(r, Err(CallError::Timeout));
    assert_eq!(t.elapsed(), Duration::from_millis(100));
    s.kill();
}
