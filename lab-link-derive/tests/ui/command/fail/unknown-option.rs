//! Unknown options list the valid ones; all are reported at once.
use lab_link::command;

#[command(rename = "x", requires = ["control"], description = "y")]
fn set() {}

fn main() {}
