//! The life of a connection over real sockets: commands (none exist yet),
//! the connection limit, abrupt disconnects, the idle timeout with
//! keepalive pings, and graceful shutdown.

use std::time::Duration;

use futures_util::StreamExt;
use lab_link::{LabSync, Server, ServerConfig};
use serde_json::json;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::client::{
    bump, client_frame, http, initial, within, Client, RawClient, TestServer, MAX_STEPS,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_commands_get_command_error_and_no_request_id_no_reply() {
    let server = TestServer::start(ServerConfig::default()).await;
    let mut client = server.joined().await;
    bump(&server.sync);
    client.sync_to(1).await;
    client
        .send(r#"{"type":"command","command":"x","params":{"a":1},"requestId":"r1"}"#)
        .await;
    let error = client.next_json().await;
    assert_eq!(
        error,
        json!({
            "type": "command_error", "command": "x", "requestId": "r1",
            "code": "unknown_command", "message": "Unknown command: 'x'",
            "severity": "error", "display": "toast", "recoverable": false,
            "originClientId": client.client_id.as_deref().unwrap(), "version": 1,
        })
    );
    // Without requestId: no reply at all. Frames are answered in order, so
    // the next message answers the next command.
    client.send(r#"{"type":"command","command":"x"}"#).await;
    client
        .send(r#"{"type":"command","command":"y","requestId":7}"#)
        .await;
    let error = client.next_json().await;
    assert_eq!(error["command"], "y");
    assert_eq!(error["requestId"], 7);
    assert_eq!(error["recoverable"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limit_answers_503() {
    let server = TestServer::start(ServerConfig::default().max_connections(2)).await;
    let mut first = server.joined().await;
    let _second = server.joined().await;
    match Client::try_connect(server.addr, "").await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 503),
        Err(e) => panic!("expected HTTP 503, got {e}"),
        Ok(_) => panic!("a third socket was accepted"),
    }
    assert_eq!(server.routes.connection_count(), 2);
    // The state endpoint is not limited.
    assert_eq!(http(server.addr, "GET", "/sync/state").await.status, 200);

    within("close", first.ws.close(None)).await.unwrap();
    server.wait_connections(1).await;
    let mut third = server.joined().await;
    bump(&server.sync);
    third.sync_to(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abrupt_disconnects_free_their_connection() {
    let server = TestServer::start(ServerConfig::default()).await;
    let mut bystander = server.joined().await;

    // Half a frame: the header announces 300 bytes, 100 arrive, then the
    // socket is gone.
    let mut raw = RawClient::connect(server.addr).await;
    let (opcode, _) = raw.read_frame().await.expect("the snapshot");
    assert_eq!(opcode, 1);
    let frame = client_frame(1, &[b'x'; 300]);
    raw.write(&frame[..108]).await;
    server.wait_connections(2).await;
    drop(raw);
    server.wait_connections(1).await;

    // Half a header.
    let mut raw = RawClient::connect(server.addr).await;
    raw.write(&[0x81]).await;
    drop(raw);
    server.wait_connections(1).await;

    // A tungstenite client dropped without a close frame, with patches
    // still coming.
    let gone = server.joined().await;
    bump(&server.sync);
    drop(gone);
    bump(&server.sync);
    server.wait_connections(1).await;

    bystander.sync_to(2).await;
    bump(&server.sync);
    bystander.sync_to(3).await;
    assert_eq!(bystander.replica(), &server.document().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_clients_are_closed_and_clients_answering_pings_stay() {
    let idle_timeout = Duration::from_millis(200);
    let server = TestServer::start(
        ServerConfig::default()
            .ping_interval(Duration::from_millis(50))
            .idle_timeout(idle_timeout),
    )
    .await;
    // A client that polls (tungstenite answers the pings) stays connected
    // past several idle timeouts.
    let mut live = server.joined().await;
    let connected = Instant::now();
    let live = tokio::spawn(async move {
        let mut pings = 0;
        while connected.elapsed() < idle_timeout * 5 || pings < 5 {
            match within("a ping", live.ws.next()).await {
                Some(Ok(Message::Ping(_))) => pings += 1,
                other => panic!("expected pings, got {other:?}"),
            }
            assert!(pings < MAX_STEPS, "pinged for ever");
        }
        live
    });

    // A raw client that never answers a ping is closed with 1001.
    let mut silent = RawClient::connect(server.addr).await;
    let mut frames = 0;
    let close = loop {
        match silent.read_frame().await {
            // The snapshot, and pings it does not answer.
            Some((0x1 | 0x9, _)) => frames += 1,
            Some((0x8, payload)) => break payload,
            other => panic!("unexpected frame {other:?}"),
        }
        assert!(frames < MAX_STEPS, "pinged for ever");
    };
    assert_eq!(u16::from_be_bytes([close[0], close[1]]), 1001);
    assert_eq!(&close[2..], b"idle timeout");
    assert_eq!(silent.read_frame().await, None, "the socket is closed");

    let mut live = within("the live client", live).await.unwrap();
    server.wait_connections(1).await;
    bump(&server.sync);
    assert_eq!(live.recv().await["version"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_delivers_pending_patches_then_closes_with_1001() {
    let sync = LabSync::new(initial());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = Server::builder()
        .shutdown_signal(async {
            let _ = stopped.await;
        })
        .bind(sync.clone(), "127.0.0.1:0")
        .await
        .unwrap();
    let addr = server.local_addr();
    let routes = server.routes().clone();
    let running = tokio::spawn(server.run());

    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut client = Client::connect(addr, "").await;
        client.recv().await;
        clients.push(client);
    }
    // Patches the clients have not read yet when the shutdown starts.
    for _ in 0..50 {
        bump(&sync);
    }
    stop.send(()).unwrap();
    for client in &mut clients {
        let close = loop {
            match client.next_message().await {
                Ok(Some(Message::Text(text))) => {
                    client.apply(&serde_json::from_str(&text).unwrap())
                }
                Ok(Some(Message::Close(frame))) => break frame,
                other => panic!("expected patches then a close frame, got {other:?}"),
            }
        };
        assert_eq!(client.version, 50, "every pending patch came first");
        assert_eq!(close.expect("a close code").code, CloseCode::Away);
    }
    within("the server task ends", running).await.unwrap();
    assert_eq!(routes.connection_count(), 0);
    within("the sockets are closed", routes.closed()).await;

    // The listener is gone: new connections are refused.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    assert!(Client::try_connect(addr, "").await.is_err());
    // And a new upgrade through the same routes is refused with 503.
    let request = ::http::Request::get("/sync/ws")
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .body(())
        .unwrap();
    let response = routes.handle(request).expect("the sync endpoint");
    assert_eq!(response.status(), 503);
}
