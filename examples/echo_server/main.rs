//! Echo server.
fn main() {}
