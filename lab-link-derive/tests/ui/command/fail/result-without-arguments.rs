//! An alias `Result` without its arguments hides the result's type.
use lab_link::{command, CommandError};

type Result = std::result::Result<u8, CommandError>;

#[command]
fn get() -> Result {
    Ok(1)
}

fn main() {}
