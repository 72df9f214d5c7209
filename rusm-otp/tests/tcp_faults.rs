//! Ensures faults inside a listener's subtree and at its clients end only what they hit: a
//! connection that panics, errors, is killed or cannot start ends alone; clients that reset or
//! stall never stop the acceptors; killing the connections supervisor restarts exactly what
//! rest_for_one says; kill, rebind and graceful stop free the port and leak no descriptor or
//! process (RELIABILITY.md scenarios 1–5, 11, 14–16, 19, 20, 22–24, 34 and 37).
#[path = "support/lib.rs"]
mod support;

use support::{echo, echoes};

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusm_otp::{ExitReason, ListenerConfig, Pid, Runtime};
use support::{connection_process, open_sockets, read_until_closed, until, within, SERIAL};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Echoes; a read of exactly `boom` panics, `fail` returns an error, `bye` ends normally.
async fn scripted(_ctx: rusm_otp::Ctx, mut s: rusm_otp::TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).await?;
        match &buf[..n] {
            b"" | b"bye" => return Ok(()),
            b"boom" => support::crash("client asked for a panic"),
            b"fail" => return Err(io::Error::other("client asked for an error")),
            data => s.write_all(data).await?,
        }
    }
}

/// Echoes 64-byte frames until the peer closes.
async fn frames(mut s: rusm_otp::TcpStream) -> io::Result<()> {
    let mut frame = [0u8; 64];
    loop {
        s.read_exact(&mut frame).await?;
        s.write_all(&frame).await?;
    }
}

async fn client(addr: SocketAddr) -> TcpStream {
    let c = within("connect", TcpStream::connect(addr)).await.unwrap();
    let _ = c.set_nodelay(true); // fails once the server has reset it
    c
}

/// A fresh client round-trips within 1 s (invariant I1).
async fn fresh_client_served(addr: SocketAddr) {
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
fn skeleton(rt: &Runtime) -> Vec<(String, Option<Pid>, u64)> {
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
async fn nothing_left(rt: &Runtime, procs: usize, sockets: usize) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_failing_and_finishing_connections_end_alone_among_a_hundred() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    let (addr, listener) = rt.listen("127.0.0.1:0", scripted).await.unwrap();
    let (procs, sockets, before) = (rt.alive_processes(), open_sockets(), skeleton(&rt));
    let mut clients = Vec::new();
    for i in 0..100 {
        let mut c = client(addr).await;
        echoes(&mut c, format!("hello {i}").as_bytes()).await;
        clients.push(c);
    }
    let cases: [(&[u8], ExitReason); 3] = [
        (
            b"boom",
            ExitReason::Panic("client asked for a panic".into()),
        ),
        (b"fail", ExitReason::error("client asked for an error")),
        (b"bye", ExitReason::Normal),
    ];
    for (i, c) in clients.drain(..30).enumerate() {
        let mut c = c;
        let (cmd, expected) = &cases[i / 10];
        let conn = connection_process(&rt, c.local_addr().unwrap()).await;
        c.write_all(cmd).await.unwrap();
        assert_eq!(
            &within("the connection's exit", conn.wait()).await,
            expected
        );
        // Its socket is closed with it: EOF or a reset, within 1 s.
        let t = Instant::now();
        let _ = read_until_closed(&mut c).await;
        assert!(t.elapsed() < Duration::from_secs(1));
    }
    // The 70 others never saw a thing (I2); nothing was restarted (I5).
    for (i, c) in clients.iter_mut().enumerate() {
        echoes(c, format!("still here {i}").as_bytes()).await;
    }
    assert_eq!(listener.connections(), 70);
    fresh_client_served(addr).await;
    assert_eq!(skeleton(&rt), before);
    drop(clients);
    nothing_left(&rt, procs, sockets).await;
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_killed_while_blocked_in_read_or_write_ends_alone_and_closes_its_socket() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    // `flood` makes the handler write until the socket buffers are full and the write blocks.
    let (addr, listener) = rt
        .listen(
            "127.0.0.1:0",
            |_ctx, mut s: rusm_otp::TcpStream| async move {
                let mut buf = [0u8; 64];
                loop {
                    let n = s.read(&mut buf).await?;
                    match &buf[..n] {
                        b"" => return Ok::<_, io::Error>(()),
                        b"flood" => loop {
                            s.write_all(&[7u8; 64 * 1024]).await?;
                        },
                        data => s.write_all(data).await?,
                    }
                }
            },
        )
        .await
        .unwrap();
    let (procs, sockets, before) = (rt.alive_processes(), open_sockets(), skeleton(&rt));
    let mut steady = client(addr).await;
    echoes(&mut steady, b"steady").await;

    // Blocked in read.
    let mut reader = client(addr).await;
    echoes(&mut reader, b"x").await;
    let conn = connection_process(&rt, reader.local_addr().unwrap()).await;
    conn.kill();
    assert_eq!(within("killed", conn.wait()).await, ExitReason::Killed);
    let t = Instant::now();
    assert_eq!(read_until_closed(&mut reader).await.unwrap_or(0), 0);
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());

    // Blocked in write: the client reads one chunk, then stops reading.
    let mut sink = client(addr).await;
    sink.write_all(b"flood").await.unwrap();
    let mut chunk = vec![0u8; 64 * 1024];
    within("the first chunk", sink.read_exact(&mut chunk))
        .await
        .unwrap();
    let conn = connection_process(&rt, sink.local_addr().unwrap()).await;
    conn.kill();
    assert_eq!(within("killed", conn.wait()).await, ExitReason::Killed);
    let _ = read_until_closed(&mut sink).await;

    echoes(&mut steady, b"steady again").await;
    fresh_client_served(addr).await;
    assert_eq!(skeleton(&rt), before);
    drop((steady, reader, sink));
    nothing_left(&rt, procs, sockets).await;
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_failing_at_once_for_every_second_connection_closes_that_socket_only() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    let n = Arc::new(AtomicUsize::new(0));
    let (addr, listener) = rt
        .listen("127.0.0.1:0", move |ctx, s| {
            let fail = n.fetch_add(1, Ordering::SeqCst) % 2 == 1;
            async move {
                if fail {
                    return Err(io::Error::other("cannot start this connection"));
                }
                echo(ctx, s).await
            }
        })
        .await
        .unwrap();
    let (procs, sockets, before) = (rt.alive_processes(), open_sockets(), skeleton(&rt));
    let mut served = Vec::new();
    // Six failures in a row: more than the acceptors' restart budget, were they restarted.
    for i in 0..12 {
        let mut c = client(addr).await;
        if i % 2 == 0 {
            echoes(&mut c, b"ok").await;
            served.push(c);
        } else {
            let t = Instant::now();
            let _ = read_until_closed(&mut c).await;
            assert!(t.elapsed() < Duration::from_secs(1));
        }
    }
    for c in &mut served {
        echoes(c, b"still ok").await;
    }
    assert_eq!(skeleton(&rt), before);
    until("the failed connections to end", || {
        listener.connections() == 6
    })
    .await;
    drop(served);
    nothing_left(&rt, procs, sockets).await;
    listener.kill();
}

/// Sets `SO_LINGER(0)`, so that dropping the socket sends a reset.
fn linger_zero(c: &TcpStream) {
    socket2::SockRef::from(c)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
}

/// Whether a connection's end is one a client can cause: a clean end, EOF mid-frame, a reset.
fn client_caused(r: &io::Result<()>) -> bool {
    match r {
        Ok(()) => true,
        Err(e) => matches!(
            e.kind(),
            io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::BrokenPipe
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_resetting_or_vanishing_at_every_phase_end_only_their_connections() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    let (tx, mut ends) = mpsc::unbounded_channel::<io::Result<()>>();
    let handler = move |_ctx: rusm_otp::Ctx, s: rusm_otp::TcpStream| {
        let tx = tx.clone();
        async move {
            let r = frames(s).await;
            let kind = r.as_ref().map_err(|e| io::Error::from(e.kind())).copied();
            let _ = tx.send(kind);
            r
        }
    };
    // One slot, held: the next clients wait in the accept queue.
    let config = ListenerConfig::new("127.0.0.1:0").max_connections(1);
    let (addr, queued_l) = rt.listen_with(config, handler.clone()).await.unwrap();
    let (main_addr, main_l) = rt.listen("127.0.0.1:0", handler).await.unwrap();
    let procs = rt.alive_processes();
    let sockets = open_sockets();
    let before = skeleton(&rt);

    // Phase 1: reset while queued.
    let mut holder = client(addr).await;
    echoes(&mut holder, &[1u8; 64]).await;
    for _ in 0..50 {
        let c = client(addr).await;
        linger_zero(&c);
        drop(c);
    }
    drop(holder);
    // The slot frees one queued connection at a time, in order: once a client connected
    // after the resets is served, every reset connection was accepted and has ended.
    let mut last = client(addr).await;
    echoes(&mut last, &[2u8; 64]).await;
    drop(last);
    // Phase 2: reset after half a frame. Phase 3: FIN without a byte.
    for i in 0..400 {
        let mut c = client(main_addr).await;
        if i % 2 == 0 {
            c.write_all(&[3u8; 10]).await.unwrap();
            linger_zero(&c);
        }
        drop(c);
    }
    // holder + 50 queued resets + last + 400: each connection reported how it ended.
    let mut got = Vec::new();
    while got.len() < 452 {
        got.push(
            within("every connection to end", ends.recv())
                .await
                .unwrap(),
        );
    }
    let odd: Vec<_> = got.iter().filter(|r| !client_caused(r)).collect();
    assert!(odd.is_empty(), "unexpected ends: {odd:?}");
    // The acceptors never saw these clients fail; nothing restarted.
    for l in [&queued_l, &main_l] {
        let e = l.info().accept_errors;
        assert_eq!((e.listener_dead, e.unknown), (0, 0), "{e:?}");
    }
    assert_eq!(skeleton(&rt), before);
    for a in [main_addr, addr] {
        let t = Instant::now();
        let mut c = client(a).await;
        echoes(&mut c, &[4u8; 64]).await;
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "took {:?}",
            t.elapsed()
        );
    }
    nothing_left(&rt, procs, sockets).await;
    queued_l.kill();
    main_l.kill();
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_stalled_clients_do_not_delay_fresh_ones() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    let (addr, l) = rt.listen("127.0.0.1:0", |_ctx, s| frames(s)).await.unwrap();
    let mut stalled = Vec::new();
    for _ in 0..100 {
        let mut c = client(addr).await;
        c.write_all(&[1u8]).await.unwrap();
        stalled.push(c);
    }
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let t = Instant::now();
        let mut c = client(addr).await;
        echoes(&mut c, &[9u8; 64]).await;
        slowest = slowest.max(t.elapsed());
    }
    println!("slowest fresh client: {slowest:?}");
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");
    // The stalled ones were only waiting: each finishes its frame and is echoed.
    for c in &mut stalled {
        c.write_all(&[1u8; 63]).await.unwrap();
        let mut frame = [0u8; 64];
        within("a stalled client's echo", c.read_exact(&mut frame))
            .await
            .unwrap();
        assert_eq!(frame, [1u8; 64]);
    }
    l.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_close_gets_every_byte_echoed_then_a_clean_end() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    let (addr, l) = rt.listen("127.0.0.1:0", echo).await.unwrap();
    let payload: Arc<Vec<u8>> = Arc::new((0..3000u32).map(|i| (i % 256) as u8).collect());
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (rt, payload) = (rt.clone(), payload.clone());
        clients.spawn(async move {
            let mut c = client(addr).await;
            let conn = connection_process(&rt, c.local_addr().unwrap()).await;
            c.write_all(&payload).await.unwrap();
            c.shutdown().await.unwrap();
            let mut got = Vec::new();
            // A reset here would mean the server closed with unread bytes.
            within("echo then EOF", c.read_to_end(&mut got))
                .await
                .unwrap();
            assert_eq!(got, *payload);
            assert_eq!(
                within("the handler's end", conn.wait()).await,
                ExitReason::Normal
            );
        });
    }
    while let Some(r) = clients.join_next().await {
        r.unwrap();
    }
    l.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_byte_value_in_256_kib_round_trips_unchanged() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    let (addr, l) = rt.listen("127.0.0.1:0", echo).await.unwrap();
    // Every byte value, in an order that shifts every 256 bytes: a lost or repeated chunk shows.
    let payload: Vec<u8> = (0..256 * 1024usize).map(|i| (i + i / 256) as u8).collect();
    for v in 0..=255u8 {
        assert!(payload.contains(&v));
    }
    let mut c = client(addr).await;
    let (mut r, mut w) = c.split();
    let send = async {
        w.write_all(&payload).await.unwrap();
        w.shutdown().await.unwrap();
    };
    let mut got = Vec::new();
    let (_, n) = within("256 KiB echo", async {
        tokio::join!(send, r.read_to_end(&mut got))
    })
    .await;
    n.unwrap();
    assert!(got == payload, "payload changed in transit");
    l.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_echo_to_a_slow_reader_keeps_memory_bounded_by_buffers() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    let (addr, l) = rt.listen("127.0.0.1:0", echo).await.unwrap();
    const CHUNK: usize = 64 * 1024;
    const CHUNKS: u64 = 1024; // 64 MiB
    let base: Vec<u8> = (0..CHUNK).map(|i| (i % 256) as u8).collect();
    let chunk = |k: u64| {
        let mut c = base.clone();
        c[..8].copy_from_slice(&k.to_le_bytes());
        c
    };
    let rss0 = support::rss_bytes();
    let mut c = client(addr).await;
    let (mut r, mut w) = c.split();
    let send = async {
        for k in 0..CHUNKS {
            w.write_all(&chunk(k)).await.unwrap();
        }
        w.shutdown().await.unwrap();
    };
    let recv = async {
        let mut buf = vec![0u8; CHUNK];
        let mut peak = 0;
        for k in 0..CHUNKS {
            r.read_exact(&mut buf).await.unwrap();
            assert!(buf == chunk(k), "chunk {k} changed in transit");
            if k % 16 == 0 {
                peak = peak.max(support::rss_bytes());
                tokio::time::sleep(Duration::from_millis(10)).await; // the slow reader
            }
        }
        assert_eq!(r.read(&mut buf).await.unwrap(), 0);
        peak
    };
    let t = Instant::now();
    let (_, peak) = within("64 MiB echo", async { tokio::join!(send, recv) }).await;
    let grew = peak.saturating_sub(rss0);
    println!(
        "64 MiB in {:?}; RSS grew by at most {} KiB",
        t.elapsed(),
        grew / 1024
    );
    assert!(
        grew < 24 << 20,
        "RSS grew by {} MiB for a 64 MiB echo",
        grew >> 20
    );
    l.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_300_clients_with_50_round_trips_each_all_succeed_and_leave_nothing() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    let (addr, l) = rt.listen("127.0.0.1:0", echo).await.unwrap();
    let (procs, sockets) = (rt.alive_processes(), open_sockets());
    let mut clients = tokio::task::JoinSet::new();
    for i in 0..300 {
        clients.spawn(async move {
            let mut c = client(addr).await;
            for round in 0..50 {
                echoes(&mut c, format!("client {i:03} round {round:02}").as_bytes()).await;
            }
        });
    }
    let t = Instant::now();
    while let Some(r) = clients.join_next().await {
        r.unwrap();
    }
    println!(
        "15,000 round trips over 300 connections in {:?}",
        t.elapsed()
    );
    nothing_left(&rt, procs, sockets).await;
    l.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_simultaneous_connects_against_a_backlog_of_1024_are_all_served() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    let (addr, l) = rt.listen("127.0.0.1:0", echo).await.unwrap();
    let (procs, sockets) = (rt.alive_processes(), open_sockets());
    let go = Arc::new(tokio::sync::Barrier::new(2000));
    let mut clients = tokio::task::JoinSet::new();
    for i in 0..2000u32 {
        let go = go.clone();
        clients.spawn(async move {
            go.wait().await;
            // Beyond the backlog the kernel drops the SYN and the client retries it: slower,
            // never refused.
            let mut c = TcpStream::connect(addr).await?;
            let msg = i.to_be_bytes();
            c.write_all(&msg).await?;
            let mut got = [0u8; 4];
            c.read_exact(&mut got).await?;
            assert_eq!(got, msg);
            Ok::<_, io::Error>(())
        });
    }
    let t = Instant::now();
    let mut failed = Vec::new();
    within("2,000 clients", async {
        while let Some(r) = clients.join_next().await {
            if let Err(e) = r.unwrap() {
                failed.push(e.to_string());
            }
        }
    })
    .await;
    println!("2,000 simultaneous clients served in {:?}", t.elapsed());
    assert!(
        failed.is_empty(),
        "{} failed: {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    nothing_left(&rt, procs, sockets).await;
    l.kill();
}

/// A listener whose handler, on `block`, runs a 1.5 s blocking call: on its worker thread,
/// or through `spawn_blocking` when `offload`. It reports on `started` just before.
async fn blocking_listener(
    rt: &Runtime,
    offload: bool,
) -> (SocketAddr, rusm_otp::Listener, mpsc::UnboundedReceiver<()>) {
    let (tx, started) = mpsc::unbounded_channel::<()>();
    let (addr, l) = rt
        .listen("127.0.0.1:0", move |_ctx, mut s: rusm_otp::TcpStream| {
            let tx = tx.clone();
            async move {
                let mut buf = [0u8; 64];
                loop {
                    let n = s.read(&mut buf).await?;
                    match &buf[..n] {
                        b"" => return Ok::<_, io::Error>(()),
                        b"block" => {
                            let _ = tx.send(());
                            let work = || std::thread::sleep(Duration::from_millis(1500));
                            if offload {
                                tokio::task::spawn_blocking(work).await?;
                            } else {
                                work();
                            }
                        }
                        data => s.write_all(data).await?,
                    }
                }
            }
        })
        .await
        .unwrap();
    (addr, l, started)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_offloading_blocking_work_keeps_clients_served_and_dies_at_once_if_killed() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    let (addr, l, mut started) = blocking_listener(&rt, true).await;
    let mut blocker = client(addr).await;
    let conn = connection_process(&rt, blocker.local_addr().unwrap()).await;
    blocker.write_all(b"block").await.unwrap();
    within("the blocking call to start", started.recv()).await;
    let t0 = Instant::now();
    for _ in 0..20 {
        fresh_client_served(addr).await;
    }
    // Killed at its await on the blocking call, which goes on alone on its thread.
    conn.kill();
    assert_eq!(within("killed", conn.wait()).await, ExitReason::Killed);
    assert!(
        t0.elapsed() < Duration::from_millis(1400),
        "{:?}",
        t0.elapsed()
    );
    let _ = read_until_closed(&mut blocker).await;
    l.kill();
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
