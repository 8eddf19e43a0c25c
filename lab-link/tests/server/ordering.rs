//! Level 1 over real sockets: the snapshot and the state endpoint agree,
//! patches arrive in order with no gap for every client, also under
//! concurrent writers and for clients joining while patches are produced.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lab_link::{MutationError, ServerConfig};
use serde_json::{json, Value};

use crate::client::{bump, http, initial, within, Channel, Client, TestServer, MAX_STEPS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_then_patches_and_the_state_endpoint() {
    let server = TestServer::start(ServerConfig::default()).await;
    let document = server.document().await;
    assert_eq!(document, serde_json::to_value(initial()).unwrap());

    let mut client = server.connect().await;
    let snapshot = client.recv().await;
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["version"], 0);
    assert_eq!(snapshot["data"], document);
    let client_id = snapshot["clientId"].as_str().expect("a clientId");
    assert!(!client_id.is_empty());

    server.sync.try_mutate(|s| s.set_enabled(true)).unwrap();
    server
        .sync
        .try_mutate(|s| {
            s.channels().push(Channel {
                bias_voltage: 1.25,
                active: true,
            })?;
            s.labels().insert("b".into(), "2".into())?;
            Ok::<_, MutationError>(())
        })
        .unwrap();
    bump(&server.sync);

    let first = client.next_text().await;
    assert_eq!(
        first,
        r#"{"type":"patch","patch":[{"op":"replace","path":"/enabled","value":true}],"version":1}"#
    );
    client.apply(&serde_json::from_str(&first).unwrap());
    let second = client.recv().await;
    assert_eq!(
        second["patch"],
        json!([
            {"op": "add", "path": "/channels/1", "value": {"bias_voltage": 1.25, "active": true}},
            {"op": "add", "path": "/labels/b", "value": "2"},
        ])
    );
    assert_eq!(client.recv().await["version"], 3);
    let document = server.document().await;
    assert_eq!(client.replica(), &document);
    assert_eq!(document["count"], 1);

    // A later client starts from the current document, with its own id.
    let mut late = server.connect().await;
    let snapshot = late.recv().await;
    assert_eq!(snapshot["version"], 3);
    assert_eq!(snapshot["data"], document);
    assert_ne!(snapshot["clientId"], client_id);

    // `/` is the generated panel (the server has no fallback); the
    // rest outside the endpoints is not found.
    let panel = http(server.addr, "GET", "/").await;
    assert_eq!(panel.status, 200);
    assert!(
        String::from_utf8_lossy(&panel.body).contains("<html"),
        "the panel's page"
    );
    for path in ["/sync", "/sync/", "/sync/nope", "/sync/state/x", "/other"] {
        assert_eq!(http(server.addr, "GET", path).await.status, 404, "{path}");
    }
    let post = http(server.addr, "POST", "/sync/state").await;
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    // A plain GET of the socket's path is not an upgrade.
    assert_eq!(http(server.addr, "GET", "/sync/ws").await.status, 400);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_get_byte_identical_patches() {
    let server = TestServer::start(ServerConfig::default()).await;
    let mut first = server.joined().await;
    let mut second = server.joined().await;
    for i in 0..20_u32 {
        server
            .sync
            .try_mutate(|s| match i % 4 {
                0 => s.channels().push(Channel::default()),
                1 => s.labels().insert(format!("k{i}"), i.to_string()).map(drop),
                2 => s.channels().at(0)?.set_bias_voltage(f64::from(i) / 8.0),
                _ => s.set_count(u64::from(i)),
            })
            .unwrap();
    }
    for version in 1..=20 {
        let text = first.next_text().await;
        assert_eq!(second.next_text().await, text);
        let message: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(message["version"], version);
        first.apply(&message);
    }
    assert_eq!(first.replica(), &server.document().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_are_gap_free_under_concurrent_writers() {
    const WRITERS: u64 = 8;
    const MUTATIONS: u64 = 40;
    // A queue deep enough for every message: no client may fall behind,
    // so each sees every version.
    let server = TestServer::start(ServerConfig::default().queue_depth(1024)).await;
    let mut readers = Vec::new();
    for _ in 0..3 {
        let mut client = server.joined().await;
        readers.push(tokio::spawn(async move {
            client.sync_to(WRITERS * MUTATIONS).await;
            client
        }));
    }
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let sync = server.sync.clone();
            tokio::task::spawn_blocking(move || {
                for i in 0..MUTATIONS {
                    sync.try_mutate(|s| {
                        let next = s.count + 1;
                        s.set_count(next)?;
                        match i % 3 {
                            0 => s.labels().insert(format!("w{w}"), i.to_string()).map(drop),
                            1 => s.channels().push(Channel {
                                bias_voltage: 0.5,
                                active: w % 2 == 0,
                            }),
                            _ => {
                                let enabled = s.enabled;
                                s.set_enabled(!enabled)
                            }
                        }
                    })
                    .unwrap();
                    std::thread::yield_now();
                }
            })
        })
        .collect();
    for writer in writers {
        within("a writer", writer).await.unwrap();
    }
    assert_eq!(server.sync.version(), WRITERS * MUTATIONS);
    let document = server.document().await;
    assert_eq!(document["count"], WRITERS * MUTATIONS);
    for reader in readers {
        let client = within("a reader", reader).await.unwrap();
        assert_eq!(client.version, WRITERS * MUTATIONS);
        assert_eq!(client.snapshots, 1);
        assert_eq!(client.replica(), &document);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_joining_during_churn_get_the_snapshot_then_the_next_version() {
    const WAVES: usize = 4;
    const PER_WAVE: usize = 10;
    let server = TestServer::start(ServerConfig::default()).await;
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let sync = server.sync.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            for i in 0..MAX_STEPS {
                if stop.load(Ordering::Acquire) {
                    break;
                }
                sync.try_mutate(|s| {
                    let next = s.count + 1;
                    s.set_count(next)?;
                    // Adds and removes: a repeated patch would corrupt the
                    // replica, not only rewrite a value.
                    if i % 2 == 0 {
                        s.channels().push(Channel::default())
                    } else {
                        s.channels().remove(0).map(drop)
                    }
                })
                .unwrap();
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };

    let (joined_tx, mut joined_rx) = tokio::sync::mpsc::channel(WAVES * PER_WAVE);
    let mut clients = Vec::new();
    let mut snapshot_versions = Vec::new();
    for _ in 0..WAVES {
        for _ in 0..PER_WAVE {
            let addr = server.addr;
            let joined = joined_tx.clone();
            clients.push(tokio::spawn(async move {
                let mut client = Client::connect(addr, "").await;
                let snapshot = client.recv().await;
                assert_eq!(snapshot["type"], "snapshot");
                let start = client.version;
                let next = client.recv().await;
                assert_eq!(next["type"], "patch", "{next}");
                assert_eq!(next["version"], start + 1, "snapshot v{start} then {next}");
                joined.send(start).await.unwrap();
                client
                    .recv_until(|replica| replica["enabled"] == true)
                    .await;
                client
            }));
        }
        for _ in 0..PER_WAVE {
            let version = within("a client joins", joined_rx.recv()).await.unwrap();
            snapshot_versions.push(version);
        }
        // The next wave joins at a later version.
        let before = server.sync.version();
        within("the producer goes on", async {
            while server.sync.version() <= before {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
    }
    stop.store(true, Ordering::Release);
    within("the producer stops", producer).await.unwrap();
    server.sync.try_mutate(|s| s.set_enabled(true)).unwrap();
    let document = server.document().await;
    for client in clients {
        let client = within("a client catches up", client).await.unwrap();
        assert_eq!(client.version, server.sync.version());
        assert_eq!(client.replica(), &document);
    }
    snapshot_versions.sort_unstable();
    snapshot_versions.dedup();
    assert!(
        snapshot_versions.len() >= WAVES,
        "the clients joined at versions {snapshot_versions:?}"
    );
}
