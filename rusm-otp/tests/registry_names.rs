//! Ensures the name registry behaves as Erlang's: one live process per name, the name freed
//! when its owner exits, typed lookups, and typed errors for every misuse. Every way of
//! naming a process (spawn_named, a child spec's name, a named server start, a server child
//! spec's name) is found by the typed lookup; mailbox lengths count what waits; `Ctx::next`
//! makes a receive loop.
#[path = "support/lib.rs"]
mod support;

use std::time::Duration;

use rusm_otp::server::{Call, Caller, Cast, Init, Next, Reply, Server, ServerCtx};
use rusm_otp::{Addr, ChildSpec, Ctx, Msg, Pid, RegisterError, Runtime, Strategy, SupervisorSpec};
use support::within;
use tokio::sync::{mpsc, oneshot};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_is_released_when_owner_exits() {
    let rt = Runtime::attach();
    let p = rt.spawn(|mut ctx: Ctx<u8>| async move {
        ctx.recv().await;
    });
    rt.register("worker", &p).unwrap();
    assert_eq!(rt.whereis("worker").unwrap().pid(), p.pid());
    assert_eq!(rt.registered(), vec![("worker".to_string(), p.pid())]);
    p.send(1).unwrap();
    within("exit", p.wait()).await;
    assert!(rt.whereis("worker").is_none());
    // The name can be taken again at once.
    let q = rt.spawn_named("worker", |mut ctx: Ctx<u8>| async move {
        ctx.recv().await;
    });
    let q = q.unwrap();
    assert_eq!(rt.whereis("worker").unwrap().pid(), q.pid());
    q.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_a_taken_name_is_an_error_naming_the_owner() {
    let rt = Runtime::attach();
    let a = rt.spawn(|mut ctx: Ctx<u8>| async move {
        ctx.recv().await;
    });
    let b = rt.spawn(|mut ctx: Ctx<u8>| async move {
        ctx.recv().await;
    });
    rt.register("svc", &a).unwrap();
    let err = rt.register("svc", &b).unwrap_err();
    assert_eq!(
        err,
        RegisterError::Taken {
            name: "svc".into(),
            pid: a.pid()
        }
    );
    assert!(err.to_string().contains("already registered"));
    // A process has one name at most.
    assert!(matches!(
        rt.register("svc2", &a),
        Err(RegisterError::AlreadyNamed { .. })
    ));
    let spawned = rt.spawn_named("svc", |_ctx: Ctx<u8>| async {});
    assert!(matches!(spawned, Err(RegisterError::Taken { .. })));
    a.kill();
    b.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_a_dead_process_is_noproc() {
    let rt = Runtime::attach();
    let a = rt.spawn(|_ctx: Ctx<u8>| async {});
    within("exit", a.wait()).await;
    assert_eq!(rt.register("late", &a), Err(RegisterError::NoProc(a.pid())));
    assert!(rt.whereis("late").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whereis_addr_is_typed_and_unregister_frees_the_name() {
    let rt = Runtime::attach();
    let p = rt.spawn(|mut ctx: Ctx<String>| async move {
        ctx.register("greeter").unwrap();
        match ctx.recv().await {
            Msg::User(s) => assert_eq!(s, "hi"),
            _ => unreachable!(),
        }
        ctx.unregister();
        ctx.recv().await;
    });
    let addr: Addr<String> = within("registered", async {
        loop {
            if let Some(a) = rt.whereis_addr::<String>("greeter") {
                return a;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    // The wrong message type finds nothing rather than misdelivering.
    assert!(rt.whereis_addr::<u32>("greeter").is_none());
    addr.send("hi".into()).unwrap();
    within("unregistered", async {
        while rt.whereis("greeter").is_some() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(!rt.unregister("greeter"));
    p.kill();
}

/// Asks a [`pinger`] for its pid.
struct Ping(oneshot::Sender<Pid>);

/// Answers every `Ping` with its pid.
async fn pinger(mut ctx: Ctx<Ping>) {
    while let Some(msg) = ctx.next().await {
        if let Msg::User(Ping(tx)) = msg {
            let _ = tx.send(ctx.pid());
        }
    }
}

/// The pid of the process behind `addr`, as it answers through its own mailbox.
async fn ping(addr: &Addr<Ping>) -> Pid {
    let (tx, rx) = oneshot::channel();
    addr.send(Ping(tx)).unwrap();
    within("a ping's answer", rx).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_named_is_found_by_its_message_type() {
    let rt = Runtime::attach();
    let p = rt.spawn_named("pinger", pinger).unwrap();
    let found = rt
        .whereis_addr::<Ping>("pinger")
        .expect("a process named at spawn is found by its message type");
    assert_eq!(ping(&found).await, p.pid());
    assert!(rt.whereis_addr::<u32>("pinger").is_none());
    p.kill();
    within("exit", p.wait()).await;
    assert!(rt.whereis_addr::<Ping>("pinger").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_worker_child_is_found_by_its_message_type_across_restarts() {
    let rt = Runtime::attach();
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(10, Duration::from_secs(5))
        .child(
            ChildSpec::worker("pinger", move |ctx: Ctx<Ping>| {
                let _ = started_tx.send(ctx.pid());
                pinger(ctx)
            })
            .name("pinger"),
        );
    let sup = within("the supervisor's start", rt.start_supervisor(spec))
        .await
        .unwrap();
    let mut last = None;
    for _ in 0..3 {
        let pid = within("a start", started.recv()).await.unwrap();
        assert_ne!(Some(pid), last, "a restart is a new process");
        let found = rt
            .whereis_addr::<Ping>("pinger")
            .expect("a supervised child named by its spec is found by its message type");
        assert_eq!(ping(&found).await, pid);
        found.kill();
        last = Some(pid);
    }
    within("the supervisor's stop", sup.stop()).await;
    assert!(rt.whereis_addr::<Ping>("pinger").is_none());
}

/// A server that counts casts.
struct Tally(u32);

impl Server for Tally {
    type Args = ();
    type Info = ();
    async fn init(_: (), _: &mut ServerCtx<Self>) -> Init<Self> {
        Init::Ok(Tally(0))
    }
}

struct Count;
impl Call<Count> for Tally {
    type Reply = u32;
    async fn handle_call(
        &mut self,
        _: Count,
        _: &Caller<u32>,
        _: &mut ServerCtx<Self>,
    ) -> Reply<u32> {
        Reply::Reply(self.0)
    }
}

struct Incr;
impl Cast<Incr> for Tally {
    async fn handle_cast(&mut self, _: Incr, _: &mut ServerCtx<Self>) -> Next {
        self.0 += 1;
        Next::Noreply
    }
}

/// Holds the server in its callback: says so on `held`, then waits for `release`.
struct Hold {
    held: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
}
impl Call<Hold> for Tally {
    type Reply = ();
    async fn handle_call(&mut self, h: Hold, _: &Caller<()>, _: &mut ServerCtx<Self>) -> Reply<()> {
        let _ = h.held.send(());
        let _ = h.release.await;
        Reply::Reply(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_servers_are_found_by_their_type() {
    let rt = Runtime::attach();
    let started = within("start", rt.start_server_named::<Tally>("tally", ()))
        .await
        .unwrap();
    let found = rt
        .whereis_server::<Tally>("tally")
        .expect("a named server start");
    assert_eq!(found.pid(), started.pid());
    found.cast(Incr).unwrap();
    assert_eq!(within("count", started.call(Count)).await.unwrap(), 1);

    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(ChildSpec::server::<Tally>("child-tally", ()).name("child-tally"));
    let sup = within("the supervisor's start", rt.start_supervisor(spec))
        .await
        .unwrap();
    let child = rt
        .whereis_server::<Tally>("child-tally")
        .expect("a server child spec's name");
    assert_eq!(Some(child.pid()), sup.child_pid("child-tally"));
    assert_eq!(within("count", child.call(Count)).await.unwrap(), 0);
    // A server's name does not take plain messages of another type.
    assert!(rt.whereis_addr::<Ping>("child-tally").is_none());
    within("the supervisor's stop", sup.stop()).await;
    started.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_queue_len_counts_what_waits_in_the_mailbox() {
    let rt = Runtime::attach();
    let (gate_tx, gate_rx) = oneshot::channel::<()>();
    let (len_tx, len_rx) = oneshot::channel();
    let p = rt.spawn(move |mut ctx: Ctx<u8>| async move {
        let _ = gate_rx.await;
        ctx.recv_user().await;
        let _ = len_tx.send(ctx.message_queue_len());
        ctx.recv_user().await;
        ctx.recv_user().await;
    });
    assert_eq!(p.message_queue_len(), 0);
    for n in 0..3 {
        p.send(n).unwrap();
    }
    // The process waits at its gate: nothing is read yet.
    assert_eq!(p.message_queue_len(), 3);
    gate_tx.send(()).unwrap();
    assert_eq!(within("the process's own count", len_rx).await.unwrap(), 2);
    assert!(within("exit", p.wait()).await.is_normal());

    // A server's queue, while it is held in a callback.
    let s = within("start", rt.start_server::<Tally>(())).await.unwrap();
    let (held_tx, held_rx) = oneshot::channel();
    let (release_tx, release_rx) = oneshot::channel();
    let held = tokio::spawn({
        let s = s.clone();
        async move {
            s.call(Hold {
                held: held_tx,
                release: release_rx,
            })
            .await
        }
    });
    // The server has taken the hold off its queue and reads nothing else until it ends.
    within("the server to hold", held_rx).await.unwrap();
    assert_eq!(s.message_queue_len(), 0);
    s.cast(Incr).unwrap();
    s.cast(Incr).unwrap();
    assert_eq!(s.message_queue_len(), 2);
    release_tx.send(()).unwrap();
    within("the hold's reply", held).await.unwrap().unwrap();
    assert_eq!(within("count", s.call(Count)).await.unwrap(), 2);
    assert_eq!(s.message_queue_len(), 0);
    s.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctx_next_loop_receives_user_and_system_messages_until_it_breaks() {
    let rt = Runtime::attach();
    let target = rt.spawn(|mut ctx: Ctx<()>| async move {
        ctx.recv_user().await;
    });
    let (ready_tx, ready_rx) = oneshot::channel();
    let (done_tx, done_rx) = oneshot::channel();
    let watched = target.handle().clone();
    let summer = rt.spawn(move |mut ctx: Ctx<u32>| async move {
        ctx.monitor(&watched);
        let _ = ready_tx.send(());
        let (mut total, mut downs) = (0, Vec::new());
        while let Some(msg) = ctx.next().await {
            match msg {
                Msg::User(0) => break,
                Msg::User(n) => total += n,
                Msg::Down(d) => downs.push(d.pid),
                Msg::Exit(_) => {}
            }
        }
        let _ = done_tx.send((total, downs));
    });
    within("the monitor", ready_rx).await.unwrap();
    target.kill();
    // Its Down is queued before `wait` returns, so before the messages below.
    within("the target's exit", target.wait()).await;
    for n in [2, 3, 0] {
        summer.send(n).unwrap();
    }
    let (total, downs) = within("the loop's result", done_rx).await.unwrap();
    assert_eq!(total, 5);
    assert_eq!(downs, vec![target.pid()]);
    assert!(within("exit", summer.wait()).await.is_normal());
}
