//! A command's name cannot be empty.
use lab_link::command;

#[command(name = "")]
fn set() {}

fn main() {}
