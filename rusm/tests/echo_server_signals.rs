//! The echo server as a daemon, from outside: readiness means its signal handlers are in
//! place, a tree dump never blocks or kills it, a second signal forces the exit, warnings
//! reach stderr, and silent peers are dropped by the idle timeout.

mod daemon;

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use daemon::{read_until, Server};

#[test]
fn a_signal_right_after_the_readiness_line_is_handled() {
    for sig in ["TERM", "USR1", "INT"] {
        for _ in 0..5 {
            let mut s = Server::start("echo_server", &["--addr", "127.0.0.1:0"]);
            s.signal(sig);
            if sig == "USR1" {
                // Still serving: it printed the tree rather than dying of the signal.
                read_until(s.stdout.as_mut().unwrap(), "acceptor-1");
                s.signal("TERM");
            }
            let status = s.wait_for(Duration::from_secs(10)).expect("exits");
            assert!(
                status.success(),
                "{sig}: {status:?} (signal {:?})",
                status.signal()
            );
        }
    }
}

#[test]
fn a_tree_dump_to_a_closed_stdout_does_not_stop_the_server() {
    let mut s = Server::start("echo_server", &["--addr", "127.0.0.1:0"]);
    drop(s.stdout.take()); // the reader is gone: writes now fail with EPIPE
    s.signal("USR1");
    s.signal("USR1");
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"still here").unwrap();
    let mut got = [0u8; 10];
    c.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"still here");
    s.signal("TERM");
    let status = s.wait_for(Duration::from_secs(10)).expect("exits");
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_tree_dump_to_a_stdout_nobody_reads_does_not_block_shutdown() {
    let mut s = Server::start("echo_server", &["--addr", "127.0.0.1:0"]);
    // ~1,000 connection lines: a tree larger than the 64 KiB pipe, which nobody reads.
    let mut conns = Vec::new();
    for _ in 0..1000 {
        conns.push(TcpStream::connect(&s.addr).unwrap());
    }
    let last = conns.last_mut().unwrap();
    last.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    last.write_all(b"x").unwrap();
    let mut b = [0u8; 1];
    last.read_exact(&mut b).unwrap();
    s.signal("USR1");
    s.signal("USR1");
    drop(conns);
    s.signal("TERM");
    let status = s
        .wait_for(Duration::from_secs(15))
        .expect("SIGTERM is handled while the dump is stuck");
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_second_signal_during_the_drain_forces_the_exit() {
    let mut s = Server::start("echo_server", &["--addr", "127.0.0.1:0"]);
    let mut err = s.stderr();
    // A connection that stays open keeps the drain waiting for 5 s.
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"x").unwrap();
    let mut b = [0u8; 1];
    c.read_exact(&mut b).unwrap();
    s.signal("TERM");
    read_until(&mut err, "draining");
    let t = Instant::now();
    s.signal("TERM");
    let status = s.wait_for(Duration::from_secs(4)).expect("forced exit");
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert!(t.elapsed() < Duration::from_secs(4));
}

#[test]
fn drain_progress_is_reported_at_most_once_a_second() {
    let mut s = Server::start("echo_server", &["--addr", "127.0.0.1:0"]);
    let err = s.stderr();
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"x").unwrap();
    let mut b = [0u8; 1];
    c.read_exact(&mut b).unwrap();
    s.signal("TERM");
    // The open connection holds the drain to its 5 s timeout, then it is killed.
    let status = s.wait_for(Duration::from_secs(15)).expect("exits");
    assert!(status.success(), "{status:?}");
    let lines: Vec<String> = err.lines().map_while(Result::ok).collect();
    let draining = lines.iter().filter(|l| l.contains("draining")).count();
    assert!(
        (1..=6).contains(&draining),
        "{draining} progress lines: {lines:#?}"
    );
}

#[test]
fn a_silent_peer_is_disconnected_by_the_idle_timeout_and_the_operator_is_told() {
    let mut s = Server::start(
        "echo_server",
        &["--addr", "127.0.0.1:0", "--idle-timeout", "1"],
    );
    let mut err = s.stderr();
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 1];
    let n = c.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the server closes a silent connection");
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    // Through the tracing subscriber, on stderr.
    let lines = read_until(&mut err, "idle timeout");
    assert!(lines.last().unwrap().contains("WARN"), "{lines:?}");
    s.signal("TERM");
    assert!(s
        .wait_for(Duration::from_secs(10))
        .expect("exits")
        .success());
}
