//! The control lock over real sockets: `claim_control` needs `control`;
//! while one principal holds the lock another's commands needing
//! `control` are answered `locked` (naming the holder) while read-only
//! commands run and the holder's other connections go on; the lock shows
//! in presence; `manage_access` breaks it; it ends on revocation, on the
//! holding connection's leaving (without access control) and after the
//! idle timeout; the built-in names are reserved.

use std::time::Duration;

use lab_link::auth::{Auth, AuthConfig};
use lab_link::{command, LabSync, ServerConfig};
use lab_link_client::Client;
use lab_link_testkit::{TestClient, TestServer};
use serde_json::json;

#[path = "support/value.rs"]
mod value;

use value::{set_value, State};

/// Reads nothing, changes nothing: any principal.
#[command(requires = [])]
fn ping() -> &'static str {
    "pong"
}

/// Takes a built-in command's name.
#[command]
fn claim_control() {}

async fn start(config: ServerConfig) -> TestServer<State> {
    let sync = LabSync::new(State::default());
    sync.command(set_value).command(ping);
    TestServer::start_with(sync, config.presence(true).control_lock(true)).await
}

async fn with_token(server: &TestServer<State>, token: &str) -> TestClient {
    let client = Client::builder()
        .bearer_token(token)
        .level2(true)
        .connect(&server.ws_url())
        .await
        .unwrap();
    TestClient::from_client(client)
}

#[tokio::test]
async fn a_lock_refuses_others_lets_reads_through_and_ends_on_revocation() {
    let auth = Auth::new(
        AuthConfig::new()
            .trust_loopback(false)
            .revalidate_interval(Duration::from_secs(3600)),
    )
    .unwrap();
    let token = |label: &str, capabilities: &[&str]| {
        auth.create_token(label, capabilities.iter().copied(), None)
            .unwrap()
    };
    let alice = token("alice", &["read_state", "control"]);
    let bob = token("bob", &["read_state", "control"]);
    let viewer = token("viewer", &["read_state"]);
    let admin = token("admin", &["read_state", "control", "manage_access"]);
    let server = start(ServerConfig::default().auth(auth.clone())).await;

    let viewer = with_token(&server, &viewer.token).await;
    viewer
        .expect_error("claim_control", json!({}), "forbidden")
        .await;

    let alice_1 = with_token(&server, &alice.token).await;
    let alice_2 = with_token(&server, &alice.token).await;
    let bob = with_token(&server, &bob.token).await;
    let lock = alice_1.claim_control().await;
    assert_eq!(lock.holder, "alice");

    // Bob is refused, with the holder named; his read goes through.
    let refused = bob
        .expect_error("set_value", json!({"value": 1}), "locked")
        .await;
    assert!(refused.message.contains("\"alice\""), "{refused:?}");
    bob.expect_error("claim_control", json!({}), "locked").await;
    bob.expect_error("release_control", json!({}), "locked")
        .await;
    assert_eq!(
        bob.command("ping", json!({})).await.result,
        Some(json!("pong"))
    );
    // A viewer is still `forbidden`, not `locked`.
    viewer
        .expect_error("set_value", json!({"value": 1}), "forbidden")
        .await;
    // Alice's other connection commands on.
    alice_2.command("set_value", json!({"value": 2})).await;
    let seen = bob.wait_for_presence(|p| p.lock.is_some()).await;
    assert_eq!(
        seen.lock.unwrap().client_id,
        alice_1.client().client_id().unwrap()
    );

    // An administrator breaks it.
    let admin = with_token(&server, &admin.token).await;
    admin.release_control().await;
    bob.wait_for_presence(|p| p.lock.is_none()).await;
    bob.command("set_value", json!({"value": 3})).await;

    // Revoking the holder's token ends the lock.
    alice_1.claim_control().await;
    bob.wait_for_presence(|p| p.lock.is_some()).await;
    bob.expect_error("set_value", json!({"value": 4}), "locked")
        .await;
    assert!(auth.revoke_token(&alice.id));
    bob.wait_for_presence(|p| p.lock.is_none()).await;
    bob.command("set_value", json!({"value": 4})).await;
    assert_eq!(server.sync().version(), 3);
}

#[tokio::test]
async fn without_access_control_the_lock_is_the_connections_and_idles_out() {
    let server = start(ServerConfig::default().control_lock_idle(Duration::from_millis(300))).await;
    let a = server.client_level2().await;
    let b = server.client_level2().await;
    let level1 = server.client().await;

    // The built-ins are level 2.
    level1
        .expect_error("claim_control", json!({}), "unknown_command")
        .await;
    a.claim_control().await;
    b.expect_error("set_value", json!({"value": 1}), "locked")
        .await;
    level1
        .expect_error("set_value", json!({"value": 1}), "locked")
        .await;
    // Its holder's commands keep it.
    a.command("set_value", json!({"value": 1})).await;

    // Idle for longer than the timeout: gone at the next command.
    tokio::time::sleep(Duration::from_millis(400)).await;
    b.command("set_value", json!({"value": 2})).await;
    a.wait_for_presence(|p| p.lock.is_none()).await;

    // The holding connection leaves: the lock ends with it.
    b.claim_control().await;
    a.expect_error("set_value", json!({"value": 3}), "locked")
        .await;
    b.client().close().await;
    a.wait_for_presence(|p| p.lock.is_none()).await;
    a.command("set_value", json!({"value": 3})).await;
}

#[test]
fn the_built_in_names_are_reserved() {
    let sync = LabSync::new(State::default());
    let error = sync.try_command(claim_control).unwrap_err();
    assert!(error.to_string().contains("built-in"), "{error}");
}
