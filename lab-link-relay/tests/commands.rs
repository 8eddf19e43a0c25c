//! Commands through a relay: sent to the primary over NATS request/reply,
//! answered after the relay's replica has the command's patches.

mod common;

use std::time::{Duration, Instant};

use common::{assert_follows, primary, publish, serving_primary, within, RelayServer};
use lab_link::command::{CommandContext, Principal};
use lab_link_testkit::NatsServer;
use serde_json::{json, Map};

#[tokio::test]
async fn a_viewers_command_runs_on_the_primary_and_its_ack_follows_its_patches() {
    let nats = NatsServer::start();
    let (primary, _publisher, _commands) = serving_primary(&nats).await;
    let relay = RelayServer::start(&nats).await;
    let viewer = relay.viewer().await;

    // The NATS reply is faster than the stream: without waiting for its
    // replica, the relay would ack before the patch.
    for step in 1..=30 {
        let value = f64::from(step) / 4.0;
        let reply = viewer
            .command("set_setpoint", json!({ "value": value }))
            .await;
        assert_eq!(reply.result, Some(json!(value)));
        assert_eq!(
            viewer.replica()["setpoint"],
            json!(value),
            "the ack of step {step} came before its patch"
        );
        assert!(viewer.version() >= reply.version);
    }
    assert_follows(&viewer, &primary).await;
    assert_eq!(primary.read().setpoint, 7.5);
}

#[tokio::test]
async fn the_primarys_errors_and_the_viewers_identity_reach_the_viewer() {
    let nats = NatsServer::start();
    let (_primary, _publisher, _commands) = serving_primary(&nats).await;
    let relay = RelayServer::start(&nats).await;
    let viewer = relay.viewer().await;

    viewer
        .expect_error("nope", json!({}), "unknown_command")
        .await;
    viewer
        .expect_error("set_setpoint", json!({"value": "high"}), "invalid_params")
        .await;
    // The patch names the viewer's connection to the relay as its origin.
    viewer.command("set_setpoint", json!({"value": 1.0})).await;
    let patch = viewer.next_patch().await;
    assert_eq!(patch.origin_client_id, viewer.client().client_id());
    assert_eq!(patch.command.as_deref(), Some("set_setpoint"));
}

#[tokio::test]
async fn the_principal_goes_with_the_command_and_the_primary_checks_it() {
    let nats = NatsServer::start();
    let (primary, _publisher, _commands) = serving_primary(&nats).await;
    let relay = RelayServer::start(&nats).await;
    let source = relay.relay.source();
    let params = || {
        let mut params = Map::new();
        params.insert("value".into(), json!(3.0));
        params
    };
    let ctx = |capabilities: &[&str]| {
        CommandContext::new("viewer-1", Some("r1".into()), "set_setpoint")
            .with_principal(Principal::new("someone", capabilities.iter().copied()))
    };

    let refused = within(source.dispatch(ctx(&["read_state"]), params()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "forbidden");
    assert_eq!(primary.read().setpoint, 0.0);
    let ran = within(source.dispatch(ctx(&["read_state", "control"]), params())).await;
    assert_eq!(ran, Ok(Some(json!(3.0))));
    assert_eq!(primary.read().setpoint, 3.0);
}

#[tokio::test]
async fn without_a_primary_or_nats_a_command_fails_unavailable_without_hanging() {
    let nats = NatsServer::start();
    let primary = primary();
    let publisher = publish(&nats, &primary).await;
    let timeout = Duration::from_millis(800);
    let relay = RelayServer::with_timeout(&nats, timeout).await;
    let viewer = relay.viewer().await;

    // No primary answers commands: NATS says so at once.
    let failure = viewer
        .expect_error("set_setpoint", json!({"value": 1.0}), "unavailable")
        .await;
    assert!(
        failure.message.contains("no primary answers"),
        "{}",
        failure.message
    );

    // NATS itself is gone: the relay gives up after its time-out.
    drop(publisher);
    drop(nats);
    let started = Instant::now();
    let failure = viewer
        .expect_error("set_setpoint", json!({"value": 1.0}), "unavailable")
        .await;
    assert!(
        failure.message.contains("cannot be reached"),
        "{}",
        failure.message
    );
    assert!(
        started.elapsed() < timeout + Duration::from_secs(2),
        "answered after {:?}",
        started.elapsed()
    );
}
