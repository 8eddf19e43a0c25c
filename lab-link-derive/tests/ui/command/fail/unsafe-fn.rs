//! `unsafe fn`: any client may call a command.
use lab_link::command;

#[command]
unsafe fn poke(address: usize) {}

fn main() {}
