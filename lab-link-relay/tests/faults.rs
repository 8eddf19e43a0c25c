//! Faults, each bounded in time, on 127.0.0.1: nats-server killed and
//! restarted mid-stream, a relay killed, the primary restarted.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    assert_follows, commit, document, primary, publish, serving_primary, within, RawViewer,
    RelayProcess, RelayServer, TIMEOUT,
};
use lab_link_testkit::{NatsServer, TestClient};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_killed_and_restarted_mid_stream_leaves_viewers_right_and_commands_unavailable() {
    let mut nats = NatsServer::start();
    let (primary, publisher, _commands) = serving_primary(&nats).await;
    let command_timeout = Duration::from_millis(800);
    let relay = RelayServer::with_timeout(&nats, command_timeout).await;
    // The relay's consumer notices the restart by its missed heartbeats:
    // catching up takes several seconds.
    let viewer = TestClient::connect(&relay.ws_url())
        .await
        .with_timeout(2 * TIMEOUT);
    commit(&primary, 10);
    assert_follows(&viewer, &primary).await;

    // The primary keeps committing while NATS is killed and comes back.
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let (primary, writing) = (primary.clone(), writing.clone());
        tokio::spawn(async move {
            while writing.load(Ordering::Relaxed) {
                commit(&primary, 1);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let restarted = tokio::task::spawn_blocking(move || {
        nats.restart(Duration::from_secs(2));
        nats
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    // NATS is down: a command fails with `unavailable`, not a hang.
    let started = Instant::now();
    // 0.25 is off the commits' grid of halves: had the refused command
    // run, every later setpoint would be off it too.
    let failure = viewer
        .expect_error("set_setpoint", json!({"value": 0.25}), "unavailable")
        .await;
    assert!(
        started.elapsed() < command_timeout + Duration::from_secs(1),
        "answered after {:?}: {}",
        started.elapsed(),
        failure.message
    );

    let _nats = within(restarted).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    writing.store(false, Ordering::Relaxed);
    writer.await.unwrap();

    // Everything committed reaches the viewer: gap-free or through a
    // snapshot, never a wrong replica (the client checks every version).
    within(publisher.wait_published(primary.version()))
        .await
        .unwrap();
    let expected = document(&primary);
    let replica = viewer.wait_for_version(primary.version()).await;
    assert_eq!(replica, expected);
    assert_eq!(viewer.version(), primary.version());
    assert!(!failure.message.is_empty());
    // A command answered `unavailable` never ran, not even once NATS was
    // back (a disconnected client would have sent it then).
    let setpoint = expected["setpoint"].as_f64().unwrap();
    assert_eq!(
        setpoint % 0.5,
        0.0,
        "the command refused as unavailable ran on the primary: {expected}"
    );

    // And commands work again.
    let reply = viewer.command("set_setpoint", json!({"value": 42.0})).await;
    assert_eq!(reply.result, Some(json!(42.0)));
    assert_eq!(viewer.replica()["setpoint"], json!(42.0));
}

#[tokio::test]
async fn a_killed_relays_viewer_resumes_on_the_other_relay_without_a_snapshot() {
    let nats = NatsServer::start();
    let primary = primary();
    let _publisher = publish(&nats, &primary).await;
    let mut first = RelayProcess::start(&nats);
    let second = RelayServer::start(&nats).await;
    commit(&primary, 5);
    let mut viewer = RawViewer::connect(&first.url).await;
    viewer.follow_to(5).await;

    first.kill();
    assert!(viewer.closed().await, "the killed relay's socket is gone");
    commit(&primary, 3);
    let mut viewer = viewer.resume_at(&second.ws_url()).await;
    viewer.follow_to(8).await;
    assert_eq!(viewer.document, document(&primary));
}

#[tokio::test]
async fn a_restarted_primary_makes_relays_and_viewers_start_over_in_its_epoch() {
    let nats = NatsServer::start();
    let (first, publisher, commands) = serving_primary(&nats).await;
    let relays = [
        RelayServer::start(&nats).await,
        RelayServer::start(&nats).await,
    ];
    let mut viewers = Vec::new();
    for relay in &relays {
        viewers.push(relay.viewer().await);
    }
    commit(&first, 20);
    for viewer in &viewers {
        assert_follows(viewer, &first).await;
    }
    drop((publisher, commands));

    // The new instance: a new epoch, counting from 0.
    let (second, _publisher, _commands) = serving_primary(&nats).await;
    commit(&second, 3);
    for (relay, viewer) in relays.iter().zip(&viewers) {
        let expected = document(&second);
        viewer.wait_for(|replica| replica == &expected).await;
        assert_eq!(viewer.version(), 3);
        assert_eq!(relay.relay.replica().epoch(), second.epoch());
    }
    // Commands reach the new primary, and their acks follow their patches.
    let reply = viewers[0]
        .command("set_setpoint", json!({"value": 5.0}))
        .await;
    assert_eq!(reply.version, 4);
    assert_eq!(viewers[0].replica()["setpoint"], json!(5.0));
    assert_eq!(second.read().setpoint, 5.0);
}
