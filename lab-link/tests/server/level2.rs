//! Level 2 over real sockets: `resync`, resume with `?since=N`, and the
//! answers to malformed frames, with the server still serving.

use futures_util::SinkExt;
use lab_link::engine::StoreConfig;
use lab_link::{LabSync, ServerConfig};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{bump, initial, within, Channel, Client, State, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resync_is_answered_with_a_fresh_snapshot() {
    let server = TestServer::start(ServerConfig::default()).await;
    let mut client = server.joined().await;
    for _ in 0..3 {
        bump(&server.sync);
    }
    client.sync_to(3).await;
    client.send(r#"{"type":"resync"}"#).await;
    let snapshot = client.recv().await;
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["version"], 3);
    assert_eq!(snapshot["data"], server.document().await);
    assert_eq!(client.snapshots, 2);
    // Patches go on from the fresh snapshot.
    bump(&server.sync);
    assert_eq!(client.recv().await["version"], 4);
    assert_eq!(client.replica(), &server.document().await);
}

/// A server with five patches, a witness client's replica at every version
/// and the text of every patch message.
async fn five_patches(sync: LabSync<State>) -> (TestServer, Vec<Value>, Vec<String>) {
    let server = TestServer::serve(sync, ServerConfig::default()).await;
    let mut witness = server.joined().await;
    let mut replicas = vec![witness.replica().clone()];
    let mut texts = Vec::new();
    for _ in 0..5 {
        server
            .sync
            .try_mutate(|s| s.channels().push(Channel::default()))
            .unwrap();
        let text = witness.next_text().await;
        witness.apply(&serde_json::from_str(&text).unwrap());
        replicas.push(witness.replica().clone());
        texts.push(text);
    }
    (server, replicas, texts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_sends_exactly_the_missed_patches() {
    for since in [0_usize, 2, 5] {
        let (server, replicas, texts) = five_patches(LabSync::new(initial())).await;
        let mut client = Client::connect(server.addr, &format!("?since={since}")).await;
        client.replica = Some(replicas[since].clone());
        client.version = since as u64;
        let resume = client.next_text().await;
        assert_eq!(resume, format!(r#"{{"type":"resume","version":{since}}}"#));
        client.apply(&serde_json::from_str(&resume).unwrap());
        // Exactly the missed messages, byte for byte.
        for text in &texts[since..] {
            let missed = client.next_text().await;
            assert_eq!(&missed, text);
            client.apply(&serde_json::from_str(&missed).unwrap());
        }
        // Then live patches, without a snapshot.
        bump(&server.sync);
        let live = client.recv().await;
        assert_eq!(live["type"], "patch", "{live}");
        assert_eq!(live["version"], 6);
        assert_eq!(client.snapshots, 0);
        assert_eq!(client.replica(), &server.document().await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_beyond_the_log_gets_a_snapshot() {
    let sync = LabSync::with_config(initial(), StoreConfig::default().log_messages(4)).unwrap();
    let (server, replicas, texts) = five_patches(sync).await;
    // The log holds 2..=5: since 1 or later resumes, since 0 does not; a
    // version ahead of the server's, or one that is not a number, gets a
    // snapshot as well.
    for query in ["?since=0", "?since=6", "?since=99", "?since=x", ""] {
        let mut client = Client::connect(server.addr, query).await;
        let snapshot = client.recv().await;
        assert_eq!(snapshot["type"], "snapshot", "{query}: {snapshot}");
        assert_eq!(snapshot["version"], 5, "{query}");
        assert_eq!(client.replica(), &replicas[5], "{query}");
    }
    let mut client = Client::connect(server.addr, "?since=1").await;
    client.replica = Some(replicas[1].clone());
    client.version = 1;
    assert_eq!(client.recv().await, json!({"type": "resume", "version": 1}));
    for text in &texts[1..] {
        assert_eq!(&client.next_text().await, text);
    }

    // A resume longer than the client's queue could hold is a snapshot too.
    let small = TestServer::serve(
        LabSync::new(initial()),
        ServerConfig::default().queue_depth(4),
    )
    .await;
    for _ in 0..5 {
        bump(&small.sync);
    }
    let mut client = Client::connect(small.addr, "?since=2").await;
    assert_eq!(client.recv().await["type"], "snapshot");
    let mut client = Client::connect(small.addr, "?since=3").await;
    assert_eq!(
        client.next_json().await,
        json!({"type": "resume", "version": 3})
    );
}

/// Checks that `client` answered a malformed frame with `bad_message`.
async fn expect_bad_message(client: &mut Client, what: &str) {
    let error = client.next_json().await;
    assert_eq!(error["type"], "error", "{what}: {error}");
    assert_eq!(error["code"], "bad_message", "{what}: {error}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{what}: {error}");
    assert_eq!(error.as_object().unwrap().len(), 3, "{what}: {error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_get_bad_message_and_the_connection_stays_open() {
    let server = TestServer::start(ServerConfig::default()).await;
    let mut offender = server.joined().await;
    let mut bystander = server.joined().await;
    let frames = [
        "not json",
        "{\"type\":",
        "",
        "[1, 2]",
        "\"resync\"",
        "42",
        "null",
        "{}",
        r#"{"type":"hello"}"#,
        r#"{"type":7}"#,
        r#"{"type":"command"}"#,
        r#"{"type":"command","command":1,"requestId":"r1"}"#,
        // (Params that are not an object still make a command, answered
        // `invalid_params`: see server_commands.rs.)
        r#"{"type":"stream_resync"}"#,
        r#"{"type":"stream_resync","id":3}"#,
    ];
    for (i, frame) in frames.iter().enumerate() {
        offender.send(frame).await;
        expect_bad_message(&mut offender, frame).await;
        // The same connection and the others keep getting patches.
        bump(&server.sync);
        let version = i as u64 + 1;
        offender.sync_to(version).await;
        bystander.sync_to(version).await;
    }
    within(
        "send a binary frame",
        offender.ws.send(Message::binary(vec![1, 2, 3])),
    )
    .await
    .unwrap();
    expect_bad_message(&mut offender, "a binary frame").await;
    offender.send(r#"{"type":"resync"}"#).await;
    let snapshot = offender.recv().await;
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(offender.replica(), &server.document().await);
    assert_eq!(bystander.replica(), offender.replica());
    assert_eq!(server.routes.connection_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_closes_with_1009() {
    let server = TestServer::start(ServerConfig::default().max_frame_bytes(1024)).await;
    let mut offender = server.joined().await;
    let mut bystander = server.joined().await;
    // Under the limit: an ordinary malformed frame.
    offender.send(&"x".repeat(1000)).await;
    expect_bad_message(&mut offender, "1000 bytes").await;

    offender.send(&"x".repeat(4096)).await;
    match offender.next_message().await {
        Ok(Some(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Size),
        other => panic!("expected a close frame with 1009, got {other:?}"),
    }
    server.wait_connections(1).await;
    bump(&server.sync);
    assert_eq!(bystander.recv().await["version"], 1);
    let mut newcomer = server.joined().await;
    assert_eq!(newcomer.version, 1);
    bump(&server.sync);
    newcomer.sync_to(2).await;
    bystander.sync_to(2).await;
}
