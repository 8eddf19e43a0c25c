//! `#[serde(flatten)]` would merge two structs' members: no single path.
use lab_link::Reactive;
use serde::Serialize;

#[derive(Reactive, Serialize)]
struct Limits {
    low: f64,
    high: f64,
}

#[derive(Reactive, Serialize)]
struct Channel {
    voltage: f64,
    #[serde(flatten)]
    limits: Limits,
}

/// The stub impl emitted with the error keeps uses of `Channel` from
/// adding errors of their own.
#[derive(Reactive, Serialize)]
struct Rack {
    channels: Vec<Channel>,
}

fn main() {
    let sync = lab_link::LabSync::new(Rack {
        channels: Vec::new(),
    });
    sync.mutate(|rack| rack.channels().clear());
}
