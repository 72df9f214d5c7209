//! Ensures a running application can be looked into: process_info's every field, top by
//! mailbox, memory and activity, and a server's state.
#[path = "support/lib.rs"]
mod support;

use std::time::Duration;

use rusm_otp::server::{Call, Caller, Init, Reply, Server, ServerCtx};
use rusm_otp::{ChildSpec, Ctx, Msg, ProcessStatus, Runtime, Strategy, SupervisorSpec, TopBy};
use support::within;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_info_reports_what_otp_does() {
    let rt = Runtime::attach();
    let (ready_tx, ready) = tokio::sync::oneshot::channel::<()>();
    let ready_tx = std::sync::Arc::new(std::sync::Mutex::new(Some(ready_tx)));
    let sup = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne).name("app").child(
                ChildSpec::worker("sink", move |ctx: Ctx<u64>| {
                    let ready_tx = ready_tx.lock().unwrap().take();
                    async move {
                        ctx.trap_exit(true);
                        if let Some(tx) = ready_tx {
                            let _ = tx.send(());
                        }
                        // Never reads: its mailbox only grows.
                        std::future::pending::<()>().await;
                    }
                })
                .name("sink")
                .shutdown(rusm_otp::Shutdown::BrutalKill),
            ),
        )
        .await
        .unwrap();
    within("the child", ready).await.unwrap();
    let sink = rt.whereis_addr::<u64>("sink").unwrap();
    for n in 0..10_000u64 {
        sink.send(n).unwrap();
    }
    let watcher = rt.spawn(|mut ctx: Ctx| async move {
        let _ = ctx.recv().await;
    });
    // The sink said it was ready from inside its first poll, which may still be ending on
    // the other worker: it is waiting once that poll has returned.
    let mut info = rt.process_info(sink.pid()).unwrap();
    for _ in 0..10_000 {
        if info.status != ProcessStatus::Running {
            break;
        }
        tokio::task::yield_now().await;
        info = rt.process_info(sink.pid()).unwrap();
    }
    assert_eq!(info.pid, sink.pid());
    assert_eq!(info.status, ProcessStatus::Waiting);
    assert_eq!(info.message_queue_len, 10_000);
    assert!(info.memory >= 10_000 * 8, "{}", info.memory);
    assert!(info.reductions >= 1);
    assert_eq!(info.registered_name.as_deref(), Some("sink"));
    assert_eq!(info.links, vec![sup.pid()]);
    assert!(info.trap_exit);
    assert_eq!(info.parent, Some(sup.pid()));
    assert_eq!(info.ancestors, vec![sup.pid()]);
    assert!(
        info.initial_call.contains("process_info"),
        "{}",
        info.initial_call
    );
    assert!(info.uptime < Duration::from_secs(60));
    rt.pg().join("sinks", &sink).unwrap();
    assert_eq!(rt.process_info(sink.pid()).unwrap().groups, ["sinks"]);
    let _ = watcher;

    // Monitors, both ways.
    let (mon_tx, mon_rx) = tokio::sync::oneshot::channel();
    let target = sink.handle().clone();
    let m = rt.spawn(move |mut ctx: Ctx| async move {
        ctx.monitor(&target);
        let _ = mon_tx.send(());
        let _ = ctx.recv().await;
    });
    within("the monitor", mon_rx).await.unwrap();
    assert_eq!(rt.process_info(m.pid()).unwrap().monitors, vec![sink.pid()]);
    assert_eq!(
        rt.process_info(sink.pid()).unwrap().monitored_by,
        vec![m.pid()]
    );

    // Top: the flooded process first by mailbox and by memory.
    let top = rt.top(TopBy::MessageQueueLen, 3);
    assert_eq!(top[0].pid, sink.pid());
    assert_eq!(top[0].value, 10_000);
    assert_eq!(top[0].registered_name.as_deref(), Some("sink"));
    assert!(top.len() <= 3);
    assert_eq!(rt.top(TopBy::Memory, 1)[0].pid, sink.pid());
    assert!(rt.processes().contains(&sink.pid()));

    m.kill();
    sup.stop().await;
    assert!(rt.process_info(sink.pid()).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_window_finds_the_busiest_process() {
    let rt = Runtime::attach();
    let busy = rt.spawn(|_ctx: Ctx| async move {
        while rusm_otp::current_pid() != rusm_otp::Pid::EXTERNAL {
            tokio::task::yield_now().await;
        }
    });
    let (up, is_up) = tokio::sync::oneshot::channel();
    let idle = rt.spawn(|mut ctx: Ctx| async move {
        let _ = up.send(());
        let _ = ctx.recv().await;
    });
    // Its first poll happened: it stays asleep from now on.
    within("the idle process", is_up).await.unwrap();
    let top = rt.top_window(2, Duration::from_millis(50)).await;
    assert_eq!(top[0].pid, busy.pid());
    assert!(top[0].value > 10, "{top:?}");
    assert!(top.iter().all(|e| e.pid != idle.pid() || e.value == 0));
    assert!(rt.top(TopBy::Reductions, 1)[0].pid == busy.pid());
    busy.kill();
    idle.kill();
}

#[derive(Debug)]
struct Counter {
    hits: u32,
}

impl Server for Counter {
    type Args = ();
    type Info = ();
    async fn init(_: (), _: &mut ServerCtx<Self>) -> Init<Self> {
        Init::Ok(Counter { hits: 0 })
    }
}

struct Hit;
impl Call<Hit> for Counter {
    type Reply = u32;
    async fn handle_call(
        &mut self,
        _: Hit,
        _: &Caller<u32>,
        _: &mut ServerCtx<Self>,
    ) -> Reply<u32> {
        self.hits += 1;
        Reply::Reply(self.hits)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_servers_state_can_be_read_between_messages() {
    let rt = Runtime::attach();
    let c = rt.start_server::<Counter>(()).await.unwrap();
    c.call(Hit).await.unwrap();
    c.call(Hit).await.unwrap();
    let state = c.get_state().await.unwrap();
    assert!(state.contains("hits: 2"), "{state}");
    c.kill();
    c.wait().await;
    assert!(c.get_state().await.is_err());
    let _ = Msg::<()>::User(());
}
