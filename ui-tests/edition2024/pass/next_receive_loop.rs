//! `while let Some(msg) = ctx.next().await` is a receive loop that compiles in edition 2024,
//! in a process body and in a connection with a mailbox, with or without a `break`.
use rusm::prelude::*;

#[rusm::connection]
async fn pushed(mut ctx: Ctx<String>, mut stream: TcpStream) -> std::io::Result<()> {
    ctx.register("pushed").expect("one connection");
    stream.write_all(b"ready\n").await?;
    while let Some(msg) = ctx.next().await {
        if let Msg::User(line) = msg {
            stream.write_all(line.as_bytes()).await?;
        }
    }
    Ok(())
}

#[rusm::listener(handler = pushed)]
struct PushedListener;

#[rusm::main]
async fn main(rt: Runtime) {
    let counter = rt.spawn(|mut ctx: Ctx<u32>| async move {
        let mut total = 0;
        while let Some(msg) = ctx.next().await {
            match msg {
                Msg::User(0) => break,
                Msg::User(n) => total += n,
                Msg::Exit(_) | Msg::Down(_) => {}
            }
        }
        assert_eq!(total, 5);
    });
    for n in [2, 3, 0] {
        counter.send(n).unwrap();
    }
    assert!(counter.wait().await.is_normal());

    // Without a break: runs until killed.
    let endless = rt.spawn(|mut ctx: Ctx<u32>| async move {
        while let Some(_msg) = ctx.next().await {}
    });
    endless.kill();
    assert_eq!(endless.wait().await, ExitReason::Killed);

    let (addr, listener) = PushedListener::start(&rt).await.unwrap();
    let mut c = connect(addr).await.unwrap();
    let mut ready = [0u8; 6];
    c.read_exact(&mut ready).await.unwrap();
    rt.whereis_addr::<String>("pushed").unwrap().send("hi\n".into()).unwrap();
    let mut got = [0u8; 3];
    c.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"hi\n");
    listener.kill();
}
