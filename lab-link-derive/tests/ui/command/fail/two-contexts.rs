//! At most one `CommandContext` parameter; both are shown.
use lab_link::{command, CommandContext};

#[command]
fn set(ctx: CommandContext, other: lab_link::CommandContext) {}

fn main() {}
