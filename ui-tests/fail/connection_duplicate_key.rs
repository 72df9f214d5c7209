use rusm::prelude::*;

#[rusm::connection(idle_timeout_ms = 10, idle_timeout_ms = 20)]
async fn echo(_ctx: Ctx, _stream: TcpStream) {}

fn main() {}
