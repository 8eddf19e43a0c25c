//! The demo as a NATS primary (`--nats`) and the relay binary in front of
//! it: what `cargo xtask serve-demo --relays 2` starts, on 127.0.0.1.

mod common;

use common::{within, RelayProcess};
use lab_link_demo::{Nats, Options};
use lab_link_testkit::{NatsServer, TestClient};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_publishes_and_two_relays_serve_it_with_its_commands() {
    let nats = NatsServer::start();
    let options = Options {
        port: 0,
        nats: Some(Nats::new(nats.url())),
        ..Options::default()
    };
    let server = within(lab_link_demo::bind(&options)).await.unwrap();
    let addr = server.local_addr();
    let routes = server.routes().clone();
    tokio::spawn(server.run());
    let (first, second) = (
        RelayProcess::of(&nats, "demo"),
        RelayProcess::of(&nats, "demo"),
    );
    let direct = TestClient::connect(&format!("ws://{addr}/sync/ws")).await;
    let viewer = TestClient::connect(&first.url).await;
    let other = TestClient::connect(&second.url).await;

    // A command through one relay runs on the demo; its ack follows its
    // patch on that relay, and every viewer converges.
    let ack = viewer
        .command("set_channel", json!({"channel": 1, "value": 2.5}))
        .await;
    assert_eq!(ack.result, Some(json!({"channel": 1, "value": 2.5})));
    assert_eq!(viewer.replica()["channels"][1]["bias_voltage"], 2.5);
    for client in [&direct, &other] {
        client
            .wait_for(|state| state["channels"][1]["bias_voltage"] == 2.5)
            .await;
    }
    let version = direct.version();
    let replica = other.wait_for_version(version).await;
    assert_eq!(replica["channels"], direct.replica()["channels"]);

    // The demo's structured errors reach a relay's viewer unchanged.
    let refused = viewer
        .expect_error(
            "set_channel",
            json!({"channel": 1, "value": 99.0}),
            "out_of_range",
        )
        .await;
    assert_eq!(refused.path.as_deref(), Some("/channels/1/bias_voltage"));
    assert_eq!(refused.display, "inline");
    assert_eq!(viewer.replica()["channels"][1]["bias_voltage"], 2.5);

    // The relay serves the demo's schema as its own: same commands, same
    // hash, so generated clients and panels work against a relay.
    let primary = get_json(&format!("http://{addr}/sync/schema")).await;
    let relayed = get_json(
        &first
            .url
            .replace("ws://", "http://")
            .replace("/ws", "/schema"),
    )
    .await;
    assert_eq!(relayed, primary);
    assert!(relayed["commands"]["set_channel"].is_object(), "{relayed}");
    routes.shutdown();
}

/// GETs `url` (plain HTTP on 127.0.0.1) and parses the body.
async fn get_json(url: &str) -> serde_json::Value {
    let url = url.strip_prefix("http://").unwrap();
    let (host, path) = url.split_once('/').unwrap();
    let mut stream = within(tokio::net::TcpStream::connect(host)).await.unwrap();
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    within(stream.read_to_string(&mut response)).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}
