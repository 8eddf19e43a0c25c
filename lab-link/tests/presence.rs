//! Presence over real sockets: the list and its deltas in order with
//! three clients, the state version untouched, labels from the server's
//! principal only (a forged `hello` changes nothing but its own kind and
//! name), sanitised `hello` strings, and nothing new for level-1 clients
//! or for principals without `read_state`.

use std::time::Duration;

#[path = "support/raw.rs"]
#[allow(dead_code)] // `get` is not needed here
mod raw;

use lab_link::auth::{Auth, AuthConfig};
use lab_link::{LabSync, ServerConfig};
use lab_link_client::{Client, PresenceEntry};
use lab_link_testkit::{TestClient, TestServer};
use raw::{next, send};
use serde_json::{json, Value};

#[path = "support/value.rs"]
mod value;

use value::{set_value, State};

async fn start(config: ServerConfig) -> TestServer<State> {
    let sync = LabSync::new(State::default());
    sync.command(set_value);
    TestServer::start_with(sync, config.presence(true)).await
}

/// The presence message's type and the `clientId` it is about.
fn about(message: &Value) -> (String, String) {
    let kind = message["type"].as_str().unwrap_or_default().to_owned();
    let client_id = match kind.as_str() {
        "presence_left" => &message["clientId"],
        _ => &message["client"]["clientId"],
    };
    (kind, client_id.as_str().unwrap_or_default().to_owned())
}

/// The presence entry of `client_id` as `watcher` sees it, once `ready`
/// holds for it.
async fn entry_once(
    watcher: &TestClient,
    client_id: &str,
    ready: impl Fn(&PresenceEntry) -> bool,
) -> PresenceEntry {
    let presence = watcher
        .wait_for_presence(|p| {
            p.clients
                .iter()
                .any(|c| c.client_id == client_id && ready(c))
        })
        .await;
    presence
        .clients
        .into_iter()
        .find(|c| c.client_id == client_id)
        .unwrap()
}

/// Commits a change on the server and waits for `client` to see it: any
/// presence message sent before the change has arrived by then.
async fn barrier(server: &TestServer<State>, client: &TestClient, value: i64) {
    server.sync().try_mutate(|s| s.set_value(value)).unwrap();
    client.wait_for(|replica| replica["value"] == value).await;
}

#[tokio::test]
async fn three_clients_see_joins_commands_and_leaves_in_order() {
    let server = start(ServerConfig::default()).await;
    let a = server.client_level2().await;
    let a_id = a.client().client_id().unwrap();
    // Its own list, then its own hello.
    let list = a.next_presence().await;
    assert_eq!(list["type"], "presence");
    assert_eq!(list["lock"], Value::Null);
    assert_eq!(list["clients"][0]["clientId"], a_id.as_str());
    assert_eq!(list["clients"][0]["principal"], "local");
    let hello = a.next_presence().await;
    assert_eq!(about(&hello), ("presence_updated".into(), a_id.clone()));
    assert_eq!(hello["client"]["kind"], "rust");

    let b = server.client_level2().await;
    let b_id = b.client().client_id().unwrap();
    let c = server.client().await; // level 1
    let c_id = c.client().client_id().unwrap();
    b.command("set_value", json!({"value": 1})).await;
    c.client().close().await;

    let expected = [
        ("presence_joined", &b_id),
        ("presence_updated", &b_id), // its hello
        ("presence_joined", &c_id),
        ("presence_updated", &b_id), // its command
        ("presence_left", &c_id),
    ];
    for (kind, client_id) in expected {
        let message = a.next_presence().await;
        assert_eq!(
            about(&message),
            (kind.to_owned(), client_id.clone()),
            "{message}"
        );
        if kind == "presence_joined" {
            assert!(message["client"]["connectedAt"].as_u64().unwrap() > 0);
        }
    }
    let presence = a.presence();
    let ids: Vec<&str> = presence
        .clients
        .iter()
        .map(|c| c.client_id.as_str())
        .collect();
    assert_eq!(ids, [a_id.as_str(), b_id.as_str()]);
    assert!(presence.clients[1].last_command_at.is_some());
    assert_eq!(presence.clients[0].last_command_at, None);
    // B's list held A and B (C joined after).
    b.wait_for_presence(|p| p.clients.len() == 2).await;

    // Only the command bumped the version: presence is not state.
    assert_eq!(server.sync().version(), 1);
    assert_eq!(a.version(), 1);

    b.client().close().await;
    let left = a.next_presence().await;
    assert_eq!(about(&left), ("presence_left".into(), b_id));
    assert_eq!(server.sync().version(), 1);
}

#[tokio::test]
async fn a_level_one_client_and_a_server_without_presence_send_nothing_new() {
    // A level-1 socket on a server with presence: its snapshot, then only
    // patches, whoever comes and goes.
    let server = start(ServerConfig::default()).await;
    let (mut level1, first) = raw::open(&server.ws_url()).await;
    assert_eq!(first["type"], "snapshot");
    let other = server.client_level2().await;
    other.command("set_value", json!({"value": 3})).await;
    other.client().close().await;
    server.sync().try_mutate(|s| s.set_value(4)).unwrap();
    assert_eq!(next(&mut level1).await["version"], 1);
    assert_eq!(next(&mut level1).await["version"], 2);

    // A level-2 client of a server with presence off: no list, no delta.
    let sync = LabSync::new(State::default());
    sync.command(set_value);
    let server = TestServer::start_with(sync, ServerConfig::default()).await;
    let a = server.client_level2().await;
    let b = server.client_level2().await;
    b.command("set_value", json!({"value": 1})).await;
    a.wait_for(|replica| replica["value"] == 1).await;
    assert_eq!(a.presence(), lab_link_testkit::Presence::default());
}

#[tokio::test]
async fn labels_come_from_the_principal_and_hello_strings_are_sanitised() {
    let auth = Auth::new(
        AuthConfig::new()
            .trust_loopback(false)
            .revalidate_interval(Duration::from_secs(3600)),
    )
    .unwrap();
    let alice = auth
        .create_token("alice", ["read_state", "control"], None)
        .unwrap();
    let blind = auth.create_token("blind", ["control"], None).unwrap();
    let server = start(ServerConfig::default().auth(auth.clone())).await;
    let connect = |token: String, kind: &'static str, name: &'static str| {
        let url = server.ws_url();
        async move {
            let client = Client::builder()
                .bearer_token(token)
                .level2(true)
                .describe(kind, name)
                .connect(&url)
                .await
                .unwrap();
            TestClient::from_client(client)
        }
    };
    // Alice's hello claims to be "bob", in the name and in a made-up field.
    let watcher = connect(alice.token.clone(), "browser", "watcher").await;
    let forger = connect(alice.token.clone(), "browser", "bob").await;
    let forger_id = forger.client().client_id().unwrap();
    let entry = entry_once(&watcher, &forger_id, |c| c.name.is_some()).await;
    assert_eq!(entry.principal, "alice");
    assert_eq!(entry.name.as_deref(), Some("bob"));

    // A raw hello with a forged principal, control characters and spaces.
    let bearer = format!("Bearer {}", alice.token);
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "{}?level=2",
            server.ws_url()
        ))
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", bearer.parse().unwrap());
    let (mut raw_socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let snapshot = next(&mut raw_socket).await;
    let raw_id = snapshot["clientId"].as_str().unwrap().to_owned();
    send(
        &mut raw_socket,
        json!({"type": "hello", "level": 2, "principal": "bob",
               "client": {"kind": " py\u{7}thon ", "name": "x\u{1b}[31m", "principal": "bob"}}),
    )
    .await;
    let entry = entry_once(&watcher, &raw_id, |c| c.kind.is_some()).await;
    assert_eq!(
        (
            entry.principal.as_str(),
            entry.kind.as_deref(),
            entry.name.as_deref()
        ),
        ("alice", Some("python"), Some("x[31m"))
    );

    // A principal without read_state gets no presence at all.
    let unseeing = connect(blind.token.clone(), "script", "blind").await;
    let _ = connect(alice.token.clone(), "browser", "late").await;
    barrier(&server, &unseeing, 9).await;
    assert_eq!(unseeing.presence(), lab_link_testkit::Presence::default());
}

#[tokio::test]
async fn an_overlong_hello_is_refused_with_the_connection_open() {
    let server = start(ServerConfig::default()).await;
    let watcher = server.client_level2().await;
    let (mut socket, snapshot) = raw::open(&server.ws_url()).await;
    let id = snapshot["clientId"].as_str().unwrap().to_owned();
    send(
        &mut socket,
        json!({"type": "hello", "level": 2, "client": {"kind": "k".repeat(33)}}),
    )
    .await;
    let error = next(&mut socket).await;
    assert_eq!(error["code"], "bad_message", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("client.kind"),
        "{error}"
    );
    barrier(&server, &watcher, 5).await;
    let entry = watcher
        .presence()
        .clients
        .into_iter()
        .find(|c| c.client_id == id)
        .unwrap();
    assert_eq!(entry.kind, None);
}
