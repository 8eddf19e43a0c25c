//! An enum is a leaf: options on its variants or their fields are refused.
use lab_link::Reactive;
use serde::Serialize;

#[derive(Reactive, Serialize)]
#[reactive(leaf)]
enum Mode {
    #[reactive(leaf)]
    Off,
    Constant {
        #[reactive(range = 0.0..=10.0)]
        volts: f64,
    },
}

fn main() {}
