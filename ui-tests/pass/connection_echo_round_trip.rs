//! A documented handler and listener compile and echo over loopback.
use rusm::prelude::*;

#[rusm::connection]
async fn echo(_ctx: Ctx, mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf = [0u8; 64];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

#[rusm::listener(addr = "127.0.0.1:0", handler = echo, acceptors = 8, max_connections = 10_000)]
struct EchoListener;

#[rusm::main]
async fn main(rt: Runtime) {
    let (addr, listener) = EchoListener::start(&rt).await.unwrap();
    let mut c = connect(addr).await.unwrap();
    c.write_all(b"ping").await.unwrap();
    let mut out = [0u8; 4];
    c.read_exact(&mut out).await.unwrap();
    assert_eq!(&out, b"ping");
    assert_eq!(listener.info().acceptors, 8);
    listener.kill();
}
