//! A connection with `Ctx<Msg>` waits on its mailbox and its socket at once: another process
//! pushes a line to it, the peer's bytes are echoed.
use rusm::prelude::*;

enum Push {
    Line(String),
}

#[rusm::connection]
async fn relay(mut ctx: Ctx<Push>, mut stream: TcpStream) -> std::io::Result<()> {
    ctx.register("relay").expect("one connection at a time");
    stream.write_all(b"ready\n").await?;
    let mut buf = [0u8; 64];
    loop {
        tokio::select! {
            msg = ctx.recv() => {
                if let Msg::User(Push::Line(line)) = msg {
                    stream.write_all(line.as_bytes()).await?;
                }
            }
            n = stream.read(&mut buf) => {
                let n = n?;
                if n == 0 {
                    return Ok(());
                }
                stream.write_all(&buf[..n]).await?;
            }
        }
    }
}

#[rusm::listener(handler = relay)]
struct RelayListener;

async fn expect(c: &mut TcpStream, want: &[u8]) {
    let mut got = vec![0u8; want.len()];
    c.read_exact(&mut got).await.unwrap();
    assert_eq!(got, want);
}

#[rusm::main]
async fn main(rt: Runtime) {
    let (addr, listener) = RelayListener::start(&rt).await.unwrap();
    let mut c = connect(addr).await.unwrap();
    expect(&mut c, b"ready\n").await;
    let conn: Addr<Push> = rt.whereis_addr("relay").expect("registered before it said ready");
    let pusher = rt.spawn(move |_ctx: Ctx| async move {
        conn.send(Push::Line("pushed\n".into())).unwrap();
    });
    assert!(pusher.wait().await.is_normal());
    expect(&mut c, b"pushed\n").await;
    c.write_all(b"ping").await.unwrap();
    expect(&mut c, b"ping").await;
    listener.kill();
}
