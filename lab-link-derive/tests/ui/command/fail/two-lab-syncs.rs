//! At most one `LabSync` parameter; both are shown.
use lab_link::{command, LabSync};

#[command]
fn set(sync: LabSync<u8>, value: u8, again: LabSync<u8>) {}

fn main() {}
