//! Ensures a connection that panics, returns an error, ends, cannot start, or is killed while
//! blocked in a read, a write or an offloaded blocking call ends alone: its socket closes at
//! once, the other connections and the listener's own processes never see it, fresh clients
//! are served, and no process or descriptor is left (RELIABILITY.md scenarios 1–4 and 34).
#[path = "support/lib.rs"]
mod support;
#[path = "support/tcp_faults.rs"]
mod tcp_faults;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusm_otp::{ExitReason, Runtime};
use support::{
    connection_process, echo, echoes, open_sockets, read_until_closed, until, within, SERIAL,
};
use tcp_faults::{client, fresh_client_served, nothing_left, skeleton};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
