//! Ensures a call made from a process ends at its own deadline whatever the process's other
//! calls did: one after another (the process's shared call timer moved later and earlier),
//! several in flight at once (one on the shared timer, the others on their own), and a process
//! whose last call was answered long ago is not disturbed when that call's deadline passes.
#[path = "support/lib.rs"]
mod support;

use std::time::Duration;

use rusm_otp::{Addr, CallError, Ctx, Msg, ReplyTo, Runtime};
use support::within;
use tokio::sync::mpsc;
use tokio::time::Instant;

enum Req {
    Double(u32, ReplyTo<u32>),
    /// Held unanswered for as long as the callee lives.
    Ignore(ReplyTo<u32>),
}

fn callee(rt: &Runtime) -> Addr<Req> {
    rt.spawn(|mut ctx: Ctx<Req>| async move {
        let mut parked = Vec::new();
        while let Msg::User(req) = ctx.recv().await {
            match req {
                Req::Double(n, r) => {
                    r.reply(n * 2);
                }
                Req::Ignore(r) => parked.push(r),
            }
        }
    })
}

/// Runs `body` in a caller process and returns what it sent back.
async fn in_a_process<T, F>(rt: &Runtime, body: impl FnOnce(Ctx<()>) -> F + Send + 'static) -> T
where
    T: Send + 'static,
    F: std::future::Future<Output = T> + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel();
    rt.spawn(move |ctx: Ctx<()>| async move {
        let _ = tx.send(body(ctx).await);
    });
    within("the caller process's result", rx.recv())
        .await
        .expect("the caller process reports")
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn calls_one_after_another_each_end_at_their_own_deadline() {
    let rt = Runtime::attach();
    let s = callee(&rt);
    let took = in_a_process(&rt, move |_ctx| async move {
        let mut took = Vec::new();
        // Answered at once: the shared timer is left set 1 s ahead.
        assert_eq!(
            s.call_timeout(|r| Req::Double(2, r), Duration::from_secs(1))
                .await,
            Ok(4)
        );
        // An earlier deadline than the timer's: it must not wait for the later one.
        let t = Instant::now();
        let r = s.call_timeout(Req::Ignore, Duration::from_millis(30)).await;
        took.push((r, ms(t.elapsed())));
        // A later one, on the timer that has fired.
        let t = Instant::now();
        let r = s
            .call_timeout(Req::Ignore, Duration::from_millis(120))
            .await;
        took.push((r, ms(t.elapsed())));
        assert_eq!(s.call(|r| Req::Double(5, r)).await, Ok(10));
        took
    })
    .await;
    assert_eq!(
        took,
        vec![
            (Err(CallError::Timeout), 30),
            (Err(CallError::Timeout), 120)
        ]
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn calls_in_flight_together_from_one_process_keep_their_own_deadlines() {
    let rt = Runtime::attach();
    let s = callee(&rt);
    let took = in_a_process(&rt, move |_ctx| async move {
        let timed = |timeout: u64| {
            let s = s.clone();
            async move {
                let t = Instant::now();
                let r = s
                    .call_timeout(Req::Ignore, Duration::from_millis(timeout))
                    .await;
                (r, ms(t.elapsed()))
            }
        };
        // The first call polled holds the shared timer; the second gets its own. Both orders.
        let (a, b) = tokio::join!(timed(50), timed(200));
        let (c, d) = tokio::join!(timed(200), timed(50));
        vec![a, b, c, d]
    })
    .await;
    let timeout = Err(CallError::Timeout);
    assert_eq!(
        took,
        vec![
            (timeout.clone(), 50),
            (timeout.clone(), 200),
            (timeout.clone(), 200),
            (timeout, 50)
        ]
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_answered_calls_deadline_passing_later_leaves_the_process_undisturbed() {
    let rt = Runtime::attach();
    let s = callee(&rt);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let caller = rt.spawn(move |mut ctx: Ctx<u32>| async move {
        assert_eq!(
            s.call_timeout(|r| Req::Double(1, r), Duration::from_millis(100))
                .await,
            Ok(2)
        );
        let _ = tx.send(None);
        // The answered call's deadline passes while the process waits for its mailbox.
        while let Msg::User(n) = ctx.recv().await {
            let _ = tx.send(Some(n));
        }
    });
    assert_eq!(within("the call", rx.recv()).await, Some(None));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(rx.try_recv().is_err(), "nothing arrived: nothing to report");
    caller.send(7).unwrap();
    assert_eq!(within("the message", rx.recv()).await, Some(Some(7)));
    assert!(caller.is_alive());
}
