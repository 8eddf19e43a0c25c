//! An option without its value.
use lab_link::command;

#[command(name)]
fn set() {}

fn main() {}
