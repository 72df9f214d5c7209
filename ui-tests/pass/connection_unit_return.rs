//! A handler may return `()`.
use rusm::prelude::*;

#[rusm::connection]
async fn hello(_ctx: Ctx, mut stream: TcpStream) {
    let _ = stream.write_all(b"hi").await;
}

#[rusm::listener(handler = hello)]
struct Hello;

#[rusm::main]
async fn main(rt: Runtime) {
    let (addr, l) = Hello::start(&rt).await.unwrap();
    let mut c = connect(addr).await.unwrap();
    let mut out = Vec::new();
    c.read_to_end(&mut out).await.unwrap();
    assert_eq!(out, b"hi");
    l.kill();
}
