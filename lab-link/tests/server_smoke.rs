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

/// The status line and body of a plain `GET path` to `addr`.
async fn get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.lines().next().unwrap_or_default().to_owned();
    (status, body.to_owned())
}

/// `Server` serves the generated panel at `/` by default; the
/// application turns it off, or replaces it with a fallback of its own.
#[tokio::test]
async fn the_panel_is_served_at_the_root_unless_turned_off_or_replaced() {
    let serve = |builder: lab_link::server::Builder| async move {
        let server = builder
            .bind(LabSync::new(vec![0.0_f64]), "127.0.0.1:0")
            .await
            .unwrap();
        let (addr, routes) = (server.local_addr(), server.routes().clone());
        tokio::spawn(server.run());
        (addr, routes)
    };

    let (addr, routes) = serve(Server::builder()).await;
    let (status, page) = get(addr, "/").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        page.contains(r#"<meta name="lab-link-prefix" content="/sync">"#),
        "{page}"
    );
    assert_eq!(get(addr, "/panel/panel.js").await.0, "HTTP/1.1 200 OK");
    assert_eq!(get(addr, "/lab-link.js").await.0, "HTTP/1.1 200 OK");
    assert_eq!(get(addr, "/elsewhere").await.0, "HTTP/1.1 404 Not Found");
    routes.shutdown();

    let off = Server::builder().config(lab_link::ServerConfig::default().panel(false));
    let (addr, routes) = serve(off).await;
    assert_eq!(get(addr, "/").await.0, "HTTP/1.1 404 Not Found");
    routes.shutdown();

    let own = Server::builder().fallback(|_| http::Response::new("mine".into()));
    let (addr, routes) = serve(own).await;
    assert_eq!(
        get(addr, "/").await,
        ("HTTP/1.1 200 OK".to_owned(), "mine".to_owned())
    );
    routes.shutdown();
}
