//! An `edits` path is a JSON Pointer with whole `{param}` segments.
use lab_link::command;

#[command(edits = "channels/{channel}", value = value)]
fn set_channel(channel: usize, value: f64) {
    let _ = (channel, value);
}

#[command(edits = "/channels/ch{channel}", value = value)]
fn set_other(channel: usize, value: f64) {
    let _ = (channel, value);
}

fn main() {}
