//! The address is overridable at run time (flags, configuration).
use rusm::prelude::*;

#[rusm::connection]
async fn nothing(_ctx: Ctx, _stream: TcpStream) {}

#[rusm::listener(addr = "127.0.0.1:7", handler = nothing)]
struct Fixed;

#[rusm::main]
async fn main(rt: Runtime) {
    let from_flags = String::from("127.0.0.1:0");
    let (addr, l) = Fixed::builder().addr(from_flags).start(&rt).await.unwrap();
    assert_ne!(addr.port(), 7);
    l.kill();
}
