//! Credentials over time: invitation statuses and events, restarts on the
//! same store, passphrase rotation, the 12.4 constructor rules, and
//! `Watch` ending on revocation, logout, rotation and expiry.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use http::{Method, StatusCode};
use lab_link_auth::{
    Auth, AuthConfig, AuthError, AuthPrincipal, InviteEvent, InviteStatus, PrincipalKind,
};
use serde_json::{json, Value};
use tokio::time::timeout;

/// A guard against hangs only: everything awaited here completes far
/// sooner, or is expected not to complete at all.
const HANG: Duration = Duration::from_secs(10);

fn record_events(auth: &Auth) -> Arc<Mutex<Vec<InviteEvent>>> {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    auth.on_invite_event(move |event| sink.lock().unwrap().push(event.clone()));
    events
}

fn statuses(events: &Mutex<Vec<InviteEvent>>, id: &str) -> Vec<InviteStatus> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter(|event| event.invite_id == id)
        .map(|event| event.status)
        .collect()
}

async fn wait_for_status(events: &Mutex<Vec<InviteEvent>>, id: &str, status: InviteStatus) {
    timeout(HANG, async {
        while !statuses(events, id).contains(&status) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the event arrives");
}

async fn exchange(auth: &Auth, token: &str) -> Reply {
    call(auth, remote_post("/auth/invite", &json!({"invite": token}))).await
}

#[tokio::test]
async fn invitation_statuses_and_events() {
    let dir = TestDir::new("invite-events");
    let auth = cheap_auth(&dir, AuthConfig::new());
    let events = record_events(&auth);
    // A panicking callback is swallowed; the others still run.
    auth.on_invite_event(|_| panic!("a faulty listener"));

    // active -> consumed.
    let consumed = auth.create_invite(None);
    assert_eq!(auth.invite_status(&consumed.id), Some(InviteStatus::Active));
    assert_eq!(
        exchange(&auth, &consumed.token).await.status,
        StatusCode::OK
    );
    assert_eq!(
        auth.invite_status(&consumed.id),
        Some(InviteStatus::Consumed)
    );
    assert_eq!(statuses(&events, &consumed.id), [InviteStatus::Consumed]);
    assert!(!auth.revoke_invite(&consumed.id));

    // active -> revoked.
    let revoked = auth.create_invite(None);
    assert!(auth.revoke_invite(&revoked.id));
    assert_eq!(auth.invite_status(&revoked.id), Some(InviteStatus::Revoked));
    assert_eq!(statuses(&events, &revoked.id), [InviteStatus::Revoked]);
    assert_eq!(
        exchange(&auth, &revoked.token).await.status,
        StatusCode::UNAUTHORIZED
    );

    // active -> expired by the timer, without anyone asking.
    let expiring = auth.create_invite(Some(Duration::from_millis(200)));
    wait_for_status(&events, &expiring.id, InviteStatus::Expired).await;
    assert_eq!(statuses(&events, &expiring.id), [InviteStatus::Expired]);
    let event = events
        .lock()
        .unwrap()
        .iter()
        .find(|event| event.invite_id == expiring.id)
        .cloned()
        .unwrap();
    assert!(event.occurred_at >= expiring.expires_at);
    assert_eq!(
        exchange(&auth, &expiring.token).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        auth.invite_status(&expiring.id),
        Some(InviteStatus::Expired)
    );
    assert_eq!(
        statuses(&events, &expiring.id).len(),
        1,
        "one event per change"
    );
    assert_eq!(auth.invite_status("unknown"), None);
}

#[test]
fn invitations_expire_lazily_without_a_runtime() {
    let dir = TestDir::new("invite-lazy");
    let auth = cheap_auth(&dir, AuthConfig::new());
    let events = record_events(&auth);
    let invite = auth.create_invite(Some(Duration::from_millis(30)));
    std::thread::sleep(Duration::from_millis(60));
    assert!(
        events.lock().unwrap().is_empty(),
        "no timer without a runtime"
    );
    assert_eq!(auth.invite_status(&invite.id), Some(InviteStatus::Expired));
    assert_eq!(statuses(&events, &invite.id), [InviteStatus::Expired]);
}

#[tokio::test]
async fn an_exchange_after_expiry_marks_the_invitation_expired() {
    let dir = TestDir::new("invite-late");
    let auth = cheap_auth(&dir, AuthConfig::new());
    let events = record_events(&auth);
    // Created outside the runtime's view of time: a plain thread, so no
    // timer is armed and the exchange is what notices.
    let invite = std::thread::scope(|scope| {
        scope
            .spawn(|| auth.create_invite(Some(Duration::from_millis(30))))
            .join()
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(60)).await;
    let reply = exchange(&auth, &invite.token).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.body["error"], "invalid_or_expired_invite");
    assert_eq!(statuses(&events, &invite.id), [InviteStatus::Expired]);
}

#[tokio::test]
async fn a_restart_keeps_remembered_sessions_and_tokens_only() {
    let dir = TestDir::new("restart");
    let path = cheap_store(&dir);
    let (normal, remembered, token) = {
        let auth = Auth::new(AuthConfig::new().store(&path)).unwrap();
        assert!(auth.is_configured());
        assert_eq!(auth.passphrase(), None);
        let normal = login(&auth, PASSPHRASE, false).await.secret();
        let remembered = login(&auth, PASSPHRASE, true).await.secret();
        let token = auth
            .create_token("logger", ["read_state"], None)
            .unwrap()
            .token;
        let invited = auth.create_invite(None);
        (normal, remembered, (token, invited))
    };
    let auth = Auth::new(AuthConfig::new().store(&path)).unwrap();
    let status = |secret: &str| with_session(remote(Method::GET, "/auth/status"), secret);
    assert_eq!(status_principal(&auth, status(&normal)).await, Value::Null);
    assert_eq!(
        status_principal(&auth, status(&remembered)).await["kind"],
        "session"
    );
    let request = with_bearer(remote(Method::GET, "/auth/status"), &token.0);
    assert_eq!(status_principal(&auth, request).await["kind"], "api_token");
    // Invitations live in memory only.
    assert_eq!(
        exchange(&auth, &token.1.token).await.status,
        StatusCode::UNAUTHORIZED
    );

    // The store holds no secret in plaintext.
    let bytes: Vec<u8> = std::fs::read_dir(&dir.path)
        .unwrap()
        .flat_map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    let text = String::from_utf8_lossy(&bytes);
    for secret in [&normal, &remembered, &token.0, &PASSPHRASE.to_owned()] {
        assert!(!text.contains(secret.as_str()));
    }
}

#[tokio::test]
async fn remembered_sessions_without_a_store_live_in_memory() {
    let auth = Auth::new(AuthConfig::new()).unwrap();
    let generated = auth.passphrase().expect("a generated passphrase");
    assert_eq!(generated.len(), 14);
    let reply = login(&auth, &generated, true).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["session"]["remembered"], true);
    let request = with_session(remote(Method::GET, "/auth/status"), &reply.secret());
    assert_eq!(status_principal(&auth, request).await["kind"], "session");
}

#[test]
fn constructor_rules_with_a_store() {
    let dir = TestDir::new("constructor");
    // Weak configured passphrase.
    let weak = Auth::new(AuthConfig::new().passphrase("short").store(dir.store()));
    assert!(matches!(weak, Err(AuthError::WeakPassphrase(_))));
    // Store without a hash + a passphrase: stored (one full-cost hash).
    let auth = Auth::new(
        AuthConfig::new()
            .passphrase("the first passphrase")
            .store(dir.store()),
    )
    .unwrap();
    assert!(auth.is_configured());
    assert_eq!(auth.passphrase().as_deref(), Some("the first passphrase"));
    drop(auth);
    // Store with a hash + the same passphrase: fine; another: refused.
    let auth = Auth::new(
        AuthConfig::new()
            .passphrase("the first passphrase")
            .store(dir.store()),
    )
    .unwrap();
    assert!(auth.is_configured());
    drop(auth);
    let mismatch = Auth::new(
        AuthConfig::new()
            .passphrase("a different passphrase")
            .store(dir.store()),
    );
    assert!(matches!(mismatch, Err(AuthError::PassphraseMismatch)));
    // Store with a hash, none given: configured, nothing to display.
    let auth = Auth::new(AuthConfig::new().store(dir.store())).unwrap();
    assert!(auth.is_configured());
    assert_eq!(auth.passphrase(), None);
}

#[tokio::test]
async fn rotation_revokes_sessions_and_invites_but_keeps_tokens() {
    let dir = TestDir::new("rotation");
    let auth = cheap_auth(&dir, AuthConfig::new());
    let events = record_events(&auth);
    let normal = login(&auth, PASSPHRASE, false).await.secret();
    let remembered = login(&auth, PASSPHRASE, true).await.secret();
    let invite = auth.create_invite(None);
    let token = auth
        .create_token("logger", ["read_state"], None)
        .unwrap()
        .token;
    let principal = auth
        .resolve(
            &with_session(remote(Method::GET, "/state"), &remembered),
            false,
        )
        .unwrap();
    let mut watch = auth.watch(&principal);

    let weak = with_session(remote(Method::POST, "/auth/passphrase"), &remembered)
        .json(&json!({"passphrase": "short", "currentPassphrase": PASSPHRASE}));
    let reply = call(&auth, weak).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"], "weak_passphrase");
    assert_eq!(
        reply.body["message"],
        "passphrase must contain at least 12 characters"
    );
    assert!(!watch.is_revoked());

    let rotate = with_session(remote(Method::POST, "/auth/passphrase"), &remembered)
        .json(&json!({"passphrase": "the rotated passphrase", "currentPassphrase": PASSPHRASE}));
    let reply = call(&auth, rotate).await;
    assert_eq!(
        (reply.status, reply.body.clone()),
        (StatusCode::OK, json!({"changed": true}))
    );
    timeout(HANG, watch.ended())
        .await
        .expect("the rotated-away session's watch ends");

    let status = |secret: &str| with_session(remote(Method::GET, "/auth/status"), secret);
    assert_eq!(status_principal(&auth, status(&normal)).await, Value::Null);
    assert_eq!(
        status_principal(&auth, status(&remembered)).await,
        Value::Null
    );
    assert_eq!(
        exchange(&auth, &invite.token).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(statuses(&events, &invite.id), [InviteStatus::Revoked]);
    let request = with_bearer(remote(Method::GET, "/auth/status"), &token);
    assert_eq!(status_principal(&auth, request).await["kind"], "api_token");

    assert_eq!(
        login(&auth, PASSPHRASE, false).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&auth, "the rotated passphrase", false).await.status,
        StatusCode::OK
    );

    // The new hash is in the store: a restart uses it.
    drop(auth);
    let auth = Auth::new(AuthConfig::new().store(dir.store())).unwrap();
    assert_eq!(
        login(&auth, "the rotated passphrase", false).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn rotation_flags_can_keep_sessions_and_invites() {
    let dir = TestDir::new("rotation-flags");
    let auth = cheap_auth(&dir, AuthConfig::new());
    let secret = login(&auth, PASSPHRASE, false).await.secret();
    let invite = auth.create_invite(None);
    let rotate = with_session(remote(Method::POST, "/auth/passphrase"), &secret).json(&json!({
        "passphrase": "the rotated passphrase", "currentPassphrase": PASSPHRASE,
        "revokeSessions": false, "revokeInvites": false}));
    assert_eq!(call(&auth, rotate).await.status, StatusCode::OK);
    let request = with_session(remote(Method::GET, "/auth/status"), &secret);
    assert_eq!(status_principal(&auth, request).await["kind"], "session");
    assert_eq!(auth.invite_status(&invite.id), Some(InviteStatus::Active));
    let bad = with_session(remote(Method::POST, "/auth/passphrase"), &secret)
        .json(&json!({"passphrase": "another new passphrase", "currentPassphrase": "the rotated passphrase", "revokeSessions": "false"}));
    assert_eq!(call(&auth, bad).await.status, StatusCode::BAD_REQUEST);
}

/// W5: a rotation over HTTP proves the current passphrase, except from
/// the instrument computer or with the check turned off for 0.5.0
/// clients; a wrong one counts against the login rate limit.
#[tokio::test]
async fn rotation_needs_the_current_passphrase() {
    let dir = TestDir::new("rotation-current");
    let auth = cheap_auth(&dir, AuthConfig::new().max_failures(3));
    let secret = login(&auth, PASSPHRASE, false).await.secret();
    let rotate =
        |body: Value| with_session(remote(Method::POST, "/auth/passphrase"), &secret).json(&body);
    let new = "the rotated passphrase";

    let reply = call(&auth, rotate(json!({"passphrase": new}))).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.body,
        json!({"authorized": false, "error": "invalid_request",
               "message": "`currentPassphrase` is required"})
    );
    let reply = call(
        &auth,
        rotate(json!({"passphrase": new, "currentPassphrase": 7})),
    )
    .await;
    assert_eq!(reply.body["error"], "invalid_request");
    // The new passphrase is checked before the current one is verified.
    let reply = call(
        &auth,
        rotate(json!({"passphrase": "short", "currentPassphrase": "wrong"})),
    )
    .await;
    assert_eq!(reply.body["error"], "weak_passphrase");

    for _ in 0..2 {
        let reply = call(
            &auth,
            rotate(json!({"passphrase": new, "currentPassphrase": "not the passphrase"})),
        )
        .await;
        assert_eq!(
            (reply.status, reply.body),
            (
                StatusCode::UNAUTHORIZED,
                json!({"authorized": false, "error": "invalid_credentials"})
            )
        );
    }
    // The third failure of this client, counted with its logins.
    assert_eq!(
        login(&auth, "not the passphrase either", false)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let reply = call(
        &auth,
        rotate(json!({"passphrase": new, "currentPassphrase": PASSPHRASE})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.body["error"], "rate_limited");
    assert!(reply.headers.contains_key("retry-after"));

    // From the instrument computer: not needed, but checked when given.
    let local_rotate = |body: Value| local(Method::POST, "/auth/passphrase").json(&body);
    let reply = call(
        &auth,
        local_rotate(json!({"passphrase": new, "currentPassphrase": "wrong"})),
    )
    .await;
    assert_eq!(reply.body["error"], "invalid_credentials");
    let reply = call(&auth, local_rotate(json!({"passphrase": new}))).await;
    assert_eq!(reply.body, json!({"changed": true}));
    assert_eq!(
        login(&auth, PASSPHRASE, false).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn rotation_with_the_current_passphrase_and_without_the_check() {
    let dir = TestDir::new("rotation-level-1");
    let auth = cheap_auth(&dir, AuthConfig::new());
    let secret = login(&auth, PASSPHRASE, false).await.secret();
    let rotate = with_session(remote(Method::POST, "/auth/passphrase"), &secret).json(
        &json!({"passphrase": "the rotated passphrase", "currentPassphrase": PASSPHRASE,
                "revokeSessions": false}),
    );
    assert_eq!(call(&auth, rotate).await.body, json!({"changed": true}));
    assert_eq!(
        login(&auth, "the rotated passphrase", false).await.status,
        StatusCode::OK
    );

    // Turned off, a 0.5.0 client's body (no `currentPassphrase`) works.
    let dir = TestDir::new("rotation-unchecked");
    let auth = cheap_auth(&dir, AuthConfig::new().require_current_passphrase(false));
    let manager = manager_token(&auth);
    let rotate =
        |body: Value| with_bearer(remote(Method::POST, "/auth/passphrase"), &manager).json(&body);
    let reply = call(
        &auth,
        rotate(json!({"passphrase": "the rotated passphrase"})),
    )
    .await;
    assert_eq!(reply.body, json!({"changed": true}));
    // A current passphrase given is still checked.
    let reply = call(
        &auth,
        rotate(json!({"passphrase": "a third passphrase", "currentPassphrase": PASSPHRASE})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    // Unconfigured (a store without a passphrase): nothing to prove yet.
    let dir = TestDir::new("rotation-unconfigured");
    let auth = Auth::new(AuthConfig::new().store(dir.store())).unwrap();
    let manager = manager_token(&auth);
    let rotate = with_bearer(remote(Method::POST, "/auth/passphrase"), &manager).json(
        &json!({"passphrase": "the first passphrase", "currentPassphrase": "anything at all"}),
    );
    let reply = call(&auth, rotate).await;
    assert_eq!(
        (reply.status, reply.body["error"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, json!("setup_required"))
    );
    assert!(!auth.is_configured());
}

fn session_of(auth: &Auth, secret: &str) -> AuthPrincipal {
    auth.resolve(&with_session(remote(Method::GET, "/state"), secret), false)
        .expect("a live session")
}

#[tokio::test]
async fn watches_end_on_revocation_and_logout() {
    let dir = TestDir::new("watch");
    let auth = cheap_auth(&dir, AuthConfig::new());

    // Token revoked by id.
    let token = auth.create_token("t", ["control"], None).unwrap();
    let principal = auth
        .resolve(
            &with_bearer(remote(Method::GET, "/state"), &token.token),
            false,
        )
        .unwrap();
    let mut watch = auth.watch(&principal);
    assert!(timeout(Duration::from_millis(50), watch.ended())
        .await
        .is_err());
    assert!(auth.revoke_token(&token.id));
    timeout(HANG, watch.ended()).await.expect("ends on revoke");

    // Token revoke-all over HTTP.
    let token = auth.create_token("t", ["control"], None).unwrap();
    let mut watch = auth.watch(
        &auth
            .resolve(
                &with_bearer(remote(Method::GET, "/state"), &token.token),
                false,
            )
            .unwrap(),
    );
    let reply = call(&auth, local(Method::POST, "/auth/tokens/revoke-all")).await;
    assert_eq!(reply.status, StatusCode::OK);
    timeout(HANG, watch.ended())
        .await
        .expect("ends on revoke-all");

    // Session logout (remembered: in the store) and revoke by id.
    let remembered = login(&auth, PASSPHRASE, true).await.secret();
    let normal = login(&auth, PASSPHRASE, false).await.secret();
    let mut remembered_watch = auth.watch(&session_of(&auth, &remembered));
    let normal_principal = session_of(&auth, &normal);
    let mut normal_watch = auth.watch(&normal_principal);
    let logout = with_session(remote(Method::POST, "/auth/logout"), &remembered);
    assert_eq!(call(&auth, logout).await.status, StatusCode::OK);
    timeout(HANG, remembered_watch.ended())
        .await
        .expect("ends on logout");
    assert!(!normal_watch.is_revoked());
    assert!(auth.revoke_session(&normal_principal.id));
    timeout(HANG, normal_watch.ended())
        .await
        .expect("ends on revoke");

    // A watch on a credential that is already gone ends at once.
    let mut late = auth.watch(&normal_principal);
    timeout(HANG, late.ended()).await.expect("ends at once");

    // Local never ends.
    let local_principal = auth.resolve(&local(Method::GET, "/state"), false).unwrap();
    assert_eq!(local_principal.kind, PrincipalKind::Local);
    let mut forever = auth.watch(&local_principal);
    auth.revoke_all_sessions();
    auth.revoke_all_tokens();
    assert!(timeout(Duration::from_millis(50), forever.ended())
        .await
        .is_err());
}

#[tokio::test]
async fn watches_end_at_expiry() {
    let dir = TestDir::new("watch-expiry");
    let auth = cheap_auth(
        &dir,
        AuthConfig::new().session_ttl(Duration::from_millis(300)),
    );
    let secret = login(&auth, PASSPHRASE, false).await.secret();
    let mut watch = auth.watch(&session_of(&auth, &secret));
    timeout(HANG, watch.ended())
        .await
        .expect("ends at the session's expiry");
    let request = with_session(remote(Method::GET, "/auth/status"), &secret);
    assert_eq!(status_principal(&auth, request).await, Value::Null);

    let token = auth
        .create_token("short", ["control"], Some(Duration::from_millis(200)))
        .unwrap();
    let mut watch = auth.watch(
        &auth
            .resolve(
                &with_bearer(remote(Method::GET, "/state"), &token.token),
                false,
            )
            .unwrap(),
    );
    timeout(HANG, watch.ended())
        .await
        .expect("ends at the token's expiry");
    let request = with_bearer(remote(Method::GET, "/auth/status"), &token.token);
    assert_eq!(status_principal(&auth, request).await, Value::Null);
}
