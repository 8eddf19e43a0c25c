//! An option given twice: both places are shown.
use lab_link::command;

#[command(name = "a", requires = [], name = "b")]
fn set() {}

fn main() {}
