//! #[rusm::main] without parameters, returning a Result; `return` works as in any async fn.
#[rusm::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = "42".parse()?;
    if n == 42 {
        return Ok(());
    }
    Err("unreachable".into())
}
