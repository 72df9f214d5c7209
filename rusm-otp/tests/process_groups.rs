//! Ensures process groups behave as OTP's pg: join, leave, members, which_groups and send
//! count every membership; a process joined twice is listed twice and leaves one at a time;
//! an exiting process leaves its groups before its monitors hear of it; a group takes one
//! message type; a dead process cannot join.
#[path = "support/lib.rs"]
mod support;

use rusm_otp::{Addr, Ctx, Msg, PgError, Pid, Runtime};
use support::within;
use tokio::sync::{mpsc, oneshot};

/// A member that forwards what it gets, with its pid, and exits on "stop".
fn member(rt: &Runtime, seen: &mpsc::UnboundedSender<(Pid, String)>) -> Addr<String> {
    let seen = seen.clone();
    rt.spawn(move |mut ctx: Ctx<String>| async move {
        loop {
            let m = ctx.recv_user().await;
            if m == "stop" {
                return;
            }
            let _ = seen.send((ctx.pid(), m));
        }
    })
}

fn pids(v: &[Addr<String>]) -> Vec<Pid> {
    v.iter().map(|a| a.pid()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_lists_members_in_join_order_and_which_groups_is_sorted() {
    let rt = Runtime::attach();
    let (tx, _rx) = mpsc::unbounded_channel();
    let (a, b, c) = (member(&rt, &tx), member(&rt, &tx), member(&rt, &tx));
    let pg = rt.pg();
    pg.join("lobby", &a).unwrap();
    pg.join("lobby", &b).unwrap();
    pg.join("kitchen", &c).unwrap();
    assert_eq!(pids(&pg.members::<String>("lobby")), vec![a.pid(), b.pid()]);
    assert_eq!(pg.pids("lobby"), vec![a.pid(), b.pid()]);
    assert_eq!(pg.pids("kitchen"), vec![c.pid()]);
    assert_eq!(
        pg.which_groups(),
        vec!["kitchen".to_string(), "lobby".to_string()]
    );
    // Another message type, or no such group: no members, and no misdelivery.
    assert!(pg.members::<u32>("lobby").is_empty());
    assert!(pg.members::<String>("attic").is_empty());
    assert!(pg.pids("attic").is_empty());
    for p in [a, b, c] {
        p.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_delivers_once_per_membership_and_counts_deliveries() {
    let rt = Runtime::attach();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (a, b) = (member(&rt, &tx), member(&rt, &tx));
    let pg = rt.pg();
    pg.join("lobby", &a).unwrap();
    pg.join("lobby", &a).unwrap();
    pg.join("lobby", &b).unwrap();
    assert_eq!(pg.send("lobby", "hi".to_string()), 3);
    let (mut to_a, mut to_b) = (0, 0);
    for _ in 0..3 {
        let (pid, m) = within("a broadcast copy", rx.recv()).await.unwrap();
        assert_eq!(m, "hi");
        if pid == a.pid() {
            to_a += 1;
        } else {
            assert_eq!(pid, b.pid());
            to_b += 1;
        }
    }
    assert_eq!((to_a, to_b), (2, 1));
    assert_eq!(pg.send("attic", "nobody".to_string()), 0);
    // Members of another type are not sent to.
    assert_eq!(pg.send("lobby", 7u32), 0);
    a.kill();
    b.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_twice_lists_twice_and_each_leave_removes_one() {
    let rt = Runtime::attach();
    let (tx, _rx) = mpsc::unbounded_channel();
    let a = member(&rt, &tx);
    let pg = rt.pg();
    pg.join("lobby", &a).unwrap();
    pg.join("lobby", &a).unwrap();
    assert_eq!(pg.pids("lobby"), vec![a.pid(), a.pid()]);
    assert!(pg.leave("lobby", a.pid()));
    assert_eq!(pg.pids("lobby"), vec![a.pid()]);
    assert!(pg.leave("lobby", a.pid()));
    assert!(pg.pids("lobby").is_empty());
    // The last member gone, the group is gone.
    assert!(pg.which_groups().is_empty());
    assert!(!pg.leave("lobby", a.pid()));
    assert!(!pg.leave("attic", a.pid()));
    a.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exiting_process_leaves_every_group_before_its_monitors_hear_of_it() {
    let rt = Runtime::attach();
    let (tx, _rx) = mpsc::unbounded_channel();
    let (a, b) = (member(&rt, &tx), member(&rt, &tx));
    let pg = rt.pg();
    pg.join("g1", &a).unwrap();
    pg.join("g1", &a).unwrap();
    pg.join("g1", &b).unwrap();
    pg.join("g2", &a).unwrap();
    // A watcher reads the groups when a's Down reaches it.
    let (seen_tx, seen_rx) = oneshot::channel();
    let (ready_tx, ready_rx) = oneshot::channel();
    let target = a.handle().clone();
    rt.spawn(move |mut ctx: Ctx<()>| async move {
        ctx.monitor(&target);
        let _ = ready_tx.send(());
        loop {
            if let Msg::Down(d) = ctx.recv().await {
                let pg = ctx.runtime();
                let pg = pg.pg();
                let _ = seen_tx.send((d.pid, pg.pids("g1"), pg.which_groups()));
                return;
            }
        }
    });
    within("the watcher's monitor", ready_rx).await.unwrap();
    a.send("stop".into()).unwrap();
    within("a's exit", a.wait()).await;
    let (down, g1, groups) = within("the watcher's report", seen_rx).await.unwrap();
    assert_eq!(down, a.pid());
    assert_eq!(g1, vec![b.pid()]);
    assert_eq!(groups, vec!["g1".to_string()]);
    assert_eq!(pids(&pg.members::<String>("g1")), vec![b.pid()]);
    assert!(!pg.leave("g2", a.pid()));
    b.send("stop".into()).unwrap();
    within("b's exit", b.wait()).await;
    assert!(pg.members::<String>("g1").is_empty());
    assert!(pg.which_groups().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_takes_the_message_type_of_its_first_member() {
    let rt = Runtime::attach();
    let (tx, _rx) = mpsc::unbounded_channel();
    let a = member(&rt, &tx);
    let n = rt.spawn(|mut ctx: Ctx<u32>| async move {
        ctx.recv_user().await;
    });
    let pg = rt.pg();
    pg.join("lobby", &a).unwrap();
    let err = pg.join("lobby", &n).unwrap_err();
    assert_eq!(
        err,
        PgError::WrongType {
            group: "lobby".into(),
            members_take: std::any::type_name::<String>(),
        }
    );
    assert!(err.to_string().contains("group `lobby`"), "{err}");
    assert_eq!(pg.pids("lobby"), vec![a.pid()]);
    // Once the group is gone, it can be made again with another type.
    assert!(pg.leave("lobby", a.pid()));
    pg.join("lobby", &n).unwrap();
    assert_eq!(pg.send("lobby", 1u32), 1);
    assert!(within("n's exit", n.wait()).await.is_normal());
    a.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_a_dead_process_is_noproc() {
    let rt = Runtime::attach();
    let (tx, _rx) = mpsc::unbounded_channel();
    let a = member(&rt, &tx);
    a.send("stop".into()).unwrap();
    within("a's exit", a.wait()).await;
    assert_eq!(rt.pg().join("lobby", &a), Err(PgError::NoProc(a.pid())));
    assert!(rt.pg().which_groups().is_empty());
}
