//! A range whose type does not fit the field is reported at the range.
use lab_link::Reactive;
use serde::Serialize;

#[derive(Reactive, Serialize)]
struct Channel {
    #[reactive(range = 0..10)]
    voltage: f64,
}

fn main() {}
