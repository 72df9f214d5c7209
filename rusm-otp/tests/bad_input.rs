//! Ensures bad input to the public API gets a typed error and never a panic, a hang or a
//! leftover: malformed, unresolvable, taken and privileged addresses; zero, out-of-range and
//! unbounded options; handlers that panic at once; signals to processes that are gone; dynamic
//! supervisors at their child limit; calls on a listener that was killed.
#[path = "support/lib.rs"]
mod support;

use support::{echo, echoes};

use std::io;
use std::time::Duration;

use rusm_otp::{
    ChildSpec, Ctx, DynamicSupervisorSpec, ExitReason, ListenerConfig, Msg, Pid, Restart, Runtime,
    Shutdown, Strategy, SupervisorError, SupervisorSpec,
};
use support::{read_until_closed, until, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A loopback address whose port was free a moment ago.
fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Nothing of a failed `listen` is left: no process, no tree root, and the address binds.
async fn nothing_left(rt: &Runtime, addr: Option<std::net::SocketAddr>) {
    assert_eq!(rt.alive_processes(), 0);
    assert!(rt.tree().roots.is_empty());
    if let Some(addr) = addr {
        let (bound, l) = rt.listen(&addr.to_string(), echo).await.unwrap();
        assert_eq!(bound, addr);
        l.kill();
        within("listener exit", l.wait()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_unresolvable_addresses_are_errors_naming_the_address() {
    let rt = Runtime::attach();
    for addr in [
        "not an address",
        "127.0.0.1",
        "127.0.0.1:99999",
        "127.0.0.1:-1",
        "[::1:80",
        "nonexistent.invalid:80",
        "",
    ] {
        let e = within("listen", rt.listen(addr, echo)).await.unwrap_err();
        assert!(
            e.to_string().contains(&format!("`{addr}`")),
            "{addr:?}: {e}"
        );
        let e = within("connect", rusm_otp::connect(addr))
            .await
            .unwrap_err();
        assert_ne!(e.kind(), io::ErrorKind::Other, "{addr:?}: {e}");
    }
    nothing_left(&rt, Some(free_addr())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_in_use_is_addr_in_use_and_leaves_nothing_running() {
    let rt = Runtime::attach();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap();
    for _ in 0..5 {
        let e = rt.listen(&addr.to_string(), echo).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        assert!(e.to_string().contains(&addr.to_string()), "{e}");
    }
    drop(busy);
    nothing_left(&rt, Some(addr)).await;
}

/// This process's effective uid, from `/proc/self/status`.
fn euid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_privileged_port_as_non_root_is_permission_denied() {
    let unprivileged_start: u32 =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1024);
    if euid() == Some(0) || unprivileged_start <= 1 {
        eprintln!(
            "skipped: port 1 is not privileged for this process (euid {:?}, \
             ip_unprivileged_port_start {unprivileged_start})",
            euid()
        );
        return;
    }
    let rt = Runtime::attach();
    let e = rt.listen("127.0.0.1:1", echo).await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
    assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
    nothing_left(&rt, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_and_out_of_range_listener_options_are_invalid_input() {
    let rt = Runtime::attach();
    let addr = free_addr();
    let base = ListenerConfig::new(addr.to_string());
    for config in [
        base.clone().acceptors(0),
        base.clone().acceptors(1_000_000),
        base.clone().max_connections(0),
        base.clone().backlog(0),
        base.clone().idle_timeout(Some(Duration::ZERO)),
    ] {
        let e = rt.listen_with(config.clone(), echo).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{config:?}: {e}");
        assert!(!e.to_string().is_empty());
    }
    nothing_left(&rt, Some(addr)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unbounded_backlog_and_drain_timeout_are_accepted_without_overflow() {
    let rt = Runtime::attach();
    let config = ListenerConfig::new("127.0.0.1:0")
        .backlog(u32::MAX)
        .drain_timeout(Duration::MAX);
    let (addr, l) = rt.listen_with(config, echo).await.unwrap();
    let mut c = TcpStream::connect(addr).await.unwrap();
    echoes(&mut c, b"one").await;
    // A graceful stop shuts the connection down (it does not trap exits): the unbounded
    // drain timeout never has to be counted down.
    l.exit(ExitReason::Shutdown(None));
    assert_eq!(
        within("listener exit", l.wait()).await,
        ExitReason::Shutdown(None)
    );
    let _ = read_until_closed(&mut c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unbounded_idle_timeout_never_ends_a_connection() {
    let rt = Runtime::attach();
    let config = ListenerConfig::new("127.0.0.1:0").idle_timeout(Some(Duration::MAX));
    let (addr, l) = rt.listen_with(config, echo).await.unwrap();
    let mut c = TcpStream::connect(addr).await.unwrap();
    for msg in [&b"one"[..], b"two"] {
        let r = within("an echo", async {
            c.write_all(msg).await?;
            let mut got = vec![0u8; msg.len()];
            c.read_exact(&mut got).await.map(|_| got)
        })
        .await;
        assert_eq!(r.ok().as_deref(), Some(msg), "the connection ended");
    }
    assert_eq!(l.connections(), 1);
    l.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_with_an_unbounded_timeout_returns_once_connections_end() {
    let rt = Runtime::attach();
    let (addr, l) = rt.listen("127.0.0.1:0", echo).await.unwrap();
    let mut c = TcpStream::connect(addr).await.unwrap();
    echoes(&mut c, b"x").await;
    let drainer = l.clone();
    let drain = tokio::spawn(async move { drainer.drain(Duration::MAX, |_| {}).await });
    until("the drain to stop accepting", || !l.info().accepting).await;
    drop(c);
    match within("drain", drain).await {
        Ok(reason) => assert_eq!(reason, ExitReason::Shutdown(None)),
        Err(e) => panic!("drain(Duration::MAX) panicked: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_set_to_zero_means_one() {
    let rt = Runtime::attach();
    // One acceptor: it holds no slot of its own beyond the one it waits to use.
    let config = ListenerConfig::new("127.0.0.1:0")
        .max_connections(5)
        .acceptors(1);
    let (addr, l) = rt.listen_with(config, echo).await.unwrap();
    l.set_max_connections(0);
    assert_eq!(l.info().max_connections, 1);
    let mut a = TcpStream::connect(addr).await.unwrap();
    echoes(&mut a, b"a").await;
    let mut b = TcpStream::connect(addr).await.unwrap();
    b.write_all(b"b").await.unwrap();
    let mut one = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(300), b.read_exact(&mut one))
            .await
            .is_err()
    );
    drop(a);
    within("the second client", b.read_exact(&mut one))
        .await
        .unwrap();
    l.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_panics_on_its_first_poll_ends_only_its_connection() {
    let rt = Runtime::attach();
    let (addr, l) = rt
        .listen("127.0.0.1:0", |_ctx, _s| async {
            support::crash("handler panics at once")
        })
        .await
        .unwrap();
    let procs = rt.alive_processes();
    let acceptors = |rt: &Runtime| {
        let tree = rt.tree();
        let node = tree.find("acceptors").unwrap();
        let pids: Vec<_> = node.children.iter().map(|a| (a.pid, a.restarts)).collect();
        (node.pid, node.restarts, pids)
    };
    let before = acceptors(&rt);
    // More in a row than any restart budget in the listener.
    for _ in 0..6 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        let _ = c.write_all(b"hello").await;
        let _ = read_until_closed(&mut c).await;
    }
    until("the connections to end", || rt.alive_processes() == procs).await;
    assert_eq!(acceptors(&rt), before);
    assert!(l.is_alive());
    assert_eq!(l.info().accept_errors, Default::default());
    l.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_and_lookups_for_processes_that_are_gone_are_harmless() {
    let rt = Runtime::attach();
    let p = rt.spawn(|_ctx: Ctx<u8>| async { support::crash("gone") });
    let reason = within("exit", p.wait()).await;
    p.kill();
    p.exit(ExitReason::error("late"));
    p.exit(ExitReason::Normal);
    assert_eq!(p.wait().await, reason);
    assert_eq!(p.exit_reason(), Some(reason));
    assert!(rt.process(p.pid()).is_none());
    assert!(rt.process(Pid::EXTERNAL).is_none());
    assert_eq!(p.send(7).unwrap_err().0, 7);
    assert_eq!(rt.alive_processes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamic_supervisor_at_max_children_refuses_with_max_children() {
    let rt = Runtime::attach();
    let child = || {
        ChildSpec::worker("w", |mut ctx: Ctx<()>| async move {
            ctx.recv().await;
        })
        .restart(Restart::Temporary)
    };
    for max in [0, 1] {
        let sup = rt
            .start_dynamic_supervisor(DynamicSupervisorSpec::new().max_children(max))
            .await
            .unwrap();
        for _ in 0..max {
            sup.start_child(child()).await.unwrap();
        }
        for _ in 0..3 {
            assert_eq!(
                sup.start_child(child()).await,
                Err(SupervisorError::MaxChildren)
            );
        }
        assert_eq!(sup.count_children().await.unwrap().active, max);
        assert_eq!(within("stop", sup.stop()).await, ExitReason::Shutdown(None));
    }
    assert_eq!(rt.alive_processes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_supervisor_timings_overflow_nothing() {
    let rt = Runtime::attach();
    let (tx, mut started) = tokio::sync::mpsc::unbounded_channel::<rusm_otp::Addr<u8>>();
    let sup = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne)
                .intensity(u32::MAX, Duration::MAX)
                .child(
                    ChildSpec::worker("w", move |mut ctx: Ctx<u8>| {
                        let _ = tx.send(ctx.myself());
                        async move {
                            // An unbounded receive timeout still receives.
                            match ctx.recv_timeout(Duration::MAX).await {
                                Some(Msg::User(0)) => {
                                    support::crash("asked to crash");
                                    ExitReason::Normal
                                }
                                other => ExitReason::error(format!("{other:?}")),
                            }
                        }
                    })
                    .shutdown(Shutdown::Timeout(Duration::MAX)),
                ),
        )
        .await
        .unwrap();
    for _ in 0..3 {
        let w = within("a start", started.recv()).await.unwrap();
        // A timer that would fire in the far future can be set and cancelled.
        assert!(w.send_after(1, Duration::MAX).cancel());
        w.send(0).unwrap();
        within("the crash", w.wait()).await;
    }
    within("a restart", started.recv()).await.unwrap();
    assert!(sup.is_alive());
    assert_eq!(within("stop", sup.stop()).await, ExitReason::Shutdown(None));
    assert_eq!(rt.alive_processes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_a_closed_port_is_connection_refused() {
    let addr = free_addr();
    let e = within("connect", rusm_otp::connect(addr))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
    let e = within("connect", rusm_otp::connect("127.0.0.1:0"))
        .await
        .unwrap_err();
    assert_ne!(e.kind(), io::ErrorKind::Other, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_calls_after_kill_return_without_panicking_or_hanging() {
    let rt = Runtime::attach();
    let (addr, l) = rt.listen("127.0.0.1:0", echo).await.unwrap();
    l.kill();
    within("listener exit", l.wait()).await;
    let info = l.info();
    assert!(!info.accepting);
    assert_eq!((info.addr, info.connections), (addr, 0));
    l.set_max_connections(3);
    l.set_max_connections(1);
    l.suspend();
    let _ = l.resume(); // an io::Error or Ok: never a panic
    l.inject_accept_errors([io::Error::from_raw_os_error(103)]);
    assert_eq!(
        within(
            "drain of a dead listener",
            l.drain(Duration::from_secs(1), |_| {})
        )
        .await,
        ExitReason::Killed
    );
    until("the listener's children to end", || {
        rt.alive_processes() == 0
    })
    .await;
}
