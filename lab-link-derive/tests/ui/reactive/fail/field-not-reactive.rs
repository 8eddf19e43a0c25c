//! A field type that is not `Reactive` is reported at the field, once.
use lab_link::Reactive;
use serde::Serialize;

#[derive(Serialize)]
struct Calibration {
    offset: f64,
}

fn small(calibration: &Calibration) -> Result<(), String> {
    if calibration.offset.abs() < 1.0 {
        Ok(())
    } else {
        Err("offset too large".into())
    }
}

#[derive(Reactive, Serialize)]
struct Channel {
    voltage: f64,
    calibration: Calibration,
    #[reactive(validate = small)]
    checked: Calibration,
}

fn main() {}
