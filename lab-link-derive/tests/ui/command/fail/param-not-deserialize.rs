//! A param type that serde cannot build is reported at the param.
use lab_link::command;

#[derive(schemars::JsonSchema)]
struct Point {
    x: f64,
}

#[command]
fn set(channel: usize, point: Point) {
    let _ = (channel, point.x);
}

fn main() {}
