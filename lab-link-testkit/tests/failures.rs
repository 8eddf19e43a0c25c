//! The helpers fail loudly, with the replica or the diff in the message.

use std::time::Duration;

use lab_link::LabSync;
use lab_link_testkit::{assert_consistent, TestServer};

#[tokio::test]
#[should_panic(expected = "the replica at version 0 is")]
async fn wait_for_shows_the_replica_on_timeout() {
    let server = TestServer::start(LabSync::new(vec![0_i64])).await;
    let client = server
        .client()
        .await
        .with_timeout(Duration::from_millis(100));
    client.wait_for(|r| r[0] == 1).await;
}

#[tokio::test]
#[should_panic(expected = "failed with the code \"unknown_command\", expected \"invalid_value\"")]
async fn expect_error_fails_when_the_command_is_unknown_under_another_code() {
    let server = TestServer::start(LabSync::new(vec![0_i64])).await;
    let client = server.client().await;
    client
        .expect_error("no_such_command", serde_json::Value::Null, "invalid_value")
        .await;
}

#[tokio::test]
async fn expect_error_returns_the_failure() {
    let server = TestServer::start(LabSync::new(vec![0_i64])).await;
    let client = server.client().await;
    let failure = client
        .expect_error(
            "no_such_command",
            serde_json::Value::Null,
            "unknown_command",
        )
        .await;
    assert_eq!(failure.code, "unknown_command");
    assert_consistent(&client, &server).await;
    server.shutdown().await;
}

#[tokio::test]
#[should_panic(
    expected = "patch from replica to server:\n    {\"op\":\"replace\",\"path\":\"/0\",\"value\":5}"
)]
async fn assert_consistent_lists_the_ops_when_the_client_is_behind() {
    let server = TestServer::start(LabSync::new(vec![0_i64])).await;
    let client = server
        .client()
        .await
        .with_timeout(Duration::from_millis(100));
    // Closed: the client cannot follow the change.
    client.client().close().await;
    server.sync().try_mutate(|s| s.set(0, 5)).unwrap();
    assert_consistent(&client, &server).await;
}
