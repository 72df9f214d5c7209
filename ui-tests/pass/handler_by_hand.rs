//! Handler implemented by hand runs under a #[rusm::listener] like a generated one.
use rusm::prelude::*;
use std::future::Future;

struct Banner;

impl Handler for Banner {
    type State = ();
    type Output = std::io::Result<()>;
    type Message = ();
    fn call(_ctx: Ctx, mut s: TcpStream, _state: Arc<()>) -> impl Future<Output = Self::Output> + Send + 'static {
        async move { s.write_all(b"banner").await }
    }
    fn default_state() -> Option<Arc<()>> {
        Some(Arc::new(()))
    }
}

#[rusm::listener(handler = Banner)]
struct BannerListener;

#[rusm::main]
async fn main(rt: Runtime) {
    let (addr, l) = BannerListener::start(&rt).await.unwrap();
    let mut c = connect(addr).await.unwrap();
    let mut out = Vec::new();
    c.read_to_end(&mut out).await.unwrap();
    assert_eq!(out, b"banner");
    l.kill();
}
