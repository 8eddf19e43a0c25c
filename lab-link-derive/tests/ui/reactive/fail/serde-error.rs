//! A mistake in a serde attribute is serde's to report: the derive adds
//! no error of its own. Without a `Serialize` impl the type cannot be
//! `Reactive`, which its uses then say.
use lab_link::{LabSync, Reactive};
use serde::Serialize;

#[derive(Reactive, Serialize)]
#[serde(rename_all = "kebab")]
struct Channel {
    bias_voltage: f64,
}

fn main() {
    let _sync = LabSync::new(Channel { bias_voltage: 0.0 });
}
