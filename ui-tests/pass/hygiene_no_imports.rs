//! Generated code needs no `use` in scope: only paths under ::rusm.
#[rusm::connection(idle_timeout_ms = 100)]
async fn bare(_ctx: rusm::Ctx, _stream: rusm::TcpStream) -> Result<(), std::io::Error> {
    Ok(())
}

#[rusm::connection]
async fn bare_state(_ctx: rusm::Ctx, _stream: rusm::TcpStream, _s: std::sync::Arc<u32>) {}

#[rusm::listener(handler = bare, acceptors = 1, drain_timeout_ms = 0)]
struct Bare;

#[rusm::listener(handler = bare_state)]
struct BareState;

#[rusm::main]
async fn main() {
    let _ = Bare::config();
    let _ = BareState::child_spec();
}
