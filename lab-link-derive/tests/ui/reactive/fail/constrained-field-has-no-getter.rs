//! A constrained field has a setter only: a tracked getter could bypass
//! the check.
use lab_link::{LabSync, Reactive};
use serde::Serialize;

fn short(value: &Vec<u32>) -> Result<(), String> {
    if value.len() <= 4 {
        Ok(())
    } else {
        Err("at most 4 entries".into())
    }
}

#[derive(Reactive, Serialize)]
struct Channel {
    #[reactive(validate = short)]
    samples: Vec<u32>,
}

fn main() {
    let sync = LabSync::new(Channel {
        samples: Vec::new(),
    });
    sync.mutate(|channel| channel.samples().push(1));
}
