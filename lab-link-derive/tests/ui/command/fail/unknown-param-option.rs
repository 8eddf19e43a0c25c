//! Unknown `#[param]` options list the valid ones.
use lab_link::command;

#[command]
fn set(#[param(units = "V", min = 0.0)] value: f64) {
    let _ = value;
}

fn main() {}
