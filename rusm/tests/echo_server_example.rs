//! Ensures the echo_server example does what its docs say: prints its bound address, echoes
//! through a half-close, prints the tree on SIGUSR1, exits 0 on SIGTERM, and fails cleanly on
//! a bad address or a port in use.

mod daemon;

use daemon::example;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig}");
}

#[test]
fn echoes_prints_tree_and_stops_on_sigterm() {
    let mut child = Command::new(example("echo_server"))
        .args(["--addr", "127.0.0.1:0", "--acceptors", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the echo_server example (built by cargo test)");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    assert!(!addr.ends_with(":0"), "{addr}");

    let mut c = std::net::TcpStream::connect(&addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let payload: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    c.write_all(&payload).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    assert_eq!(got, payload);

    signal(&child, "USR1");
    let mut tree = String::new();
    while !tree.contains("acceptor-2") {
        let mut l = String::new();
        assert!(
            out.read_line(&mut l).unwrap() > 0,
            "stdout closed; tree so far: {tree}"
        );
        tree.push_str(&l);
    }
    assert!(tree.contains("listener 127.0.0.1:"), "{tree}");

    signal(&child, "TERM");
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(std::net::TcpStream::connect(&addr).is_err());
}

#[test]
fn bad_address_and_port_in_use_fail_with_one_line() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    for addr in ["nonsense", busy_addr.as_str()] {
        let out = Command::new(example("echo_server"))
            .args(["--addr", addr])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("echo_server: "), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
