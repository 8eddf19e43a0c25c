//! A param type without a JSON Schema is reported at the param.
use lab_link::command;

#[derive(serde::Deserialize)]
struct Point {
    x: f64,
}

#[command]
fn set(channel: usize, point: Point) {
    let _ = (channel, point.x);
}

fn main() {}
