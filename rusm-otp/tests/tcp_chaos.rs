//! Ensures a listener survives chaos: with 100 connections open, a random process of its own
//! subtree (listener, connections supervisor, acceptors supervisor, acceptors) is killed every
//! 100 ms for 4 s (ranch's stampede), and afterwards the tree is whole, a fresh client is
//! served and no connection process or socket is left over; and that inspecting the tree 100
//! times a second during a connection storm shows every peer and barely slows accepting
//! (RELIABILITY.md scenarios 12 and 36).
#[path = "support/lib.rs"]
mod support;

use support::echo;

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rusm_otp::{ListenerConfig, Pid, Runtime, Strategy, SupervisorSpec};
use support::{open_sockets, until, within, SERIAL};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn round_trip(addr: SocketAddr, msg: &[u8]) -> io::Result<()> {
    let mut c = TcpStream::connect(addr).await?;
    c.write_all(msg).await?;
    let mut got = vec![0u8; msg.len()];
    c.read_exact(&mut got).await?;
    assert_eq!(got, msg);
    Ok(())
}

/// The listener's node in the tree: the child `listener` of the supervisor above it.
fn listener_node(tree: &rusm_otp::TreeSnapshot) -> Option<&rusm_otp::Node> {
    tree.find("listener")
}

/// Pids of the listener's own processes: the listener supervisor, its connections and
/// acceptors supervisors and the acceptors (connections excluded).
fn listener_processes(rt: &Runtime) -> Vec<Pid> {
    let tree = rt.tree();
    let mut pids = Vec::new();
    if let Some(l) = listener_node(&tree) {
        pids.extend(l.pid);
        for c in &l.children {
            pids.extend(c.pid);
            if c.id == "acceptors" {
                pids.extend(c.children.iter().filter_map(|a| a.pid));
            }
        }
    }
    pids
}

/// Whether the tree shows the listener with its connections supervisor and all its acceptors
/// running, and how many connections it has.
fn whole(rt: &Runtime, acceptors: usize) -> Option<usize> {
    let tree = rt.tree();
    let l = listener_node(&tree)?;
    let conns = l.children.iter().find(|c| c.id == "connections")?;
    let accs = l.children.iter().find(|c| c.id == "acceptors")?;
    let running = l.pid.is_some()
        && conns.pid.is_some()
        && accs.pid.is_some()
        && accs.children.len() == acceptors
        && accs.children.iter().all(|a| a.pid.is_some());
    running.then_some(conns.children.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stampede_of_kills_in_the_listener_subtree_leaves_it_whole_serving_and_leak_free() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    const ACCEPTORS: usize = 2;
    let sockets = open_sockets();
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // As ranch's stampede raises its supervisors' intensity: the listener restarts under a
    // supervisor of ours, and its acceptors supervisor takes as many restarts as come.
    let listener = ListenerConfig::new(addr.to_string())
        .acceptors(ACCEPTORS)
        .acceptor_intensity(100_000, Duration::from_secs(1))
        .child_spec("listener", echo);
    let top = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne)
                .name("stampede")
                .intensity(100_000, Duration::from_secs(1))
                .child(listener),
        )
        .await
        .unwrap();
    // top, listener, connections, acceptors, N acceptors.
    let skeleton = 4 + ACCEPTORS;
    let mut clients = Vec::new();
    for i in 0..100 {
        let mut c = within("connect", TcpStream::connect(addr)).await.unwrap();
        let msg = format!("client {i}");
        c.write_all(msg.as_bytes()).await.unwrap();
        let mut got = vec![0u8; msg.len()];
        within("echo", c.read_exact(&mut got)).await.unwrap();
        clients.push(c);
    }
    assert_eq!(rt.alive_processes(), skeleton + 100);

    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut kills = 0;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(4) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let pids = listener_processes(&rt);
        if pids.is_empty() {
            continue; // between incarnations
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        if let Some(h) = rt.process(pids[(seed % pids.len() as u64) as usize]) {
            h.kill();
            kills += 1;
        }
    }
    assert!(kills >= 30, "only {kills} kills");
    assert!(top.is_alive(), "the supervisor above the listener gave up");

    until("the listener tree to be whole", || {
        whole(&rt, ACCEPTORS).is_some()
    })
    .await;
    let t = Instant::now();
    within("a fresh client", round_trip(addr, b"after the stampede"))
        .await
        .unwrap();
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    // Connections that survived still echo; the others were closed, never left hanging.
    let mut survivors = 0;
    for c in &mut clients {
        let ok = within("a surviving client", async {
            c.write_all(b"ping").await?;
            let mut got = [0u8; 4];
            c.read_exact(&mut got).await.map(|_| got == *b"ping")
        })
        .await;
        survivors += usize::from(ok.unwrap_or(false));
    }
    println!("{kills} kills in 4 s; {survivors} of 100 connections survived");
    drop(clients);
    until("no connection process left", || {
        rt.alive_processes() == skeleton && whole(&rt, ACCEPTORS) == Some(0)
    })
    .await;
    // Only the current listening socket is left open.
    until(
        "the sockets of dead incarnations and connections to close",
        || open_sockets() <= sockets + 1,
    )
    .await;
    within("stop", top.stop()).await;
    assert_eq!(rt.alive_processes(), 0);
}

/// One short connection: connect, one echo, close with a reset (`SO_LINGER(0)`), so that a
/// storm leaves no TIME_WAIT behind to use up the ephemeral ports.
async fn short_connection(addr: SocketAddr) -> io::Result<()> {
    let mut c = TcpStream::connect(addr).await?;
    socket2::SockRef::from(&c).set_linger(Some(Duration::ZERO))?;
    c.write_all(b"storm").await?;
    let mut got = [0u8; 5];
    c.read_exact(&mut got).await?;
    assert_eq!(&got, b"storm");
    Ok(())
}

/// Opens short connections, 50 at a time, for `d`; returns how many completed.
async fn storm(addr: SocketAddr, d: Duration) -> usize {
    let end = Instant::now() + d;
    let mut set = tokio::task::JoinSet::new();
    let mut done = 0;
    loop {
        while set.len() < 50 && Instant::now() < end {
            set.spawn(short_connection(addr));
        }
        match set.join_next().await {
            Some(r) => {
                r.unwrap().unwrap();
                done += 1;
            }
            None => return done,
        }
    }
}

/// Runs a storm for `d` while another task takes a tree snapshot every 10 ms and checks that
/// every connection in it shows its peer address. Returns the connections completed and the
/// snapshots taken.
async fn storm_under_inspection(rt: &Runtime, addr: SocketAddr, d: Duration) -> (usize, u32) {
    let (stop_tx, mut stop) = tokio::sync::oneshot::channel::<()>();
    let rt = rt.clone();
    let inspector = tokio::spawn(async move {
        let mut snapshots = 0u32;
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        loop {
            tokio::select! {
                _ = &mut stop => return snapshots,
                _ = tick.tick() => {}
            }
            let tree = rt.tree();
            let conns = tree.find("connections").expect("connections in the tree");
            for c in &conns.children {
                let peer = c.detail.as_deref().expect("a connection shows its peer");
                peer.parse::<SocketAddr>().expect("a peer address");
            }
            snapshots += 1;
        }
    });
    let done = storm(addr, d).await;
    stop_tx.send(()).unwrap();
    (done, inspector.await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspecting_the_tree_100_times_a_second_during_a_storm_shows_peers_and_barely_slows_it() {
    let _serial = SERIAL.lock().await;
    let rt = Runtime::attach();
    let (addr, l) = rt.listen("127.0.0.1:0", echo).await.unwrap();
    let second = Duration::from_secs(1);
    storm(addr, Duration::from_millis(200)).await; // warm up
                                                   // Alternate undisturbed and inspected seconds; compare the best of each.
    let (mut calm, mut inspected, mut snapshots) = (0, 0, 0);
    for _ in 0..2 {
        calm = calm.max(storm(addr, second).await);
        let (done, n) = storm_under_inspection(&rt, addr, second).await;
        inspected = inspected.max(done);
        snapshots += n;
    }
    let ratio = inspected as f64 / calm as f64;
    println!(
        "connections per second: {calm} undisturbed, {inspected} while inspected \
         ({snapshots} snapshots in 2 s); ratio {ratio:.2}"
    );
    assert!(snapshots >= 150, "only {snapshots} snapshots in 2 s");
    assert!(
        ratio >= 0.75,
        "inspection slowed accepting to {ratio:.2} of its rate"
    );
    l.kill();
}
