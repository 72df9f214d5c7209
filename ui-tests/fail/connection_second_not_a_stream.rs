use rusm::prelude::*;

#[rusm::connection]
async fn echo(_ctx: Ctx, _stream: std::net::SocketAddr) {}

fn main() {}
