//! JSON object keys are strings: a map with other keys is not tracked.
use std::collections::BTreeMap;

use lab_link::Reactive;
use serde::Serialize;

#[derive(Reactive, Serialize)]
struct Channels {
    by_number: BTreeMap<u32, f64>,
}

fn main() {}
