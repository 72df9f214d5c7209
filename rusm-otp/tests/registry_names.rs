//! Ensures the name registry behaves as Erlang's: one live process per name, the name freed
//! when its owner exits, typed lookups, and typed errors for every misuse.
#[path = "support/lib.rs"]
mod support;

use rusm_otp::{Addr, Ctx, Msg, RegisterError, Runtime};
use support::within;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_is_released_when_owner_exits() {
    let rt = Runtime::current();
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
    let rt = Runtime::current();
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
    let rt = Runtime::current();
    let a = rt.spawn(|_ctx: Ctx<u8>| async {});
    within("exit", a.wait()).await;
    assert_eq!(rt.register("late", &a), Err(RegisterError::NoProc(a.pid())));
    assert!(rt.whereis("late").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whereis_addr_is_typed_and_unregister_frees_the_name() {
    let rt = Runtime::current();
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
