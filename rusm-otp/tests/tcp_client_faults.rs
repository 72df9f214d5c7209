//! Ensures clients that misbehave end only their own connections and never stop the acceptors:
//! clients that reset or vanish at every phase, stall mid-frame, half-close, send every byte
//! value, read 64 MiB slowly, or arrive 300 at once or 2,000 against a backlog of 1,024 are
//! each served or ended alone, every byte comes back unchanged, memory stays bounded by the
//! buffers, and nothing leaks (RELIABILITY.md scenarios 5, 20 and 22–24).
#[path = "support/lib.rs"]
mod support;
#[path = "support/tcp_faults.rs"]
mod tcp_faults;

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusm_otp::{ExitReason, ListenerConfig, Runtime};
use support::{connection_process, echo, echoes, open_sockets, within, SERIAL};
use tcp_faults::{client, nothing_left, skeleton};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Echoes 64-byte frames until the peer closes.
async fn frames(mut s: rusm_otp::TcpStream) -> io::Result<()> {
    let mut frame = [0u8; 64];
    loop {
        s.read_exact(&mut frame).await?;
        s.write_all(&frame).await?;
    }
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
