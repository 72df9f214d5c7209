//! Ensures a listener with the PROXY protocol on takes v1 and v2 headers (TCP4, TCP6, LOCAL,
//! UNKNOWN) as the connection's peer address and keeps the proxy's, reads exactly the
//! header (the bytes after it reach the handler, and a header alone is served at once), and
//! ends a connection whose header is truncated, garbage, missing or late with a clear reason
//! in a rate-limited log line. Behind a proxy, the tree and the crash report name the client.
#[path = "support/captured_logs.rs"]
mod captured_logs;
#[path = "support/lib.rs"]
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use rusm_otp::{Ctx, Listener, ListenerConfig, ProxyCommand, Runtime, TcpStream};
use support::within;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Says what it saw, `peer=… proxy=… v=… cmd=… dst=… tlvs=…`, then echoes.
async fn report_then_echo(_ctx: Ctx, mut s: TcpStream) -> std::io::Result<()> {
    let h = s.proxy_header().cloned();
    let line = format!(
        "peer={} proxy={} v={} cmd={:?} dst={} tlvs={:?}\n",
        s.peer_addr()?,
        s.proxy_addr().map(|a| a.to_string()).unwrap_or("-".into()),
        h.as_ref().map_or(0, |h| h.version),
        h.as_ref().map(|h| h.command),
        h.as_ref()
            .and_then(|h| h.destination)
            .map(|a| a.to_string())
            .unwrap_or("-".into()),
        h.as_ref()
            .map(|h| h.tlvs().map(|(t, v)| (t, v.to_vec())).collect::<Vec<_>>())
            .unwrap_or_default(),
    );
    s.write_all(line.as_bytes()).await?;
    let mut buf = [0u8; 1024];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        s.write_all(&buf[..n]).await?;
    }
}

async fn proxied_listener(rt: &Runtime, config: ListenerConfig) -> (SocketAddr, Listener) {
    rt.listen_with(config.proxy_protocol(true), report_then_echo)
        .await
        .unwrap()
}

fn config() -> ListenerConfig {
    ListenerConfig::new("127.0.0.1:0")
}

async fn line(s: &mut tokio::net::TcpStream) -> String {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while !out.ends_with(b"\n") {
        if s.read(&mut b).await.unwrap() == 0 {
            break;
        }
        out.push(b[0]);
    }
    String::from_utf8(out).unwrap()
}

/// Connects, sends `header` and `then` in one write, and returns the report line and the
/// client's own address (what the listener sees as the proxy).
async fn through_proxy(addr: SocketAddr, header: &[u8], then: &[u8]) -> (String, SocketAddr) {
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    let me = c.local_addr().unwrap();
    c.write_all(&[header, then].concat()).await.unwrap();
    let report = within("the report line", line(&mut c)).await;
    if !then.is_empty() {
        let mut echoed = vec![0u8; then.len()];
        within("the echo", c.read_exact(&mut echoed)).await.unwrap();
        assert_eq!(echoed, then, "the bytes after the header reach the handler");
    }
    (report, me)
}

fn v2(command: u8, family: u8, block: &[u8]) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.push(0x20 | command);
    h.push(family);
    h.extend_from_slice(&(block.len() as u16).to_be_bytes());
    h.extend_from_slice(block);
    h
}

/// Waits until the listener has no connection process.
async fn no_connections(listener: &Listener) {
    within("no connections", async {
        while listener.info().connections != 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
}

/// Reads until the server closes; whatever it sent.
async fn closed_by_server(c: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let _ = within("the server closing", c.read_to_end(&mut got)).await;
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_tcp4_header_gives_the_client_address_and_keeps_the_proxys() {
    let rt = Runtime::attach();
    let (addr, listener) = proxied_listener(&rt, config()).await;
    let (report, me) = through_proxy(
        addr,
        b"PROXY TCP4 203.0.113.7 198.51.100.1 51234 443\r\n",
        b"hello",
    )
    .await;
    assert_eq!(
        report,
        format!(
            "peer=203.0.113.7:51234 proxy={me} v=1 cmd=Some(Proxy) dst=198.51.100.1:443 tlvs=[]\n"
        )
    );
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_tcp6_header() {
    let rt = Runtime::attach();
    let (addr, listener) = proxied_listener(&rt, config()).await;
    let (report, me) = through_proxy(
        addr,
        b"PROXY TCP6 2001:db8::7 2001:db8::1 51234 8443\r\n",
        b"x",
    )
    .await;
    assert_eq!(
        report,
        format!("peer=[2001:db8::7]:51234 proxy={me} v=1 cmd=Some(Proxy) dst=[2001:db8::1]:8443 tlvs=[]\n")
    );
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_unknown_keeps_the_socket_peer() {
    let rt = Runtime::attach();
    let (addr, listener) = proxied_listener(&rt, config()).await;
    // Exactly the 15-byte header and nothing after it: served without waiting for more.
    let (report, me) = through_proxy(addr, b"PROXY UNKNOWN\r\n", b"").await;
    assert_eq!(
        report,
        format!("peer={me} proxy=- v=1 cmd=Some(Proxy) dst=- tlvs=[]\n")
    );
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_header_arriving_a_byte_at_a_time() {
    let rt = Runtime::attach();
    let (addr, listener) = proxied_listener(&rt, config()).await;
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.set_nodelay(true).unwrap();
    let me = c.local_addr().unwrap();
    for b in b"PROXY TCP4 203.0.113.9 198.51.100.1 7 80\r\n" {
        c.write_all(&[*b]).await.unwrap();
        tokio::task::yield_now().await;
    }
    // The header alone, then the server speaks first.
    assert_eq!(
        within("the report line", line(&mut c)).await,
        format!("peer=203.0.113.9:7 proxy={me} v=1 cmd=Some(Proxy) dst=198.51.100.1:80 tlvs=[]\n")
    );
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_tcp4_with_tlvs_and_data_in_the_same_segment() {
    let rt = Runtime::attach();
    let (addr, listener) = proxied_listener(&rt, config()).await;
    let mut block = vec![203, 0, 113, 7, 198, 51, 100, 1, 0xc8, 0x22, 0x01, 0xbb];
    // PP2_TYPE_ALPN "h2", PP2_TYPE_AUTHORITY "example.com"
    block.extend_from_slice(&[0x01, 0x00, 0x02, b'h', b'2']);
    block.extend_from_slice(&[0x02, 0x00, 0x0b]);
    block.extend_from_slice(b"example.com");
    let (report, me) = through_proxy(addr, &v2(1, 0x11, &block), b"GET / HTTP/1.0\r\n\r\n").await;
    assert_eq!(
        report,
        format!(
            "peer=203.0.113.7:51234 proxy={me} v=2 cmd=Some(Proxy) dst=198.51.100.1:443 \
             tlvs=[(1, [104, 50]), (2, [101, 120, 97, 109, 112, 108, 101, 46, 99, 111, 109])]\n"
        )
    );
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_tcp6_header() {
    let rt = Runtime::attach();
    let (addr, listener) = proxied_listener(&rt, config()).await;
    let src: std::net::Ipv6Addr = "2001:db8::7".parse().unwrap();
    let dst: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
    let mut block = src.octets().to_vec();
    block.extend_from_slice(&dst.octets());
    block.extend_from_slice(&51234u16.to_be_bytes());
    block.extend_from_slice(&443u16.to_be_bytes());
    let (report, me) = through_proxy(addr, &v2(1, 0x21, &block), b"x").await;
    assert_eq!(
        report,
        format!("peer=[2001:db8::7]:51234 proxy={me} v=2 cmd=Some(Proxy) dst=[2001:db8::1]:443 tlvs=[]\n")
    );
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_local_is_the_proxys_own_connection() {
    let rt = Runtime::attach();
    let (addr, listener) = proxied_listener(&rt, config()).await;
    // A health check: LOCAL, with an address block the receiver must skip.
    let (report, me) = through_proxy(addr, &v2(0, 0x11, &[9; 12]), b"ping").await;
    assert_eq!(
        report,
        format!("peer={me} proxy=- v=2 cmd=Some(Local) dst=- tlvs=[]\n")
    );
    // LOCAL with no address block at all.
    let (report, _) = through_proxy(addr, &v2(0, 0x00, &[]), b"").await;
    assert!(report.contains("cmd=Some(Local)"), "{report}");
    let _ = ProxyCommand::Local;
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_headers_end_the_connection_with_a_clear_reason() {
    captured_logs::install();
    let rt = Runtime::attach();
    let (addr, listener) = proxied_listener(&rt, config()).await;
    for header in [
        &b"PROXY TCP4 203.0.113.7"[..],
        &v2(
            1,
            0x11,
            &[203, 0, 113, 7, 198, 51, 100, 1, 0xc8, 0x22, 0x01, 0xbb],
        )[..20],
        &b"PROXY "[..],
    ] {
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(header).await.unwrap();
        c.shutdown().await.unwrap();
        assert!(closed_by_server(&mut c).await.is_empty());
    }
    let line = captured_logs::logged(addr, "connection handshake failed").await;
    assert!(
        line.contains(
            "reason=proxy protocol: truncated PROXY protocol header: the peer closed after"
        ),
        "{line}"
    );
    no_connections(&listener).await;
    // Three failures in well under a second: one line, the others counted in the next.
    let failures = captured_logs::lines_of(addr)
        .into_iter()
        .filter(|l| l.contains("handshake failed"))
        .count();
    assert!(failures < 3, "{:#?}", captured_logs::lines_of(addr));
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_or_a_missing_header_is_refused_at_once() {
    captured_logs::install();
    // Long timeout: the refusal must come from the bytes, not the clock.
    let rt = Runtime::attach();
    let (addr, listener) =
        proxied_listener(&rt, config().handshake_timeout(Duration::from_secs(60))).await;
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    assert!(closed_by_server(&mut c).await.is_empty());
    let line = captured_logs::logged(addr, "connection handshake failed").await;
    assert!(
        line.contains(
            r#"reason=proxy protocol: missing PROXY protocol header: the connection starts with "G"#
        ),
        "{line}"
    );
    no_connections(&listener).await;
    listener.kill();
    // Malformed lines after a good prefix, each refused (counted in the same log window).
    let (addr, listener) = proxied_listener(&rt, config()).await;
    for bad in [
        &b"PROXY TCP4 203.0.113.7 198.51.100.1 51234\r\n"[..],
        &b"PROXY TCP5 203.0.113.7 198.51.100.1 1 2\r\n"[..],
        &b"PROXY TCP4 203.0.113.7 198.51.100.1 1 2\n"[..],
        &[b"PROXY TCP4 ".as_slice(), &[b'1'; 120]].concat()[..],
        &v2(3, 0x11, &[0; 12])[..],
        &v2(1, 0x11, &[0; 4])[..],
    ] {
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(bad).await.unwrap();
        assert!(closed_by_server(&mut c).await.is_empty(), "{bad:?}");
    }
    let line = captured_logs::logged(addr, "connection handshake failed").await;
    assert!(
        line.contains("reason=proxy protocol: PROXY v1 header has 3 fields"),
        "{line}"
    );
    no_connections(&listener).await;
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_that_does_not_come_in_time_ends_the_connection() {
    captured_logs::install();
    let rt = Runtime::attach();
    let (addr, listener) =
        proxied_listener(&rt, config().handshake_timeout(Duration::from_millis(200))).await;
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(b"PROXY TCP4 203.0").await.unwrap();
    let start = tokio::time::Instant::now();
    assert!(closed_by_server(&mut c).await.is_empty());
    assert!(start.elapsed() >= Duration::from_millis(150));
    let line = captured_logs::logged(addr, "connection handshake failed").await;
    assert!(
        line.contains("reason=handshake timeout: no complete PROXY protocol header within 200ms"),
        "{line}"
    );
    no_connections(&listener).await;
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_option_nothing_is_read_before_the_handler() {
    let rt = Runtime::attach();
    let (addr, listener) = rt.listen_with(config(), report_then_echo).await.unwrap();
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    let me = c.local_addr().unwrap();
    c.write_all(b"PROXY UNKNOWN\r\n").await.unwrap();
    assert_eq!(
        within("the report line", line(&mut c)).await,
        format!("peer={me} proxy=- v=0 cmd=None dst=- tlvs=[]\n")
    );
    let mut echoed = [0u8; 15];
    within("the echo", c.read_exact(&mut echoed)).await.unwrap();
    assert_eq!(&echoed, b"PROXY UNKNOWN\r\n");
    listener.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_handshake_timeout_is_rejected() {
    let rt = Runtime::attach();
    let config = config()
        .proxy_protocol(true)
        .handshake_timeout(Duration::ZERO);
    let e = rt.listen_with(config, report_then_echo).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(e.to_string(), "handshake_timeout must be longer than zero");
}

/// Reads, and panics when the bytes after the header say so.
async fn crash_on_boom(_ctx: Ctx, mut s: TcpStream) -> std::io::Result<()> {
    let mut buf = [0u8; 64];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        assert!(!buf[..n].starts_with(b"boom"), "boom");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tree_and_the_crash_report_name_the_client_behind_the_proxy() {
    captured_logs::install();
    let rt = Runtime::attach();
    let (addr, listener) = proxied_listener(&rt, config()).await;
    let (report, me) = through_proxy(
        addr,
        b"PROXY TCP4 203.0.113.9 198.51.100.1 40001 443\r\n",
        b"",
    )
    .await;
    assert!(report.starts_with("peer=203.0.113.9:40001 "), "{report}");
    // The connection is being served (it answered): its node names the client.
    let tree = rt.tree();
    let conns = tree
        .find("connections")
        .expect("the connections supervisor");
    let details: Vec<String> = conns
        .children
        .iter()
        .filter_map(|n| n.detail.clone())
        .collect();
    assert_eq!(details, ["203.0.113.9:40001"], "not the proxy's {me}");
    listener.kill();

    let (addr, listener) = rt
        .listen_with(config().proxy_protocol(true), crash_on_boom)
        .await
        .unwrap();
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    let me = c.local_addr().unwrap();
    c.write_all(b"PROXY TCP4 203.0.113.9 198.51.100.1 40002 443\r\nboom")
        .await
        .unwrap();
    let crash = captured_logs::logged(addr, "connection crashed").await;
    assert!(crash.contains("peer=203.0.113.9:40002"), "{crash}");
    assert!(!crash.contains(&me.to_string()), "{crash}");
    listener.kill();
}
