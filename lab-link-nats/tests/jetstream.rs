//! Publisher and Follower against a real nats-server with JetStream.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use lab_link::{LabSync, Reactive};
use lab_link_nats::{FollowEvent, Follower, Instrument, Publisher, PublisherConfig, ResetReason};
use lab_link_server::{Routes, ServerConfig};
use lab_link_testkit::NatsServer;
use serde::Serialize;
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Reactive, Serialize, Default)]
struct Supply {
    setpoint: f64,
    count: u64,
}

async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(TIMEOUT, future)
        .await
        .expect("no answer within the time-out")
}

async fn connect(nats: &NatsServer) -> async_nats::Client {
    within(async_nats::connect(nats.url()))
        .await
        .expect("the NATS server accepts the client")
}

fn supply() -> Instrument {
    Instrument::new("supply").unwrap()
}

async fn publish(nats: &NatsServer, sync: &LabSync<Supply>, config: PublisherConfig) -> Publisher {
    within(Publisher::start(
        connect(nats).await,
        Arc::new(sync.clone()),
        config,
    ))
    .await
    .expect("the publisher starts")
}

async fn follow(nats: &NatsServer) -> Follower {
    within(Follower::start(connect(nats).await, &supply()))
        .await
        .expect("the follower starts")
}

async fn next(follower: &mut Follower) -> FollowEvent {
    within(follower.next()).await.expect("the follower goes on")
}

/// A primary with its publisher, `commits` versions in and published.
async fn primary(nats: &NatsServer, commits: u64) -> (LabSync<Supply>, Publisher) {
    let sync = LabSync::new(Supply::default());
    let publisher = publish(nats, &sync, PublisherConfig::new(supply())).await;
    commit(&sync, commits);
    within(publisher.wait_published(commits)).await.unwrap();
    (sync, publisher)
}

/// Commits `count` changes, each its own version.
fn commit(sync: &LabSync<Supply>, count: u64) {
    for _ in 0..count {
        sync.try_mutate(|supply| {
            let next = supply.count + 1;
            supply.set_count(next)?;
            supply.set_setpoint(next as f64 / 4.0)
        })
        .unwrap();
    }
}

/// The document a viewer's `GET /sync/state` gets from the primary.
async fn get_state(sync: &LabSync<Supply>) -> Value {
    let routes = Routes::new(sync.clone(), ServerConfig::default());
    let request = http::Request::get("/sync/state").body(()).unwrap();
    let response = routes.handle(request).expect("a lab-link endpoint");
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&body).unwrap()
}

/// Follows until `version`, asserting that every event is the next patch.
async fn follow_to(follower: &mut Follower, version: u64) -> Vec<Arc<str>> {
    let mut messages = Vec::new();
    while follower.version() < version {
        let expected = follower.version() + 1;
        match next(follower).await {
            FollowEvent::Patch { version, message } => {
                assert_eq!(version, expected, "gap-free");
                messages.push(message);
            }
            FollowEvent::Reset(reason) => panic!("unexpected reset: {reason:?}"),
        }
    }
    messages
}

#[tokio::test]
async fn a_follower_gets_every_patch_message_and_the_primary_document() {
    let nats = NatsServer::start();
    let sync = LabSync::new(Supply::default());
    let (_, committed) = sync.subscribe_channel();
    let config = PublisherConfig::new(supply()).with_snapshot_every(50);
    let publisher = publish(&nats, &sync, config).await;
    assert_eq!(publisher.epoch(), &sync.epoch());
    let mut follower = follow(&nats).await;
    assert_eq!((follower.version(), follower.epoch()), (0, &sync.epoch()));
    // The primary's schema document travels too, for relays to serve.
    let schema = lab_link::server::SyncSource::schema(&sync);
    assert_eq!(follower.schema(), Some(&schema));

    commit(&sync, 300);
    let messages = follow_to(&mut follower, 300).await;
    let primary: Vec<Arc<str>> = committed.try_iter().map(|c| c.message_shared()).collect();
    assert_eq!(messages, primary, "the primary's messages, byte for byte");
    assert_eq!(follower.document(), &get_state(&sync).await);

    // A follower that joins late starts from a snapshot, then the stream.
    let published = within(publisher.wait_published(300)).await.unwrap();
    assert_eq!(published.sequence, 300);
    let mut late = follow(&nats).await;
    assert!(late.version() >= 250, "a snapshot every 50 versions");
    follow_to(&mut late, 300).await;
    assert_eq!(late.document(), &get_state(&sync).await);
}

#[tokio::test]
async fn a_restarted_primary_is_a_new_epoch_and_the_follower_starts_over() {
    let nats = NatsServer::start();
    let (first, publisher) = primary(&nats, 5).await;
    let mut follower = follow(&nats).await;
    follow_to(&mut follower, 5).await;
    drop(publisher);

    // The process restarts: a new LabSync, counting from 0 again.
    let second = LabSync::new(Supply::default());
    assert_ne!(first.epoch(), second.epoch());
    let _publisher = publish(&nats, &second, PublisherConfig::new(supply())).await;
    commit(&second, 2);

    let event = next(&mut follower).await;
    assert_eq!(
        event,
        FollowEvent::Reset(ResetReason::NewEpoch {
            previous: first.epoch()
        })
    );
    assert_eq!(follower.epoch(), &second.epoch());
    follow_to(&mut follower, 2).await;
    assert_eq!(follower.document(), &get_state(&second).await);
}

#[tokio::test]
async fn a_second_primary_fences_the_first_which_appends_nothing_more() {
    let nats = NatsServer::start();
    let (first, first_publisher) = primary(&nats, 3).await;
    let mut follower = follow(&nats).await;
    follow_to(&mut follower, 3).await;

    // Started by mistake for the same instrument: it takes over.
    let second = LabSync::new(Supply::default());
    let second_publisher = publish(&nats, &second, PublisherConfig::new(supply())).await;
    commit(&second, 2);
    let published = within(second_publisher.wait_published(2)).await.unwrap();
    assert_eq!(
        published.sequence, 5,
        "three of the first, two of the second"
    );

    // The first primary's next append is refused: it stops.
    commit(&first, 1);
    let refused = within(first_publisher.wait_published(4)).await.unwrap_err();
    assert!(refused.is_fenced(), "{refused}");
    assert!(first_publisher.is_fenced());
    assert_eq!(first_publisher.published().version, 3);
    let refused = within(first_publisher.snapshot_now()).await.unwrap_err();
    assert!(refused.is_fenced(), "{refused}");

    // The second goes on; followers see only its versions from now on.
    commit(&second, 1);
    within(second_publisher.wait_published(3)).await.unwrap();
    assert_eq!(second_publisher.published().sequence, 6);
    assert!(matches!(
        next(&mut follower).await,
        FollowEvent::Reset(ResetReason::NewEpoch { .. })
    ));
    follow_to(&mut follower, 3).await;
    assert_eq!(follower.epoch(), &second.epoch());
    assert_eq!(follower.document(), &get_state(&second).await);
}

#[tokio::test]
async fn a_gap_in_the_stream_refetches_the_snapshot() {
    let nats = NatsServer::start();
    let (sync, publisher) = primary(&nats, 10).await;
    // Version 5 is lost from the stream (as to its limits).
    let stream =
        within(async_nats::jetstream::new(connect(&nats).await).get_stream("LAB_LINK_supply"))
            .await
            .unwrap();
    assert!(within(stream.delete_message(5)).await.unwrap());

    // The snapshot is still the one of version 0: the follower reads 1 to
    // 4, sees the gap, and starts over from that snapshot.
    let mut follower = follow(&nats).await;
    follow_to(&mut follower, 4).await;
    let gap = FollowEvent::Reset(ResetReason::Gap {
        expected: 5,
        got: 6,
    });
    assert_eq!(next(&mut follower).await, gap);
    assert_eq!(follower.version(), 0);

    // Once the primary has written a newer snapshot, it starts past the gap.
    assert_eq!(within(publisher.snapshot_now()).await.unwrap(), 10);
    follow_to(&mut follower, 4).await;
    assert_eq!(next(&mut follower).await, gap);
    assert_eq!(follower.version(), 10);
    commit(&sync, 1);
    follow_to(&mut follower, 11).await;
    assert_eq!(follower.document(), &get_state(&sync).await);
}

#[tokio::test]
async fn a_follower_of_an_unpublished_instrument_is_told_to_start_its_publisher() {
    let nats = NatsServer::start();
    let error = within(Follower::start(connect(&nats).await, &supply()))
        .await
        .unwrap_err();
    assert!(error.is_not_published(), "{error}");
    assert!(error.to_string().contains("start its publisher"), "{error}");
}

#[tokio::test]
async fn a_snapshot_that_is_not_lab_link_is_refused_with_its_key() {
    let nats = NatsServer::start();
    let (_sync, _publisher) = primary(&nats, 0).await;
    let js = async_nats::jetstream::new(connect(&nats).await);
    let kv = within(js.get_key_value("lab-link-snapshots"))
        .await
        .unwrap();
    within(kv.put("supply", "not a snapshot".into()))
        .await
        .unwrap();

    let error = within(Follower::start(connect(&nats).await, &supply()))
        .await
        .unwrap_err();
    assert!(error.is_unavailable(), "{error}");
    assert!(error.to_string().contains("supply"), "{error}");
}

/// Sets the setpoint.
#[lab_link::command]
fn set_setpoint(sync: LabSync<Supply>, value: f64) -> Result<f64, lab_link::CommandError> {
    sync.try_mutate(|s| s.set_setpoint(value))?;
    Ok(value)
}

/// Sends a raw command request with `deadline` and returns the reply.
async fn raw_command(client: &async_nats::Client, value: f64, deadline: u64) -> Value {
    let request = serde_json::json!({
        "command": "set_setpoint",
        "params": {"value": value},
        "clientId": "raw",
        "deadline": deadline,
    });
    let reply = within(client.request(
        supply().command_subject(),
        serde_json::to_vec(&request).unwrap().into(),
    ))
    .await
    .expect("the primary answers");
    serde_json::from_slice(&reply.payload).unwrap()
}

#[tokio::test]
async fn a_command_request_past_its_deadline_is_answered_unavailable_and_not_run() {
    let nats = NatsServer::start();
    let sync = LabSync::new(Supply::default());
    sync.command(set_setpoint);
    let _commands = within(lab_link_nats::CommandResponder::start(
        connect(&nats).await,
        Arc::new(sync.clone()),
        &supply(),
    ))
    .await
    .unwrap();
    let client = connect(&nats).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;

    let late = raw_command(&client, 3.0, now - 1_000).await;
    assert_eq!(late["error"]["code"], "unavailable", "{late}");
    let message = late["error"]["message"].as_str().unwrap();
    assert!(message.contains("not run"), "{message}");
    assert_eq!(sync.version(), 0, "the late command did not run");
    assert_eq!(sync.read().setpoint, 0.0);

    let in_time = raw_command(&client, 3.0, now + 60_000).await;
    assert_eq!(in_time["result"], 3.0, "{in_time}");
    assert_eq!(sync.read().setpoint, 3.0);
}
