//! Access control over real sockets on 127.0.0.1: the handshake refused
//! before any snapshot, cookies and bearer tokens on the socket,
//! capabilities at dispatch, immediate revocation of an open socket (close
//! 4401), the non-loopback path through a trusted proxy, and the login
//! rate limit under a concurrent burst while another client's commands go
//! on. The endpoint-by-endpoint checks live in `lab-link-auth`'s own tests.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use lab_link::auth::{Auth, AuthConfig};
use lab_link::{command, CommandError, LabSync, Reactive, Server, ServerConfig};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const TIMEOUT: Duration = Duration::from_secs(20);
const PASSPHRASE: &str = "correct horse battery staple";

#[derive(Reactive, Serialize, Default)]
struct State {
    value: i64,
}

/// Sets the value (needs `control`, the default).
#[command]
fn set_value(sync: LabSync<State>, value: i64) -> Result<i64, CommandError> {
    sync.try_mutate(|s| s.set_value(value))?;
    Ok(value)
}

/// For administrators only.
#[command(requires = ["manage_access"])]
fn administer() -> bool {
    true
}

/// Any authenticated client.
#[command(requires = [])]
fn ping() -> &'static str {
    "pong"
}

struct Running {
    addr: SocketAddr,
    auth: Auth,
    sync: LabSync<State>,
}

async fn start(config: AuthConfig) -> Running {
    let auth = Auth::new(config).expect("auth starts");
    let sync = LabSync::new(State::default());
    sync.command(set_value).command(administer).command(ping);
    let server = Server::builder()
        .config(ServerConfig::default().auth(auth.clone()))
        .bind(sync.clone(), "127.0.0.1:0")
        .await
        .expect("binds");
    let addr = server.local_addr();
    tokio::spawn(server.run());
    Running { addr, auth, sync }
}

/// A raw HTTP/1.1 exchange: status, headers (lowercased names), body.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = Vec::new();
    tokio::time::timeout(TIMEOUT, stream.read_to_end(&mut response))
        .await
        .expect("answered in time")
        .expect("read");
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").expect("a full response");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// Opens the sync socket with extra headers: the socket, or the HTTP
/// status of the refusal.
async fn ws(addr: SocketAddr, headers: &[(&str, &str)]) -> Result<Ws, u16> {
    let mut request = format!("ws://{addr}/sync/ws")
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    match tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(request)).await {
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response))) => {
            Err(response.status().as_u16())
        }
        Ok(Err(e)) => panic!("unexpected handshake failure: {e}"),
        Err(_) => panic!("the handshake took longer than {TIMEOUT:?}"),
    }
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(TIMEOUT, ws.next())
            .await
            .expect("a message in time")
            .expect("open")
            .expect("a frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

/// Sends a command and reads until its answer.
async fn command(ws: &mut Ws, name: &str, params: Value, id: &str) -> Value {
    let message = json!({"type": "command", "command": name, "params": params, "requestId": id});
    ws.send(Message::text(message.to_string())).await.unwrap();
    loop {
        let message = next_json(ws).await;
        if message["requestId"] == id && message["type"] != "patch" {
            return message;
        }
    }
}

/// Reads until the server closes: the close code.
async fn close_code(ws: &mut Ws) -> Option<u16> {
    loop {
        match tokio::time::timeout(TIMEOUT, ws.next())
            .await
            .expect("closed in time")
        {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return None,
        }
    }
}

/// Remote clients: the loopback test client is not trusted.
fn remote() -> AuthConfig {
    AuthConfig::new()
        .passphrase(PASSPHRASE)
        .trust_loopback(false)
        .revalidate_interval(Duration::from_secs(3600))
}

async fn login(addr: SocketAddr) -> String {
    let (status, headers, body) = http(
        addr,
        "POST",
        "/sync/auth/login",
        &[],
        Some(json!({"passphrase": PASSPHRASE})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let cookie = header(&headers, "set-cookie")[0];
    cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn the_handshake_is_refused_before_any_snapshot() {
    let server = start(remote()).await;
    // No credential: HTTP 403 at the upgrade, no 101, no snapshot.
    assert_eq!(ws(server.addr, &[]).await.err(), Some(403));
    // A wrong cookie or token: the same.
    assert_eq!(
        ws(server.addr, &[("cookie", "lab_link_session=forged")])
            .await
            .err(),
        Some(403)
    );
    assert_eq!(
        ws(server.addr, &[("authorization", "Bearer ll_forged")])
            .await
            .err(),
        Some(403)
    );
    // GET /state is gated too.
    let (status, _, body) = http(server.addr, "GET", "/sync/state", &[], None).await;
    assert_eq!(status, 401);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"detail": "Authentication required"})
    );

    // With the session cookie of a login: a snapshot.
    let cookie = login(server.addr).await;
    let mut socket = ws(server.addr, &[("cookie", &cookie)])
        .await
        .expect("admitted");
    let snapshot = next_json(&mut socket).await;
    assert_eq!(snapshot["type"], "snapshot");
    let (status, _, body) = http(
        server.addr,
        "GET",
        "/sync/state",
        &[("cookie", &cookie)],
        None,
    )
    .await;
    assert_eq!((status, body.as_str()), (200, r#"{"value":0}"#));

    // GET /history is gated exactly like /state: 401 without a credential,
    // answered with one (here 400: nothing is recorded).
    let (status, _, body) = http(server.addr, "GET", "/sync/history?path=/value", &[], None).await;
    assert_eq!(status, 401);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"detail": "Authentication required"})
    );
    let (status, _, body) = http(
        server.addr,
        "GET",
        "/sync/history?path=/value",
        &[("cookie", &cookie)],
        None,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["parameter"],
        "path"
    );
}

#[tokio::test]
async fn a_foreign_origin_is_refused_even_with_a_valid_cookie() {
    let server = start(remote()).await;
    let cookie = login(server.addr).await;
    let host = server.addr.to_string();
    let same = format!("http://{host}");
    let evil = format!("http://evil.example:{}", server.addr.port());
    assert!(ws(server.addr, &[("cookie", &cookie), ("origin", &same)])
        .await
        .is_ok());
    assert_eq!(
        ws(server.addr, &[("cookie", &cookie), ("origin", &evil)])
            .await
            .err(),
        Some(403)
    );
    assert_eq!(
        ws(server.addr, &[("cookie", &cookie), ("origin", "null")])
            .await
            .err(),
        Some(403)
    );
    // The same host and port over https is another origin (the server
    // speaks plain http, and no trusted proxy says otherwise).
    let secure = format!("https://{host}");
    assert_eq!(
        ws(server.addr, &[("cookie", &cookie), ("origin", &secure)])
            .await
            .err(),
        Some(403)
    );
}

#[tokio::test]
async fn a_trusted_proxy_makes_https_origins_same_origin() {
    // 127.0.0.1 is a TLS-terminating proxy: `X-Forwarded-Proto: https`
    // from it makes the request's scheme https.
    let server = start(remote().trusted_proxy(IpAddr::V4(Ipv4Addr::LOCALHOST))).await;
    let cookie = login(server.addr).await;
    let host = server.addr.to_string();
    let (secure, plain) = (format!("https://{host}"), format!("http://{host}"));
    let forwarded = [
        ("x-forwarded-for", "198.51.100.7"),
        ("x-forwarded-proto", "https"),
    ];
    assert!(handshake_ok(server.addr, &cookie, &secure, &forwarded).await);
    assert!(!handshake_ok(server.addr, &cookie, &plain, &forwarded).await);
}

/// Whether the handshake with these headers is admitted (or refused with
/// 403).
async fn handshake_ok(
    addr: SocketAddr,
    cookie: &str,
    origin: &str,
    extra: &[(&str, &str)],
) -> bool {
    let mut headers = vec![("cookie", cookie), ("origin", origin)];
    headers.extend_from_slice(extra);
    match ws(addr, &headers).await {
        Ok(_) => true,
        Err(status) => {
            assert_eq!(status, 403);
            false
        }
    }
}

#[tokio::test]
async fn cross_site_cookie_posts_are_refused() {
    let server = start(remote()).await;
    let cookie = login(server.addr).await;
    let origin = format!("http://{}", server.addr);
    for (path, code) in [
        ("/sync/auth/logout", "origin_not_allowed"),
        ("/sync/auth/invites", "forbidden"),
    ] {
        let (status, _, body) = http(
            server.addr,
            "POST",
            path,
            &[
                ("cookie", &cookie),
                ("origin", &origin),
                ("sec-fetch-site", "cross-site"),
            ],
            None,
        )
        .await;
        assert_eq!(status, 403, "{path}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body, json!({"authorized": false, "error": code}));
    }
    // The session survived, and a same-origin logout works.
    assert!(ws(server.addr, &[("cookie", &cookie)]).await.is_ok());
    let (status, _, body) = http(
        server.addr,
        "POST",
        "/sync/auth/logout",
        &[
            ("cookie", &cookie),
            ("origin", &origin),
            ("sec-fetch-site", "same-origin"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        ws(server.addr, &[("cookie", &cookie)]).await.err(),
        Some(403)
    );
}

#[tokio::test]
async fn capabilities_are_enforced_per_command() {
    let server = start(remote()).await;
    let viewer = server
        .auth
        .create_token("viewer", ["read_state"], None)
        .expect("a token");
    let operator = server
        .auth
        .create_token("operator", ["control"], None)
        .expect("a token");
    assert!(viewer.token.starts_with("ll_"));

    let bearer = format!("Bearer {}", viewer.token);
    let mut socket = ws(server.addr, &[("authorization", &bearer)])
        .await
        .expect("a viewer may read");
    assert_eq!(next_json(&mut socket).await["type"], "snapshot");
    let answer = command(&mut socket, "set_value", json!({"value": 1}), "r1").await;
    assert_eq!(answer["type"], "command_error");
    assert_eq!(answer["code"], "forbidden");
    assert_eq!(
        answer["message"],
        "This credential is not permitted to run that command."
    );
    assert_eq!(answer["recoverable"], false);
    // `requires = []`: any credential.
    let answer = command(&mut socket, "ping", json!({}), "r2").await;
    assert_eq!(answer["result"], "pong");
    // Unknown names look forbidden to a viewer.
    let answer = command(&mut socket, "no_such", json!({}), "r3").await;
    assert_eq!(answer["code"], "forbidden");
    assert_eq!(server.sync.read().value, 0);

    let bearer = format!("Bearer {}", operator.token);
    let mut socket = ws(server.addr, &[("authorization", &bearer)])
        .await
        .expect("admitted");
    next_json(&mut socket).await;
    let answer = command(&mut socket, "set_value", json!({"value": 7}), "r4").await;
    assert_eq!(answer["type"], "command_ack", "{answer}");
    let answer = command(&mut socket, "administer", json!({}), "r5").await;
    assert_eq!(answer["code"], "forbidden");
    assert_eq!(server.sync.read().value, 7);
}

#[tokio::test]
async fn revocation_closes_an_open_socket_at_once() {
    // The periodic re-check is an hour away: only the immediate path can
    // close these sockets.
    let server = start(remote()).await;
    let token = server
        .auth
        .create_token("logger", ["control"], None)
        .unwrap();
    let bearer = format!("Bearer {}", token.token);
    let mut by_token = ws(server.addr, &[("authorization", &bearer)])
        .await
        .unwrap();
    next_json(&mut by_token).await;
    let cookie = login(server.addr).await;
    let mut by_cookie = ws(server.addr, &[("cookie", &cookie)]).await.unwrap();
    next_json(&mut by_cookie).await;

    // Revoking the token over HTTP (a manage_access session) closes its
    // socket with 4401, while the cookie's socket stays.
    let (status, _, body) = http(
        server.addr,
        "POST",
        "/sync/auth/tokens/revoke",
        &[("cookie", &cookie)],
        Some(json!({"id": token.id})),
    )
    .await;
    assert_eq!((status, body.as_str()), (200, r#"{"revoked":true}"#));
    assert_eq!(close_code(&mut by_token).await, Some(4401));

    // Logout ends the session: its socket closes with 4401 too.
    let (status, _, _) = http(
        server.addr,
        "POST",
        "/sync/auth/logout",
        &[("cookie", &cookie)],
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(close_code(&mut by_cookie).await, Some(4401));
    // And the credential no longer opens a socket.
    assert_eq!(
        ws(server.addr, &[("cookie", &cookie)]).await.err(),
        Some(403)
    );
}

#[tokio::test]
async fn rotation_closes_session_sockets_and_keeps_tokens() {
    let server = start(remote()).await;
    let token = server
        .auth
        .create_token("logger", ["control"], None)
        .unwrap();
    let bearer = format!("Bearer {}", token.token);
    let mut by_token = ws(server.addr, &[("authorization", &bearer)])
        .await
        .unwrap();
    next_json(&mut by_token).await;
    let cookie = login(server.addr).await;
    let mut by_cookie = ws(server.addr, &[("cookie", &cookie)]).await.unwrap();
    next_json(&mut by_cookie).await;
    let (status, _, body) = http(
        server.addr,
        "POST",
        "/sync/auth/passphrase",
        &[("cookie", &cookie)],
        Some(json!({"passphrase": "a brand new passphrase", "currentPassphrase": PASSPHRASE})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(close_code(&mut by_cookie).await, Some(4401));
    // The token's socket goes on.
    let answer = command(&mut by_token, "set_value", json!({"value": 3}), "t1").await;
    assert_eq!(answer["type"], "command_ack", "{answer}");
}

#[tokio::test]
async fn a_client_behind_a_trusted_proxy_is_remote() {
    // Loopback trust on, 127.0.0.1 a trusted proxy: a request forwarded
    // for a documentation address is a remote client through the same
    // code path a real reverse proxy takes.
    let config = AuthConfig::new()
        .passphrase(PASSPHRASE)
        .trusted_proxy(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let server = start(config).await;
    let (status, _, body) = http(server.addr, "GET", "/sync/auth/status", &[], None).await;
    assert_eq!(status, 200);
    let status_body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status_body["principal"]["kind"], "local", "{body}");

    let forwarded = [("x-forwarded-for", "198.51.100.7")];
    let (_, _, body) = http(server.addr, "GET", "/sync/auth/status", &forwarded, None).await;
    let status_body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status_body["principal"], Value::Null, "{body}");
    assert_eq!(ws(server.addr, &forwarded).await.err(), Some(403));
    // Setup is for the local machine only.
    let (status, _, _) = http(
        server.addr,
        "POST",
        "/sync/auth/setup",
        &forwarded,
        Some(json!({"passphrase": "another long passphrase"})),
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn forwarding_headers_from_an_untrusted_peer_void_loopback_trust() {
    let server = start(AuthConfig::new().passphrase(PASSPHRASE)).await;
    let (_, _, body) = http(server.addr, "GET", "/sync/auth/status", &[], None).await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["principal"]["kind"],
        "local"
    );
    // A same-host proxy that does not say who its client is must not make
    // everyone local: a forwarding header from a peer nobody trusts voids
    // the loopback trust.
    let (_, _, body) = http(
        server.addr,
        "GET",
        "/sync/auth/status",
        &[("x-forwarded-for", "198.51.100.7")],
        None,
    )
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["principal"],
        Value::Null
    );
    // A Host that is not a loopback name (DNS rebinding) voids it too.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(
            b"GET /sync/state HTTP/1.1\r\nHost: rebound.example\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    assert!(
        String::from_utf8_lossy(&response).starts_with("HTTP/1.1 401"),
        "{}",
        String::from_utf8_lossy(&response)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_burst_is_limited_and_does_not_stall_other_clients() {
    let server = start(remote().max_failures(5)).await;
    let token = server
        .auth
        .create_token("operator", ["control"], None)
        .unwrap();
    let bearer = format!("Bearer {}", token.token);
    let mut socket = ws(server.addr, &[("authorization", &bearer)])
        .await
        .unwrap();
    next_json(&mut socket).await;

    // 20 wrong passphrases at once from one client.
    let addr = server.addr;
    let burst: Vec<_> = (0..20)
        .map(|_| {
            tokio::spawn(async move {
                http(
                    addr,
                    "POST",
                    "/sync/auth/login",
                    &[],
                    Some(json!({"passphrase": "wrong passphrase guess"})),
                )
                .await
            })
        })
        .collect();
    // Meanwhile, an unrelated client's commands go on: each completes while
    // the burst is still being verified (Argon2 runs on the blocking pool,
    // at most two at a time, never on the executor).
    let mut answered_during_burst = 0;
    for i in 0..5 {
        let answer = command(
            &mut socket,
            "set_value",
            json!({"value": i}),
            &format!("c{i}"),
        )
        .await;
        assert_eq!(answer["type"], "command_ack");
        if burst.iter().any(|task| !task.is_finished()) {
            answered_during_burst += 1;
        }
    }
    let mut statuses = Vec::new();
    for task in burst {
        let (status, headers, _) = task.await.unwrap();
        if status == 429 {
            assert_eq!(
                header(&headers, "retry-after").len(),
                1,
                "429 says when to retry"
            );
        }
        statuses.push(status);
    }
    let verified = statuses.iter().filter(|&&s| s == 401).count();
    let limited = statuses.iter().filter(|&&s| s == 429).count();
    assert_eq!(verified + limited, 20, "{statuses:?}");
    assert!(
        verified <= 5,
        "at most 5 passphrases verified: {statuses:?}"
    );
    assert!(
        answered_during_burst > 0,
        "commands were answered while the burst ran"
    );
    // The right passphrase is limited too, for this client, now.
    let (status, _, _) = http(
        addr,
        "POST",
        "/sync/auth/login",
        &[],
        Some(json!({"passphrase": PASSPHRASE})),
    )
    .await;
    assert_eq!(status, 429);
}
