//! Every `{prefix}/auth/…` endpoint over real sockets, in the order a lab
//! meets them: first-run setup on the instrument computer, logins from the
//! LAN (through 127.0.0.1 as a trusted proxy, the path a real reverse
//! proxy takes), invitations, API tokens, session management, rotation,
//! logout, strict inputs, and a restart on the same store.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use lab_link::auth::{Auth, AuthConfig};
use lab_link::{LabSync, Server, ServerConfig};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TIMEOUT: Duration = Duration::from_secs(20);
/// The LAN client the trusted proxy forwards for.
const LAN: (&str, &str) = ("x-forwarded-for", "198.51.100.7");

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `name=value` of the Set-Cookie header.
    fn cookie(&self) -> String {
        let cookie = self.header("set-cookie").expect("a Set-Cookie header");
        cookie.split(';').next().unwrap().to_owned()
    }

    #[track_caller]
    fn error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.body["authorized"], false, "{}", self.body);
        assert_eq!(self.body["error"], code, "{}", self.body);
    }
}

async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
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
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()));
    Reply {
        status,
        headers,
        body,
    }
}

/// A JSON POST.
async fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: Value) -> Reply {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    send(addr, "POST", path, &all, &body.to_string()).await
}

async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Reply {
    send(addr, "GET", path, headers, "").await
}

async fn serve(store: &Path) -> SocketAddr {
    let auth = Auth::new(
        AuthConfig::new()
            .store(store)
            .trusted_proxy(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    )
    .expect("auth");
    let server = Server::builder()
        .config(ServerConfig::default().auth(auth))
        .bind(LabSync::new(json!({"value": 1})), "127.0.0.1:0")
        .await
        .expect("binds");
    let addr = server.local_addr();
    tokio::spawn(server.run());
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_over_a_socket() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("auth-endpoints");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("auth.sqlite");
    let addr = serve(&store).await;

    // Status: unconfigured; the instrument computer itself is local.
    let status = get(addr, "/sync/auth/status", &[]).await;
    assert_eq!(status.status, 200);
    assert_eq!(status.body["configured"], false);
    assert_eq!(status.body["principal"]["kind"], "local");
    let status = get(addr, "/sync/auth/status", &[LAN]).await;
    assert_eq!(
        status.body,
        json!({"configured": false, "authorized": false, "principal": null})
    );

    // Setup: not from the LAN, not weak, once.
    post(
        addr,
        "/sync/auth/login",
        &[LAN],
        json!({"passphrase": "anything at all"}),
    )
    .await
    .error(503, "setup_required");
    post(
        addr,
        "/sync/auth/setup",
        &[LAN],
        json!({"passphrase": "a long enough phrase"}),
    )
    .await
    .error(403, "local_setup_required");
    let weak = post(
        addr,
        "/sync/auth/setup",
        &[],
        json!({"passphrase": "short"}),
    )
    .await;
    weak.error(400, "weak_passphrase");
    assert_eq!(
        weak.body["message"],
        "passphrase must contain at least 12 characters"
    );
    let setup = post(
        addr,
        "/sync/auth/setup",
        &[],
        json!({"passphrase": "the first passphrase", "remember": true, "deviceName": "bench PC"}),
    )
    .await;
    assert_eq!(setup.status, 200, "{}", setup.body);
    assert_eq!(setup.body["configured"], true);
    assert_eq!(setup.body["session"]["authMethod"], "setup");
    assert_eq!(setup.body["session"]["remembered"], true);
    let cookie = setup.header("set-cookie").unwrap();
    assert!(cookie.starts_with("lab_link_session="), "{cookie}");
    assert!(
        cookie.ends_with("; HttpOnly; Max-Age=2592000; Path=/; SameSite=strict"),
        "{cookie}"
    );
    let remembered = setup.cookie();
    post(
        addr,
        "/sync/auth/setup",
        &[],
        json!({"passphrase": "another passphrase"}),
    )
    .await
    .error(409, "already_configured");

    // Login from the LAN: wrong, right (12 h cookie), over https (Secure),
    // and from a foreign Origin.
    post(
        addr,
        "/sync/auth/login",
        &[LAN],
        json!({"passphrase": "not the passphrase"}),
    )
    .await
    .error(401, "invalid_credentials");
    let login = post(
        addr,
        "/sync/auth/login",
        &[LAN],
        json!({"passphrase": "the first passphrase", "deviceName": "laptop"}),
    )
    .await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert_eq!(login.body["session"]["authMethod"], "passphrase");
    assert_eq!(login.body["session"]["label"], "laptop");
    assert!(login
        .header("set-cookie")
        .unwrap()
        .contains("; Max-Age=43200; "));
    let lan_session = login.cookie();
    let secure = post(
        addr,
        "/sync/auth/login",
        &[LAN, ("x-forwarded-proto", "https")],
        json!({"passphrase": "the first passphrase"}),
    )
    .await;
    assert!(
        secure.header("set-cookie").unwrap().ends_with("; Secure"),
        "{:?}",
        secure.header("set-cookie")
    );
    post(
        addr,
        "/sync/auth/login",
        &[LAN, ("origin", "http://evil.example")],
        json!({"passphrase": "the first passphrase"}),
    )
    .await
    .error(403, "origin_not_allowed");

    // Management needs manage_access: a LAN session from the passphrase has it.
    let lan = [LAN, ("cookie", lan_session.as_str())];
    get(addr, "/sync/auth/sessions", &[LAN])
        .await
        .error(403, "forbidden");
    let sessions = get(addr, "/sync/auth/sessions", &lan).await;
    assert_eq!(sessions.status, 200);
    let listed = sessions.body["sessions"].as_array().unwrap();
    assert!(listed.len() >= 2, "{listed:?}");
    for field in [
        "id",
        "label",
        "createdAt",
        "lastUsedAt",
        "expiresAt",
        "remembered",
        "authMethod",
        "capabilities",
    ] {
        assert!(
            listed[0].get(field).is_some(),
            "session field {field}: {}",
            listed[0]
        );
    }

    // Invitations: single use.
    let invite = post(addr, "/sync/auth/invites", &lan, json!({"ttl": 60})).await;
    assert_eq!(invite.status, 200, "{}", invite.body);
    assert_eq!(invite.body["status"], "active");
    let token = invite.body["token"].as_str().unwrap().to_owned();
    let exchanged = post(
        addr,
        "/sync/auth/invite",
        &[LAN],
        json!({"invite": token, "deviceName": "tablet"}),
    )
    .await;
    assert_eq!(exchanged.status, 200, "{}", exchanged.body);
    assert_eq!(exchanged.body["session"]["authMethod"], "invite");
    assert_eq!(
        exchanged.body["session"]["capabilities"],
        json!(["control"])
    );
    assert!(
        !exchanged.body.to_string().contains(&token),
        "the invite secret is never echoed"
    );
    post(addr, "/sync/auth/invite", &[LAN], json!({"token": token}))
        .await
        .error(401, "invalid_or_expired_invite");
    post(addr, "/sync/auth/invites", &lan, json!({"ttl": 0}))
        .await
        .error(400, "invalid_invite");
    let revoked = post(
        addr,
        "/sync/auth/invites/revoke",
        &lan,
        json!({"id": "000000000000000000000000"}),
    )
    .await;
    assert_eq!(revoked.body, json!({"revoked": false}));

    // API tokens: shown once, listed without the secret, revoked.
    let created = post(
        addr,
        "/sync/auth/tokens",
        &lan,
        json!({"label": "logger", "capabilities": ["control"]}),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let secret = created.body["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("ll_") && secret.len() == 46, "{secret}");
    let kept_token = secret.clone();
    let listed = get(addr, "/sync/auth/tokens", &lan).await;
    assert_eq!(listed.body["tokens"][0]["label"], "logger");
    assert!(!listed.body.to_string().contains(&secret));
    let blank = post(
        addr,
        "/sync/auth/tokens",
        &lan,
        json!({"label": " ", "capabilities": []}),
    )
    .await;
    blank.error(400, "invalid_token");
    assert_eq!(blank.body["message"], "API token label is required");
    let second = post(
        addr,
        "/sync/auth/tokens",
        &lan,
        json!({"label": "spare", "capabilities": ["read_state"]}),
    )
    .await;
    let second_id = second.body["id"].as_str().unwrap().to_owned();
    let revoked = post(
        addr,
        "/sync/auth/tokens/revoke",
        &lan,
        json!({"id": second_id}),
    )
    .await;
    assert_eq!(revoked.body, json!({"revoked": true}));
    let bearer = format!("Bearer {kept_token}");
    let state = get(addr, "/sync/state", &[LAN, ("authorization", &bearer)]).await;
    assert_eq!(
        (state.status, state.body.clone()),
        (200, json!({"value": 1}))
    );

    // Sessions: revoke one (the invited tablet's).
    let tablet = exchanged.body["session"]["id"].as_str().unwrap().to_owned();
    let revoked = post(
        addr,
        "/sync/auth/sessions/revoke",
        &lan,
        json!({"id": tablet}),
    )
    .await;
    assert_eq!(revoked.body, json!({"revoked": true}));

    // Strict inputs.
    let oversize = format!("{{\"passphrase\": \"{}\"}}", "x".repeat(5000));
    let big = send(
        addr,
        "POST",
        "/sync/auth/login",
        &[LAN, ("content-type", "application/json")],
        &oversize,
    )
    .await;
    big.error(413, "body_too_large");
    let form = send(
        addr,
        "POST",
        "/sync/auth/login",
        &[LAN, ("content-type", "application/x-www-form-urlencoded")],
        "passphrase=the+first+passphrase",
    )
    .await;
    assert_eq!(form.status, 415, "{}", form.body);
    let typed = post(
        addr,
        "/sync/auth/login",
        &[LAN],
        json!({"passphrase": "the first passphrase", "remember": "false"}),
    )
    .await;
    assert_eq!(typed.status, 400, "{}", typed.body);
    assert_eq!(get(addr, "/sync/auth/login", &[LAN]).await.status, 405);

    // Logout: the clearing cookie, and the session is gone.
    let logout = post(addr, "/sync/auth/logout", &lan, json!({})).await;
    assert_eq!(logout.status, 200);
    assert_eq!(
        logout.body,
        json!({"configured": true, "authorized": false})
    );
    let clearing = logout.header("set-cookie").unwrap();
    assert!(
        clearing.starts_with("lab_link_session=\"\"; expires="),
        "{clearing}"
    );
    assert!(
        clearing.ends_with("; Max-Age=0; Path=/; SameSite=strict; HttpOnly"),
        "{clearing}"
    );
    assert_eq!(get(addr, "/sync/state", &lan).await.status, 401);

    // A normal LAN session for the restart check.
    let normal = post(
        addr,
        "/sync/auth/login",
        &[LAN],
        json!({"passphrase": "the first passphrase"}),
    )
    .await
    .cookie();

    // Restart on the same store: the remembered session and the token
    // survive, the normal session does not.
    let addr = serve(&store).await;
    let status = get(addr, "/sync/auth/status", &[LAN, ("cookie", &remembered)]).await;
    assert_eq!(status.body["authorized"], true, "{}", status.body);
    assert_eq!(status.body["principal"]["kind"], "session");
    assert_eq!(
        get(addr, "/sync/state", &[LAN, ("authorization", &bearer)])
            .await
            .status,
        200
    );
    assert_eq!(
        get(addr, "/sync/state", &[LAN, ("cookie", &normal)])
            .await
            .status,
        401
    );

    // Rotation from the remembered session, which proves the current
    // passphrase: sessions revoked (its own too), tokens kept, the old
    // passphrase refused.
    let remembered_lan = [LAN, ("cookie", remembered.as_str())];
    let missing = post(
        addr,
        "/sync/auth/passphrase",
        &remembered_lan,
        json!({"passphrase": "the second passphrase"}),
    )
    .await;
    missing.error(400, "invalid_request");
    assert_eq!(missing.body["message"], "`currentPassphrase` is required");
    post(
        addr,
        "/sync/auth/passphrase",
        &remembered_lan,
        json!({"passphrase": "the second passphrase", "currentPassphrase": "a wrong guess"}),
    )
    .await
    .error(401, "invalid_credentials");
    post(
        addr,
        "/sync/auth/passphrase",
        &remembered_lan,
        json!({"passphrase": "short", "currentPassphrase": "the first passphrase"}),
    )
    .await
    .error(400, "weak_passphrase");
    let rotated = post(
        addr,
        "/sync/auth/passphrase",
        &remembered_lan,
        json!({"passphrase": "the second passphrase", "currentPassphrase": "the first passphrase"}),
    )
    .await;
    assert_eq!(rotated.body, json!({"changed": true}));
    assert_eq!(get(addr, "/sync/state", &remembered_lan).await.status, 401);
    assert_eq!(
        get(addr, "/sync/state", &[LAN, ("authorization", &bearer)])
            .await
            .status,
        200
    );
    post(
        addr,
        "/sync/auth/login",
        &[LAN],
        json!({"passphrase": "the first passphrase"}),
    )
    .await
    .error(401, "invalid_credentials");
    let again = post(
        addr,
        "/sync/auth/login",
        &[LAN],
        json!({"passphrase": "the second passphrase"}),
    )
    .await;
    assert_eq!(again.status, 200);
    let again = [LAN, ("cookie", &*again.cookie())].map(|(n, v)| (n, v.to_owned()));
    let again: Vec<(&str, &str)> = again.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let all = post(addr, "/sync/auth/tokens/revoke-all", &again, json!({})).await;
    assert_eq!(all.body, json!({"revoked": true}));
    assert_eq!(
        get(addr, "/sync/state", &[LAN, ("authorization", &bearer)])
            .await
            .status,
        401
    );
    let all = post(addr, "/sync/auth/sessions/revoke-all", &again, json!({})).await;
    assert_eq!(all.body, json!({"revoked": true}));
    assert_eq!(
        get(addr, "/sync/state", &again).await.status,
        401,
        "the caller's own session too"
    );

    // The store holds digests only.
    let bytes = std::fs::read(&store).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    for secret in [
        "the first passphrase",
        "the second passphrase",
        kept_token.as_str(),
    ] {
        assert!(
            !text.contains(secret),
            "the store holds {secret:?} in plain text"
        );
    }
}
