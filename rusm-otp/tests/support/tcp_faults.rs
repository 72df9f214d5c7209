//! Fixtures shared by the `tcp_*_faults` tests: a client, a fresh client's round trip within
//! 1 s, the listener's own processes, and the wait until no connection process or descriptor
//! is left.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rusm_otp::{Pid, Runtime};
use tokio::net::TcpStream;

use crate::support::{echoes, open_sockets, until, within};

pub async fn client(addr: SocketAddr) -> TcpStream {
    let c = within("connect", TcpStream::connect(addr)).await.unwrap();
    let _ = c.set_nodelay(true); // fails once the server has reset it
    c
}

/// A fresh client round-trips within 1 s (invariant I1).
pub async fn fresh_client_served(addr: SocketAddr) {
    let t = Instant::now();
    let mut c = client(addr).await;
    echoes(&mut c, b"fresh").await;
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );
}

/// The listener's own processes, connections excluded: (id, pid, restarts), tree order.
pub fn skeleton(rt: &Runtime) -> Vec<(String, Option<Pid>, u64)> {
    let mut out = Vec::new();
    for root in rt.tree().roots {
        out.push((root.id.clone(), root.pid, root.restarts));
        for c in &root.children {
            out.push((c.id.clone(), c.pid, c.restarts));
            if c.id == "acceptors" {
                for a in &c.children {
                    out.push((a.id.clone(), a.pid, a.restarts));
                }
            }
        }
    }
    out
}

/// Waits until no connection process is left and the descriptors are back to `sockets`
/// (invariants I3 and I4).
pub async fn nothing_left(rt: &Runtime, procs: usize, sockets: usize) {
    until("connection processes to end", || {
        rt.alive_processes() == procs
    })
    .await;
    // I3 allows a small constant over the baseline: the runtime may open a descriptor of its
    // own lazily. A leak of the test's own connections would be several.
    let t0 = Instant::now();
    loop {
        let now = open_sockets();
        if now <= sockets + 1 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{now} sockets still open, {sockets} when the test began"
        );
        tokio::task::yield_now().await;
    }
}
