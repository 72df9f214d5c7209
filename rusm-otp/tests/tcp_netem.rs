//! Ensures network faults only a second host can cause are bounded: a peer that vanishes
//! without FIN or RST is ended by TCP keepalive or the idle timeout and frees its slot (and,
//! with neither, waits, by design); a connect to a blackholed address is bounded by the
//! caller's timeout; echo stays correct under netem latency and loss, and a drain deadline
//! holds there (RELIABILITY.md scenarios 39–41).
//!
//! The second host is a network namespace of this test's own, joined by a veth pair; the
//! client runs in it as this test binary started with `ip netns exec`. Each test needs root
//! and iproute2 (scenario 40 also the `netem` qdisc): it says why and returns when they are
//! missing. Every namespace and link made here is named after this process and removed at the
//! end, also when a test fails.
#[path = "support/lib.rs"]
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use rusm_otp::{ExitReason, ListenerConfig, ProcessHandle, Runtime};
use support::{echo, open_sockets, until, within, SERIAL};

const CLIENT_ENV: &str = "RUSM_NETNS_CLIENT";

/// Runs `ip` with `args`; the error says what failed.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip`: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A network namespace joined to this one by a veth pair: `host` here, `peer` inside.
struct Netns {
    name: String,
    host_if: String,
    peer_if: String,
    host: Ipv4Addr,
    peer: Ipv4Addr,
    client: Option<Child>,
}

impl Netns {
    /// Sets up the namespace for test number `tag`, or says why it cannot.
    fn new(tag: u8) -> Result<Netns, String> {
        let pid = std::process::id();
        // A /30 of its own per process and test: 10.(200+tag).x.y.
        let slot = pid % 16384;
        let (x, y) = ((slot >> 6) as u8, ((slot & 63) << 2) as u8);
        let mut ns = Netns {
            name: format!("rusm-test-{pid}-{tag}"),
            host_if: format!("rt{pid:x}{tag}h"),
            peer_if: format!("rt{pid:x}{tag}p"),
            host: Ipv4Addr::new(10, 200 + tag, x, y + 1),
            peer: Ipv4Addr::new(10, 200 + tag, x, y + 2),
            client: None,
        };
        ip(&["netns", "add", &ns.name])?;
        // From here on, Drop removes whatever was made.
        let (h, p, n) = (ns.host_if.clone(), ns.peer_if.clone(), ns.name.clone());
        let host_cidr = format!("{}/30", ns.host);
        let peer_cidr = format!("{}/30", ns.peer);
        let steps: [&[&str]; 7] = [
            &["link", "add", &h, "type", "veth", "peer", "name", &p],
            &["link", "set", &p, "netns", &n],
            &["addr", "add", &host_cidr, "dev", &h],
            &["link", "set", &h, "up"],
            &["-n", &n, "addr", "add", &peer_cidr, "dev", &p],
            &["-n", &n, "link", "set", &p, "up"],
            &["-n", &n, "link", "set", "lo", "up"],
        ];
        for step in steps {
            if let Err(e) = ip(step) {
                ns.host = Ipv4Addr::UNSPECIFIED;
                return Err(e);
            }
        }
        Ok(ns)
    }

    /// Starts this test binary inside the namespace as a client doing `script`; returns its
    /// stdout lines as they come.
    fn client(&mut self, script: &str) -> std::sync::mpsc::Receiver<String> {
        if let Some(mut old) = self.client.take() {
            let _ = old.kill();
            let _ = old.wait();
        }
        let exe = std::env::current_exe().unwrap();
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .arg(exe)
            .args([
                "--exact",
                "netns_client_entry",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CLIENT_ENV, script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        self.client = Some(child);
        lines(out)
    }

    /// Cuts the link from inside the namespace: from now on nothing gets through, and no FIN
    /// or RST tells either side.
    fn cut(&self) {
        ip(&["-n", &self.name, "link", "set", &self.peer_if, "down"]).unwrap();
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Some(mut c) = self.client.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = ip(&["link", "del", &self.host_if]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// Forwards each line of `out` to the returned channel.
fn lines(out: ChildStdout) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = BufReader::new(out);
        loop {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            // libtest prints the test name first, on the same line.
            for word in ["READY", "OK"] {
                if let Some(i) = line.find(word) {
                    let _ = tx.send(line[i..].trim().to_string());
                }
            }
        }
    });
    rx
}

/// Waits for the client's `word`, at most 20 s.
fn expect(rx: &std::sync::mpsc::Receiver<String>, word: &str) {
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(line) if line.starts_with(word) => {}
        other => panic!("expected {word} from the client in the namespace, got {other:?}"),
    }
}

/// The namespace for a test, or `None` after printing why the test is skipped.
fn netns_or_skip(tag: u8, test: &str) -> Option<Netns> {
    match Netns::new(tag) {
        Ok(ns) => Some(ns),
        Err(why) => {
            eprintln!("skipped {test}: needs root and iproute2 network namespaces: {why}");
            None
        }
    }
}

fn echo_once(c: &mut std::net::TcpStream, msg: &[u8]) {
    c.write_all(msg).unwrap();
    let mut got = vec![0u8; msg.len()];
    c.read_exact(&mut got).unwrap();
    assert!(got == msg, "echo changed the bytes");
}

/// Entry point of the client in the namespace; does nothing unless a test started this
/// binary with `RUSM_NETNS_CLIENT` set to one of:
/// - `hold ADDR…`: connect to each, one echo each, print READY, then wait to be killed;
/// - `echo ADDR`: 50 round trips of 4 KiB and one of 256 KiB, every byte value, print OK.
#[test]
fn netns_client_entry() {
    let Ok(script) = std::env::var(CLIENT_ENV) else {
        return;
    };
    let mut words = script.split_whitespace();
    let mode = words.next().unwrap();
    let addrs: Vec<SocketAddr> = words.map(|a| a.parse().unwrap()).collect();
    let timeout = Some(Duration::from_secs(20));
    let mut held = Vec::new();
    for addr in &addrs {
        let mut c = std::net::TcpStream::connect_timeout(addr, Duration::from_secs(10)).unwrap();
        c.set_read_timeout(timeout).unwrap();
        c.set_write_timeout(timeout).unwrap();
        match mode {
            "hold" => echo_once(&mut c, b"hello"),
            "echo" => {
                let small: Vec<u8> = (0..4096usize).map(|i| (i + i / 256) as u8).collect();
                for _ in 0..50 {
                    echo_once(&mut c, &small);
                }
                let big: Vec<u8> = (0..256 * 1024usize).map(|i| (i + i / 256) as u8).collect();
                let mut w = c.try_clone().unwrap();
                let writer = std::thread::spawn(move || w.write_all(&big).map(|_| big));
                let mut got = vec![0u8; 256 * 1024];
                c.read_exact(&mut got).unwrap();
                assert!(got == writer.join().unwrap().unwrap(), "256 KiB changed");
            }
            other => panic!("unknown client mode {other}"),
        }
        held.push(c);
    }
    println!("{}", if mode == "hold" { "READY" } else { "OK" });
    std::io::stdout().flush().unwrap();
    if mode == "hold" {
        let _ = std::io::stdin().read(&mut [0u8; 1]); // until killed
    }
}

/// The one connection process of listener `l`, waiting until it shows in the tree.
async fn only_connection(rt: &Runtime, l: &rusm_otp::Listener) -> ProcessHandle {
    let pid = within("the connection in the tree", async {
        loop {
            let tree = rt.tree();
            let root = tree.roots.iter().find(|r| r.pid == Some(l.pid()));
            let conns = root.and_then(|r| r.children.iter().find(|c| c.id == "connections"));
            if let Some(pid) = conns.and_then(|c| c.children.first()).and_then(|c| c.pid) {
                return pid;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    rt.process(pid).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_peer_is_ended_by_keepalive_or_idle_timeout_and_otherwise_waits() {
    let _serial = SERIAL.lock().await;
    let Some(mut ns) = netns_or_skip(1, "scenario 39 (half-open peers)") else {
        return;
    };
    let rt = Runtime::attach();
    let host = format!("{}:0", ns.host);
    // TCP keepalive: idle 1 s, then 3 probes 1 s apart.
    let (ka_addr, ka) = rt
        .listen_with(ListenerConfig::new(&host), |ctx, s| async move {
            let keepalive = socket2::TcpKeepalive::new()
                .with_time(Duration::from_secs(1))
                .with_interval(Duration::from_secs(1))
                .with_retries(3);
            socket2::SockRef::from(&*s).set_tcp_keepalive(&keepalive)?;
            echo(ctx, s).await
        })
        .await
        .unwrap();
    let idle_config = ListenerConfig::new(&host).idle_timeout(Some(Duration::from_secs(1)));
    let (idle_addr, idle) = rt.listen_with(idle_config, echo).await.unwrap();
    let (plain_addr, plain) = rt
        .listen_with(ListenerConfig::new(&host), echo)
        .await
        .unwrap();
    let ready = ns.client(&format!("hold {ka_addr} {idle_addr} {plain_addr}"));
    expect(&ready, "READY");
    let (ka_conn, idle_conn, plain_conn) = (
        only_connection(&rt, &ka).await,
        only_connection(&rt, &idle).await,
        only_connection(&rt, &plain).await,
    );
    // The peer vanishes: link down, then the client process dies; its FIN goes nowhere.
    let t0 = Instant::now();
    ns.cut();
    if let Some(mut c) = ns.client.take() {
        c.kill().unwrap();
        c.wait().unwrap();
    }
    let reason = within("the idle timeout", idle_conn.wait()).await;
    assert_eq!(
        reason.io_error_kind(),
        Some(std::io::ErrorKind::TimedOut),
        "{reason}"
    );
    let idle_took = t0.elapsed();
    // ETIMEDOUT, or the last soft error the kernel saw on the way (the neighbour's address
    // failing to resolve once the link is down: EHOSTUNREACH).
    let reason = within("keepalive to give up", ka_conn.wait()).await;
    assert!(
        matches!(
            reason.io_error_kind(),
            Some(std::io::ErrorKind::TimedOut | std::io::ErrorKind::HostUnreachable)
        ),
        "{reason}"
    );
    let ka_took = t0.elapsed();
    println!("idle timeout ended it after {idle_took:?}; keepalive after {ka_took:?} ({reason})");
    assert!(idle_took < Duration::from_secs(3), "{idle_took:?}");
    assert!(ka_took < Duration::from_secs(9), "{ka_took:?}");
    // Their slots are free; without either, the connection waits (by design).
    until("the slots to be freed", || {
        ka.connections() == 0 && idle.connections() == 0
    })
    .await;
    assert!(plain_conn.is_alive());
    assert_eq!(plain.connections(), 1);
    for l in [ka, idle, plain] {
        l.kill();
        within("listener exit", l.wait()).await;
    }
    // Killing the listener shuts its connections down.
    assert_eq!(plain_conn.wait().await, ExitReason::Shutdown(None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_to_a_blackholed_address_is_bounded_by_the_callers_timeout() {
    let _serial = SERIAL.lock().await;
    let Some(ns) = netns_or_skip(2, "scenario 41 (blackholed connect)") else {
        return;
    };
    // The peer address stops answering anything: SYNs vanish.
    ns.cut();
    let sockets = open_sockets();
    let target = SocketAddr::from((ns.peer, 9));
    let t0 = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(1), rusm_otp::connect(target)).await;
    let took = t0.elapsed();
    assert!(r.is_err(), "connect to a blackhole returned {r:?}");
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(2),
        "{took:?}"
    );
    // Giving up closed the half-open socket.
    until("the abandoned socket to close", || {
        open_sockets() <= sockets
    })
    .await;
}

/// Whether the kernel has the netem qdisc: tries it on the namespace's link.
fn netem(ns: &Netns, args: &[&str]) -> Result<(), String> {
    let out = Command::new("tc")
        .args([
            "-n",
            &ns.name,
            "qdisc",
            "add",
            "dev",
            &ns.peer_if,
            "root",
            "netem",
        ])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `tc`: {e}"))?;
    let out2 = Command::new("tc")
        .args(["qdisc", "add", "dev", &ns.host_if, "root", "netem"])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `tc`: {e}"))?;
    for o in [out, out2] {
        if !o.status.success() {
            return Err(format!(
                "`tc qdisc add … netem {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_stays_exact_and_drain_holds_its_deadline_under_latency_and_loss() {
    let _serial = SERIAL.lock().await;
    let Some(mut ns) = netns_or_skip(3, "scenario 40 (latency and loss)") else {
        return;
    };
    if let Err(why) = netem(&ns, &["delay", "20ms", "5ms", "loss", "1%"]) {
        eprintln!("skipped scenario 40 (latency and loss): needs the netem qdisc: {why}");
        return;
    }
    let rt = Runtime::attach();
    let (addr, l) = rt.listen(&format!("{}:0", ns.host), echo).await.unwrap();
    let out = ns.client(&format!("echo {addr}"));
    let done = tokio::task::spawn_blocking(move || expect(&out, "OK"));
    within("the client's echoes", done).await.unwrap();
    // A client that stays connected: the drain kills it at its deadline, loss or not.
    let idle_client = ns.client(&format!("hold {addr}"));
    let ready = tokio::task::spawn_blocking(move || expect(&idle_client, "READY"));
    within("the idle client", ready).await.unwrap();
    let t0 = Instant::now();
    let reason = l.drain(Duration::from_millis(500), |_| {}).await;
    let took = t0.elapsed();
    assert_eq!(reason, ExitReason::Shutdown(None));
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_millis(1500),
        "{took:?}"
    );
}
