//! Ensures faults in a listener's own subtree and changes to its limits touch only what they
//! must: killing the connections supervisor ends its connections and restarts exactly what
//! rest_for_one says, once; max_connections raised to unlimited, lowered, or changed eighty
//! times at once is exact with one acceptor or several, spawns nothing and ends no connection
//! (RELIABILITY.md scenarios 11 and 14).
#[path = "support/lib.rs"]
mod support;
#[path = "support/tcp_faults.rs"]
mod tcp_faults;

use std::net::SocketAddr;
use std::time::Duration;

use rusm_otp::{ListenerConfig, Runtime};
use support::{echo, echoes, open_sockets, read_until_closed, until, within, SERIAL};
use tcp_faults::{client, fresh_client_served, nothing_left, skeleton};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_connections_supervisor_restarts_it_and_the_acceptors_exactly_once() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    let (addr, listener) = rt.listen("127.0.0.1:0", echo).await.unwrap();
    let (procs, sockets) = (rt.alive_processes(), open_sockets());
    let mut clients = Vec::new();
    for _ in 0..20 {
        let mut c = client(addr).await;
        echoes(&mut c, b"hi").await;
        clients.push(c);
    }
    let tree = rt.tree();
    let conns = tree.find("connections").unwrap().pid.unwrap();
    let acceptors = tree.find("acceptors").unwrap().pid.unwrap();
    let spawned = rt.spawned_processes();
    rt.process(conns).unwrap().kill();
    // Its connections are its children: they end with it, and their sockets close.
    for c in &mut clients {
        let _ = read_until_closed(c).await;
    }
    until("connections and acceptors restarted", || {
        let t = rt.tree();
        let (c, a) = (t.find("connections").unwrap(), t.find("acceptors").unwrap());
        c.restarts == 1
            && a.restarts == 1
            && a.children.len() == 2
            && a.children.iter().all(|n| n.pid.is_some())
    })
    .await;
    fresh_client_served(addr).await;
    let t = rt.tree();
    let (c, a) = (t.find("connections").unwrap(), t.find("acceptors").unwrap());
    assert_ne!(c.pid, Some(conns));
    assert_ne!(a.pid, Some(acceptors));
    assert_eq!((c.restarts, a.restarts), (1, 1));
    assert_eq!(t.roots[0].pid, Some(listener.pid()));
    // Exactly: connections sup, acceptors sup, two acceptors, and the fresh connection.
    assert_eq!(rt.spawned_processes() - spawned, 5);
    drop(clients);
    nothing_left(&rt, procs, sockets).await;
    listener.kill();
}

/// Whether `c`'s one-byte request stays unanswered for 300 ms (it waits in the backlog).
async fn left_waiting(c: &mut TcpStream) -> bool {
    let mut one = [0u8; 1];
    tokio::time::timeout(Duration::from_millis(300), c.read_exact(&mut one))
        .await
        .is_err()
}

/// `n` clients, each served once.
async fn held(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut v = Vec::new();
    for _ in 0..n {
        let mut c = client(addr).await;
        echoes(&mut c, b"h").await;
        v.push(c);
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_raised_to_unlimited_then_lowered_limits_again() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    let config = ListenerConfig::new("127.0.0.1:0").max_connections(10);
    let (addr, l) = rt.listen_with(config, echo).await.unwrap();
    let mut conns = held(addr, 10).await;
    let mut queued = client(addr).await;
    queued.write_all(b"q").await.unwrap();
    assert!(left_waiting(&mut queued).await);
    // ranch tcp_max_connections_infinity: 10 → infinity lets the queued client in...
    l.set_max_connections(usize::MAX);
    let mut one = [0u8; 1];
    within("the queued client", queued.read_exact(&mut one))
        .await
        .unwrap();
    conns.push(queued);
    conns.extend(held(addr, 9).await);
    // ...and back to 10 ends none of the 20, and new clients wait until fewer than 10 are left.
    l.set_max_connections(10);
    let mut late = client(addr).await;
    late.write_all(b"l").await.unwrap();
    assert!(
        left_waiting(&mut late).await,
        "served with 20 connections held at max_connections 10"
    );
    for c in &mut conns {
        echoes(c, b"x").await;
    }
    conns.truncate(10);
    until("ten connections to end", || l.connections() == 10).await;
    assert!(left_waiting(&mut late).await);
    conns.truncate(9);
    within("the late client", late.read_exact(&mut one))
        .await
        .unwrap();
    l.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lowering_max_connections_is_exact_with_several_acceptors() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    let config = ListenerConfig::new("127.0.0.1:0")
        .max_connections(10)
        .acceptors(4);
    let (addr, l) = rt.listen_with(config, echo).await.unwrap();
    l.set_max_connections(2);
    let _conns = held(addr, 2).await;
    let mut late = client(addr).await;
    late.write_all(b"l").await.unwrap();
    assert!(
        left_waiting(&mut late).await,
        "a third client was served at max_connections 2"
    );
    l.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eighty_concurrent_max_connections_changes_spawn_nothing_and_touch_no_connection() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    let config = ListenerConfig::new("127.0.0.1:0").max_connections(100);
    let (addr, l) = rt.listen_with(config, echo).await.unwrap();
    let mut conns = held(addr, 100).await;
    // ranch tcp_set_max_connections_clean: random 6 / 4 / 8 / infinity, all at once.
    let (spawned, before) = (rt.spawned_processes(), skeleton(&rt));
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..80 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let max = [6, 4, 8, usize::MAX][(seed % 4) as usize];
        let l = l.clone();
        calls.spawn(async move { l.set_max_connections(max) });
    }
    while let Some(r) = calls.join_next().await {
        if let Err(e) = r {
            panic!("set_max_connections panicked: {e}");
        }
    }
    assert_eq!(rt.spawned_processes(), spawned);
    assert_eq!(skeleton(&rt), before);
    for c in &mut conns {
        echoes(c, b"x").await;
    }
    // Settle on 102: exactly two more clients are served.
    l.set_max_connections(102);
    let _more = held(addr, 2).await;
    let mut late = client(addr).await;
    late.write_all(b"l").await.unwrap();
    assert!(
        left_waiting(&mut late).await,
        "served beyond max_connections 102"
    );
    l.kill();
}
