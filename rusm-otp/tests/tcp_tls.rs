//! Ensures TLS listeners (rustls) serve a real TLS client, negotiate ALPN, end a connection
//! whose client refuses the certificate or sends garbage with a clear reason, keep serving good
//! clients at once while hundreds of handshakes stall (the handshake runs in the connection's
//! process, never in an acceptor), count handshaking connections against max connections, and
//! take a PROXY header before TLS. Certificates are made here with rcgen; none is committed.
#![cfg(feature = "tls")]
#[path = "support/captured_logs.rs"]
mod captured_logs;
#[path = "support/lib.rs"]
mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rusm_otp::{Ctx, ListenerConfig, Runtime, TcpStream, TlsConfig};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use support::within;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::client::TlsStream;

/// A self-signed certificate for `localhost`, made once per test binary.
struct TestCert {
    cert_pem: String,
    key_pem: String,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

fn test_cert() -> &'static TestCert {
    static CERT: OnceLock<TestCert> = OnceLock::new();
    CERT.get_or_init(|| {
        let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        TestCert {
            cert_pem: c.cert.pem(),
            key_pem: c.signing_key.serialize_pem(),
            cert_der: c.cert.der().clone(),
            key_der: c.signing_key.serialize_der(),
        }
    })
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server side as a rustls config (the `from_server_config` route).
fn server_config(alpn: &[&str]) -> Arc<rustls::ServerConfig> {
    let cert = test_cert();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_der.clone()));
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert_der.clone()], key)
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Arc::new(config)
}

/// A client that trusts the test certificate and offers `alpn`.
fn connector(alpn: &[&str]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(test_cert().cert_der.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// A client that trusts nothing, so it refuses the server's certificate.
fn distrustful_connector() -> tokio_rustls::TlsConnector {
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn tls_connect(
    connector: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
) -> std::io::Result<TlsStream<tokio::net::TcpStream>> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await
}

/// Echoes, after a first line saying what the handler saw: `tls=<bool> alpn=<proto>`.
async fn echo_with_hello(_ctx: Ctx, mut s: TcpStream) -> std::io::Result<()> {
    let alpn = s
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_else(|| "-".into());
    let hello = format!("tls={} alpn={alpn}\n", s.is_tls());
    s.write_all(hello.as_bytes()).await?;
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return s.shutdown().await;
        }
        s.write_all(&buf[..n]).await?;
    }
}

/// Reads the hello line.
async fn hello<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> String {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while !line.ends_with(b"\n") {
        if s.read(&mut b).await.unwrap() == 0 {
            break;
        }
        line.push(b[0]);
    }
    String::from_utf8(line).unwrap()
}

/// Sends `payload` and reads it back.
async fn echo_once<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    s: &mut S,
    payload: &[u8],
) -> Vec<u8> {
    s.write_all(payload).await.unwrap();
    let mut out = vec![0u8; payload.len()];
    s.read_exact(&mut out).await.unwrap();
    out
}

/// Waits until the listener has `n` connection processes.
async fn connections(listener: &rusm_otp::Listener, n: usize) {
    within(&format!("{n} connections"), async {
        while listener.info().connections != n {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
}

fn tls_listener(alpn: &[&str]) -> ListenerConfig {
    ListenerConfig::new("127.0.0.1:0").tls(TlsConfig::from_server_config(server_config(alpn)))
}

/// A fresh directory for PEM files.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rusm-tcp-tls-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rustls_client_round_trip_with_pem_files() {
    captured_logs::install();
    let dir = temp_dir("pem");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &test_cert().cert_pem).unwrap();
    std::fs::write(&key, &test_cert().key_pem).unwrap();
    let rt = Runtime::attach();
    let config = ListenerConfig::new("127.0.0.1:0").tls(TlsConfig::pem_files(&cert, &key));
    let (addr, listener) = rt.listen_with(config, echo_with_hello).await.unwrap();
    let mut c = within("handshake", tls_connect(&connector(&[]), addr))
        .await
        .unwrap();
    assert_eq!(within("hello", hello(&mut c)).await, "tls=true alpn=-\n");
    let payload: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    assert_eq!(within("echo", echo_once(&mut c, &payload)).await, payload);
    c.shutdown().await.unwrap();
    let mut rest = Vec::new();
    within("close", c.read_to_end(&mut rest)).await.unwrap();
    assert!(rest.is_empty());
    connections(&listener, 0).await;
    listener.kill();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_pem_file_fails_the_start_naming_it() {
    let dir = temp_dir("missing");
    let cert = dir.join("cert.pem");
    std::fs::write(&cert, &test_cert().cert_pem).unwrap();
    let key = dir.join("no-such-key.pem");
    let rt = Runtime::attach();
    let config = ListenerConfig::new("127.0.0.1:0").tls(TlsConfig::pem_files(&cert, &key));
    let e = rt.listen_with(config, echo_with_hello).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(
        e.to_string(),
        format!("tls key file `{}`: not found", key.display())
    );
    // A file with no certificate in it is named too.
    std::fs::write(&key, "not pem").unwrap();
    let config = ListenerConfig::new("127.0.0.1:0").tls(TlsConfig::pem_files(&key, &cert));
    let e = rt.listen_with(config, echo_with_hello).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    assert!(e.to_string().contains(&key.display().to_string()), "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpn_protocol_negotiated_is_seen_by_the_handler() {
    let rt = Runtime::attach();
    let config = tls_listener(&[])
        .tls(TlsConfig::from_server_config(server_config(&[])).alpn(["h2", "http/1.1"]));
    let (addr, listener) = rt.listen_with(config, echo_with_hello).await.unwrap();
    let mut c = within("handshake", tls_connect(&connector(&["http/1.1"]), addr))
        .await
        .unwrap();
    assert_eq!(c.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(
        within("hello", hello(&mut c)).await,
        "tls=true alpn=http/1.1\n"
    );
    // The server's preference wins when the client offers both.
    let mut c = within(
        "handshake",
        tls_connect(&connector(&["http/1.1", "h2"]), addr),
    )
    .await
    .unwrap();
    assert_eq!(within("hello", hello(&mut c)).await, "tls=true alpn=h2\n");
    // A client offering no protocol at all still connects, without one.
    let mut c = within("handshake", tls_connect(&connector(&[]), addr))
        .await
        .unwrap();
    assert_eq!(within("hello", hello(&mut c)).await, "tls=true alpn=-\n");
    // One offering only protocols the listener lacks is refused (RFC 7301).
    let e = within(
        "refused handshake",
        tls_connect(&connector(&["spdy/1"]), addr),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("NoApplicationProtocol"), "{e}");
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_rejects_the_certificate_ends_only_its_connection() {
    captured_logs::install();
    let rt = Runtime::attach();
    let (addr, listener) = rt
        .listen_with(tls_listener(&[]), echo_with_hello)
        .await
        .unwrap();
    let e = within(
        "refused handshake",
        tls_connect(&distrustful_connector(), addr),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
    let line = captured_logs::logged(addr, "connection handshake failed").await;
    assert!(line.contains("reason=tls handshake failed"), "{line}");
    assert!(
        line.contains("UnknownCA") || line.contains("alert"),
        "{line}"
    );
    connections(&listener, 0).await;
    // The listener goes on serving.
    let mut c = within("handshake", tls_connect(&connector(&[]), addr))
        .await
        .unwrap();
    assert_eq!(within("hello", hello(&mut c)).await, "tls=true alpn=-\n");
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_instead_of_a_client_hello_is_refused_at_once() {
    captured_logs::install();
    let rt = Runtime::attach();
    // A long handshake timeout: the refusal must come from the garbage, not the clock.
    let config = tls_listener(&[]).handshake_timeout(Duration::from_secs(60));
    let (addr, listener) = rt.listen_with(config, echo_with_hello).await.unwrap();
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    // The server may answer with a TLS alert before it closes; either way it closes.
    let _ = within("the server closing", c.read_to_end(&mut got)).await;
    assert!(got.len() < 64, "a short alert at most: {got:?}");
    let line = captured_logs::logged(addr, "connection handshake failed").await;
    assert!(line.contains("reason=tls handshake failed"), "{line}");
    connections(&listener, 0).await;
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_handshake_ends_at_the_handshake_timeout_with_a_clear_reason() {
    captured_logs::install();
    let rt = Runtime::attach();
    let config = tls_listener(&[]).handshake_timeout(Duration::from_millis(300));
    let (addr, listener) = rt.listen_with(config, echo_with_hello).await.unwrap();
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The first bytes of a TLS record header, then nothing.
    c.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
    let start = tokio::time::Instant::now();
    let mut got = Vec::new();
    let _ = within("the server closing", c.read_to_end(&mut got)).await;
    assert!(
        start.elapsed() >= Duration::from_millis(250),
        "{:?}",
        start.elapsed()
    );
    let line = captured_logs::logged(addr, "connection handshake failed").await;
    assert!(
        line.contains("reason=handshake timeout: tls handshake not done within 300ms"),
        "{line}"
    );
    connections(&listener, 0).await;
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_stalled_handshakes_do_not_delay_a_good_client() {
    let rt = Runtime::attach();
    // Two acceptors, as by default: 200 stalled handshakes would stop both a hundred times
    // over if the handshake ran in an acceptor.
    let config = tls_listener(&[]).handshake_timeout(Duration::from_secs(60));
    let (addr, listener) = rt.listen_with(config, echo_with_hello).await.unwrap();
    let mut stalled = Vec::new();
    for i in 0..200u32 {
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        // Half send nothing, half the start of a ClientHello.
        if i % 2 == 1 {
            c.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
                .await
                .unwrap();
        }
        stalled.push(c);
    }
    connections(&listener, 200).await;
    let start = tokio::time::Instant::now();
    let mut c = within("handshake", tls_connect(&connector(&[]), addr))
        .await
        .unwrap();
    assert_eq!(within("hello", hello(&mut c)).await, "tls=true alpn=-\n");
    assert_eq!(within("echo", echo_once(&mut c, b"ping")).await, b"ping");
    let served_in = start.elapsed();
    assert!(
        served_in < Duration::from_secs(2),
        "a good client waited {served_in:?} behind stalled handshakes"
    );
    assert_eq!(listener.info().connections, 201);
    drop(stalled);
    drop(c);
    connections(&listener, 0).await;
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshaking_connections_count_against_max_connections() {
    let rt = Runtime::attach();
    let config = tls_listener(&[])
        .max_connections(3)
        .handshake_timeout(Duration::from_millis(500));
    let (addr, listener) = rt.listen_with(config, echo_with_hello).await.unwrap();
    let mut stalled = Vec::new();
    for _ in 0..3 {
        stalled.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    connections(&listener, 3).await;
    // The fourth client waits in the backlog until a stalled handshake times out.
    let start = tokio::time::Instant::now();
    let mut c = within("handshake", tls_connect(&connector(&[]), addr))
        .await
        .unwrap();
    assert_eq!(within("hello", hello(&mut c)).await, "tls=true alpn=-\n");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(300),
        "served after {waited:?}, before any stalled handshake timed out"
    );
    assert!(listener.info().connections <= 3);
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_handshakes() {
    let rt = Runtime::attach();
    let (addr, listener) = rt
        .listen_with(tls_listener(&[]).backlog(2048), echo_with_hello)
        .await
        .unwrap();
    let connector = connector(&[]);
    let clients: Vec<_> = (0..1000u32)
        .map(|i| {
            let connector = connector.clone();
            tokio::spawn(async move {
                let mut c = tls_connect(&connector, addr).await?;
                let line = hello(&mut c).await;
                let payload = i.to_be_bytes().repeat(4);
                let echoed = echo_once(&mut c, &payload).await;
                Ok::<_, std::io::Error>((line, echoed == payload, c))
            })
        })
        .collect();
    let mut open = Vec::new();
    within("1,000 handshakes", async {
        for c in clients {
            let (line, echoed, c) = c.await.unwrap().unwrap();
            assert_eq!(line, "tls=true alpn=-\n");
            assert!(echoed);
            open.push(c);
        }
    })
    .await;
    // All 1,000 were open at once.
    assert_eq!(listener.info().connections, 1000);
    drop(open);
    connections(&listener, 0).await;
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_header_first_then_tls() {
    let rt = Runtime::attach();
    let config = tls_listener(&[]).proxy_protocol(true);
    let (addr, listener) = rt
        .listen_with(config, |_ctx, mut s: TcpStream| async move {
            let line = format!(
                "tls={} peer={} proxy={}\n",
                s.is_tls(),
                s.peer_addr()?,
                s.proxy_addr().map(|a| a.to_string()).unwrap_or_default()
            );
            s.write_all(line.as_bytes()).await
        })
        .await
        .unwrap();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let me = tcp.local_addr().unwrap();
    tcp.write_all(b"PROXY TCP4 203.0.113.7 192.0.2.1 40000 443\r\n")
        .await
        .unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut c = within("handshake", connector(&[]).connect(name, tcp))
        .await
        .unwrap();
    assert_eq!(
        within("hello", hello(&mut c)).await,
        format!("tls=true peer=203.0.113.7:40000 proxy={me}\n")
    );
    listener.kill();
}
