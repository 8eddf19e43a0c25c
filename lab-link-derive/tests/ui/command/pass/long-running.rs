//! `exclusive`, `queue`, `timeout` and `cancel_on_disconnect`, alone and
//! together.
use std::time::Duration;

use lab_link::command::Command;
use lab_link::{command, CommandContext};

/// One at a time.
#[command(exclusive = "magnet")]
async fn ramp_magnet(ctx: CommandContext, _tesla: f64) {
    ctx.progress(1.0, "done");
}

/// All three.
#[command(timeout = "1500ms", cancel_on_disconnect, exclusive = "stage")]
async fn move_stage(ctx: CommandContext) {
    let _ = ctx.is_cancelled();
}

/// Waits for its turn.
#[command(exclusive = "magnet", queue)]
fn queue_for_magnet() {}

/// Only a timeout, in minutes.
#[command(timeout = "2m")]
fn settle() {}

/// None: the default policy.
#[command]
fn plain() {}

fn main() {
    let policy = Command::<()>::policy(&ramp_magnet);
    assert_eq!(policy.exclusive(), Some("magnet"));
    assert_eq!(policy.timeout(), None);
    let policy = Command::<()>::policy(&move_stage);
    assert_eq!(policy.exclusive(), Some("stage"));
    assert_eq!(policy.timeout(), Some(Duration::from_millis(1500)));
    assert!(policy.cancel_on_disconnect());
    assert!(!policy.queue());
    let policy = Command::<()>::policy(&queue_for_magnet);
    assert_eq!(policy.exclusive(), Some("magnet"));
    assert!(policy.queue());
    let info = Command::<()>::info(&queue_for_magnet);
    assert_eq!(info.policy, policy);
    assert_eq!(
        Command::<()>::policy(&settle).timeout(),
        Some(Duration::from_secs(120))
    );
    assert_eq!(Command::<()>::policy(&plain), Default::default());
}
