//! A transparent struct serialises as its field: the field has no path.
use lab_link::Reactive;
use serde::Serialize;

#[derive(Reactive, Serialize)]
#[serde(transparent)]
struct Volts {
    value: f64,
}

fn main() {}
