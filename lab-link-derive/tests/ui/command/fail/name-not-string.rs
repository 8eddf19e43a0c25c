//! `name` takes a string.
use lab_link::command;

#[command(name = set_voltage)]
fn set() {}

fn main() {}
