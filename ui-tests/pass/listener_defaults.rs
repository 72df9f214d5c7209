//! Omitted keys keep ListenerConfig's documented defaults.
use rusm::prelude::*;

#[rusm::connection]
async fn nothing(_ctx: Ctx, _stream: TcpStream) {}

#[rusm::listener(handler = nothing)]
struct Defaults;

fn main() {
    let c = Defaults::config();
    let d = ListenerConfig::new("127.0.0.1:0");
    assert_eq!(c.addr, d.addr);
    assert_eq!((c.acceptors, c.max_connections, c.backlog), (d.acceptors, d.max_connections, d.backlog));
    assert_eq!((c.nodelay, c.reuse_port, c.close_with_reset), (d.nodelay, d.reuse_port, d.close_with_reset));
    assert_eq!((c.idle_timeout, c.drain_timeout), (d.idle_timeout, d.drain_timeout));
    assert_eq!(c.acceptor_intensity, None);
}
