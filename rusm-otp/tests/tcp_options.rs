//! Ensures the per-connection idle timeout (slowloris protection) ends only connections whose
//! peer sends nothing, counted from accept and reset by received bytes alone, and that
//! suspend refuses new clients while keeping live ones until resume.
#[path = "support/lib.rs"]
mod support;

use support::{echo, echoes};

use std::io;
use std::time::{Duration, Instant};

use rusm_otp::{connect, ExitReason, ListenerConfig, Pid, ProcessHandle, Runtime, TcpStream};
use support::within;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

type Hello = (Pid, oneshot::Sender<()>);

/// Reports its pid and waits for the test to hold its handle, then echoes; after the line
/// `sub` it only writes, a tick every 50 ms.
async fn watched_echo(
    ctx: rusm_otp::Ctx,
    mut s: TcpStream,
    hello: mpsc::UnboundedSender<Hello>,
) -> io::Result<()> {
    let (tx, rx) = oneshot::channel();
    let _ = hello.send((ctx.pid(), tx));
    let _ = rx.await;
    let mut buf = [0u8; 64];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        if &buf[..n] == b"sub" {
            loop {
                s.write_all(b"tick").await?;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        s.write_all(&buf[..n]).await?;
    }
}

/// Connects and returns the client with its connection process's handle.
async fn open(
    rt: &Runtime,
    addr: std::net::SocketAddr,
    hello: &mut mpsc::UnboundedReceiver<Hello>,
) -> (TcpStream, ProcessHandle) {
    let c = connect(addr).await.unwrap();
    let (pid, go) = within("connection process", hello.recv()).await.unwrap();
    let h = rt
        .process(pid)
        .expect("connection process waits for the go");
    go.send(()).unwrap();
    (c, h)
}

fn assert_timed_out(reason: &ExitReason) {
    assert_eq!(
        reason.io_error_kind(),
        Some(io::ErrorKind::TimedOut),
        "{reason}"
    );
    assert!(reason.to_string().contains("idle timeout"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_ends_silent_and_receive_only_peers_but_not_a_slow_chatty_one() {
    let rt = Runtime::attach();
    let (tx, mut hello) = mpsc::unbounded_channel();
    let timeout = Duration::from_millis(300);
    let config = ListenerConfig::new("127.0.0.1:0").idle_timeout(Some(timeout));
    let (addr, l) = rt
        .listen_with(config, move |ctx, s| watched_echo(ctx, s, tx.clone()))
        .await
        .unwrap();

    // Sends nothing at all: the clock starts at accept.
    let start = Instant::now();
    let (mut silent, silent_h) = open(&rt, addr, &mut hello).await;
    // Only receives: server writes do not reset the clock.
    let (mut receiver, receiver_h) = open(&rt, addr, &mut hello).await;
    receiver.write_all(b"sub").await.unwrap();
    // Sends a byte every 100 ms for a second: stays.
    let (mut chatty, chatty_h) = open(&rt, addr, &mut hello).await;
    for _ in 0..10 {
        chatty.write_all(b"x").await.unwrap();
        let mut one = [0u8; 1];
        chatty.read_exact(&mut one).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    assert_timed_out(&within("silent peer timed out", silent_h.wait()).await);
    assert!(start.elapsed() >= timeout);
    let mut rest = Vec::new();
    assert_eq!(silent.read_to_end(&mut rest).await.unwrap_or(0), 0);
    assert_timed_out(&within("receive-only peer timed out", receiver_h.wait()).await);
    let mut ticks = Vec::new();
    let _ = receiver.read_to_end(&mut ticks).await;
    assert!(
        ticks.starts_with(b"tick"),
        "the receiver got ticks before the timeout"
    );

    assert!(
        chatty_h.is_alive(),
        "a peer that keeps sending stays connected"
    );
    chatty.write_all(b"y").await.unwrap();
    let mut one = [0u8; 1];
    chatty.read_exact(&mut one).await.unwrap();
    // Then it falls silent too.
    assert_timed_out(&within("chatty peer timed out once silent", chatty_h.wait()).await);
    within("slots freed", async {
        while l.connections() != 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    l.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_idle_timeout_is_rejected() {
    let rt = Runtime::attach();
    let config = ListenerConfig::new("127.0.0.1:0").idle_timeout(Some(Duration::ZERO));
    let e = rt
        .listen_with(config, |_ctx, _s| async {})
        .await
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("idle_timeout"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_refuses_new_clients_keeps_live_ones_and_resume_listens_again() {
    let rt = Runtime::attach();
    let (addr, l) = rt.listen("127.0.0.1:0", echo).await.unwrap();
    let mut live = connect(addr).await.unwrap();
    echoes(&mut live, b"one").await;
    let acceptors = |rt: &Runtime| {
        let t = rt.tree();
        [0, 1].map(|i| {
            let n = t.find(&format!("acceptor-{i}")).unwrap();
            (n.pid, n.restarts)
        })
    };
    let before = acceptors(&rt);

    for round in 0..3 {
        l.suspend();
        l.suspend(); // twice is once
        assert!(!l.info().accepting);
        let e = connect(addr).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "round {round}");
        echoes(&mut live, b"still served").await;

        l.resume().unwrap();
        l.resume().unwrap();
        assert!(l.info().accepting);
        let mut fresh = within("connect after resume", connect(addr)).await.unwrap();
        echoes(&mut fresh, b"new").await;
    }
    assert_eq!(
        acceptors(&rt),
        before,
        "suspend and resume restart no acceptor"
    );
    assert_eq!(l.info().accept_errors, Default::default());
    l.kill();
    within("listener exit", l.wait()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reuse_port_listeners_share_one_port_and_each_serves() {
    let rt = Runtime::attach();
    let config = ListenerConfig::new("127.0.0.1:0").reuse_port(true);
    let (addr, first) = rt.listen_with(config.clone(), echo).await.unwrap();
    let more = config.clone().addr(addr.to_string());
    let (same, second) = rt.listen_with(more, echo).await.unwrap();
    assert_eq!(same, addr, "both sockets are on the first one's port");
    let tree = rt.tree();
    assert!(tree.find(&format!("listener {addr}")).is_some(), "{tree}");
    assert!(
        tree.find(&format!("listener {addr} #2")).is_some(),
        "{tree}"
    );
    // The kernel spreads connections over both sockets: connect until each has served one.
    let mut clients = Vec::new();
    within("both listeners serve", async {
        while first.connections() == 0 || second.connections() == 0 {
            let mut c = connect(addr).await.unwrap();
            echoes(&mut c, b"x").await;
            clients.push(c);
            assert!(clients.len() < 1000, "one socket never got a connection");
        }
    })
    .await;
    // Stopping one leaves the port served by the other.
    first.kill();
    within("first listener exit", first.wait()).await;
    let mut c = within("served by the second", connect(addr)).await.unwrap();
    echoes(&mut c, b"still").await;
    second.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_started_as_a_child_spec_is_found_drained_and_forgotten() {
    let rt = Runtime::attach();
    let web = ListenerConfig::new("127.0.0.1:0").child_spec("web", echo);
    let app = rt
        .start_supervisor(rusm_otp::SupervisorSpec::new(rusm_otp::Strategy::OneForOne).child(web))
        .await
        .unwrap();
    let [listener] = &rt.listeners()[..] else {
        panic!("one listener runs: {:?}", rt.listeners());
    };
    let addr = listener.local_addr();
    let mut c = connect(addr).await.unwrap();
    echoes(&mut c, b"hi").await;
    let found = rt.listener(addr).expect("found by its address");
    assert_eq!(found.info().connections, 1);
    // Draining the found handle stops the listener inside its supervisor, which sees it end
    // in order: a stopped child, not restarted although permanent.
    drop(c);
    assert_eq!(
        within("drain", found.drain(Duration::from_secs(5), |_| {})).await,
        ExitReason::Shutdown(None)
    );
    assert!(
        rt.listener(addr).is_none(),
        "the drained listener left the list"
    );
    // A call: answered after the supervisor handled the listener's exit.
    let web = &app.which_children().await.unwrap()[0];
    assert_eq!((web.pid, web.restarting), (None, false));
    assert!(rt.listeners().is_empty(), "not restarted");
    // As after terminate_child, restart_child starts it again, listening anew.
    app.restart_child("web").await.unwrap();
    assert_eq!(rt.listeners().len(), 1);
    app.terminate_child("web").await.unwrap();
    assert!(rt.listeners().is_empty());
    app.stop().await;
    assert!(
        rt.listeners().is_empty(),
        "a stopped listener leaves the list"
    );
    assert!(rt.listener(addr).is_none());
}
