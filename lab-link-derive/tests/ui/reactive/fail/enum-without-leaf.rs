//! An enum can only be tracked as a leaf, replaced whole.
use lab_link::Reactive;
use serde::Serialize;

#[derive(Reactive, Serialize)]
enum Mode {
    Off,
    Constant { volts: f64 },
}

fn main() {}
