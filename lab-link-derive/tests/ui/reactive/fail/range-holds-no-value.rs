//! A range written with literal bounds that holds no value is refused.
use lab_link::Reactive;
use serde::Serialize;

#[derive(Reactive, Serialize)]
struct Channel {
    #[reactive(range = 10.0..=-10.0)]
    bias_voltage: f64,
    #[reactive(range = 5..5)]
    samples: u32,
    #[reactive(range = 1..=1)]
    fixed: u32,
}

fn main() {}
