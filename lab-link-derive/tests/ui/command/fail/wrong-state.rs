//! A command registered on a `LabSync` of another state.
use lab_link::{command, LabSync};

#[command]
fn set(_sync: LabSync<u8>) {}

fn main() {
    let sync = LabSync::new(String::new());
    sync.command(set);
}
