//! A relay serves a primary's state, followed over a real nats-server, to
//! ordinary viewers, with the primary's versions and patch messages.

mod common;

use common::{assert_follows, commit, document, primary, publish, within, RelayServer};
use lab_link_testkit::{NatsServer, TestServer};
use serde_json::json;

#[tokio::test]
async fn viewers_of_a_relay_get_the_primarys_versions() {
    let nats = NatsServer::start();
    let primary = primary();
    let publisher = publish(&nats, &primary).await;
    // The primary is at version 20 before the relay starts.
    commit(&primary, 20);
    within(publisher.wait_published(20)).await.unwrap();
    let relay = RelayServer::start(&nats).await;
    // It starts from the bucket's snapshot (version 0: the publisher
    // writes one every 1000 versions or 10 s) and reads the stream after.
    let viewer = relay.viewer().await;
    assert_follows(&viewer, &primary).await;
    assert_eq!(viewer.version(), 20);

    commit(&primary, 30);
    assert_follows(&viewer, &primary).await;
    assert_eq!(viewer.version(), 50);
    assert_eq!(relay.relay.replica().epoch(), primary.epoch());
}

#[tokio::test]
async fn a_commands_patch_reaches_relay_viewers_with_its_metadata() {
    let nats = NatsServer::start();
    let primary = primary();
    let _publisher = publish(&nats, &primary).await;
    let direct = TestServer::start(primary.clone()).await;
    let relay = RelayServer::start(&nats).await;
    let viewer = relay.viewer().await;

    let operator = direct.client().await;
    operator
        .command("set_setpoint", json!({"value": 2.5}))
        .await;
    let patch = viewer.next_patch().await;
    assert_eq!(patch.version, 1);
    assert_eq!(patch.command.as_deref(), Some("set_setpoint"));
    assert!(patch.request_id.is_some());
    assert_eq!(patch.origin_client_id, operator.client().client_id());
    assert_follows(&viewer, &primary).await;
}

#[tokio::test]
async fn a_restarted_primary_reaches_relay_viewers_as_a_snapshot_of_its_own_versions() {
    let nats = NatsServer::start();
    let first = primary();
    let publisher = publish(&nats, &first).await;
    commit(&first, 5);
    let relay = RelayServer::start(&nats).await;
    let viewer = relay.viewer().await;
    assert_follows(&viewer, &first).await;
    let client_id = viewer.client().client_id();
    assert!(client_id.is_some());
    drop(publisher);

    // The new instance counts from 0 again, with a new epoch: the relay
    // re-bases on its snapshot and sends it to the viewers.
    let second = primary();
    let _publisher = publish(&nats, &second).await;
    second
        .try_mutate(|supply| supply.set_label("restarted".into()))
        .unwrap();
    let expected = document(&second);
    viewer.wait_for(|replica| replica == &expected).await;
    assert_eq!(viewer.version(), 1);
    assert_eq!(relay.relay.replica().epoch(), second.epoch());
    assert_eq!(
        viewer.client().client_id(),
        client_id,
        "a start-over snapshot without clientId keeps the connection's"
    );
}
