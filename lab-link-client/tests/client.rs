//! The client against a real server: the replica follows mutations,
//! commands are answered after their patches, errors and timeouts, gap
//! detection against a fake server, and reconnecting after a restart.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use lab_link::{command, CommandError, LabSync, Reactive, Routes, Server};
use lab_link_client::{Client, ClientError, Event};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// The longest any step may take before the test fails instead of hanging.
const TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Reactive, Serialize, Clone, Debug, Default)]
struct State {
    count: u64,
    log: Vec<String>,
}

/// Add `by` to the count in two commits, then return the count.
#[command]
async fn bump(sync: LabSync<State>, by: u64) -> Result<u64, CommandError> {
    let count = sync.try_mutate(|s| {
        let count = s.count + by;
        s.set_count(count)?;
        Ok(count)
    })?;
    tokio::task::yield_now().await;
    sync.try_mutate(|s| s.log().push(format!("bumped to {count}")))?;
    Ok(count)
}

/// Fails like hardware does.
#[command]
fn fail() -> Result<(), CommandError> {
    Err(
        CommandError::new("hardware_timeout", "The source did not respond.")
            .detail("UDP timeout after 5.0 s"),
    )
}

/// Sleeps longer than the client waits.
#[command]
async fn slow() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}

fn state(count: u64) -> State {
    State {
        count,
        log: Vec::new(),
    }
}

struct TestServer {
    sync: LabSync<State>,
    addr: SocketAddr,
    routes: Routes,
    running: JoinHandle<()>,
}

impl TestServer {
    async fn start(sync: LabSync<State>, addr: &str) -> Self {
        sync.command(bump).command(fail).command(slow);
        let server = within("bind", Server::builder().bind(sync.clone(), addr))
            .await
            .expect("bind");
        Self {
            sync,
            addr: server.local_addr(),
            routes: server.routes().clone(),
            running: tokio::spawn(server.run()),
        }
    }

    fn url(&self) -> String {
        format!("ws://{}/sync/ws", self.addr)
    }

    fn document(&self) -> Value {
        serde_json::from_str(self.sync.snapshot().document_json()).expect("JSON")
    }

    async fn stop(self) {
        self.routes.shutdown();
        within("the server stops", self.running)
            .await
            .expect("the server task");
    }
}

/// Awaits `future`, failing the test after [`TIMEOUT`].
async fn within<F: Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(TIMEOUT, future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {TIMEOUT:?}: {what}"),
    }
}

/// Waits until `condition` holds, checking every 10 ms.
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    within(what, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replica_follows_mutations() {
    let server = TestServer::start(LabSync::new(state(3)), "127.0.0.1:0").await;
    let client = within("connect", Client::connect(&server.url()))
        .await
        .expect("connect");
    assert_eq!(client.replica(), server.document());
    assert!(client.client_id().is_some());
    let mut events = client.subscribe();

    for i in 0..20 {
        server.sync.mutate(|s| {
            s.set_count(i).expect("a u64");
            s.log().push(format!("entry {i}")).expect("a push");
        });
    }
    let version = server.sync.version();
    eventually("the replica catches up", || client.version() == version).await;
    assert_eq!(client.replica(), server.document());
    assert_eq!(client.resyncs(), 0);

    let first = within("an event", events.recv()).await.expect("an event");
    let Event::Patch {
        version,
        request_id,
        ..
    } = first
    else {
        panic!("expected a patch, got {first:?}")
    };
    assert_eq!((version, request_id), (1, None));

    client.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ack_comes_after_the_commands_patches() {
    let server = TestServer::start(LabSync::new(state(0)), "127.0.0.1:0").await;
    let client = within("connect", Client::connect(&server.url()))
        .await
        .expect("connect");
    let mut events = client.subscribe();

    for round in 1..=5_u64 {
        let reply = within("bump", client.command("bump", json!({"by": 2})))
            .await
            .expect("an ack");
        assert_eq!(reply.result, Some(json!(round * 2)));
        assert_eq!(reply.version, round * 2);
        // Already applied: no waiting.
        assert_eq!(client.version(), reply.version);
        assert_eq!(client.replica()["count"], json!(round * 2));
        assert_eq!(client.replica(), server.document());
    }
    // The patches name this client and the command.
    let event = within("an event", events.recv()).await.expect("an event");
    let Event::Patch {
        command,
        origin_client_id,
        request_id,
        ..
    } = event
    else {
        panic!("expected a patch, got {event:?}")
    };
    assert_eq!(command.as_deref(), Some("bump"));
    assert_eq!(origin_client_id, client.client_id());
    assert!(request_id.is_some());

    client.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_errors_pass_through() {
    let server = TestServer::start(LabSync::new(state(0)), "127.0.0.1:0").await;
    let client = within("connect", Client::connect(&server.url()))
        .await
        .expect("connect");

    let error = within("fail", client.command("fail", Value::Null))
        .await
        .unwrap_err();
    assert!(error.is_command(), "{error}");
    let failure = error.command_failure().expect("a command_error");
    assert_eq!(failure.code, "hardware_timeout");
    assert_eq!(failure.message, "The source did not respond.");
    assert_eq!(failure.detail.as_deref(), Some("UDP timeout after 5.0 s"));
    assert_eq!(failure.severity, "error");
    assert_eq!(failure.display, "toast");
    assert!(failure.recoverable);
    assert_eq!(failure.path, None);

    let error = within("bad params", client.command("bump", json!({"by": "x"})))
        .await
        .unwrap_err();
    let failure = error.command_failure().expect("a command_error");
    assert_eq!(
        (failure.code.as_str(), failure.path.as_deref()),
        ("invalid_params", Some("/by"))
    );

    let error = within("unknown", client.command("nope", json!({})))
        .await
        .unwrap_err();
    assert_eq!(error.command_failure().unwrap().code, "unknown_command");
    assert!(!error.command_failure().unwrap().recoverable);

    client.close().await;
    assert!(within("closed", client.command("bump", json!({"by": 1})))
        .await
        .unwrap_err()
        .is_closed());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_command_times_out() {
    let server = TestServer::start(LabSync::new(state(0)), "127.0.0.1:0").await;
    let client = within(
        "connect",
        Client::builder()
            .command_timeout(Duration::from_millis(200))
            .connect(&server.url()),
    )
    .await
    .expect("connect");

    let error = within("slow", client.command("slow", json!({})))
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert!(matches!(error, ClientError::Timeout(_)));

    client.close().await;
    server.stop().await;
}

/// A fake server: snapshot v0, patch v1, then patch v3 (v2 is missing);
/// it answers the resync with a snapshot v3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_gap_is_resynchronised() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("an address");
    let fake = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let mut ws = tokio_tungstenite::accept_async(stream)
            .await
            .expect("handshake");
        let send = |value: Value| Message::Text(value.to_string().into());
        ws.send(send(json!({"type": "snapshot", "data": {"n": 0, "items": []}, "version": 0, "clientId": "c1"})))
            .await
            .expect("send");
        ws.send(send(json!({"type": "patch", "patch": [{"op": "replace", "path": "/n", "value": 1}], "version": 1})))
            .await
            .expect("send");
        ws.send(send(json!({"type": "patch", "patch": [{"op": "add", "path": "/items/-", "value": "x"}], "version": 3})))
            .await
            .expect("send");
        // Read until the resync request.
        let mut received = Vec::new();
        loop {
            let message = ws.next().await.expect("the client stays").expect("a frame");
            if let Message::Text(text) = message {
                let value: Value = serde_json::from_str(text.as_str()).expect("JSON");
                let is_resync = value == json!({"type": "resync"});
                received.push(value);
                if is_resync {
                    break;
                }
            }
        }
        // A patch in flight before the snapshot is discarded.
        ws.send(send(json!({"type": "patch", "patch": [{"op": "replace", "path": "/n", "value": 99}], "version": 4})))
            .await
            .expect("send");
        ws.send(send(json!({"type": "snapshot", "data": {"n": 3, "items": ["a", "b"]}, "version": 3, "clientId": "c1"})))
            .await
            .expect("send");
        ws.send(send(json!({"type": "patch", "patch": [{"op": "add", "path": "/items/-", "value": "c"}], "version": 4})))
            .await
            .expect("send");
        // Keep the socket open until the client closes.
        while let Some(Ok(message)) = ws.next().await {
            if let Message::Close(_) = message {
                break;
            }
        }
        received
    });

    let client = within(
        "connect",
        Client::builder()
            .reconnect(false)
            .connect(&format!("ws://{addr}/sync/ws")),
    )
    .await
    .expect("connect");
    eventually("the resynchronised replica", || client.version() == 4).await;
    assert_eq!(client.replica(), json!({"n": 3, "items": ["a", "b", "c"]}));
    assert_eq!(client.resyncs(), 1);

    client.close().await;
    let received = within("the fake server ends", fake)
        .await
        .expect("no panic");
    assert_eq!(received, vec![json!({"type": "resync"})]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_reconnects_after_a_restart() {
    let first = TestServer::start(LabSync::new(state(0)), "127.0.0.1:0").await;
    let addr = first.addr;
    let client = within("connect", Client::connect(&first.url()))
        .await
        .expect("connect");
    let mut events = client.subscribe();
    within("bump", client.command("bump", json!({"by": 5})))
        .await
        .expect("an ack");
    assert_eq!(client.version(), 2);
    let old_id = client.client_id();

    first.stop().await;
    // While the server is away, commands fail at once.
    let error = within(
        "a command while disconnected",
        client.command("bump", json!({"by": 1})),
    )
    .await
    .unwrap_err();
    assert!(error.is_disconnected(), "{error}");

    // The new server, on the same port, starts over at version 0 with
    // another state: resuming from version 2 is impossible, so it sends a
    // snapshot.
    let second = TestServer::start(LabSync::new(state(42)), &addr.to_string()).await;
    eventually("the replica equals the new state", || {
        client.replica() == second.document()
    })
    .await;
    assert_eq!(client.version(), 0);
    assert_ne!(client.client_id(), old_id);

    // Events: the patches, then a snapshot after the reconnect.
    let mut saw_snapshot = false;
    while let Ok(event) = events.try_recv() {
        saw_snapshot |= matches!(event, Event::Snapshot { version: 0 });
        assert_ne!(event, Event::Closed);
    }
    assert!(saw_snapshot);

    // And it works as before.
    let reply = within("bump", client.command("bump", json!({"by": 1})))
        .await
        .expect("an ack");
    assert_eq!(reply.result, Some(json!(43)));
    assert_eq!(client.replica(), second.document());

    client.close().await;
    second.stop().await;
}

/// Binary replace-stream frames reach subscribers decoded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_stream_frames_arrive_decoded() {
    let sync = LabSync::new(State::default());
    let trace = sync.replace_stream_f32("trace");
    let server = Server::builder()
        .bind(sync.clone(), "127.0.0.1:0")
        .await
        .unwrap();
    let addr = server.local_addr();
    let routes = server.routes().clone();
    tokio::spawn(server.run());
    let client = Client::connect(&format!("ws://{addr}/sync/ws"))
        .await
        .unwrap();
    let mut events = client.subscribe();
    trace.replace([0.5_f32, -1.25]);
    let frame = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(Event::StreamFrame { id, seq, samples }) = events.recv().await {
                return (id, seq, samples);
            }
        }
    })
    .await
    .expect("a frame in time");
    assert_eq!(frame, ("trace".to_owned(), 1, vec![0.5, -1.25]));
    routes.shutdown();
}
