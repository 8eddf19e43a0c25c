//! Every `{name}` of an `edits` path must be a JSON param of the command,
//! and `value` must name one too.
use lab_link::{command, LabSync, Reactive};
use serde::Serialize;

#[derive(Reactive, Serialize)]
struct State {
    channels: Vec<f64>,
}

#[command(edits = "/channels/{chanel}", value = value)]
fn set_channel(_sync: LabSync<State>, channel: usize, value: f64) {
    let _ = (channel, value);
}

#[command(edits = "/channels/{channel}", value = volts)]
fn set_other(_sync: LabSync<State>, channel: usize, value: f64) {
    let _ = (channel, value);
}

#[command(edits = "/channels/{sync}", value = value)]
fn set_third(sync: LabSync<State>, value: f64) {
    let _ = (sync, value);
}

fn main() {}
