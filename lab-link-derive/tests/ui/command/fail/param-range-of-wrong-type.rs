//! A param's range must be of the param's type, as a field's must.
use lab_link::command;

#[command]
fn set_scale(#[param(range = 0..4)] scale: f64) {
    let _ = scale;
}

fn main() {}
