//! `unit` and `precision` on a param describe numbers.
use lab_link::command;

#[command]
fn add_channel(#[param(unit = "V")] name: String, #[param(precision = 3)] value: f64) {
    let _ = (name, value);
}

fn main() {}
