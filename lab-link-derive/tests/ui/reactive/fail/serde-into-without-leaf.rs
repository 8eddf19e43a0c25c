//! `#[serde(into)]` serialises another type: field paths would be wrong.
use lab_link::Reactive;
use serde::Serialize;

#[derive(Clone, Serialize)]
struct Wire {
    millivolts: i64,
}

impl From<Volts> for Wire {
    fn from(volts: Volts) -> Self {
        Wire {
            millivolts: (volts.value * 1000.0) as i64,
        }
    }
}

#[derive(Reactive, Serialize, Clone)]
#[serde(into = "Wire")]
struct Volts {
    value: f64,
}

fn main() {}
