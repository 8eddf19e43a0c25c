//! Constraints: any `RangeBounds`, a validator by path (also as a string,
//! as serde writes paths), several options in one or several attributes.
use lab_link::{LabSync, MutationError, MutationErrorKind, Reactive};
use serde::Serialize;

const MAX_SAMPLES: usize = 64;

mod checks {
    pub fn even(value: &usize) -> Result<(), String> {
        if value % 2 == 0 {
            Ok(())
        } else {
            Err(format!("{value} is odd"))
        }
    }
}

fn short(value: &String) -> Result<(), &'static str> {
    if value.len() <= 8 {
        Ok(())
    } else {
        Err("at most 8 bytes")
    }
}

#[derive(Reactive, Serialize)]
struct Channel {
    #[reactive(range = -10.0..=10.0)]
    bias_voltage: f64,
    #[reactive(range = 1..=MAX_SAMPLES, validate = checks::even)]
    samples: usize,
    #[reactive(leaf)]
    #[reactive(validate = "short")]
    name: String,
    #[reactive(range = ..100_u8)]
    percent: u8,
}

fn main() -> Result<(), MutationError> {
    let sync = LabSync::new(Channel {
        bias_voltage: 0.0,
        samples: 2,
        name: String::new(),
        percent: 0,
    });
    sync.try_mutate(|channel| {
        channel.set_bias_voltage(-10.0)?;
        channel.set_samples(64)?;
        channel.set_name("probe".to_owned())?;
        channel.set_percent(99)
    })?;
    let err = sync
        .try_mutate(|channel| channel.set_samples(3))
        .unwrap_err();
    assert_eq!(err.path(), "/samples");
    assert_eq!(
        err.kind(),
        &MutationErrorKind::Invalid {
            message: "3 is odd".into()
        }
    );
    let err = sync
        .try_mutate(|channel| channel.set_samples(66))
        .unwrap_err();
    assert_eq!(
        err.kind(),
        &MutationErrorKind::OutOfRange {
            value: "66".into(),
            range: "1..=MAX_SAMPLES".into()
        }
    );
    let err = sync
        .try_mutate(|channel| channel.set_percent(100))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "refused write to \"/percent\": 100 is outside the allowed range ..100_u8"
    );
    assert!(sync
        .try_mutate(|channel| channel.set_name("much too long".into()))
        .is_err());
    assert!(sync
        .try_mutate(|channel| channel.set_bias_voltage(f64::NAN))
        .is_err());
    // The initial state is checked too.
    let bad = Channel {
        bias_voltage: 11.0,
        samples: 2,
        name: String::new(),
        percent: 0,
    };
    assert_eq!(LabSync::try_new(bad).unwrap_err().path(), "/bias_voltage");
    Ok(())
}
