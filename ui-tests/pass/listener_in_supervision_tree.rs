//! The listener is a child spec: acceptors permanent and restarted, in the tree by name.
use rusm::prelude::*;

#[rusm::connection]
async fn nothing(_ctx: Ctx, _stream: TcpStream) {}

#[rusm::listener(handler = nothing, acceptors = 2)]
struct Web;

#[rusm::main]
async fn main(rt: Runtime) {
    let app = rt
        .start_supervisor(SupervisorSpec::new(Strategy::OneForOne).child(Web::child_spec()))
        .await
        .unwrap();
    let tree = rt.tree();
    let web = tree.find("Web").expect("the listener is in the tree");
    assert!(web.children.iter().any(|c| c.id == "acceptors"));
    assert_eq!(tree.find("acceptor-1").unwrap().restart, Some(Restart::Permanent));
    app.stop().await;
}
