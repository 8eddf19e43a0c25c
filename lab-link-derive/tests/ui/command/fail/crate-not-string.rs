//! `crate` takes the path in a string.
use lab_link::command;

#[command(crate = lab_link)]
fn set() {}

fn main() {}
