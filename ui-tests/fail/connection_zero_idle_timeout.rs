use rusm::prelude::*;

#[rusm::connection(idle_timeout_ms = 0)]
async fn echo(_ctx: Ctx, _stream: TcpStream) {}

fn main() {}
