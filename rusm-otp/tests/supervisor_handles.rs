//! Ensures the handles and calls an OTP user reaches for: a nested supervisor's handle from
//! its parent, a supervisor addressed by its registered name, a typed address from a child's
//! row, `get_childspec`, `check_childspecs`, and a start that returns extra information
//! (OTP's `{ok, Pid, Info}`).
#[path = "support/lib.rs"]
mod support;

use rusm_otp::supervisor::check_childspecs;
use rusm_otp::{
    AutoShutdown, ChildSpec, ChildType, Ctx, DynamicSupervisorSpec, ExitReason, Restart, Runtime,
    StartError, Started, Strategy, SupervisorError, SupervisorSpec,
};
use support::{events, within, worker, Cmd};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nested_supervisor_is_managed_through_a_handle_from_its_parent() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let app = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne)
                .child(ChildSpec::supervisor(
                    "db",
                    SupervisorSpec::new(Strategy::OneForOne),
                ))
                .child(ChildSpec::dynamic_supervisor(
                    "conns",
                    DynamicSupervisorSpec::new(),
                ))
                .child(worker("w", &ev)),
        )
        .await
        .unwrap();
    rx.started("w").await;
    let db = app.child_supervisor("db").expect("db is a supervisor");
    assert_eq!(Some(db.pid()), app.child_pid("db"));
    db.start_child(worker("pool", &ev)).await.unwrap();
    let pool = rx.started("pool").await;
    assert_eq!(db.terminate_child("pool").await, Ok(()));
    assert!(!pool.is_alive());
    db.restart_child("pool").await.unwrap();
    rx.started("pool").await;
    let conns = app
        .child_dynamic_supervisor("conns")
        .expect("a dynamic one");
    let c = conns.start_child(worker("c", &ev)).await.unwrap().unwrap();
    assert_eq!(rx.started("c").await.pid(), c);
    // The wrong kind, a worker, an unknown id: no handle.
    assert!(app.child_supervisor("conns").is_none());
    assert!(app.child_dynamic_supervisor("db").is_none());
    assert!(app.child_supervisor("w").is_none());
    assert!(app.child_supervisor("nope").is_none());
    // A handle to a stopped child supervisor is refused, as its pid is gone.
    app.terminate_child("db").await.unwrap();
    assert!(app.child_supervisor("db").is_none());
    assert_eq!(
        db.which_children().await,
        Err(SupervisorError::NoProc(db.pid()))
    );
    assert_eq!(within("stop", app.stop()).await, ExitReason::Shutdown(None));
    assert_eq!(rt.alive_processes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisors_are_found_by_their_registered_names() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let app = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne)
                .name("app")
                .child(
                    ChildSpec::supervisor("db", SupervisorSpec::new(Strategy::OneForOne))
                        .name("db_sup"),
                )
                .child(worker("w", &ev).name("a_worker")),
        )
        .await
        .unwrap();
    rx.started("w").await;
    let conns = rt
        .start_dynamic_supervisor(DynamicSupervisorSpec::new().name("conns"))
        .await
        .unwrap();
    assert_eq!(rt.supervisor("app").map(|s| s.pid()), Some(app.pid()));
    let db = rt
        .supervisor("db_sup")
        .expect("a nested supervisor, by name");
    assert_eq!(Some(db.pid()), app.child_pid("db"));
    db.start_child(worker("pool", &ev)).await.unwrap();
    rx.started("pool").await;
    let found = rt
        .dynamic_supervisor("conns")
        .expect("a dynamic one, by name");
    assert_eq!(found.pid(), conns.pid());
    // The wrong kind, a worker's name, an unknown name: none.
    assert!(rt.dynamic_supervisor("app").is_none());
    assert!(rt.supervisor("conns").is_none());
    assert!(rt.supervisor("a_worker").is_none());
    assert!(rt.supervisor("nope").is_none());
    app.stop().await;
    conns.stop().await;
    assert!(rt.supervisor("app").is_none() && rt.supervisor("db_sup").is_none());
    assert!(rt.dynamic_supervisor("conns").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_childs_row_leads_to_its_typed_address() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let sup = rt
        .start_supervisor(SupervisorSpec::new(Strategy::OneForOne).child(worker("w", &ev)))
        .await
        .unwrap();
    let w = rx.started("w").await;
    let row = &sup.which_children().await.unwrap()[0];
    assert_eq!(row.pid, Some(w.pid()));
    let addr = sup.child_addr::<Cmd>(&row.id).expect("w takes Cmd");
    assert_eq!(addr.pid(), w.pid());
    assert!(
        sup.child_addr::<String>("w").is_none(),
        "not a String mailbox"
    );
    assert!(sup.child_addr::<Cmd>("nope").is_none());
    // Sent through the address found, a command restarts it under a new pid.
    addr.send(Cmd::Exit(ExitReason::error("via the row")))
        .unwrap();
    let again = rx.started("w").await;
    // child_addr reads the table without a call: a call first, for the restart to be in it.
    sup.count_children().await.unwrap();
    assert!(sup
        .child_addr::<Cmd>("w")
        .is_some_and(|a| a.pid() == again.pid()));

    let dynamic = rt
        .start_dynamic_supervisor(DynamicSupervisorSpec::new())
        .await
        .unwrap();
    let d = dynamic
        .start_child(worker("d", &ev))
        .await
        .unwrap()
        .unwrap();
    rx.started("d").await;
    let addr = dynamic.child_addr::<Cmd>(d).expect("d takes Cmd");
    addr.send(Cmd::Exit(ExitReason::Normal)).unwrap();
    within("d's exit", addr.wait()).await;
    sup.stop().await;
    dynamic.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_childspec_returns_the_spec_a_child_was_started_with() {
    let rt = Runtime::attach();
    let (ev, mut rx) = events();
    let sup = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne)
                .child(worker("w", &ev).restart(Restart::Transient)),
        )
        .await
        .unwrap();
    rx.started("w").await;
    let spec = sup.get_childspec("w").await.unwrap();
    assert_eq!(
        (spec.id(), spec.restart_type(), spec.child_type()),
        ("w", Restart::Transient, ChildType::Worker)
    );
    // OTP sup_start_map: get_childspec of an unknown id is not_found.
    assert_eq!(
        sup.get_childspec("nope").await.err(),
        Some(SupervisorError::NotFound)
    );
    // Still there once stopped; the spec starts the child anew elsewhere.
    sup.terminate_child("w").await.unwrap();
    let spec = sup.get_childspec("w").await.unwrap();
    let other = rt
        .start_supervisor(SupervisorSpec::new(Strategy::OneForOne).child(spec))
        .await
        .unwrap();
    rx.started("w").await;

    let dynamic = rt
        .start_dynamic_supervisor(DynamicSupervisorSpec::new())
        .await
        .unwrap();
    let kept = dynamic
        .start_child(worker("p", &ev))
        .await
        .unwrap()
        .unwrap();
    rx.started("p").await;
    let temp = dynamic
        .start_child(worker("t", &ev).restart(Restart::Temporary))
        .await
        .unwrap()
        .unwrap();
    rx.started("t").await;
    assert_eq!(dynamic.get_childspec(kept).await.unwrap().id(), "p");
    // A temporary child keeps no spec (OTP-16804).
    assert_eq!(
        dynamic.get_childspec(temp).await.err(),
        Some(SupervisorError::NotFound)
    );
    sup.stop().await;
    other.stop().await;
    dynamic.stop().await;
}

#[test]
fn check_childspecs_rejects_what_a_supervisor_would() {
    let (ev, _rx) = events();
    let ok = [worker("a", &ev), worker("b", &ev)];
    assert_eq!(check_childspecs(&ok, AutoShutdown::Never), Ok(()));
    let dup = [worker("a", &ev), worker("a", &ev)];
    assert!(matches!(
        check_childspecs(&dup, AutoShutdown::Never),
        Err(StartError::InvalidSpec(s)) if s.contains("duplicate")
    ));
    let significant = [worker("s", &ev)
        .restart(Restart::Transient)
        .significant(true)];
    assert!(check_childspecs(&significant, AutoShutdown::Never).is_err());
    assert_eq!(
        check_childspecs(&significant, AutoShutdown::AnySignificant),
        Ok(())
    );
    let permanent = [worker("s", &ev).significant(true)];
    assert!(check_childspecs(&permanent, AutoShutdown::AnySignificant).is_err());
}

/// A child whose start function returns `{ok, Pid, Info}` with the start's number as Info.
fn with_info(id: &str) -> ChildSpec {
    let starts = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    ChildSpec::from_start(id, ChildType::Worker, move |starter| {
        let n = starts.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        async move {
            let addr = starter.spawn(|mut ctx: Ctx<()>| async move {
                ctx.recv().await;
            })?;
            Ok(Started::from(addr).with_info(n))
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_returns_the_information_its_start_function_added() {
    let rt = Runtime::attach();
    let sup = rt
        .start_supervisor(SupervisorSpec::new(Strategy::OneForOne))
        .await
        .unwrap();
    let first = sup.start_child_with_info(with_info("i")).await.unwrap();
    assert_eq!(first.pid, sup.child_pid("i"));
    assert_eq!(first.info_as::<u32>(), Some(1));
    sup.terminate_child("i").await.unwrap();
    let again = sup.restart_child_with_info("i").await.unwrap();
    assert!(again.pid.is_some());
    assert!(again.info.as_ref().is_some_and(|i| i.is::<u32>()));
    assert_eq!(again.info_as::<String>(), None, "the info is a u32");
    // start_child drops the info, as a supervisor ignores it.
    assert!(sup.start_child(with_info("j")).await.unwrap().is_some());
    // ignore, with info: OTP's {ok, undefined} carries none, RUSM hands it back all the same.
    let ignored = ChildSpec::from_start("n", ChildType::Worker, |_s| async {
        Ok::<_, StartError>(Started::ignore().with_info("not needed"))
    })
    .restart(Restart::Temporary);
    let r = sup.start_child_with_info(ignored).await.unwrap();
    assert_eq!((r.pid, r.info_as::<&str>()), (None, Some("not needed")));

    let dynamic = rt
        .start_dynamic_supervisor(DynamicSupervisorSpec::new())
        .await
        .unwrap();
    let d = dynamic.start_child_with_info(with_info("d")).await.unwrap();
    assert!(d.pid.is_some());
    assert_eq!(d.info_as::<u32>(), Some(1));
    sup.stop().await;
    dynamic.stop().await;
}
