//! `queue` says what to do when the exclusive group is taken: it needs one.
use lab_link::command;

#[command(queue)]
async fn ramp() {}

#[command(queue = true, exclusive = "magnet")]
async fn ramp_magnet() {}

fn main() {}
