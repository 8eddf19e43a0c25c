//! Unknown options list the valid ones; all are reported at once.
use lab_link::Reactive;
use serde::Serialize;

#[derive(Reactive, Serialize)]
#[reactive(rename_all = "camelCase")]
struct Channel {
    #[reactive(min = 0.0)]
    voltage: f64,
    #[reactive(leaf, skip)]
    label: String,
}

fn main() {}
