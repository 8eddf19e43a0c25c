//! `edits` and `value` only make sense together.
use lab_link::command;

#[command(edits = "/enabled")]
fn set_enabled(enabled: bool) {
    let _ = enabled;
}

#[command(value = enabled)]
fn set_other(enabled: bool) {
    let _ = enabled;
}

fn main() {}
