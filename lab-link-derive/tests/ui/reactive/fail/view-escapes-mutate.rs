//! A tracked view kept after its `mutate` closure returned: a borrow
//! error naming the view type as the closure's return type. The book
//! ("State", "What the compiler now checks") explains it; stable Rust has
//! no way to reword a borrow error, and a trait bound on the closure's
//! output would be reported with the standard library's wording instead.
use lab_link::{LabSync, Reactive};
use serde::Serialize;

#[derive(Reactive, Serialize, Default)]
struct Bench {
    channels: Vec<f64>,
}

fn main() {
    let sync = LabSync::new(Bench::default());
    let channels = sync.mutate(|bench| bench.channels());
    let _ = channels;
}
