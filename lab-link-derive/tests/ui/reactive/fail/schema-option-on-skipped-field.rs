//! Schema metadata on a field serde skips describes nothing.
use lab_link::Reactive;
use serde::Serialize;

#[derive(Reactive, Serialize)]
struct Channel {
    voltage: f64,
    #[serde(skip)]
    #[reactive(unit = "V", title = "Cache", history)]
    cache: f64,
}

fn main() {}
