//! serde cannot serialise a union.
use lab_link::Reactive;

#[derive(Reactive)]
union Bits {
    int: u32,
    float: f32,
}

fn main() {}
