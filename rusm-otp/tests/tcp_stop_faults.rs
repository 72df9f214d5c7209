//! Ensures stopping a listener frees its port and leaves nothing behind: kill and rebind, ten
//! times on one port and a hundred on port 0, leak no descriptor or process; connects are
//! refused and the port binds again as soon as `wait` returns; drain, from a task or a
//! process, and graceful stop refuse new clients at once and kill a connection ignoring
//! shutdown at the deadline; close_with_reset leaves no TIME_WAIT where a normal close does
//! (RELIABILITY.md scenarios 15, 16, 19 and 37).
#[path = "support/lib.rs"]
mod support;
#[path = "support/tcp_faults.rs"]
mod tcp_faults;

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rusm_otp::{ExitReason, ListenerConfig, Runtime};
use support::{
    connection_process, echo, echoes, open_sockets, read_until_closed, until, within, SERIAL,
};
use tcp_faults::{client, nothing_left};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_and_rebind_the_same_port_ten_times_and_port_zero_a_hundred_leak_nothing() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    let sockets = open_sockets();
    let mut addr: Option<SocketAddr> = None;
    for cycle in 0..10 {
        let at = addr.map_or("127.0.0.1:0".to_string(), |a| a.to_string());
        let (bound, l) = rt
            .listen(&at, echo)
            .await
            .unwrap_or_else(|e| panic!("cycle {cycle}: rebind {at}: {e}"));
        addr = Some(bound);
        let mut live = Vec::new();
        for _ in 0..20 {
            let mut c = client(bound).await;
            echoes(&mut c, b"live").await;
            live.push(c);
        }
        l.kill();
        assert_eq!(within("listener exit", l.wait()).await, ExitReason::Killed);
        until("new clients refused", || {
            std::net::TcpStream::connect(bound).is_err()
        })
        .await;
        // Killing a listener ends its connections: each client sees its socket close.
        for c in &mut live {
            let _ = read_until_closed(c).await;
        }
    }
    until("every process to end", || rt.alive_processes() == 0).await;
    for _ in 0..100 {
        let (a, l) = rt.listen("127.0.0.1:0", echo).await.unwrap();
        let mut c = client(a).await;
        echoes(&mut c, b"once").await;
        l.kill();
        within("listener exit", l.wait()).await;
    }
    nothing_left(&rt, 0, sockets).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_are_refused_and_the_port_is_free_as_soon_as_wait_returns_after_kill() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    let mut accepted = Vec::new();
    for attempt in 0..200 {
        let (addr, l) = rt.listen("127.0.0.1:0", echo).await.unwrap();
        l.kill();
        within("listener exit", l.wait()).await;
        if let Ok(c) = TcpStream::connect(addr).await {
            accepted.push((attempt, c.peer_addr().unwrap()));
        }
        // And the address binds again at once.
        let (again, l) = rt
            .listen(&addr.to_string(), echo)
            .await
            .unwrap_or_else(|e| panic!("attempt {attempt}: rebind {addr} right after wait: {e}"));
        assert_eq!(again, addr);
        l.kill();
        within("listener exit", l.wait()).await;
    }
    assert!(
        accepted.is_empty(),
        "{} of 200 connects made right after `wait` returned were not refused: {:?}",
        accepted.len(),
        &accepted[..accepted.len().min(5)]
    );
}

/// Reads and discards until the peer closes, trapping exits: a shutdown signal never stops it.
async fn ignores_shutdown(ctx: rusm_otp::Ctx, mut s: rusm_otp::TcpStream) -> io::Result<()> {
    ctx.trap_exit(true);
    let mut buf = [0u8; 64];
    while s.read(&mut buf).await? > 0 {}
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_kills_a_connection_that_ignores_shutdown_at_the_deadline_and_returns() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    let (addr, l) = rt.listen("127.0.0.1:0", ignores_shutdown).await.unwrap();
    let mut idle = client(addr).await;
    let conn = connection_process(&rt, idle.local_addr().unwrap()).await;
    let t0 = Instant::now();
    let drainer = l.clone();
    let drain =
        tokio::spawn(async move { drainer.drain(Duration::from_millis(500), |_| {}).await });
    until("new clients refused", || {
        std::net::TcpStream::connect(addr).is_err()
    })
    .await;
    assert!(
        t0.elapsed() < Duration::from_millis(400),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(
        within("drain", drain).await.unwrap(),
        ExitReason::Shutdown(None)
    );
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    assert_eq!(conn.wait().await, ExitReason::Killed);
    let _ = read_until_closed(&mut idle).await;
    until("every process to end", || rt.alive_processes() == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_called_from_inside_a_process_stops_the_listener() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    let (addr, l) = rt.listen("127.0.0.1:0", echo).await.unwrap();
    let mut live = client(addr).await;
    echoes(&mut live, b"x").await;
    let drainer = l.clone();
    let admin = rt.spawn(move |_ctx: rusm_otp::Ctx| async move {
        drainer.drain(Duration::from_millis(200), |_| {}).await
    });
    assert_eq!(
        within("drain from a process", admin.wait()).await,
        ExitReason::Shutdown(None)
    );
    assert_eq!(l.wait().await, ExitReason::Shutdown(None));
    let _ = read_until_closed(&mut live).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_stop_refuses_at_once_and_kills_a_connection_ignoring_it_at_drain_timeout() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    let config = ListenerConfig::new("127.0.0.1:0").drain_timeout(Duration::from_millis(500));
    let (addr, l) = rt.listen_with(config, ignores_shutdown).await.unwrap();
    let mut idle = client(addr).await;
    let conn = connection_process(&rt, idle.local_addr().unwrap()).await;
    let t0 = Instant::now();
    l.exit(ExitReason::Shutdown(None));
    // The exit signal is asynchronous: connect until refused, then check the listener is
    // still draining, i.e. refusal came when the stop began, not when it finished.
    let mut queued = Vec::new();
    let refused_after = within("new clients refused", async {
        loop {
            match TcpStream::connect(addr).await {
                Ok(c) => queued.push(c),
                Err(_) => return t0.elapsed(),
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    let draining = l.is_alive();
    assert_eq!(
        within("listener exit", l.wait()).await,
        ExitReason::Shutdown(None)
    );
    let took = t0.elapsed();
    assert_eq!(conn.wait().await, ExitReason::Killed);
    let _ = read_until_closed(&mut idle).await;
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    assert!(
        draining && refused_after < Duration::from_millis(500),
        "new clients were refused only {refused_after:?} into the graceful stop, after it \
         had finished ({took:?})"
    );
}

/// Sockets in TIME_WAIT whose local port is `port` (`/proc/net/tcp`, state `06`).
fn time_wait_on(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let port = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1].ends_with(&port) && f[3] == "06"
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_with_reset_leaves_no_time_wait_where_a_normal_close_does() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    // The server speaks first and closes first.
    let bye =
        |_ctx: rusm_otp::Ctx, mut s: rusm_otp::TcpStream| async move { s.write_all(b"bye").await };
    for reset in [true, false] {
        let config = ListenerConfig::new("127.0.0.1:0").close_with_reset(reset);
        let (addr, l) = rt.listen_with(config, bye).await.unwrap();
        let mut ends = Vec::new();
        for _ in 0..100 {
            // With a reset the bytes not yet sent are dropped: "bye" may or may not arrive,
            // and the reset may even beat the end of `connect`.
            let end = match within("connect", TcpStream::connect(addr)).await {
                Ok(mut c) => read_until_closed(&mut c).await,
                Err(e) => Err(e),
            };
            ends.push(end.map_err(|e| e.kind()));
        }
        let resets = ends
            .iter()
            .filter(|e| **e == Err(io::ErrorKind::ConnectionReset))
            .count();
        if reset {
            assert_eq!(resets, 100, "{ends:?}");
            assert_eq!(time_wait_on(addr.port()), 0);
        } else {
            assert!(ends.iter().all(|e| *e == Ok(3)), "{ends:?}");
            until("TIME_WAIT on the side that closed first", || {
                time_wait_on(addr.port()) > 0
            })
            .await;
        }
        l.kill();
    }
}
