//! The state must own its data.
use lab_link::Reactive;
use serde::Serialize;

#[derive(Reactive, Serialize)]
struct Channel<'a> {
    label: &'a str,
}

fn main() {}
