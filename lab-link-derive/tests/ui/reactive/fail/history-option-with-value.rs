//! `history` takes no value.
use lab_link::Reactive;
use serde::Serialize;

#[derive(Reactive, Serialize)]
struct Channel {
    #[reactive(history = true)]
    bias_voltage: f64,
}

fn main() {}
