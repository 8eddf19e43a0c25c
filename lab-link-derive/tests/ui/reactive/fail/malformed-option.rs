//! Options with a missing or unexpected value.
use lab_link::Reactive;
use serde::Serialize;

#[derive(Reactive, Serialize)]
#[reactive(crate = lab_link)]
struct Channel {
    #[reactive(range)]
    voltage: f64,
    #[reactive(leaf = true)]
    label: String,
    #[reactive]
    note: String,
    #[reactive(validate)]
    count: u32,
}

fn main() {}
