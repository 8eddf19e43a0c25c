//! `unit` and `precision` describe numbers: on a string or a list of
//! strings they are refused at the field's type.
use lab_link::Reactive;
use serde::Serialize;

#[derive(Reactive, Serialize)]
struct Channel {
    #[reactive(unit = "V")]
    name: String,
    #[reactive(leaf, precision = 2)]
    tags: Vec<String>,
    #[reactive(unit = "V", precision = 3)]
    bias_voltage: f64,
}

fn main() {}
