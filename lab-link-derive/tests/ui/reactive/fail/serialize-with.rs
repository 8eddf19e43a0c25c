//! A custom serialiser would make the recorded value differ from the JSON.
use lab_link::Reactive;
use serde::{Serialize, Serializer};

fn as_text<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&value.to_string())
}

mod text {
    pub(crate) use super::as_text as serialize;
}

#[derive(Reactive, Serialize)]
struct Channel {
    #[serde(serialize_with = "as_text")]
    voltage: f64,
    #[serde(with = "text")]
    current: f64,
}

fn main() {}
