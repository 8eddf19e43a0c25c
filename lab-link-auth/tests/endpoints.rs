//! Every `{prefix}/auth/…` endpoint of AUTH.md 6.2, its success and each
//! failure code in the table's order, plus the strict-JSON and cookie
//! rules (no sockets: requests are values handed to `Auth::handle`).

mod common;

use std::time::Duration;

use common::*;
use http::{Method, StatusCode};
use lab_link_auth::{Auth, AuthConfig, AuthRequest};
use serde_json::{json, Value};

fn error(reply: &Reply) -> &str {
    assert_eq!(reply.body["authorized"], false, "{reply:?}");
    reply.body["error"].as_str().expect("an error code")
}

/// Seconds between two ISO timestamps of the same day-ish range, via the
/// session object (parsed by hand: `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`).
fn unix(iso: &str) -> f64 {
    let (date, rest) = iso.split_once('T').expect("a date");
    let time = rest.strip_suffix("+00:00").expect("a UTC offset");
    let mut parts = date.split('-').map(|p| p.parse::<i64>().expect("a number"));
    let (y, m, d) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    // Days from civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let mut hms = time.split(':');
    let h: f64 = hms.next().unwrap().parse().unwrap();
    let min: f64 = hms.next().unwrap().parse().unwrap();
    let s: f64 = hms.next().unwrap().parse().unwrap();
    days as f64 * 86_400.0 + h * 3600.0 + min * 60.0 + s
}

#[tokio::test]
async fn unknown_paths_are_not_ours_and_wrong_methods_get_405() {
    let dir = TestDir::new("paths");
    let auth = cheap_auth(&dir, AuthConfig::new());
    assert!(auth.handle(remote(Method::GET, "/state")).await.is_none());
    assert!(auth
        .handle(remote(Method::GET, "/auth/nope"))
        .await
        .is_none());
    assert!(auth
        .handle(remote(Method::GET, "/auth/login/"))
        .await
        .is_none());
    for (method, path) in [
        (Method::GET, "/auth/login"),
        (Method::POST, "/auth/status"),
        (Method::OPTIONS, "/auth/login"),
        (Method::DELETE, "/auth/tokens"),
        (Method::GET, "/auth/invites"),
    ] {
        let reply = call(&auth, remote(method.clone(), path)).await;
        assert_eq!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(reply.body, "Method Not Allowed");
        assert!(reply.headers.get("access-control-allow-origin").is_none());
    }
}

#[tokio::test]
async fn status_reports_configuration_and_principal() {
    let dir = TestDir::new("status");
    let auth = Auth::new(AuthConfig::new().store(dir.store())).unwrap();
    let reply = call(&auth, remote(Method::GET, "/auth/status")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body,
        json!({"configured": false, "authorized": false, "principal": null})
    );

    let reply = call(&auth, local(Method::GET, "/auth/status")).await;
    assert_eq!(
        reply.body,
        json!({"configured": false, "authorized": true, "principal": {
            "id": "local", "kind": "local", "label": "Local host",
            "capabilities": ["control", "manage_access"], "sessionId": null}})
    );

    let token = auth.create_token("logger", ["read_state"], None).unwrap();
    let principal = status_principal(
        &auth,
        with_bearer(remote(Method::GET, "/auth/status"), &token.token),
    )
    .await;
    assert_eq!(
        principal,
        json!({"id": token.id, "kind": "api_token", "label": "logger",
               "capabilities": ["read_state"], "sessionId": null})
    );
    // The bearer scheme is case-insensitive; an unknown token is nobody.
    let request = remote(Method::GET, "/auth/status")
        .header("authorization", &format!("bEaReR {}", token.token));
    assert_eq!(
        status_principal(&auth, request).await["id"],
        token.id.as_str()
    );
    let request = with_bearer(remote(Method::GET, "/auth/status"), "ll_nope");
    assert_eq!(status_principal(&auth, request).await, Value::Null);
}

#[tokio::test]
async fn loopback_needs_trust_loopback_and_a_loopback_host() {
    let dir = TestDir::new("loopback");
    let auth = cheap_auth(&dir, AuthConfig::new().trust_loopback(false));
    assert_eq!(
        status_principal(&auth, local(Method::GET, "/auth/status")).await,
        Value::Null
    );

    let auth = Auth::new(AuthConfig::new().store(dir.store())).unwrap();
    // DNS rebinding: loopback peer, named Host.
    let peer = "127.0.0.1:5000".parse().unwrap();
    let rebinding =
        AuthRequest::new(Method::GET, "/auth/status", peer).header("host", "evil.example:8000");
    assert_eq!(status_principal(&auth, rebinding).await, Value::Null);
    // A cookie or bearer token is ignored for a local client.
    let token = auth.create_token("t", ["read_state"], None).unwrap();
    let request = with_bearer(local(Method::GET, "/auth/status"), &token.token);
    assert_eq!(status_principal(&auth, request).await["id"], "local");
}

#[tokio::test]
async fn setup_checks_origin_loopback_configuration_and_strength() {
    let dir = TestDir::new("setup");
    let auth = Auth::new(AuthConfig::new().store(dir.store()).trust_loopback(false)).unwrap();
    assert!(!auth.is_configured());
    let body = json!({"passphrase": "a brand new passphrase", "remember": true, "deviceName": " Bench PC "});

    let bad_origin = local(Method::POST, "/auth/setup")
        .header("origin", "http://evil.example:8000")
        .json(&body);
    let reply = call(&auth, bad_origin).await;
    assert_eq!(
        (reply.status, error(&reply)),
        (StatusCode::FORBIDDEN, "origin_not_allowed")
    );

    let reply = call(&auth, remote_post("/auth/setup", &body)).await;
    assert_eq!(
        (reply.status, error(&reply)),
        (StatusCode::FORBIDDEN, "local_setup_required")
    );

    let weak = local(Method::POST, "/auth/setup").json(&json!({"passphrase": "short"}));
    let reply = call(&auth, weak).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(error(&reply), "weak_passphrase");
    assert_eq!(
        reply.body["message"],
        "passphrase must contain at least 12 characters"
    );
    assert!(!auth.is_configured());

    // Loopback works for setup even with trust_loopback off.
    let request = local(Method::POST, "/auth/setup")
        .header("origin", "http://127.0.0.1:8000")
        .json(&body);
    let reply = call(&auth, request).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["configured"], true);
    assert_eq!(reply.body["authorized"], true);
    assert!(reply.body.get("principal").is_none());
    let session = &reply.body["session"];
    assert_eq!(session["authMethod"], "setup");
    assert_eq!(session["label"], "Bench PC");
    assert_eq!(session["remembered"], true);
    assert_eq!(session["capabilities"], json!(["control", "manage_access"]));
    assert!(reply.cookie().contains("; Max-Age=2592000; "));
    assert!(auth.is_configured());

    let reply = call(&auth, local(Method::POST, "/auth/setup").json(&body)).await;
    assert_eq!(
        (reply.status, error(&reply)),
        (StatusCode::CONFLICT, "already_configured")
    );

    // The setup passphrase logs in (one full-cost verification).
    let reply = login(&auth, "a brand new passphrase", false).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn setup_without_a_store_is_already_configured() {
    let auth = Auth::new(AuthConfig::new().passphrase("configured passphrase")).unwrap();
    assert_eq!(auth.passphrase().as_deref(), Some("configured passphrase"));
    let reply = call(
        &auth,
        local(Method::POST, "/auth/setup").json(&json!({"passphrase": "another passphrase"})),
    )
    .await;
    assert_eq!(
        (reply.status, error(&reply)),
        (StatusCode::CONFLICT, "already_configured")
    );
}

#[tokio::test]
async fn login_failure_codes_in_order() {
    let dir = TestDir::new("login-order");
    // Unconfigured: 403 before 503.
    let unconfigured = Auth::new(AuthConfig::new().store(dir.store())).unwrap();
    let body = json!({"passphrase": PASSPHRASE});
    let reply = call(
        &unconfigured,
        remote(Method::POST, "/auth/login")
            .header("origin", "http://evil.example")
            .json(&body),
    )
    .await;
    assert_eq!(
        (reply.status, error(&reply)),
        (StatusCode::FORBIDDEN, "origin_not_allowed")
    );
    let reply = call(&unconfigured, remote_post("/auth/login", &body)).await;
    assert_eq!(
        (reply.status, error(&reply)),
        (StatusCode::SERVICE_UNAVAILABLE, "setup_required")
    );
    drop(unconfigured);

    let dir = TestDir::new("login-order-2");
    let auth = cheap_auth(&dir, AuthConfig::new().max_failures(2));
    let reply = login(&auth, "wrong passphrase!!", false).await;
    assert_eq!(
        (reply.status, error(&reply)),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    assert!(reply.headers.get("set-cookie").is_none());
    let reply = login(&auth, "", false).await;
    assert_eq!(
        (reply.status, error(&reply)),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    // Limited now, even with the right passphrase.
    let reply = login(&auth, PASSPHRASE, false).await;
    assert_eq!(
        (reply.status, error(&reply)),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    let retry: u64 = reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Another client is independent.
    let other = remote_from("192.0.2.77", Method::POST, "/auth/login").json(&body);
    assert_eq!(call(&auth, other).await.status, StatusCode::OK);
}

#[tokio::test]
async fn login_sets_the_exact_cookie_and_ttls() {
    let dir = TestDir::new("login-cookie");
    let auth = cheap_auth(&dir, AuthConfig::new());

    let reply = login(&auth, PASSPHRASE, false).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "application/json");
    let secret = reply.secret();
    assert_eq!(secret.len(), 43);
    assert!(secret
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    assert_eq!(
        reply.cookie(),
        format!("lab_link_session={secret}; HttpOnly; Max-Age=43200; Path=/; SameSite=strict")
    );
    let session = reply.body["session"].as_object().unwrap();
    let keys: Vec<&str> = session.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "label",
            "createdAt",
            "lastUsedAt",
            "expiresAt",
            "remembered",
            "authMethod",
            "capabilities"
        ]
    );
    assert_eq!(session["authMethod"], "passphrase");
    assert_eq!(session["remembered"], false);
    assert_eq!(session["label"], "Laptop");
    assert_eq!(session["id"].as_str().unwrap().len(), 24);
    let created = unix(session["createdAt"].as_str().unwrap());
    let ttl = unix(session["expiresAt"].as_str().unwrap()) - created;
    assert!((ttl - 43_200.0).abs() < 0.01, "{ttl}");

    let reply = login(&auth, PASSPHRASE, true).await;
    assert!(reply.cookie().contains("; Max-Age=2592000; "));
    let session = &reply.body["session"];
    assert_eq!(session["remembered"], true);
    let ttl =
        unix(session["expiresAt"].as_str().unwrap()) - unix(session["createdAt"].as_str().unwrap());
    assert!((ttl - 2_592_000.0).abs() < 0.01, "{ttl}");

    // Secure over TLS; the default device name.
    let request = remote(Method::POST, "/auth/login")
        .https(true)
        .json(&json!({"passphrase": PASSPHRASE}));
    let reply = call(&auth, request).await;
    assert!(
        reply.cookie().ends_with("; SameSite=strict; Secure"),
        "{}",
        reply.cookie()
    );
    assert_eq!(reply.body["session"]["label"], "Browser");

    // The cookie is a credential.
    let principal = status_principal(
        &auth,
        with_session(remote(Method::GET, "/auth/status"), &secret),
    )
    .await;
    assert_eq!(principal["kind"], "session");
    assert_eq!(principal["sessionId"], principal["id"]);
    assert_eq!(principal["label"], "Laptop");
}

#[tokio::test]
async fn a_new_login_revokes_the_presented_session() {
    let dir = TestDir::new("relogin");
    let auth = cheap_auth(&dir, AuthConfig::new());
    let first = login(&auth, PASSPHRASE, false).await.secret();
    let request = with_session(remote(Method::POST, "/auth/login"), &first)
        .json(&json!({"passphrase": PASSPHRASE}));
    let second = call(&auth, request).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(
        status_principal(
            &auth,
            with_session(remote(Method::GET, "/auth/status"), &first)
        )
        .await,
        Value::Null
    );
    let principal = status_principal(
        &auth,
        with_session(remote(Method::GET, "/auth/status"), &second.secret()),
    )
    .await;
    assert_eq!(principal["kind"], "session");
}

#[tokio::test]
async fn invite_exchange() {
    let dir = TestDir::new("invite");
    // Invitations work even while unconfigured (0.5.0 behaviour).
    let auth = Auth::new(AuthConfig::new().store(dir.store())).unwrap();
    let invite = auth.create_invite(None);
    assert_eq!(invite.token.len(), 43);
    assert_eq!(invite.id.len(), 24);

    let request = remote(Method::POST, "/auth/invite")
        .header("origin", "http://evil.example:8000")
        .json(&json!({"invite": invite.token}));
    let reply = call(&auth, request).await;
    assert_eq!(
        (reply.status, error(&reply)),
        (StatusCode::FORBIDDEN, "origin_not_allowed")
    );

    for body in [json!({"invite": "nope"}), json!({}), json!({"token": ""})] {
        let reply = call(&auth, remote_post("/auth/invite", &body)).await;
        assert_eq!(
            (reply.status, error(&reply)),
            (StatusCode::UNAUTHORIZED, "invalid_or_expired_invite")
        );
    }

    let reply = call(
        &auth,
        remote_post(
            "/auth/invite",
            &json!({"invite": invite.token, "deviceName": "Phone"}),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["configured"], true);
    let session = &reply.body["session"];
    assert_eq!(session["authMethod"], "invite");
    assert_eq!(session["capabilities"], json!(["control"]));
    assert_eq!(session["label"], "Phone");
    assert!(!reply.body.to_string().contains(&invite.token));
    assert!(reply.cookie().contains("; Max-Age=43200; "));

    // Single use.
    let reply = call(
        &auth,
        remote_post("/auth/invite", &json!({"invite": invite.token})),
    )
    .await;
    assert_eq!(
        (reply.status, error(&reply)),
        (StatusCode::UNAUTHORIZED, "invalid_or_expired_invite")
    );

    // The `token` key is accepted too.
    let second = auth.create_invite(None);
    let reply = call(
        &auth,
        remote_post("/auth/invite", &json!({"token": second.token})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn logout_clears_the_cookie_and_revokes_the_session() {
    let dir = TestDir::new("logout");
    let auth = cheap_auth(&dir, AuthConfig::new());
    let secret = login(&auth, PASSPHRASE, true).await.secret();
    let token = manager_token(&auth);

    let request = with_session(remote(Method::POST, "/auth/logout"), &secret)
        .header("origin", "http://evil.example");
    let reply = call(&auth, request).await;
    assert_eq!(
        (reply.status, error(&reply)),
        (StatusCode::FORBIDDEN, "origin_not_allowed")
    );

    let request = with_bearer(
        with_session(remote(Method::POST, "/auth/logout"), &secret),
        &token,
    );
    let reply = call(&auth, request).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, json!({"configured": true, "authorized": false}));
    let cookie = reply.cookie();
    let rest = cookie
        .strip_prefix("lab_link_session=\"\"; expires=")
        .expect(cookie);
    let (date, attributes) = rest.split_once(';').unwrap();
    assert!(date.ends_with(" GMT"), "{date}");
    assert!(httpdate::parse_http_date(date).is_ok());
    assert_eq!(attributes, " Max-Age=0; Path=/; SameSite=strict; HttpOnly");

    // The remembered session is gone; the bearer token is untouched.
    let request = with_session(remote(Method::GET, "/auth/status"), &secret);
    assert_eq!(status_principal(&auth, request).await, Value::Null);
    let request = with_bearer(remote(Method::GET, "/auth/status"), &token);
    assert_eq!(status_principal(&auth, request).await["kind"], "api_token");

    // Without a cookie it still answers 200.
    assert_eq!(
        call(&auth, remote(Method::POST, "/auth/logout"))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn management_endpoints_answer_forbidden_for_every_failure() {
    let dir = TestDir::new("forbidden");
    let auth = cheap_auth(&dir, AuthConfig::new());
    let control_only = auth.create_token("ctl", ["control"], None).unwrap().token;
    let manager = manager_token(&auth);
    let endpoints = [
        (
            Method::POST,
            "/auth/passphrase",
            json!({"passphrase": "a brand new passphrase"}),
        ),
        (Method::GET, "/auth/sessions", Value::Null),
        (Method::POST, "/auth/sessions/revoke", json!({"id": "x"})),
        (Method::POST, "/auth/sessions/revoke-all", Value::Null),
        (Method::POST, "/auth/invites", json!({})),
        (Method::POST, "/auth/invites/revoke", json!({"id": "x"})),
        (Method::GET, "/auth/tokens", Value::Null),
        (
            Method::POST,
            "/auth/tokens",
            json!({"label": "x", "capabilities": []}),
        ),
        (Method::POST, "/auth/tokens/revoke", json!({"id": "x"})),
        (Method::POST, "/auth/tokens/revoke-all", Value::Null),
    ];
    for (method, path, body) in endpoints {
        let build = || {
            let request = remote(method.clone(), path);
            if body.is_null() {
                request
            } else {
                request.json(&body)
            }
        };
        let cases = [
            ("no credential", build()),
            ("missing capability", with_bearer(build(), &control_only)),
            (
                "bad origin",
                with_bearer(build(), &manager).header("origin", "http://evil.example:8000"),
            ),
            ("local, bad origin", {
                let request = local(method.clone(), path).header("origin", "http://localhost:9999");
                if body.is_null() {
                    request
                } else {
                    request.json(&body)
                }
            }),
        ];
        for (case, request) in cases {
            let reply = call(&auth, request).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}: {case}");
            assert_eq!(
                reply.body,
                json!({"authorized": false, "error": "forbidden"}),
                "{path}: {case}"
            );
        }
    }
    // A bad body is only looked at after the gate.
    let reply = call(&auth, remote(Method::POST, "/auth/invites").body("ttl=5")).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sessions_list_and_revoke() {
    let dir = TestDir::new("sessions");
    let auth = cheap_auth(&dir, AuthConfig::new());
    let normal = login(&auth, PASSPHRASE, false).await;
    let remembered = login(&auth, PASSPHRASE, true).await;
    let manager = remembered.secret();

    let reply = call(
        &auth,
        with_session(remote(Method::GET, "/auth/sessions"), &manager),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let sessions = reply.body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0], normal.body["session"]);
    assert_eq!(sessions[1]["id"], remembered.body["session"]["id"]);
    assert_eq!(sessions[1]["remembered"], true);

    let normal_id = normal.body["session"]["id"].as_str().unwrap();
    let revoke = |id: &str| {
        with_session(remote(Method::POST, "/auth/sessions/revoke"), &manager)
            .json(&json!({"id": id}))
    };
    let reply = call(&auth, revoke(normal_id)).await;
    assert_eq!(
        (reply.status, reply.body.clone()),
        (StatusCode::OK, json!({"revoked": true}))
    );
    let reply = call(&auth, revoke(normal_id)).await;
    assert_eq!(reply.body, json!({"revoked": false}));
    let request = with_session(remote(Method::GET, "/auth/status"), &normal.secret());
    assert_eq!(status_principal(&auth, request).await, Value::Null);

    // revoke-all includes the caller's own session.
    let reply = call(
        &auth,
        with_session(remote(Method::POST, "/auth/sessions/revoke-all"), &manager),
    )
    .await;
    assert_eq!(
        (reply.status, reply.body.clone()),
        (StatusCode::OK, json!({"revoked": true}))
    );
    let reply = call(
        &auth,
        with_session(remote(Method::GET, "/auth/sessions"), &manager),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = call(&auth, local(Method::GET, "/auth/sessions")).await;
    assert_eq!(reply.body, json!({"sessions": []}));
}

#[tokio::test]
async fn invites_create_validate_and_revoke() {
    let dir = TestDir::new("invites");
    let auth = cheap_auth(&dir, AuthConfig::new());
    let manager = manager_token(&auth);
    let create = |body: &str| {
        with_bearer(remote(Method::POST, "/auth/invites"), &manager)
            .header("content-type", "application/json")
            .body(body.to_owned())
    };

    for (body, message) in [
        (r#"{"ttl": 0}"#, "ttl must be greater than zero"),
        (r#"{"ttl": -5}"#, "ttl must be greater than zero"),
        (r#"{"ttl": "abc"}"#, "ttl must be a number of seconds"),
        (r#"{"ttl": 1e12}"#, "ttl must be at most"),
        (r#"{"ttl": 1e999}"#, "not valid JSON"),
        (r#"{"ttl": NaN}"#, "not valid JSON"),
        (r#"{"ttl": Infinity}"#, "not valid JSON"),
        ("[1]", "must be a JSON object"),
    ] {
        let reply = call(&auth, create(body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error(&reply), "invalid_invite", "{body}");
        let got = reply.body["message"].as_str().unwrap();
        assert!(got.contains(message), "{body}: {got}");
    }

    let reply = call(&auth, create("")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let keys: Vec<&str> = reply
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["id", "token", "expiresAt", "status"]);
    assert_eq!(reply.body["status"], "active");
    let left = unix(reply.body["expiresAt"].as_str().unwrap()) - now();
    assert!((295.0..=300.5).contains(&left), "{left}");

    let reply = call(&auth, create(r#"{"ttl": 60.5}"#)).await;
    let left = unix(reply.body["expiresAt"].as_str().unwrap()) - now();
    assert!((55.0..=60.6).contains(&left), "{left}");
    let id = reply.body["id"].as_str().unwrap().to_owned();
    let token = reply.body["token"].as_str().unwrap().to_owned();

    let revoke = |id: &str| {
        with_bearer(remote(Method::POST, "/auth/invites/revoke"), &manager).json(&json!({"id": id}))
    };
    assert_eq!(
        call(&auth, revoke(&id)).await.body,
        json!({"revoked": true})
    );
    assert_eq!(
        call(&auth, revoke(&id)).await.body,
        json!({"revoked": false})
    );
    assert_eq!(
        call(&auth, revoke("unknown")).await.body,
        json!({"revoked": false})
    );
    let reply = call(
        &auth,
        remote_post("/auth/invite", &json!({"invite": token})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[tokio::test]
async fn tokens_create_list_and_revoke() {
    let dir = TestDir::new("tokens");
    let auth = cheap_auth(&dir, AuthConfig::new());
    auth.declare_capabilities(["set_channel"]);
    let manager = manager_token(&auth);
    let create =
        |body: Value| with_bearer(remote(Method::POST, "/auth/tokens"), &manager).json(&body);

    for (body, message) in [
        (
            json!({"label": "  ", "capabilities": []}),
            "API token label is required",
        ),
        (json!({"capabilities": []}), "API token label is required"),
        (
            json!({"label": "x", "capabilities": "control"}),
            "must be a list of strings",
        ),
        (
            json!({"label": "x", "capabilities": [1]}),
            "must be a list of strings",
        ),
        (json!({"label": "x", "capabilities": ["*"]}), "`*`"),
        (
            json!({"label": "x", "capabilities": ["launch_missiles"]}),
            "unknown capability `launch_missiles`",
        ),
        (
            json!({"label": "x", "ttl": 0}),
            "ttl must be greater than zero",
        ),
        (
            json!({"label": "x", "ttl": -1}),
            "ttl must be greater than zero",
        ),
        (json!({"label": "x", "ttl": "10"}), "ttl must be a number"),
        (json!({"label": 5}), "`label` must be a string"),
    ] {
        let reply = call(&auth, create(body.clone())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error(&reply), "invalid_token", "{body}");
        let got = reply.body["message"].as_str().unwrap();
        assert!(got.contains(message), "{body}: {got}");
    }
    // A blank label gets 0.5.0's message, word for word.
    let reply = call(&auth, create(json!({"label": "", "capabilities": []}))).await;
    assert_eq!(
        reply.body,
        json!({"authorized": false, "error": "invalid_token",
               "message": "API token label is required"})
    );
    assert_eq!(
        auth.create_token(" ", ["control"], None).unwrap_err(),
        "API token label is required"
    );

    let reply = call(
        &auth,
        create(json!({"label": " logger ", "capabilities": ["set_channel", "read_state", "read_state"]})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let keys: Vec<&str> = reply
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "token",
            "label",
            "createdAt",
            "expiresAt",
            "capabilities"
        ]
    );
    assert_eq!(reply.body["label"], "logger");
    assert_eq!(reply.body["expiresAt"], Value::Null);
    assert_eq!(
        reply.body["capabilities"],
        json!(["read_state", "set_channel"])
    );
    let secret = reply.body["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("ll_"));
    assert_eq!(secret.len(), 46);
    let id = reply.body["id"].as_str().unwrap().to_owned();

    let timed = call(&auth, create(json!({"label": "timed", "ttl": 3600}))).await;
    let left = unix(timed.body["expiresAt"].as_str().unwrap())
        - unix(timed.body["createdAt"].as_str().unwrap());
    assert!((left - 3600.0).abs() < 0.01);
    assert_eq!(timed.body["capabilities"], json!([]));

    // A token with no capabilities still resolves (it can read state).
    let request = with_bearer(
        remote(Method::GET, "/state"),
        timed.body["token"].as_str().unwrap(),
    );
    assert!(auth.state_allowed(&request).is_ok());

    auth.create_token("unused", ["control"], None).unwrap();
    // Use sets lastUsedAt; the list never shows secrets.
    let request = with_bearer(remote(Method::GET, "/auth/status"), &secret);
    assert_eq!(status_principal(&auth, request).await["id"], id.as_str());
    let reply = call(
        &auth,
        with_bearer(remote(Method::GET, "/auth/tokens"), &manager),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let tokens = reply.body["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 4);
    assert!(!reply.body.to_string().contains("ll_"));
    let logger = tokens.iter().find(|t| t["id"] == id.as_str()).unwrap();
    let keys: Vec<&str> = logger
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "label",
            "createdAt",
            "lastUsedAt",
            "expiresAt",
            "capabilities"
        ]
    );
    assert!(logger["lastUsedAt"].is_string());
    let timed_entry = tokens.iter().find(|t| t["label"] == "timed").unwrap();
    assert!(timed_entry["lastUsedAt"].is_string());
    let unused_entry = tokens.iter().find(|t| t["label"] == "unused").unwrap();
    assert_eq!(unused_entry["lastUsedAt"], Value::Null);

    let revoke = |id: &str| {
        with_bearer(remote(Method::POST, "/auth/tokens/revoke"), &manager).json(&json!({"id": id}))
    };
    assert_eq!(
        call(&auth, revoke(&id)).await.body,
        json!({"revoked": true})
    );
    assert_eq!(
        call(&auth, revoke(&id)).await.body,
        json!({"revoked": false})
    );
    let request = with_bearer(remote(Method::GET, "/auth/status"), &secret);
    assert_eq!(status_principal(&auth, request).await, Value::Null);

    let reply = call(
        &auth,
        with_bearer(remote(Method::POST, "/auth/tokens/revoke-all"), &manager),
    )
    .await;
    assert_eq!(
        (reply.status, reply.body.clone()),
        (StatusCode::OK, json!({"revoked": true}))
    );
    let reply = call(
        &auth,
        with_bearer(remote(Method::GET, "/auth/tokens"), &manager),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = call(&auth, local(Method::GET, "/auth/tokens")).await;
    assert_eq!(reply.body, json!({"tokens": []}));
}

#[tokio::test]
async fn the_rust_api_may_grant_star_but_validates_names() {
    let dir = TestDir::new("token-api");
    let auth = cheap_auth(&dir, AuthConfig::new());
    let star = auth.create_token("root", ["*"], None).unwrap();
    assert_eq!(star.capabilities, ["*"]);
    assert!(auth
        .create_token("x", ["nope"], None)
        .unwrap_err()
        .contains("unknown capability"));
    assert!(auth.create_token("", ["control"], None).is_err());
    assert!(auth
        .create_token("x", ["control"], Some(Duration::ZERO))
        .is_err());
    auth.declare_capabilities(["nope"]);
    assert!(auth.create_token("x", ["nope"], None).is_ok());
    let request = with_bearer(remote(Method::GET, "/auth/tokens"), &star.token);
    assert_eq!(call(&auth, request).await.status, StatusCode::OK);
}

#[tokio::test]
async fn strict_json_bodies() {
    let dir = TestDir::new("strict");
    let auth = cheap_auth(&dir, AuthConfig::new());
    let login = || remote(Method::POST, "/auth/login");

    // A form body (0.5.0 parsed it): refused with a message.
    let reply = call(
        &auth,
        login()
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("passphrase={PASSPHRASE}")),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(error(&reply), "unsupported_media_type");
    assert!(reply.body["message"]
        .as_str()
        .unwrap()
        .contains("application/json"));
    let reply = call(
        &auth,
        login()
            .header("content-type", "text/plain")
            .body(format!("passphrase={PASSPHRASE}")),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let reply = call(
        &auth,
        login().body(format!(r#"{{"passphrase": "{PASSPHRASE}"}}"#)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // JSON with parameters is JSON.
    let request = login()
        .header("content-type", "application/json; charset=utf-8")
        .body(format!(r#"{{"passphrase": "{PASSPHRASE}"}}"#));
    assert_eq!(call(&auth, request).await.status, StatusCode::OK);

    for (body, message) in [
        (
            json!({"passphrase": PASSPHRASE, "remember": "false"}),
            "`remember` must be true or false",
        ),
        (
            json!({"passphrase": PASSPHRASE, "remember": 0}),
            "`remember` must be true or false",
        ),
        (
            json!({"passphrase": PASSPHRASE, "deviceName": 7}),
            "`deviceName` must be a string",
        ),
        (
            json!({"passphrase": 123_456_789_012_345_u64}),
            "`passphrase` must be a string",
        ),
        (json!({}), "`passphrase` is required"),
        (json!(["x"]), "must be a JSON object"),
    ] {
        let reply = call(&auth, login().json(&body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error(&reply), "invalid_request");
        assert!(
            reply.body["message"].as_str().unwrap().contains(message),
            "{body}: {reply:?}"
        );
    }
    let reply = call(
        &auth,
        login()
            .header("content-type", "application/json")
            .body("{nope"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);

    // Over 4096 bytes: 413, even for a valid login.
    let padded = json!({"passphrase": PASSPHRASE, "deviceName": "x".repeat(5000)});
    let reply = call(&auth, login().json(&padded)).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        reply.body,
        json!({"authorized": false, "error": "body_too_large"})
    );
    let padded = json!({"invite": "x", "deviceName": "x".repeat(5000)});
    assert_eq!(
        call(&auth, remote_post("/auth/invite", &padded))
            .await
            .status,
        StatusCode::PAYLOAD_TOO_LARGE
    );

    // None of these counted as failed logins.
    assert_eq!(
        call(&auth, login().json(&json!({"passphrase": PASSPHRASE})))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn state_gate() {
    let dir = TestDir::new("state");
    let auth = cheap_auth(&dir, AuthConfig::new());
    let refused = auth
        .state_allowed(&remote(Method::GET, "/state"))
        .unwrap_err();
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.json_body().unwrap(),
        json!({"detail": "Authentication required"})
    );
    assert_eq!(
        auth.state_allowed(&local(Method::GET, "/state"))
            .unwrap()
            .id,
        "local"
    );
    let secret = login(&auth, PASSPHRASE, false).await.secret();
    let principal = auth
        .state_allowed(&with_session(remote(Method::GET, "/state"), &secret))
        .unwrap();
    assert_eq!(principal.capabilities.len(), 2);
    // A present Origin must pass (W2), for the app's own routes too.
    let cross = with_session(remote(Method::GET, "/state"), &secret)
        .header("origin", "http://evil.example");
    assert!(auth.state_allowed(&cross).is_err());
    assert!(auth.http_authorized(&cross).is_none());
    let same = with_session(remote(Method::GET, "/state"), &secret)
        .header("origin", &format!("http://{LAN_HOST}"));
    assert!(auth.http_authorized(&same).is_some());
    // resolve without the Origin check ignores it.
    assert!(auth.resolve(&cross, false).is_some());
    assert!(auth.resolve(&cross, true).is_none());
}

#[tokio::test]
async fn allowed_origins_pass_login_and_management() {
    let dir = TestDir::new("allowed");
    let auth = cheap_auth(&dir, AuthConfig::new().allowed_origin("https://ui.example"));
    let manager = manager_token(&auth);
    let request = with_bearer(remote(Method::GET, "/auth/sessions"), &manager)
        .header("origin", "https://ui.example/");
    assert_eq!(call(&auth, request).await.status, StatusCode::OK);
    let request = remote(Method::POST, "/auth/login")
        .header("origin", "https://ui.example")
        .json(&json!({"passphrase": PASSPHRASE}));
    assert_eq!(call(&auth, request).await.status, StatusCode::OK);
}

#[test]
fn auth_and_its_futures_can_cross_threads() {
    fn send_sync<T: Send + Sync + 'static>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let auth = Auth::new(AuthConfig::new().passphrase("configured passphrase")).unwrap();
    send_sync(&auth);
    let handle = auth.handle(remote(Method::GET, "/auth/status"));
    send(&handle);
    let local_principal = auth.resolve(&local(Method::GET, "/state"), false).unwrap();
    let mut watch = auth.watch(&local_principal);
    send_sync(&watch);
    send(&watch.ended());
    let change = auth.change_passphrase("another passphrase", true, true);
    send(&change);
}

/// W10: the Origin's scheme must be the request's, and a spelled-out
/// default port is the same origin.
#[tokio::test]
async fn the_origin_scheme_must_be_the_requests() {
    let dir = TestDir::new("scheme");
    let auth = cheap_auth(&dir, AuthConfig::new());
    let login_from = |origin: &str, https: bool| {
        remote(Method::POST, "/auth/login")
            .header("origin", origin)
            .https(https)
            .json(&json!({"passphrase": PASSPHRASE}))
    };
    let plain = format!("http://{LAN_HOST}");
    let secure = format!("https://{LAN_HOST}");
    for (origin, https, expect) in [
        (&plain, false, StatusCode::OK),
        (&secure, false, StatusCode::FORBIDDEN),
        (&plain, true, StatusCode::FORBIDDEN),
        (&secure, true, StatusCode::OK),
    ] {
        let reply = call(&auth, login_from(origin, https)).await;
        assert_eq!(reply.status, expect, "{origin} over https: {https}");
        if expect == StatusCode::FORBIDDEN {
            assert_eq!(error(&reply), "origin_not_allowed");
        }
    }
    // The WebSocket handshake's principal and a management endpoint too.
    let token = manager_token(&auth);
    let handshake =
        |origin: &str| with_bearer(remote(Method::GET, "/ws"), &token).header("origin", origin);
    assert!(auth.resolve(&handshake(&plain), true).is_some());
    assert!(auth.resolve(&handshake(&secure), true).is_none());
    let sessions =
        with_bearer(remote(Method::GET, "/auth/sessions"), &token).header("origin", &secure);
    let reply = call(&auth, sessions).await;
    assert_eq!(
        (reply.status, error(&reply)),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    // Host without a port, Origin with the default one: the same origin.
    let request = AuthRequest::new(
        Method::POST,
        "/auth/login",
        "192.0.2.10:50000".parse().unwrap(),
    )
    .header("host", "192.0.2.1")
    .header("origin", "http://192.0.2.1:80")
    .json(&json!({"passphrase": PASSPHRASE}));
    assert_eq!(call(&auth, request).await.status, StatusCode::OK);
}

/// W5: a POST that carries the session cookie is refused when
/// `Sec-Fetch-Site` says it comes from another site.
#[tokio::test]
async fn cookie_posts_check_sec_fetch_site() {
    let dir = TestDir::new("fetch-site");
    let auth = cheap_auth(&dir, AuthConfig::new());
    let secret = login(&auth, PASSPHRASE, false).await.secret();
    let origin = format!("http://{LAN_HOST}");
    let post = |path: &str, site: Option<&str>, with_origin: bool| {
        let mut request = with_session(remote(Method::POST, path), &secret);
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        if with_origin {
            request = request.header("origin", &origin);
        }
        request
    };

    // Refused, with each endpoint's own code; the session lives on.
    for (site, with_origin) in [
        ("cross-site", true),
        ("cross-site", false),
        ("same-site", false),
        ("somewhere-else", true),
    ] {
        let reply = call(&auth, post("/auth/logout", Some(site), with_origin)).await;
        assert_eq!(
            (reply.status, error(&reply)),
            (StatusCode::FORBIDDEN, "origin_not_allowed"),
            "{site}, Origin: {with_origin}"
        );
        let reply = call(&auth, post("/auth/invites", Some(site), with_origin)).await;
        assert_eq!(
            (reply.status, error(&reply)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{site}, Origin: {with_origin}"
        );
        let login =
            post("/auth/login", Some(site), with_origin).json(&json!({"passphrase": PASSPHRASE}));
        assert_eq!(call(&auth, login).await.status, StatusCode::FORBIDDEN);
    }
    let status = with_session(remote(Method::GET, "/auth/status"), &secret);
    assert_eq!(status_principal(&auth, status).await["kind"], "session");

    // Allowed: same-origin, none, absent, and same-site with an Origin.
    for (site, with_origin) in [
        (Some("same-origin"), true),
        (Some("none"), false),
        (None, false),
        (Some("same-site"), true),
    ] {
        let reply = call(&auth, post("/auth/invites", site, with_origin)).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{site:?}, Origin: {with_origin}"
        );
    }
    // Without the cookie the header does not matter (a bearer token, or
    // a first login).
    let token = manager_token(&auth);
    let request = with_bearer(remote(Method::POST, "/auth/invites"), &token)
        .header("sec-fetch-site", "cross-site");
    assert_eq!(call(&auth, request).await.status, StatusCode::OK);
    let request = remote_post("/auth/login", &json!({"passphrase": PASSPHRASE}))
        .header("sec-fetch-site", "cross-site");
    assert_eq!(call(&auth, request).await.status, StatusCode::OK);
    // GETs are not concerned.
    let request = with_session(remote(Method::GET, "/auth/sessions"), &secret)
        .header("sec-fetch-site", "cross-site");
    assert_eq!(call(&auth, request).await.status, StatusCode::OK);
}
