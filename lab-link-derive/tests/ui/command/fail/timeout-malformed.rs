//! A timeout without a unit, with a fraction, and of zero.
use lab_link::command;

#[command(timeout = "30")]
async fn no_unit() {}

#[command(timeout = "1.5s")]
async fn fraction() {}

#[command(timeout = "0s")]
async fn zero() {}

#[command(timeout = 30)]
async fn not_a_string() {}

fn main() {}
