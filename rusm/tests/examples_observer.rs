//! Ensures every example server takes `--observer ADDR`: it says where the observer serves
//! after its readiness line, and the observer shows that server's own listener.
#![cfg(feature = "observer")]

mod daemon;

use std::io::{BufRead, Read, Write};
use std::time::Duration;

fn get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the observer");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn observer_shows_the_listener(example: &str) {
    let mut server = daemon::Server::start(
        example,
        &["--addr", "127.0.0.1:0", "--observer", "127.0.0.1:0"],
    );
    let mut line = String::new();
    server
        .stdout
        .as_mut()
        .unwrap()
        .read_line(&mut line)
        .unwrap();
    let observer = line
        .trim()
        .strip_prefix("observer on http://")
        .and_then(|a| a.strip_suffix('/'))
        .unwrap_or_else(|| panic!("{example}: unexpected second line {line:?}"))
        .to_owned();
    let metrics = get(&observer, "/metrics");
    let accepting = format!("rusm_listener_accepting{{listener=\"{}\"}} 1", server.addr);
    assert!(
        metrics.contains(&accepting),
        "{example}: no `{accepting}` in\n{metrics}"
    );
    let page = get(&observer, "/");
    assert!(page.contains("RUSM observer"), "{example}: {page}");
    server.signal("TERM");
    let status = server
        .wait_for(Duration::from_secs(10))
        .expect("exits on SIGTERM");
    assert!(status.success(), "{example}: {status}");
}

#[test]
fn echo_server_serves_the_observer() {
    observer_shows_the_listener("echo_server");
}

#[test]
fn chat_server_serves_the_observer() {
    observer_shows_the_listener("chat_server");
}

#[test]
fn a_non_loopback_observer_is_refused_naming_the_flag() {
    let mut child = std::process::Command::new(daemon::example("echo_server"))
        .args(["--addr", "127.0.0.1:0", "--observer", "0.0.0.0:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(
        err.contains("--observer 0.0.0.0:0") && err.contains("not loopback"),
        "{err}"
    );
}
