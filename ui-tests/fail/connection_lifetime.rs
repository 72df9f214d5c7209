use rusm::prelude::*;

#[rusm::connection]
async fn echo<'a>(_ctx: Ctx, _stream: TcpStream, _state: Arc<&'a str>) {}

fn main() {}
