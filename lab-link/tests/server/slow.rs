//! Clients that do not read: they cost the server at most their queue,
//! never slow the others, and are resynchronised with a fresh snapshot
//! (or dropped, past the write timeout) instead of growing its memory.

use std::time::Duration;

use lab_link::server::ClientStats;
use lab_link::{LabSync, ServerConfig};
use tokio::sync::watch;

use crate::client::{within, Client, State, TestServer, MAX_STEPS};

/// The queue depth of these tests.
const DEPTH: usize = 8;

/// The most big patches a test produces to make a client fall behind:
/// far more than the socket buffers of 127.0.0.1 hold.
const MAX_BIG: usize = 4000;

/// A configuration whose only bound on a client's queue is `DEPTH`
/// messages (the byte bound has tests of its own below).
fn depth_bound() -> ServerConfig {
    ServerConfig::default()
        .queue_depth(DEPTH)
        .queue_bytes(usize::MAX)
}

/// Commits one patch of `kib` KiB (distinct from the others).
fn big_patch(sync: &LabSync<State>, i: usize, kib: usize) {
    let text = format!("{i:08}{}", "x".repeat(kib * 1024));
    sync.try_mutate(|s| s.labels().insert("big".into(), text).map(drop))
        .unwrap();
}

/// Checks the queue bound of every client and returns their stats.
#[track_caller]
fn checked_stats(server: &TestServer) -> Vec<ClientStats> {
    let stats = server.routes.clients();
    for client in &stats {
        assert!(client.queued <= DEPTH, "{client:?}");
        assert!(client.peak_queued <= DEPTH, "{client:?}");
    }
    stats
}

/// Waits until the server has registered `n` sync sockets.
async fn wait_clients(server: &TestServer, n: usize) {
    within("the clients are registered", async {
        while server.routes.clients().len() != n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

/// Produces big patches until the only client has fallen behind and its
/// writer is stuck: its queue stays full while nothing is produced (or it
/// is gone). Returns how many patches that took.
async fn until_stalled(server: &TestServer, kib: usize) -> usize {
    for i in 0..MAX_BIG {
        big_patch(&server.sync, i, kib);
        match checked_stats(server).as_slice() {
            [client] if client.fell_behind == 0 => {}
            [_] => {
                // A writer that is merely busy drains the queue meanwhile.
                tokio::time::sleep(Duration::from_millis(20)).await;
                match checked_stats(server).as_slice() {
                    [client] if client.queued < DEPTH => {}
                    _ => return i + 1,
                }
            }
            _ => return i + 1,
        }
        // Let the writer run.
        tokio::task::yield_now().await;
    }
    panic!("the client never stalled in {MAX_BIG} patches of {kib} KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_does_not_hold_back_the_others() {
    let server = TestServer::start(depth_bound()).await;
    let mut slow = Client::connect(server.addr, "").await;

    let mut healthy = Vec::new();
    let mut healthy_ids = Vec::new();
    for _ in 0..2 {
        let mut client = server.joined().await;
        healthy_ids.push(client.client_id.clone().unwrap());
        let (version, watcher) = watch::channel(client.version);
        let reader = tokio::spawn(async move {
            for _ in 0..MAX_STEPS {
                client.recv().await;
                version.send_replace(client.version);
                if client.replica()["enabled"] == true {
                    break;
                }
            }
            client
        });
        healthy.push((watcher, reader));
    }
    wait_clients(&server, 3).await;

    // The healthy clients read every patch before the next is made; the
    // slow one reads nothing, until it falls behind and 20 patches more.
    let mut behind_at = None;
    for i in 0..MAX_BIG {
        big_patch(&server.sync, i, 16);
        let version = server.sync.version();
        for (watcher, _) in &mut healthy {
            within(
                "a healthy client keeps up",
                watcher.wait_for(|v| *v >= version),
            )
            .await
            .unwrap();
        }
        let stats = checked_stats(&server);
        for client in &stats {
            if healthy_ids.contains(&client.client_id) {
                assert_eq!(client.fell_behind, 0, "{client:?}");
            } else if client.fell_behind > 0 {
                behind_at.get_or_insert(i);
            }
        }
        if behind_at.is_some_and(|at| i >= at + 20) {
            break;
        }
    }
    behind_at.expect("the slow client fell behind");

    server.sync.try_mutate(|s| s.set_enabled(true)).unwrap();
    let last = server.sync.version();
    let document = server.document().await;
    for (_, reader) in healthy {
        let client = within("a healthy client ends", reader).await.unwrap();
        assert_eq!(client.version, last);
        assert_eq!(client.snapshots, 1, "every version, no resync");
        assert_eq!(client.patches as u64, last);
        assert_eq!(client.replica(), &document);
    }

    // The slow client reads at last: what was sent and queued, then a
    // fresh snapshot, then it is current.
    let stats = checked_stats(&server);
    let stalled = stats
        .iter()
        .find(|c| !healthy_ids.contains(&c.client_id))
        .expect("the slow client is still connected");
    assert!(stalled.fell_behind >= 1);
    slow.recv_until(|replica| replica["enabled"] == true).await;
    assert_eq!(slow.client_id.as_ref(), Some(&stalled.client_id));
    assert!(slow.snapshots >= 2, "resynchronised with a fresh snapshot");
    assert_eq!(slow.version, last);
    assert_eq!(slow.replica(), &document);
    // And it gets live patches again.
    server.sync.try_mutate(|s| s.set_count(1)).unwrap();
    assert_eq!(slow.recv().await["version"], last + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_asked_for_while_behind_opens_no_gap() {
    let server = TestServer::start(depth_bound()).await;
    let mut slow = Client::connect(server.addr, "").await;
    wait_clients(&server, 1).await;
    // Patches so big that the writer cannot write out a whole queue at
    // once, once the client reads again.
    let produced = until_stalled(&server, 256).await;
    // The queue is full: the snapshot this asks for cannot be queued. (A
    // server slower than this pause to read the frame would make the test
    // pass without exercising the case, never fail spuriously.)
    slow.send(r#"{"type":"resync"}"#).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Read until the writer has taken the queued messages: the queue has
    // room while the writer waits for the client to read them.
    for _ in 0..MAX_STEPS {
        if checked_stats(&server)[0].queued < DEPTH {
            break;
        }
        slow.recv().await;
    }
    // A patch now must not be queued after the old ones: the client would
    // see a gap.
    big_patch(&server.sync, produced, 256);
    server.sync.try_mutate(|s| s.set_enabled(true)).unwrap();
    slow.recv_until(|replica| replica["enabled"] == true).await;
    assert!(slow.snapshots >= 2);
    assert_eq!(slow.replica(), &server.document().await);
    checked_stats(&server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_stalled_past_the_write_timeout_is_dropped() {
    let server = TestServer::start(
        ServerConfig::default()
            .queue_depth(DEPTH)
            .queue_bytes(usize::MAX)
            .write_timeout(Duration::from_millis(300)),
    )
    .await;
    let mut slow = Client::connect(server.addr, "").await;
    wait_clients(&server, 1).await;
    let produced = until_stalled(&server, 16).await;
    // Patches go on, slowly: whatever the client's buffers still hold
    // fills up, and its writer blocks until it gives up.
    within("the stalled client is dropped", async {
        for i in produced..produced + MAX_BIG {
            if server.routes.connection_count() == 0 {
                break;
            }
            big_patch(&server.sync, i, 16);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(server.routes.clients().is_empty());
    // What was written is still readable, then the stream ends.
    let mut messages = 0;
    loop {
        match slow.next_message().await {
            Ok(Some(_)) => messages += 1,
            Ok(None) | Err(_) => break,
        }
        assert!(messages < MAX_STEPS);
    }
    assert!(messages >= 1);
}

/// The byte bound of the byte-bound tests.
const QUEUE_BYTES: usize = 64 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_meets_the_byte_bound_and_is_resynced() {
    // The count is far away: only the bytes can stop this client.
    let server = TestServer::start(ServerConfig::default().queue_bytes(QUEUE_BYTES)).await;
    let mut slow = Client::connect(server.addr, "").await;
    wait_clients(&server, 1).await;
    let mut stalled = None;
    for i in 0..MAX_BIG {
        big_patch(&server.sync, i, 4);
        let stats = server.routes.clients();
        let [client] = stats.as_slice() else {
            panic!("one client expected: {stats:?}")
        };
        assert!(client.queued_bytes <= QUEUE_BYTES, "{client:?}");
        assert!(client.peak_queued_bytes <= QUEUE_BYTES, "{client:?}");
        if client.resyncs.queue_bytes > 0 {
            stalled = Some(client.clone());
            break;
        }
        tokio::task::yield_now().await;
    }
    let stalled = stalled.expect("the client met the byte bound");
    assert_eq!(stalled.resyncs.queue_depth, 0, "{stalled:?}");
    assert_eq!(stalled.resyncs.requested, 0, "{stalled:?}");
    assert_eq!(stalled.fell_behind, 1, "{stalled:?}");
    assert!(
        stalled.peak_queued_bytes > QUEUE_BYTES / 2,
        "the queue, not the kernel, held the backlog: {stalled:?}"
    );

    // It reads again: a fresh snapshot, then live patches.
    server.sync.try_mutate(|s| s.set_enabled(true)).unwrap();
    slow.recv_until(|replica| replica["enabled"] == true).await;
    assert!(slow.snapshots >= 2, "resynchronised with a fresh snapshot");
    assert_eq!(slow.replica(), &server.document().await);
    server.sync.try_mutate(|s| s.set_count(7)).unwrap();
    assert_eq!(slow.recv().await["version"], server.sync.version());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_small_patches_reaches_a_paused_reader_whole() {
    // Defaults: the bounds a real server has.
    let server = TestServer::start(ServerConfig::default()).await;
    let mut reader = server.joined().await;
    wait_clients(&server, 1).await;
    // 8,000 patches of under 100 bytes while the reader reads nothing:
    // more than the old 256-message queue, well within 1 MiB.
    let start = server.sync.version();
    for i in 0..8_000_u64 {
        server.sync.try_mutate(|s| s.set_count(i + 1)).unwrap();
    }
    let last = server.sync.version();
    assert_eq!(last, start + 8_000);
    reader.sync_to(last).await;
    assert_eq!(reader.snapshots, 1, "every patch, no resync");
    assert_eq!(reader.patches as u64, last - start);
    assert_eq!(reader.replica(), &server.document().await);
    let stats = server.routes.clients();
    assert_eq!(stats[0].resyncs, Default::default(), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requested_resync_is_counted() {
    let server = TestServer::start(ServerConfig::default()).await;
    let mut client = server.joined().await;
    client.send(r#"{"type":"resync"}"#).await;
    within("the fresh snapshot", async {
        while client.snapshots < 2 {
            client.recv().await;
        }
    })
    .await;
    let stats = server.routes.clients();
    assert_eq!(stats[0].resyncs.requested, 1, "{stats:?}");
    assert_eq!(stats[0].fell_behind, 0, "{stats:?}");
}
