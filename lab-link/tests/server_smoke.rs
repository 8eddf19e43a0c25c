//! A first end-to-end check of the transport: snapshot, then patches, then
//! a graceful shutdown with close code 1001.

use futures_util::StreamExt;
use lab_link::{LabSync, Server};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn snapshot_then_patches_then_close() {
    let sync = LabSync::new(vec![0.0_f64; 2]);
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
    let Some(Ok(Message::Text(snapshot))) = ws.next().await else {
        panic!("no snapshot")
    };
    let snapshot: serde_json::Value = serde_json::from_str(&snapshot).unwrap();
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["version"], 0);
    assert_eq!(snapshot["data"], serde_json::json!([0.0, 0.0]));

    sync.try_mutate(|v| v.set(1, 2.5)).unwrap();
    let Some(Ok(Message::Text(patch))) = ws.next().await else {
        panic!("no patch")
    };
    assert_eq!(
        patch.as_str(),
        r#"{"type":"patch","patch":[{"op":"replace","path":"/1","value":2.5}],"version":1}"#
    );

    routes.shutdown();
    let Some(Ok(Message::Close(Some(frame)))) = ws.next().await else {
        panic!("no close")
    };
    assert_eq!(u16::from(frame.code), 1001);
    running.await.unwrap();
}
