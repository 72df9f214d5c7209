use rusm::prelude::*;

#[rusm::connection]
async fn echo(_ctx: Ctx, _stream: TcpStream) {}

#[rusm::listener(addr = "nowhere", acceptors = 0, max_connections = 0, colour = "blue")]
struct EchoListener;

fn main() {}
