//! `cancel_on_disconnect` is a flag.
use lab_link::command;

#[command(cancel_on_disconnect = true)]
async fn ramp() {}

fn main() {}
