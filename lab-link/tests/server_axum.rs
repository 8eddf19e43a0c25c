//! The third way in: the lab-link WebSocket handler alone, on a route of an
//! axum 0.8 app that keeps its own routes, with `GET {prefix}/state` served
//! through `Routes::handle` in the app's fallback.
//!
//! axum is built on hyper 1 and keeps hyper's upgrade handle in the
//! request's extensions, so `Routes::upgrade` works unchanged as an axum
//! handler; this test proves it over real sockets.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::StreamExt;
use http::StatusCode;
use lab_link::server::Body;
use lab_link::{LabSync, Reactive, Routes, ServerConfig};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

/// Every wait of this test is bounded by this.
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Reactive, Serialize, Clone, Debug, Default)]
struct Instrument {
    enabled: bool,
    channels: Vec<f64>,
}

/// The app's WebSocket route: lab-link's handler, on a path of the app's
/// choosing.
async fn live(State(routes): State<Routes>, request: Request) -> Response<Body> {
    routes.upgrade(request)
}

/// The app's fallback: lab-link's endpoints first (`{prefix}/state`,
/// `{prefix}/ws`), then the app's own 404.
async fn fallback(State(routes): State<Routes>, request: Request) -> Response {
    match routes.handle(request) {
        Ok(response) => response.into_response(),
        Err(_request) => (StatusCode::NOT_FOUND, "no such page").into_response(),
    }
}

fn app(routes: Routes) -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello from the app" }))
        .route("/api/live", get(live))
        .fallback(fallback)
        .with_state(routes)
}

#[tokio::test]
async fn websocket_handler_inside_an_axum_router() {
    let sync = LabSync::new(Instrument {
        enabled: false,
        channels: vec![0.0; 2],
    });
    let routes = Routes::new(sync.clone(), ServerConfig::default().prefix("/api"));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn({
        let routes = routes.clone();
        async move {
            axum::serve(listener, app(routes.clone()))
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                    // axum stops accepting; the sync sockets, which hyper
                    // handed over at the upgrade, are lab-link's to close.
                    routes.shutdown();
                })
                .await
        }
    });

    // The app's own route still works.
    let (status, body) = http_get(addr, "/hello").await;
    assert_eq!((status, body.as_str()), (200, "hello from the app"));
    let (status, _) = http_get(addr, "/nowhere").await;
    assert_eq!(status, 404);

    // The sync socket on the app's route: a snapshot, then a patch per
    // mutation.
    let (mut ws, _) = timeout(tokio_tungstenite::connect_async(format!(
        "ws://{addr}/api/live"
    )))
    .await
    .unwrap();
    let snapshot = next_json(&mut ws).await;
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["version"], 0);
    assert_eq!(
        snapshot["data"],
        json!({"enabled": false, "channels": [0.0, 0.0]})
    );
    assert!(snapshot["clientId"].is_string(), "{snapshot}");

    sync.try_mutate(|s| {
        s.set_enabled(true)?;
        s.channels().set(1, 2.5)
    })
    .unwrap();
    let patch = next_json(&mut ws).await;
    assert_eq!(
        patch,
        json!({"type": "patch", "patch": [
            {"op": "replace", "path": "/enabled", "value": true},
            {"op": "replace", "path": "/channels/1", "value": 2.5},
        ], "version": 1})
    );

    // The state endpoint, through `Routes::handle` in the fallback.
    let (status, body) = http_get(addr, "/api/state").await;
    assert_eq!(status, 200);
    let document: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(document, json!({"enabled": true, "channels": [0.0, 2.5]}));
    assert_eq!(document, serde_json::to_value(&*sync.read()).unwrap());

    // Graceful shutdown closes the sync socket with 1001 (going away).
    stop.send(()).unwrap();
    let close = timeout(ws.next()).await;
    let Some(Ok(Message::Close(Some(frame)))) = close else {
        panic!("expected a close frame, got {close:?}")
    };
    assert_eq!(u16::from(frame.code), 1001);
    timeout(routes.closed()).await;
    timeout(server).await.unwrap().unwrap();
}

/// An axum app with the mounted routes and their lifespan: the lifespan
/// runs an updater while the app serves a client, and stopping it closes
/// the client with 1001 and stops the updater.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mounted_routes_with_their_lifespan_run_updaters() {
    let sync = LabSync::new(Instrument {
        enabled: false,
        channels: vec![0.0],
    });
    sync.updater(Duration::from_millis(5), |sync| {
        sync.try_mutate(|s| {
            let next = s.channels[0] + 1.0;
            s.channels().set(0, next)
        })
    });
    let routes = Routes::new(sync.clone(), ServerConfig::default().prefix("/api"));
    let lifespan = routes.start();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app(routes))
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });

    let (mut ws, _) = timeout(tokio_tungstenite::connect_async(format!(
        "ws://{addr}/api/live"
    )))
    .await
    .unwrap();
    let snapshot = next_json(&mut ws).await;
    let start = snapshot["version"].as_u64().unwrap();
    // The updater's patches arrive, one version after the other.
    for expected in start + 1..=start + 3 {
        let patch = next_json(&mut ws).await;
        assert_eq!(patch["version"], expected);
        assert!(
            patch.get("command").is_none(),
            "no command metadata: {patch}"
        );
    }

    stop.send(()).unwrap();
    timeout(lifespan.stop()).await;
    let close = loop {
        match timeout(ws.next()).await {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(u16::from(close.expect("a close frame").code), 1001);
    timeout(server).await.unwrap().unwrap();
    // The updater stopped with the lifespan.
    let version = sync.version();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(sync.version(), version);
}

async fn timeout<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(TIMEOUT, future)
        .await
        .unwrap_or_else(|_| panic!("no answer within {TIMEOUT:?}"))
}

/// The next text frame, parsed.
async fn next_json<S>(ws: &mut S) -> Value
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    match timeout(ws.next()).await {
        Some(Ok(Message::Text(text))) => serde_json::from_str(&text).unwrap(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

/// A minimal HTTP/1.1 GET: the status code and the body.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    timeout(async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let (head, body) = response
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status in {head:?}"));
        (status, body.to_owned())
    })
    .await
}
