use rusm::prelude::*;

#[rusm::connection]
async fn echo(_ctx: Ctx, _stream: TcpStream) {}

#[rusm::listener(handler = echo, tls(cert = "cert.pem"))]
struct Secure;

fn main() {}
