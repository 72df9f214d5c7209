//! Ensures accept errors are handled by their class (the accept-error table of the
//! reliability catalogue), injected through `Listener::inject_accept_errors`: shortages back
//! off without restarting anything, errors of one pending connection are retried at once, a
//! dead listening socket restarts only the acceptor, and unknown errors end an acceptor only
//! after ten in a row.
#[path = "support/lib.rs"]
mod support;

use support::{echo, echoes};

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rusm_otp::{connect, AcceptErrors, Listener, ListenerConfig, Runtime};
use support::within;

async fn listener(rt: &Runtime, acceptors: usize) -> (SocketAddr, Listener) {
    rt.listen_with(
        ListenerConfig::new("127.0.0.1:0").acceptors(acceptors),
        echo,
    )
    .await
    .unwrap()
}

/// Restart counts of every acceptor, in order.
fn acceptor_restarts(rt: &Runtime, n: usize) -> Vec<u64> {
    let tree = rt.tree();
    (0..n)
        .map(|i| tree.find(&format!("acceptor-{i}")).unwrap().restarts)
        .collect()
}

fn errno(n: i32) -> io::Error {
    io::Error::from_raw_os_error(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_shortages_back_off_and_never_restart_an_acceptor() {
    let rt = Runtime::attach();
    let (addr, l) = listener(&rt, 1).await;
    let mut live = connect(addr).await.unwrap();
    echoes(&mut live, b"before").await;
    // EMFILE ENFILE ENOBUFS ENOMEM: each one backs off 100 ms.
    let start = Instant::now();
    l.inject_accept_errors([errno(24), errno(23), errno(105), errno(12)]);
    let mut fresh = within("client served after the shortage", connect(addr))
        .await
        .unwrap();
    echoes(&mut fresh, b"after").await;
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "four shortages must back off 4 × 100 ms, took {:?}",
        start.elapsed()
    );
    echoes(&mut live, b"still here").await;
    assert_eq!(
        l.info().accept_errors,
        AcceptErrors {
            resource: 4,
            ..AcceptErrors::default()
        }
    );
    assert_eq!(acceptor_restarts(&rt, 1), [0]);
    l.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_of_one_pending_connection_are_retried_at_once() {
    let rt = Runtime::attach();
    let (addr, l) = listener(&rt, 1).await;
    let per_connection = [103, 71, 1, 100, 101, 112, 113, 64, 92, 95, 110, 4, 104];
    let start = Instant::now();
    l.inject_accept_errors(per_connection.map(errno));
    let mut c = within("client served", connect(addr)).await.unwrap();
    echoes(&mut c, b"hi").await;
    // Sleeping 100 ms on each (zenoh#2685) would take 1.3 s on the only acceptor.
    assert!(
        start.elapsed() < Duration::from_millis(1300),
        "per-connection errors must not back off, took {:?}",
        start.elapsed()
    );
    assert_eq!(l.info().accept_errors.per_connection, 13);
    assert_eq!(acceptor_restarts(&rt, 1), [0]);
    l.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_listening_socket_restarts_only_that_acceptor_and_keeps_connections() {
    let rt = Runtime::attach();
    let (addr, l) = listener(&rt, 2).await;
    let mut live = connect(addr).await.unwrap();
    echoes(&mut live, b"before").await;
    let conns_pid = rt.tree().find("connections").unwrap().pid;
    l.inject_accept_errors([errno(9)]); // EBADF
                                        // Connect until an acceptor has taken the error and a client was served after it.
    within("the acceptor restarted", async {
        while acceptor_restarts(&rt, 2).iter().sum::<u64>() == 0 {
            let mut c = connect(addr).await.unwrap();
            echoes(&mut c, b"x").await;
        }
    })
    .await;
    assert_eq!(acceptor_restarts(&rt, 2).iter().sum::<u64>(), 1);
    assert_eq!(l.info().accept_errors.listener_dead, 1);
    let mut fresh = connect(addr).await.unwrap();
    echoes(&mut fresh, b"after").await;
    echoes(&mut live, b"still here").await;
    let tree = rt.tree();
    let conns = tree.find("connections").unwrap();
    assert_eq!((conns.pid, conns.restarts), (conns_pid, 0));
    assert!(l.is_alive());
    l.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_errors_back_off_and_end_the_acceptor_only_after_ten_in_a_row() {
    let rt = Runtime::attach();
    let (addr, l) = listener(&rt, 1).await;
    // Nine unknown errors (EIO) then a real accept: no restart.
    l.inject_accept_errors((0..9).map(|_| errno(5)));
    let mut c = within("served after nine", connect(addr)).await.unwrap();
    echoes(&mut c, b"a").await;
    assert_eq!(acceptor_restarts(&rt, 1), [0]);
    // Ten in a row: the acceptor exits for its supervisor to restart.
    l.inject_accept_errors((0..10).map(|_| errno(5)));
    within("the acceptor restarted", async {
        while acceptor_restarts(&rt, 1) != [1] {
            let mut c = connect(addr).await.unwrap();
            echoes(&mut c, b"b").await;
        }
    })
    .await;
    assert_eq!(l.info().accept_errors.unknown, 19);
    let mut c = connect(addr).await.unwrap();
    echoes(&mut c, b"c").await;
    l.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_keeps_dying_exceeds_intensity_and_stops_the_listener_freeing_the_port() {
    let rt = Runtime::attach();
    let (addr, l) = listener(&rt, 1).await;
    l.inject_accept_errors((0..50).map(|_| errno(9)));
    // Each connect wakes the acceptor into the next injected EBADF; restarts then exceed
    // the acceptors' intensity and the listener's, and the listener stops.
    let reason = within("the listener gave up", async {
        loop {
            tokio::select! {
                r = l.wait() => return r,
                _ = connect(addr) => {}
            }
        }
    })
    .await;
    // OTP: a supervisor whose restart intensity is exceeded exits with `shutdown`.
    assert!(
        matches!(reason, rusm_otp::ExitReason::Shutdown(_)),
        "{reason}"
    );
    let refused = connect(addr).await.unwrap_err();
    assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
    let (again, l2) = rt
        .listen(&addr.to_string(), echo)
        .await
        .expect("port rebindable");
    assert_eq!(again, addr);
    l2.kill();
}
