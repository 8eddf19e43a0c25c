//! `self`: a command is a free function.
use lab_link::command;

struct Instrument;

impl Instrument {
    #[command]
    fn set(&self, _value: f64) {}
}

fn main() {}
