//! A command without a `LabSync` parameter can be registered on any
//! state.
use lab_link::server::SyncSource;
use lab_link::{command, LabSync};

/// Answers.
#[command]
fn ping() -> &'static str {
    "pong"
}

/// Adds.
#[command]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {
    let numbers = LabSync::new(vec![1_u32]);
    numbers.command(ping).command(add);
    let text = LabSync::new(String::new());
    text.command(ping).command(add);
    assert_eq!(numbers.command_infos().len(), 2);
    assert_eq!(ping(), "pong");
}
