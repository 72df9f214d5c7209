//! Ensures the echo_server example serves TLS with `--tls-cert`/`--tls-key`, takes a PROXY
//! header before TLS with `--proxy-protocol`, and fails with one line naming a missing
//! certificate file. The certificate is made here (rcgen), none is committed.
#![cfg(feature = "tls")]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

fn example() -> PathBuf {
    // target/<profile>/deps/<test> → target/<profile>/examples/echo_server
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("echo_server")
}

/// A self-signed `localhost` certificate written to a fresh directory: (dir, cert, key, DER).
fn cert_files(name: &str) -> (PathBuf, PathBuf, PathBuf, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!("rusm-echo-tls-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, c.cert.pem()).unwrap();
    std::fs::write(&key, c.signing_key.serialize_pem()).unwrap();
    (dir, cert, key, c.cert.der().to_vec())
}

/// Starts the example and returns it with the address it printed.
fn start(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(example())
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run the echo_server example (built by cargo test)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, addr)
}

fn client_config(der: &[u8]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der.to_vec().into()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Connects, sends `header` (if any), then echoes `payload` over TLS.
fn tls_echo(addr: &str, der: &[u8], header: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.write_all(header).unwrap();
    let name = "localhost".try_into().unwrap();
    let conn = rustls::ClientConnection::new(client_config(der), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(payload).unwrap();
    let mut got = vec![0u8; payload.len()];
    tls.read_exact(&mut got).unwrap();
    tls.conn.send_close_notify();
    let _ = tls.flush();
    got
}

fn stop(mut child: Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn serves_tls_with_cert_and_key_flags() {
    let (dir, cert, key, der) = cert_files("tls");
    let (child, addr) = start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let payload: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    assert_eq!(tls_echo(&addr, &der, b"", &payload), payload);
    // Plain TCP gets no echo: the bytes are not a ClientHello, and the server closes.
    let mut plain = std::net::TcpStream::connect(&addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    plain.write_all(b"hello\r\n").unwrap();
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(!got.starts_with(b"hello"), "{got:?}");
    drop(plain);
    stop(child);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn proxy_protocol_header_then_tls() {
    let (dir, cert, key, der) = cert_files("proxy");
    let (child, addr) = start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "--proxy-protocol",
    ]);
    let header = b"PROXY TCP4 203.0.113.7 127.0.0.1 40000 7000\r\n";
    assert_eq!(tls_echo(&addr, &der, header, b"via proxy"), b"via proxy");
    stop(child);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn proxy_protocol_on_plain_tcp() {
    let (child, addr) = start(&["--proxy-protocol"]);
    let mut c = std::net::TcpStream::connect(&addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"PROXY UNKNOWN\r\nping").unwrap();
    let mut got = [0u8; 4];
    c.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
    drop(c);
    stop(child);
}

#[test]
fn a_missing_certificate_file_fails_with_one_line_naming_it() {
    let (dir, _cert, key, _) = cert_files("missing");
    let missing = dir.join("nope.pem");
    let out = Command::new(example())
        .args(["--addr", "127.0.0.1:0", "--tls-cert"])
        .arg(&missing)
        .arg("--tls-key")
        .arg(&key)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err.trim_end(),
        format!(
            "echo_server: tls certificate file `{}`: not found",
            missing.display()
        )
    );
    // --tls-cert without --tls-key is a usage error.
    let out = Command::new(example())
        .args(["--tls-cert", "cert.pem"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"));
    let _ = std::fs::remove_dir_all(dir);
}
