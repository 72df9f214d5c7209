#[rusm::connection]
struct Echo;

fn main() {}
