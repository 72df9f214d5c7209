//! Handler options override the listener's.
use rusm::prelude::*;

#[rusm::connection(idle_timeout_ms = 250, close_with_reset = true)]
async fn quiet(_ctx: Ctx, mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf = [0u8; 8];
    while stream.read(&mut buf).await? > 0 {}
    Ok(())
}

#[rusm::listener(handler = quiet, close_with_reset = false)]
struct QuietListener;

#[rusm::main]
async fn main(rt: Runtime) {
    let builder = QuietListener::builder();
    assert_eq!(builder.config().get_idle_timeout(), Some(std::time::Duration::from_millis(250)));
    assert!(builder.config().get_close_with_reset());
    let (addr, l) = builder.start(&rt).await.unwrap();
    // A silent client is disconnected by the idle timeout.
    let mut c = connect(addr).await.unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out).await;
    l.kill();
}
