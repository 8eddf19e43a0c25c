//! The Python reference demo (`bench/python/demo.py`, lab-link 0.5.0)
//! against the same contract check as ours: the benchmarks compare two
//! servers doing the same work, and this test keeps them the same.

mod support;

use support::{contract, DemoProcess};

#[tokio::test]
async fn the_python_reference_follows_the_contract() {
    let demo = DemoProcess::reference().await;
    contract::check(&demo).await;
    let (status, stderr) = demo.stop_with("TERM").await;
    assert!(status.success(), "{status}\n{stderr}");
}
