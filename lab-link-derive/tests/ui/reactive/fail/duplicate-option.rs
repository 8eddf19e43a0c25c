//! An option given twice, in one attribute or in two.
use lab_link::Reactive;
use serde::Serialize;

#[derive(Reactive, Serialize)]
#[reactive(crate = "lab_link")]
#[reactive(crate = "::lab_link")]
struct Channel {
    #[reactive(range = 0.0..=1.0, range = 0.0..=2.0)]
    voltage: f64,
    #[reactive(leaf)]
    #[reactive(leaf)]
    label: String,
}

fn main() {}
