//! Streams over the sync socket: stream snapshots right after the state
//! snapshot, text and binary stream frames byte for byte, `stream_resync`,
//! and bounded memory for a client that does not read a fast replace
//! stream.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use lab_link::{LabSync, Server, ServerConfig};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next(ws: &mut Ws) -> Message {
    match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        Ok(Some(Ok(message))) => message,
        other => panic!("no message: {other:?}"),
    }
}

async fn next_text(ws: &mut Ws) -> String {
    match next(ws).await {
        Message::Text(text) => text.as_str().to_owned(),
        other => panic!("not text: {other:?}"),
    }
}

#[tokio::test]
async fn a_late_joiner_gets_state_then_stream_snapshots_then_frames() {
    let sync = LabSync::new(vec![0_u32]);
    let counts = sync.append_stream("counts", 1000);
    let trace = sync.replace_stream_f32("trace");
    let hist = sync.int_delta_stream("histogram", 4);
    counts.append([1, 2]).unwrap();
    trace.replace([0.5_f32, 0.1]);
    hist.add(1, 3).unwrap();

    let server = Server::builder()
        .bind(sync.clone(), "127.0.0.1:0")
        .await
        .unwrap();
    let addr = server.local_addr();
    let routes = server.routes().clone();
    let running = tokio::spawn(server.run());
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/sync/ws"))
        .await
        .unwrap();

    let snapshot: serde_json::Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(
        next_text(&mut ws).await,
        r#"{"type":"stream_snapshot","id":"counts","data":[1,2],"seq":1}"#
    );
    assert_eq!(
        next_text(&mut ws).await,
        r#"{"type":"stream_snapshot","id":"trace","data":[0.5,0.10000000149011612],"seq":1}"#
    );
    assert_eq!(
        next_text(&mut ws).await,
        r#"{"type":"stream_snapshot","id":"histogram","data":[0,3,0,0],"seq":1}"#
    );

    counts.append([3]).unwrap();
    assert_eq!(
        next_text(&mut ws).await,
        r#"{"type":"stream_append","id":"counts","data":[3],"seq":2}"#
    );
    trace.replace([1.0_f32]);
    let Message::Binary(frame) = next(&mut ws).await else {
        panic!("not binary")
    };
    let mut expected = vec![0x01, 5, 0];
    expected.extend_from_slice(b"trace");
    expected.extend_from_slice(&2_u32.to_le_bytes());
    expected.extend_from_slice(&1.0_f32.to_le_bytes());
    assert_eq!(&frame[..], &expected[..]);

    ws.send(Message::text(
        r#"{"type":"stream_resync","id":"histogram"}"#,
    ))
    .await
    .unwrap();
    assert_eq!(
        next_text(&mut ws).await,
        r#"{"type":"stream_snapshot","id":"histogram","data":[0,3,0,0],"seq":1}"#
    );
    ws.send(Message::text(r#"{"type":"stream_resync","id":"nope"}"#))
        .await
        .unwrap();
    let error: serde_json::Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
    assert_eq!(error["code"], "bad_message");

    routes.shutdown();
    running.await.unwrap();
}

#[tokio::test]
async fn a_slow_client_on_a_fast_replace_stream_keeps_bounded_memory() {
    const DEPTH: usize = 8;
    const FRAMES: u32 = 3000;
    let sync = LabSync::new(vec![0_u32]);
    let trace = sync.replace_stream_f32("trace");
    let server = Server::builder()
        .config(ServerConfig::default().queue_depth(DEPTH))
        .bind(sync.clone(), "127.0.0.1:0")
        .await
        .unwrap();
    let addr = server.local_addr();
    let routes = server.routes().clone();
    let running = tokio::spawn(server.run());
    // Connected, but it reads nothing until the end.
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/sync/ws"))
        .await
        .unwrap();
    let samples = vec![0.25_f32; 4096];
    let mut peak_pending = 0;
    for _ in 0..FRAMES {
        trace.replace(samples.iter().copied());
        let clients = routes.clients();
        assert_eq!(clients.len(), 1);
        assert!(clients[0].queued <= DEPTH);
        peak_pending = peak_pending.max(clients[0].pending_frames);
        tokio::task::yield_now().await;
    }
    let stats = &routes.clients()[0];
    assert!(stats.peak_queued <= DEPTH, "{stats:?}");
    assert!(peak_pending <= 1, "one pending frame per stream at most");
    // The client still ends at the latest frame.
    let mut received = 0_u32;
    loop {
        if let Message::Binary(frame) = next(&mut ws).await {
            received += 1;
            let seq = u32::from_le_bytes(frame[8..12].try_into().unwrap());
            if seq == FRAMES {
                break;
            }
        }
    }
    assert!(received <= FRAMES);
    routes.shutdown();
    running.await.unwrap();
}
