//! A constraint on a field serde skips guards nothing.
use lab_link::Reactive;
use serde::Serialize;

fn positive(value: &u32) -> Result<(), String> {
    if *value > 0 {
        Ok(())
    } else {
        Err("must be positive".into())
    }
}

#[derive(Reactive, Serialize)]
struct Channel {
    voltage: f64,
    #[serde(skip)]
    #[reactive(range = 0..100)]
    cache: u32,
    #[reactive(validate = positive)]
    #[serde(skip_serializing)]
    samples: u32,
}

fn main() {}
