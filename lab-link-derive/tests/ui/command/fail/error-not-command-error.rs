//! The error of a `Result` must convert into a `CommandError`.
use lab_link::command;

#[command]
fn read() -> Result<u8, std::io::Error> {
    Ok(1)
}

fn main() {}
