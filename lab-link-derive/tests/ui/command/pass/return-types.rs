//! Every return shape: nothing, `()`, a value, `Option<T>`, `Result<T, E>`
//! with any `E: Into<CommandError>`, through a path, and an alias of
//! `Result` with its arguments written out.
use lab_link::{command, CommandError, LabSync, MutationError};

mod outcome {
    pub type Result<T> = std::result::Result<T, lab_link::CommandError>;
}

/// Nothing.
#[command]
fn nothing() {}

/// Unit.
#[command]
fn unit() -> () {}

/// A value.
#[command]
fn value() -> Vec<u32> {
    vec![1, 2]
}

/// Maybe a value.
#[command]
fn maybe() -> Option<String> {
    None
}

/// A refused write.
#[command]
fn refused() -> Result<(), MutationError> {
    Ok(())
}

/// Through a path.
#[command]
fn qualified() -> std::result::Result<u8, CommandError> {
    Ok(1)
}

/// Through an alias with its arguments written out.
#[command]
fn aliased() -> outcome::Result<u8> {
    Ok(1)
}

fn main() {
    let sync = LabSync::new(0_u8);
    sync.command(nothing)
        .command(unit)
        .command(value)
        .command(maybe)
        .command(refused)
        .command(qualified)
        .command(aliased);
    assert_eq!(value(), [1, 2]);
}
