//! `#[command]` on something that is not a function.
use lab_link::command;

#[command]
struct SetChannel {
    channel: usize,
}

fn main() {}
