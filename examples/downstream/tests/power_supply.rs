//! Integration tests of the power supply over a real socket, the way a
//! user tests an instrument server: start a `TestServer`, connect
//! `TestClient`s, send commands, look at the replicas, and finish with the
//! two assertions every test can end with.
//!
//! Every test runs its own server on an ephemeral 127.0.0.1 port, so the
//! tests run in parallel without sharing anything.

use downstream::{power_supply, MAX_SETPOINT_V, VOLTAGE_LIMIT_V};
use lab_link_testkit::{assert_consistent, assert_oracle, TestServer};
use serde_json::json;

/// A command's effect is in the replica when the command returns: the
/// server sends the patches before the ack.
#[tokio::test]
async fn a_command_updates_the_replica() {
    let server = TestServer::start(power_supply()).await;
    let client = server.client().await;
    assert_eq!(
        client.replica(),
        json!({
            "output_enabled": false,
            "setpoint_v": 0.0,
            "mode": "constant_voltage",
            "current_limit_a": null,
            "voltage_limit_v": VOLTAGE_LIMIT_V,
        })
    );

    let reply = client.command("set_setpoint", json!({"value": 12.5})).await;
    assert_eq!(reply.result, Some(json!(12.5)));
    assert_eq!(client.replica()["setpoint_v"], json!(12.5));

    // The patch event tells which command caused it.
    let patch = client.next_patch().await;
    assert_eq!(patch.command.as_deref(), Some("set_setpoint"));
    assert_eq!(patch.version, reply.version);

    client
        .command("enable_output", json!({"enabled": true}))
        .await;
    assert_eq!(client.replica()["output_enabled"], json!(true));

    // The typed state on the server agrees, too.
    assert!(server.sync().read().output_enabled);
    assert_consistent(&client, &server).await;
    assert_oracle(server.sync());
    server.shutdown().await;
}

/// A refused value is a structured error for the client, and nothing
/// changes: no patch, no new version.
#[tokio::test]
async fn an_out_of_range_setpoint_is_refused_and_changes_nothing() {
    let server = TestServer::start(power_supply()).await;
    let client = server.client().await;
    client.command("set_setpoint", json!({"value": 5.0})).await;
    let (before, version) = (client.replica(), client.version());

    let failure = client
        .expect_error(
            "set_setpoint",
            json!({"value": MAX_SETPOINT_V + 1.0}),
            "invalid_value",
        )
        .await;
    // The error points at the field, so a GUI can show it inline.
    assert_eq!(failure.path.as_deref(), Some("/setpoint_v"));

    assert_eq!(client.replica(), before);
    assert_eq!(client.version(), version);
    assert_eq!(server.sync().version(), version);
    assert_consistent(&client, &server).await;
    assert_oracle(server.sync());
}

/// A parameter of the wrong type never reaches the function: the schema
/// check answers `invalid_params`.
#[tokio::test]
async fn a_malformed_command_is_invalid_params() {
    let server = TestServer::start(power_supply()).await;
    let client = server.client().await;
    client
        .expect_error("enable_output", json!({"enabled": "yes"}), "invalid_params")
        .await;
    assert_oracle(server.sync());
}

/// Two clients see the same state: one commands, the other follows.
#[tokio::test]
async fn two_clients_agree() {
    let server = TestServer::start(power_supply()).await;
    let operator = server.client().await;
    let viewer = server.client().await;

    operator
        .command("set_setpoint", json!({"value": 3.3}))
        .await;
    operator
        .command("enable_output", json!({"enabled": true}))
        .await;

    // The viewer gets the patches a little later: wait for them.
    let replica = viewer
        .wait_for(|r| r["output_enabled"] == json!(true))
        .await;
    assert_eq!(replica["setpoint_v"], json!(3.3));

    // Both replicas equal the server's document, and neither client had
    // to resynchronise.
    assert_consistent(&operator, &server).await;
    assert_consistent(&viewer, &server).await;
    assert_oracle(server.sync());
    server.shutdown().await;
}

/// A change made by the server itself (a front-panel knob, an updater)
/// reaches the clients like a command's.
#[tokio::test]
async fn a_server_side_change_reaches_the_clients() {
    let server = TestServer::start(power_supply()).await;
    let client = server.client().await;
    server
        .sync()
        .try_mutate(|s| s.set_setpoint_v(1.8))
        .expect("in range");
    let patch = client.next_patch().await;
    assert_eq!(patch.command, None);
    assert_eq!(client.replica()["setpoint_v"], json!(1.8));
    assert_consistent(&client, &server).await;
}

/// A setpoint within the supply's range but above the protection's limit
/// is the application's own refusal, at the same path, and the mode and
/// the optional current limit are set by one command.
#[tokio::test]
async fn the_limit_and_the_mode_are_the_servers_to_check() {
    let server = TestServer::start(power_supply()).await;
    let client = server.client().await;
    let failure = client
        .expect_error("set_setpoint", json!({"value": 25.0}), "above_limit")
        .await;
    assert_eq!(failure.path.as_deref(), Some("/setpoint_v"));
    assert_eq!(
        failure.message,
        "25 V is above the over-voltage limit of 24 V"
    );

    let reply = client
        .command("configure", json!({"mode": "constant_current"}))
        .await;
    assert_eq!(reply.result, Some(json!("constant_current")));
    assert_eq!(client.replica()["current_limit_a"], json!(null));
    client
        .command(
            "configure",
            json!({"mode": "constant_voltage", "current_limit_a": 1.5}),
        )
        .await;
    assert_eq!(client.replica()["mode"], json!("constant_voltage"));
    assert_eq!(client.replica()["current_limit_a"], json!(1.5));
    client
        .expect_error(
            "configure",
            json!({"mode": "constant_voltage", "current_limit_a": 9.0}),
            "invalid_params",
        )
        .await;
    assert_oracle(server.sync());
    server.shutdown().await;
}
