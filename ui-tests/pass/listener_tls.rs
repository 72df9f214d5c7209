//! `tls(...)`, `proxy_protocol` and `handshake_timeout_ms`: what config() makes of them, and a
//! missing certificate file named when the listener starts.
use rusm::prelude::*;
use std::time::Duration;

#[rusm::connection]
async fn hello(_ctx: Ctx, mut stream: TcpStream) -> std::io::Result<()> {
    let tls = stream.is_tls();
    stream.write_all(if tls { b"tls\n" } else { b"tcp\n" }).await
}

#[rusm::listener(
    handler = hello,
    tls(cert = "no-such-dir/cert.pem", key = "no-such-dir/key.pem", alpn = ["h2", "http/1.1"]),
    proxy_protocol = true,
    handshake_timeout_ms = 2500,
)]
struct Secure;

#[rusm::main]
async fn main(rt: Runtime) {
    let c = Secure::config();
    let tls = c.get_tls().expect("tls(...) sets the TLS config");
    assert_eq!(
        tls.files().map(|(c, k)| (c.to_str().unwrap(), k.to_str().unwrap())),
        Some(("no-such-dir/cert.pem", "no-such-dir/key.pem"))
    );
    assert!(c.get_proxy_protocol());
    assert_eq!(c.get_handshake_timeout(), Duration::from_millis(2500));
    let e = Secure::start(&rt).await.unwrap_err();
    assert_eq!(e.to_string(), "tls certificate file `no-such-dir/cert.pem`: not found");
}
