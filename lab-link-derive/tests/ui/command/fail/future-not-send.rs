//! An `async fn` whose future is not `Send` cannot run on the server's
//! tasks.
use std::rc::Rc;

use lab_link::command;

async fn tick() {}

#[command]
async fn count() -> usize {
    let shared = Rc::new(1);
    tick().await;
    *shared
}

fn main() {}
