//! A `range` on a field without an order of numbers (a `String`) is
//! reported at the range, with `validate` as the fix.
use lab_link::Reactive;
use serde::Serialize;

#[derive(Reactive, Serialize)]
struct Sample {
    #[reactive(range = 0..=10)]
    label: String,
}

fn main() {}
