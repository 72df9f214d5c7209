//! Ensures a runtime frees everything it owned: dropping the last owning handle stops the
//! supervision roots in reverse start order under their shutdown specs, kills what is left,
//! drops every process body and joins its threads; `shutdown` does the same with a timeout.
//!
//! One test in this file: it counts the threads of the test binary.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusm_otp::{ChildSpec, Ctx, Msg, Runtime, Shutdown, Strategy, SupervisorSpec};

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Counts its drops: a process body holding one has been dropped when the count is up.
struct Body(Arc<AtomicUsize>);

impl Drop for Body {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A child that says when it traps exits, and records its shutdown.
fn recorder(
    id: &'static str,
    log: Arc<Mutex<Vec<&'static str>>>,
    ready: tokio::sync::mpsc::UnboundedSender<()>,
) -> ChildSpec {
    ChildSpec::worker(id, move |mut ctx: Ctx| {
        let (log, ready) = (log.clone(), ready.clone());
        async move {
            ctx.trap_exit(true);
            let _ = ready.send(());
            if let Msg::Exit(_) = ctx.recv().await {
                log.lock().unwrap().push(id);
            }
        }
    })
}

#[test]
fn a_runtime_frees_everything_it_owned() {
    // 1. Create and drop, with processes alive: every body dropped, no thread left behind.
    let before = threads();
    let dropped = Arc::new(AtomicUsize::new(0));
    for _ in 0..10 {
        let rt = Runtime::new().unwrap();
        for _ in 0..20 {
            let body = Body(dropped.clone());
            rt.spawn(move |mut ctx: Ctx| async move {
                let _body = body;
                ctx.recv().await;
            });
        }
        assert_eq!(rt.alive_processes(), 20);
        drop(rt);
    }
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        200,
        "every process body is dropped"
    );
    let after = threads();
    assert!(
        after <= before + 1,
        "threads before {before}, after {after}"
    );

    // 2. Roots stop in reverse start order, each child under its shutdown spec.
    let log = Arc::new(Mutex::new(Vec::new()));
    let rt = Runtime::new().unwrap();
    rt.block_on(async {
        let (ready, mut trapping) = tokio::sync::mpsc::unbounded_channel();
        for (name, child) in [("first", "first's child"), ("second", "second's child")] {
            rt.start_supervisor(
                SupervisorSpec::new(Strategy::OneForOne)
                    .name(name)
                    .child(recorder(child, log.clone(), ready.clone())),
            )
            .await
            .unwrap();
        }
        for _ in 0..2 {
            trapping.recv().await.unwrap();
        }
    });
    drop(rt);
    assert_eq!(*log.lock().unwrap(), ["second's child", "first's child"]);

    // 3. `shutdown` with a timeout: a child that never stops is killed when it is up.
    let rt = Runtime::new().unwrap();
    let stubborn = rt.block_on(async {
        let spec = ChildSpec::worker("stubborn", |mut ctx: Ctx| async move {
            ctx.trap_exit(true);
            loop {
                // Ignores every exit signal.
                if ctx.next().await.is_none() {
                    break;
                }
            }
        })
        .shutdown(Shutdown::Infinity);
        let sup = rt
            .start_supervisor(SupervisorSpec::new(Strategy::OneForOne).child(spec))
            .await
            .unwrap();
        rt.process(sup.child_pid("stubborn").unwrap()).unwrap()
    });
    let t = Instant::now();
    rt.shutdown(Duration::from_millis(300));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(!stubborn.is_alive());
}
