use rusm::prelude::*;

#[rusm::connection]
async fn echo(_ctx: Ctx, _stream: TcpStream) {}

#[rusm::listener(handler = "echo", acceptors = "8", nodelay = 1, addr = 7000)]
struct EchoListener;

fn main() {}
