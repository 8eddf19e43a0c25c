//! A tuple struct has no member names to give setters.
use lab_link::Reactive;
use serde::Serialize;

#[derive(Reactive, Serialize)]
struct Point(f64, f64);

fn main() {}
