//! Schema options need values of their kind; each mistake is reported.
use lab_link::Reactive;
use serde::Serialize;

#[derive(Reactive, Serialize)]
struct Channel {
    #[reactive(unit = 5)]
    a: f64,
    #[reactive(precision = -1)]
    b: f64,
    #[reactive(order = "first")]
    c: f64,
    #[reactive(read_only = true)]
    d: f64,
    #[reactive(title)]
    e: f64,
    #[reactive(unit = "V", unit = "mV")]
    f: f64,
}

fn main() {}
