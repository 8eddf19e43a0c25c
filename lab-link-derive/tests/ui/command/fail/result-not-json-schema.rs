//! A result type that serialises but has no JSON Schema is reported at
//! the return type, with the derive to add.
use lab_link::command;

#[derive(serde::Serialize)]
struct Reading {
    value: f64,
}

#[command]
fn read() -> Reading {
    Reading { value: 1.0 }
}

fn main() {}
