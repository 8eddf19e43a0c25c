//! A param range with literal bounds that holds no value is refused, and a
//! range of another type than the param's is reported at the range.
use lab_link::command;

#[command]
fn set_channel(#[param(range = 10.0..-10.0)] value: f64, #[param(range = 0..4)] scale: f64) {
    let _ = (value, scale);
}

fn main() {}
