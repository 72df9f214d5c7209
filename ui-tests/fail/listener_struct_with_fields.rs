use rusm::prelude::*;

#[rusm::connection]
async fn echo(_ctx: Ctx, _stream: TcpStream) {}

#[rusm::listener(handler = echo)]
struct EchoListener {
    port: u16,
}

fn main() {}
