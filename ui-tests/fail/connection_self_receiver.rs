use rusm::prelude::*;

struct Server;

impl Server {
    #[rusm::connection]
    async fn echo(&self, _ctx: Ctx, _stream: TcpStream) {}
}

fn main() {}
