use rusm::prelude::*;

#[rusm::connection]
async fn echo(_ctx: Ctx, _stream: TcpStream, _state: Arc<u8>, _extra: u8) {}

fn main() {}
