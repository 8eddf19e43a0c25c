//! A result type that does not serialise is reported at the return type.
use lab_link::{command, CommandError};

struct Reading {
    value: f64,
}

#[command]
fn read() -> Result<Reading, CommandError> {
    Ok(Reading { value: 1.0 })
}

fn main() {}
