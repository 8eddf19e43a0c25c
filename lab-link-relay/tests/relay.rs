//! A relay serves a primary's state, followed over a real nats-server, to
//! ordinary viewers.

use std::sync::Arc;

use lab_link::{LabSync, Reactive};
use lab_link_nats::{async_nats, Instrument, Publisher, PublisherConfig};
use lab_link_relay::Relay;
use lab_link_testkit::{assert_consistent, NatsServer, TestClient, TestServer};
use serde::Serialize;
use serde_json::Value;

#[derive(Reactive, Serialize, Default)]
struct Supply {
    setpoint: f64,
    label: String,
}

fn supply() -> Instrument {
    Instrument::new("supply").unwrap()
}

async fn connect(nats: &NatsServer) -> async_nats::Client {
    async_nats::connect(nats.url()).await.unwrap()
}

async fn publish(nats: &NatsServer, sync: &LabSync<Supply>) -> Publisher {
    let config = PublisherConfig::new(supply());
    Publisher::start(connect(nats).await, Arc::new(sync.clone()), config)
        .await
        .unwrap()
}

/// A relay of the instrument, served, with one viewer connected.
async fn serve_relay(nats: &NatsServer) -> (Relay, TestServer<Value>, TestClient) {
    let relay = Relay::start(connect(nats).await, &supply()).await.unwrap();
    let server = TestServer::start(relay.sync().clone()).await;
    let viewer = server.client().await;
    (relay, server, viewer)
}

fn document(sync: &LabSync<Supply>) -> Value {
    serde_json::from_str(sync.snapshot().document_json()).unwrap()
}

#[tokio::test]
async fn viewers_of_a_relay_follow_the_primary_without_a_resync() {
    let nats = NatsServer::start();
    let primary = LabSync::new(Supply::default());
    let _publisher = publish(&nats, &primary).await;
    let (_relay, server, viewer) = serve_relay(&nats).await;

    for step in 1..=50 {
        primary
            .try_mutate(|supply| {
                supply.set_setpoint(f64::from(step) / 2.0)?;
                supply.set_label(format!("step {step}"))
            })
            .unwrap();
    }
    let expected = document(&primary);
    viewer.wait_for(|replica| replica == &expected).await;
    assert_eq!(
        viewer.version(),
        50,
        "one relay version per primary version"
    );
    assert_consistent(&viewer, &server).await;
}

#[tokio::test]
async fn a_restarted_primary_reaches_the_relay_viewers_as_one_more_version() {
    let nats = NatsServer::start();
    let first = LabSync::new(Supply::default());
    let publisher = publish(&nats, &first).await;
    let (_relay, server, viewer) = serve_relay(&nats).await;
    first.try_mutate(|supply| supply.set_setpoint(7.5)).unwrap();
    let expected = document(&first);
    viewer.wait_for(|replica| replica == &expected).await;
    drop(publisher);

    // The new instance counts from 0 again; the relay's viewers see its
    // snapshot as the next version and its patch as the one after, never
    // a version going back.
    let second = LabSync::new(Supply::default());
    let _publisher = publish(&nats, &second).await;
    second
        .try_mutate(|supply| supply.set_label("restarted".into()))
        .unwrap();
    let expected = document(&second);
    viewer.wait_for(|replica| replica == &expected).await;
    assert_eq!(viewer.version(), 3);
    assert_consistent(&viewer, &server).await;
}
