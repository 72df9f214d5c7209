//! A third parameter `Arc<State>` is shared by every connection, handed in by the builder.
use rusm::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Greeter {
    greeting: String,
    served: AtomicUsize,
}

#[rusm::connection]
async fn greet(_ctx: Ctx, mut stream: TcpStream, state: Arc<Greeter>) -> std::io::Result<()> {
    state.served.fetch_add(1, Ordering::SeqCst);
    stream.write_all(state.greeting.as_bytes()).await
}

#[rusm::listener(handler = greet)]
struct GreetListener;

#[rusm::main]
async fn main(rt: Runtime) {
    let state = Arc::new(Greeter { greeting: "hello".into(), served: AtomicUsize::new(0) });
    let (addr, l) = GreetListener::builder().state(state.clone()).start(&rt).await.unwrap();
    for _ in 0..3 {
        let mut c = connect(addr).await.unwrap();
        let mut out = Vec::new();
        c.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"hello");
    }
    assert_eq!(state.served.load(Ordering::SeqCst), 3);
    // Without state, starting says what to do.
    let e = GreetListener::start(&rt).await.unwrap_err();
    assert!(e.to_string().contains(".state("), "{e}");
    l.kill();
}
