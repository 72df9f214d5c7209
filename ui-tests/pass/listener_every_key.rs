//! Every listener key, and what config() makes of them.
use rusm::prelude::*;
use std::time::Duration;

#[rusm::connection]
async fn nothing(_ctx: Ctx, _stream: TcpStream) {}

#[rusm::listener(
    addr = "127.0.0.1:0",
    handler = nothing,
    acceptors = 3,
    max_connections = 500,
    backlog = 64,
    nodelay = false,
    reuse_port = true,
    close_with_reset = true,
    idle_timeout_ms = 1500,
    intensity = 7,
    period_secs = 2,
    drain_timeout_ms = 250,
)]
struct Everything;

fn main() {
    let c = Everything::config();
    assert_eq!(Everything::ADDR, "127.0.0.1:0");
    assert_eq!(c.get_addr(), "127.0.0.1:0");
    assert_eq!((c.get_acceptors(), c.get_max_connections(), c.get_backlog()), (3, 500, 64));
    assert!(!c.get_nodelay() && c.get_reuse_port() && c.get_close_with_reset());
    assert_eq!(c.get_idle_timeout(), Some(Duration::from_millis(1500)));
    assert_eq!(c.get_acceptor_intensity(), Some(7));
    assert_eq!(c.get_acceptor_period(), Duration::from_secs(2));
    assert_eq!(c.get_drain_timeout(), Duration::from_millis(250));
}
