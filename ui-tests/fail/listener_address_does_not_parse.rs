use rusm::prelude::*;

#[rusm::connection]
async fn echo(_ctx: Ctx, _stream: TcpStream) {}

#[rusm::listener(addr = "localhost:7000", handler = echo)]
struct EchoListener;

fn main() {}
