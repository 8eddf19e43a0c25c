//! A function registered without `#[command]`.
use lab_link::LabSync;

fn set(_sync: LabSync<u8>) {}

fn main() {
    let sync = LabSync::new(0_u8);
    sync.command(set);
}
