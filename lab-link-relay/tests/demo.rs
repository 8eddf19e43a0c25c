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
    let (head, body) = get(url).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// GETs `url` (plain HTTP on 127.0.0.1): the response's head and body.
async fn get(url: &str) -> (String, String) {
    let url = url.strip_prefix("http://").unwrap();
    let (host, path) = url.split_once('/').unwrap();
    let mut stream = within(tokio::net::TcpStream::connect(host)).await.unwrap();
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    within(stream.read_to_string(&mut response)).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_owned(), body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_relay_serves_two_instruments_under_their_names_with_an_index() {
    let nats = NatsServer::start();
    let mut servers = Vec::new();
    for (name, port) in [("bench-a", 0), ("bench-b", 0)] {
        let options = Options {
            port,
            nats: Some(Nats {
                url: nats.url(),
                instrument: name.to_owned(),
            }),
            ..Options::default()
        };
        let server = within(lab_link_demo::bind(&options)).await.unwrap();
        servers.push((server.local_addr(), server.routes().clone()));
        tokio::spawn(server.run());
    }
    let gateway = RelayProcess::of_all(&nats, &["bench-a", "bench-b"]);
    let http = gateway
        .url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();

    let index = get_json(&format!("http://{http}/i")).await;
    let names: Vec<&str> = index["instruments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|instrument| instrument["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bench-a", "bench-b"], "{index}");
    assert_eq!(index["instruments"][1]["sync"], "/i/bench-b/sync");

    // Each instrument's commands reach its own primary only.
    let a = TestClient::connect(&format!("ws://{http}/i/bench-a/sync/ws")).await;
    let b = TestClient::connect(&format!("ws://{http}/i/bench-b/sync/ws")).await;
    a.command("set_channel", json!({"channel": 0, "value": 1.5}))
        .await;
    b.command("set_channel", json!({"channel": 0, "value": -3.0}))
        .await;
    assert_eq!(a.replica()["channels"][0]["bias_voltage"], 1.5);
    assert_eq!(b.replica()["channels"][0]["bias_voltage"], -3.0);
    let state_b = get_json(&format!("http://{}/sync/state", servers[1].0)).await;
    assert_eq!(state_b["channels"][0]["bias_voltage"], -3.0);
    let relayed_b = get_json(&format!("http://{http}/i/bench-b/sync/state")).await;
    assert_eq!(relayed_b["channels"][0], state_b["channels"][0]);

    // An unknown instrument is a JSON 404 naming the known ones.
    let (status, body) = get(&format!("http://{http}/i/nope/sync/state")).await;
    assert!(status.starts_with("HTTP/1.1 404"), "{status}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["instruments"], json!(["bench-a", "bench-b"]));
    for (_, routes) in servers {
        routes.shutdown();
    }
}
