//! `requires` takes a list of strings.
use lab_link::command;

#[command(requires = "control")]
fn set() {}

#[command(requires = ["control", manage_access, 3])]
fn get() {}

fn main() {}
