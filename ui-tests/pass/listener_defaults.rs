//! Omitted keys keep ListenerConfig's documented defaults.
use rusm::prelude::*;

#[rusm::connection]
async fn nothing(_ctx: Ctx, _stream: TcpStream) {}

#[rusm::listener(handler = nothing)]
struct Defaults;

fn main() {
    let c = Defaults::config();
    let d = ListenerConfig::new("127.0.0.1:0");
    assert_eq!(c.get_addr(), d.get_addr());
    assert_eq!((c.get_acceptors(), c.get_max_connections(), c.get_backlog()), (d.get_acceptors(), d.get_max_connections(), d.get_backlog()));
    assert_eq!((c.get_nodelay(), c.get_reuse_port(), c.get_close_with_reset()), (d.get_nodelay(), d.get_reuse_port(), d.get_close_with_reset()));
    assert_eq!((c.get_idle_timeout(), c.get_drain_timeout()), (d.get_idle_timeout(), d.get_drain_timeout()));
    assert_eq!(c.get_acceptor_intensity(), None);
}
