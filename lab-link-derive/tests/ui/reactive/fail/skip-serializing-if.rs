//! A member that comes and goes has no path to `replace`.
use lab_link::Reactive;
use serde::Serialize;

#[derive(Reactive, Serialize)]
struct Channel {
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<String>,
}

fn main() {}
