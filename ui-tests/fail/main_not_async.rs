#[rusm::main]
fn main() {}
