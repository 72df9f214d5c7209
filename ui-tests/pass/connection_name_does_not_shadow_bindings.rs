//! The handler `#[rusm::connection]` makes is a type and a function, never a unit struct:
//! a binding with its name elsewhere stays a binding.
use rusm::prelude::*;

#[rusm::connection]
async fn h(_ctx: Ctx, _stream: TcpStream) {}

#[rusm::listener(handler = h)]
struct Svc;

#[rusm::main]
async fn main(rt: Runtime) {
    let p = rt
        .spawn_named("svc", |mut ctx: Ctx| async move {
            ctx.recv().await;
        })
        .unwrap();
    // `h` here is a closure parameter, not the handler.
    let pid = rt.whereis("svc").map(|h| h.pid());
    assert_eq!(pid, Some(p.pid()));
    let h = 3;
    assert_eq!(h + 1, 4);
    // The handler is still reachable as a value and as a type.
    let (addr, listener) =
        rusm::ListenerBuilder::new(self::h(), rusm::ListenerConfig::new("127.0.0.1:0"))
            .start(&rt)
            .await
            .unwrap();
    let _: rusm::ListenerBuilder<self::h> = Svc::builder();
    assert_ne!(addr.port(), 0);
    listener.kill();
    p.kill();
}
