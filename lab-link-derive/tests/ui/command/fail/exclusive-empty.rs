//! An exclusive group without a name.
use lab_link::command;

#[command(exclusive = "")]
async fn ramp() {}

fn main() {}
