//! A unit struct has nothing to track.
use lab_link::Reactive;
use serde::Serialize;

#[derive(Reactive, Serialize)]
struct Marker;

fn main() {}
