//! Ensures a listener gives each connection its own supervised process: echo over loopback,
//! isolation of crashing and killed connections, max connections as backpressure, the
//! listener subtree in the tree, and kill freeing the port at once.
#[path = "support/lib.rs"]
mod support;

use std::time::Duration;

use rusm_otp::{connect, ListenerConfig, Runtime};
use support::within;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn echo(_ctx: rusm_otp::Ctx, mut s: rusm_otp::TcpStream) -> std::io::Result<()> {
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        if &buf[..n] == b"boom" {
            support::crash("client asked for it");
        }
        s.write_all(&buf[..n]).await?;
    }
}

async fn round_trip(addr: std::net::SocketAddr, payload: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut c = connect(addr).await?;
    c.write_all(payload).await?;
    let mut out = vec![0u8; payload.len()];
    c.read_exact(&mut out).await?;
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_zero_echo_round_trip_with_payload_larger_than_one_read() {
    let rt = Runtime::attach();
    let (addr, listener) = rt.listen("127.0.0.1:0", echo).await.unwrap();
    assert_ne!(addr.port(), 0);
    let payload: Vec<u8> = (0..256 * 1024).map(|i| (i % 251) as u8).collect();
    let mut c = connect(addr).await.unwrap().into_inner();
    let (mut r, mut w) = c.split();
    let send = async {
        w.write_all(&payload).await.unwrap();
        w.shutdown().await.unwrap();
    };
    let mut got = Vec::new();
    let recv = r.read_to_end(&mut got);
    let (_, n) = within("echo", async { tokio::join!(send, recv) }).await;
    n.unwrap();
    assert_eq!(got, payload);
    listener.kill();
    within("listener exit", listener.wait()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_concurrent_clients_and_no_process_leak() {
    let rt = Runtime::attach();
    let (addr, listener) = rt.listen("127.0.0.1:0", echo).await.unwrap();
    let baseline = rt.alive_processes();
    let clients: Vec<_> = (0..300)
        .map(|i| {
            tokio::spawn(async move { round_trip(addr, format!("hello {i}").as_bytes()).await })
        })
        .collect();
    for (i, c) in clients.into_iter().enumerate() {
        let got = within("client", c).await.unwrap().unwrap();
        assert_eq!(got, format!("hello {i}").as_bytes());
    }
    within("connections to end", async {
        while rt.alive_processes() != baseline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashing_and_killed_connections_do_not_touch_others() {
    let rt = Runtime::attach();
    let (addr, listener) = rt.listen("127.0.0.1:0", echo).await.unwrap();
    let mut steady = connect(addr).await.unwrap();
    steady.write_all(b"one").await.unwrap();
    let mut buf = [0u8; 3];
    steady.read_exact(&mut buf).await.unwrap();
    for _ in 0..10 {
        let mut c = connect(addr).await.unwrap();
        c.write_all(b"boom").await.unwrap();
        let mut rest = Vec::new();
        // The crashing connection's socket is closed: EOF or reset, never a hang.
        let _ = within("crashed connection closes", c.read_to_end(&mut rest)).await;
    }
    // Kill one connection process found through the tree.
    let victim = connect(addr).await.unwrap();
    let victim_local = victim.local_addr().unwrap().to_string();
    let pid = within("victim in tree", async {
        loop {
            if let Some(n) = rt
                .tree()
                .roots
                .iter()
                .find_map(|r| find_detail(r, &victim_local))
            {
                return n;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    let h = rt.process(pid).unwrap();
    h.kill();
    assert_eq!(
        within("killed", h.wait()).await,
        rusm_otp::ExitReason::Killed
    );
    steady.write_all(b"two").await.unwrap();
    steady.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"two");
    assert_eq!(round_trip(addr, b"fresh").await.unwrap(), b"fresh");
    // The acceptors were never restarted.
    let tree = rt.tree();
    assert!(tree
        .find("acceptors")
        .unwrap()
        .children
        .iter()
        .all(|a| a.restarts == 0));
    assert_eq!(tree.find("connections").unwrap().restarts, 0);
    listener.kill();
}

fn find_detail(n: &rusm_otp::Node, detail: &str) -> Option<rusm_otp::Pid> {
    if n.detail.as_deref() == Some(detail) {
        return n.pid;
    }
    n.children.iter().find_map(|c| find_detail(c, detail))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_queues_clients_until_a_slot_frees() {
    let rt = Runtime::attach();
    let (addr, listener) = rt
        .listen_with(ListenerConfig::new("127.0.0.1:0").max_connections(2), echo)
        .await
        .unwrap();
    let mut a = connect(addr).await.unwrap();
    let mut b = connect(addr).await.unwrap();
    for c in [&mut a, &mut b] {
        c.write_all(b"x").await.unwrap();
        let mut one = [0u8; 1];
        c.read_exact(&mut one).await.unwrap();
    }
    // The third client connects (kernel backlog) but is not served while two are held.
    let mut third = connect(addr).await.unwrap();
    third.write_all(b"q").await.unwrap();
    let mut one = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(200), third.read_exact(&mut one))
            .await
            .is_err()
    );
    drop(a);
    within("queued client served", third.read_exact(&mut one))
        .await
        .unwrap();
    assert_eq!(&one, b"q");
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_stops_listening_at_once_and_frees_the_port() {
    let rt = Runtime::attach();
    let (addr, listener) = rt.listen("127.0.0.1:0", echo).await.unwrap();
    let mut live = connect(addr).await.unwrap();
    live.write_all(b"hi").await.unwrap();
    let mut two = [0u8; 2];
    live.read_exact(&mut two).await.unwrap();
    listener.kill();
    within("listener exit", listener.wait()).await;
    within("refused", async {
        while connect(addr).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let (addr2, l2) = rt.listen(&addr.to_string(), echo).await.unwrap();
    assert_eq!(addr2, addr);
    assert_eq!(round_trip(addr2, b"again").await.unwrap(), b"again");
    l2.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_errors_are_clean_and_name_the_address() {
    let rt = Runtime::attach();
    let (addr, l) = rt.listen("127.0.0.1:0", echo).await.unwrap();
    let e = rt.listen(&addr.to_string(), echo).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    assert!(e.to_string().contains(&addr.to_string()), "{e}");
    let e = rt.listen("not an address", echo).await.unwrap_err();
    assert!(e.to_string().contains("not an address"), "{e}");
    let e = rt
        .listen_with(ListenerConfig::new("127.0.0.1:0").acceptors(0), echo)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    let e = rt
        .listen_with(ListenerConfig::new("127.0.0.1:0").max_connections(0), echo)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(connect("127.0.0.1:1").await.is_err());
    l.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_acceptor_is_restarted_without_closing_connections() {
    let rt = Runtime::attach();
    let (addr, listener) = rt
        .listen_with(ListenerConfig::new("127.0.0.1:0").acceptors(4), echo)
        .await
        .unwrap();
    let mut live = connect(addr).await.unwrap();
    live.write_all(b"ab").await.unwrap();
    let mut two = [0u8; 2];
    live.read_exact(&mut two).await.unwrap();
    let acc = rt.tree().find("acceptor-0").unwrap().pid.unwrap();
    rt.process(acc).unwrap().kill();
    within("acceptor restarted", async {
        loop {
            let t = rt.tree();
            if let Some(n) = t.find("acceptor-0") {
                if n.restarts == 1 && n.pid.is_some() {
                    return;
                }
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    live.write_all(b"cd").await.unwrap();
    live.read_exact(&mut two).await.unwrap();
    assert_eq!(&two, b"cd");
    assert_eq!(round_trip(addr, b"new").await.unwrap(), b"new");
    println!("{}", rt.tree());
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raising_max_connections_serves_queued_clients_and_info_reports_it() {
    let rt = Runtime::attach();
    let (addr, listener) = rt
        .listen_with(ListenerConfig::new("127.0.0.1:0").max_connections(1), echo)
        .await
        .unwrap();
    let mut a = connect(addr).await.unwrap();
    a.write_all(b"a").await.unwrap();
    let mut one = [0u8; 1];
    a.read_exact(&mut one).await.unwrap();
    let mut queued = connect(addr).await.unwrap();
    queued.write_all(b"q").await.unwrap();
    let info = listener.info();
    assert_eq!(
        (info.connections, info.max_connections, info.accepting),
        (1, 1, true)
    );
    assert_eq!(info.addr, addr);
    listener.set_max_connections(2);
    within("queued client served", queued.read_exact(&mut one))
        .await
        .unwrap();
    assert_eq!(listener.info().connections, 2);
    // Lowering stops nothing.
    listener.set_max_connections(1);
    a.write_all(b"b").await.unwrap();
    a.read_exact(&mut one).await.unwrap();
    assert_eq!(&one, b"b");
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_refuses_at_once_lets_connections_finish_and_kills_the_rest_at_deadline() {
    let rt = Runtime::attach();
    let (addr, listener) = rt.listen("127.0.0.1:0", echo).await.unwrap();
    let mut idle = connect(addr).await.unwrap();
    idle.write_all(b"x").await.unwrap();
    let mut one = [0u8; 1];
    idle.read_exact(&mut one).await.unwrap();
    let drainer = listener.clone();
    let mut seen = Vec::new();
    let t0 = tokio::time::Instant::now();
    let drain = tokio::spawn(async move {
        let r = drainer
            .drain(Duration::from_millis(300), |n| seen.push(n))
            .await;
        (r, seen)
    });
    within("refused", async {
        while connect(addr).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let (reason, seen) = within("drain", drain).await.unwrap();
    assert_eq!(reason, rusm_otp::ExitReason::Shutdown(None));
    assert!(t0.elapsed() >= Duration::from_millis(300));
    // The idle client (and any connect that raced the drain) never ended by itself.
    assert!(seen.len() >= 2 && seen.iter().all(|n| *n >= 1), "{seen:?}");
    // The idle connection was killed at the deadline: its socket is closed.
    let mut rest = Vec::new();
    let _ = within("closed", idle.read_to_end(&mut rest)).await;
    assert_eq!(rt.alive_processes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_child_listener_is_left_stopped_not_restarted() {
    use rusm_otp::{DynamicSupervisorSpec, ExitReason, Strategy, SupervisorSpec};
    let rt = Runtime::attach();
    let web = ListenerConfig::new("127.0.0.1:0").child_spec("web", echo);
    // Permanent: any exit of its own would be restarted.
    let app = rt
        .start_supervisor(SupervisorSpec::new(Strategy::OneForOne).child(web.clone()))
        .await
        .unwrap();
    let listener = rt.listeners()[0].clone();
    let addr = listener.local_addr();
    assert_eq!(round_trip(addr, b"hi").await.unwrap(), b"hi");
    let reason = within("drain", listener.drain(Duration::from_secs(5), |_| {})).await;
    assert_eq!(reason, ExitReason::Shutdown(None));
    // A call: answered after the supervisor handled the listener's exit.
    let children = app.which_children().await.unwrap();
    assert_eq!(
        (
            children.len(),
            children[0].pid,
            children[0].restarting,
            children[0].restarts
        ),
        (1, None, false, 0),
        "a stopped child, spec kept, not restarted"
    );
    assert!(rt.listeners().is_empty());
    assert!(
        connect(addr).await.is_err(),
        "nothing listens there any more"
    );
    // As after terminate_child: restart_child starts it again, on a fresh port.
    let again = app.restart_child("web").await.unwrap();
    assert!(again.is_some());
    let listener = rt.listeners()[0].clone();
    assert_eq!(
        round_trip(listener.local_addr(), b"again").await.unwrap(),
        b"again"
    );
    app.stop().await;

    // Under a dynamic supervisor, a drained listener is forgotten.
    let dynamic = rt
        .start_dynamic_supervisor(DynamicSupervisorSpec::new())
        .await
        .unwrap();
    dynamic.start_child(web).await.unwrap();
    let listener = rt.listeners()[0].clone();
    within("drain", listener.drain(Duration::from_secs(5), |_| {})).await;
    assert_eq!(dynamic.count_children().await.unwrap().specs, 0);
    assert!(rt.listeners().is_empty());
    dynamic.stop().await;
    assert_eq!(rt.alive_processes(), 0);
}
