//! Ensures a mailbox gives a burst's memory back once the burst is read (RELIABILITY
//! scenario 33c; tokio's channels keep their blocks: tokio-rs/tokio#4321). Alone in its test
//! binary, so that no other test moves this process's RSS.
#[path = "support/lib.rs"]
mod support;

use rusm_otp::{Msg, Runtime};
use support::{rss_bytes, within};
use tokio::sync::oneshot;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_returns_a_bursts_memory_once_it_is_read() {
    let rt = Runtime::attach();
    const N: usize = 500_000; // × 64 B: a 32 MiB queue
    let (gate_tx, gate_rx) = oneshot::channel::<()>();
    let (drained_tx, drained_rx) = oneshot::channel::<usize>();
    let p = rt.spawn(move |mut ctx: rusm_otp::Ctx<[u8; 64]>| async move {
        let _ = gate_rx.await;
        let mut n = 0;
        while n < N {
            if let Msg::User(m) = ctx.recv().await {
                assert_eq!(m[0], (n % 251) as u8);
                n += 1;
            }
        }
        let _ = drained_tx.send(n);
        // Stay alive, holding the (now empty) mailbox, until told to stop.
        ctx.recv().await;
    });
    let before = rss_bytes();
    for i in 0..N {
        p.send([(i % 251) as u8; 64]).unwrap();
    }
    let peak = rss_bytes();
    assert!(
        peak > before + 24 * 1024 * 1024,
        "the burst is queued: {before} → {peak} B"
    );
    gate_tx.send(()).unwrap();
    assert_eq!(within("the burst to be read", drained_rx).await.unwrap(), N);
    let after = rss_bytes();
    assert!(
        after + 24 * 1024 * 1024 < peak,
        "memory returns after the burst: {before} → {peak} → {after} B"
    );
    p.send([0; 64]).unwrap();
    within("exit", p.wait()).await;
}
