use rusm::prelude::*;

#[rusm::connection(idle_timeout_ms = "10s", close_with_reset = 1)]
async fn echo(_ctx: Ctx, _stream: TcpStream) {}

fn main() {}
