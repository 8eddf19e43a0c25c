//! Helpers shared by the access-control tests: request builders, a
//! throw-away store directory, and a cheap Argon2 hash so that most tests
//! log in without paying for the 64 MiB parameters.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use http::{HeaderMap, Method, StatusCode};
use lab_link_auth::{Auth, AuthConfig, AuthRequest, Store};
use serde_json::{json, Value};

/// The passphrase of the cheap stores.
pub(crate) const PASSPHRASE: &str = "correct horse battery";
/// The `Host` of requests from the instrument computer itself.
pub(crate) const LOCAL_HOST: &str = "127.0.0.1:8000";
/// The `Host` a LAN browser uses.
pub(crate) const LAN_HOST: &str = "192.0.2.1:8000";

/// A directory under the system temp dir, removed on drop.
pub(crate) struct TestDir {
    pub(crate) path: PathBuf,
}

impl TestDir {
    pub(crate) fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "lab-link-auth-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create the test directory");
        Self { path }
    }

    /// The store file's path.
    pub(crate) fn store(&self) -> PathBuf {
        self.path.join("auth.db")
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// An Argon2id PHC string of `passphrase` with tiny parameters: the
/// verifier reads the parameters from the hash, so logins against it are
/// fast.
pub(crate) fn cheap_hash(passphrase: &str) -> String {
    let params = Params::new(8, 1, 1, None).expect("valid parameters");
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = SaltString::encode_b64(b"lab-link-salt-16").expect("a valid salt");
    argon2
        .hash_password(passphrase.as_bytes(), &salt)
        .expect("hashing")
        .to_string()
}

/// A store holding the cheap hash of [`PASSPHRASE`].
pub(crate) fn cheap_store(dir: &TestDir) -> PathBuf {
    let path = dir.store();
    let store = Store::open(&path).expect("open the store");
    store
        .set_passphrase_hash(&cheap_hash(PASSPHRASE))
        .expect("store the hash");
    path
}

/// An `Auth` on a fresh store with the cheap passphrase, from `config`.
pub(crate) fn cheap_auth(dir: &TestDir, config: AuthConfig) -> Auth {
    Auth::new(config.store(cheap_store(dir))).expect("auth")
}

/// A request from the instrument computer (loopback peer and `Host`).
pub(crate) fn local(method: Method, path: &str) -> AuthRequest {
    let peer: SocketAddr = "127.0.0.1:50000".parse().expect("address");
    AuthRequest::new(method, path, peer).header("host", LOCAL_HOST)
}

/// A request from a LAN client (a documentation address; nothing is sent
/// anywhere, the request is only a value).
pub(crate) fn remote(method: Method, path: &str) -> AuthRequest {
    remote_from("192.0.2.10", method, path)
}

/// A request from LAN client `ip`.
pub(crate) fn remote_from(ip: &str, method: Method, path: &str) -> AuthRequest {
    let peer: SocketAddr = format!("{ip}:50000").parse().expect("address");
    AuthRequest::new(method, path, peer).header("host", LAN_HOST)
}

/// An answer, taken apart.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Reply {
    /// The `Set-Cookie` header.
    pub(crate) fn cookie(&self) -> &str {
        self.headers
            .get("set-cookie")
            .and_then(|value| value.to_str().ok())
            .expect("a Set-Cookie header")
    }

    /// The session secret of the `Set-Cookie` header.
    pub(crate) fn secret(&self) -> String {
        let cookie = self.cookie();
        let first = cookie.split(';').next().expect("a cookie pair");
        first
            .strip_prefix("lab_link_session=")
            .expect("the session cookie")
            .to_owned()
    }
}

/// Sends `request` to `auth` and expects an answer.
pub(crate) async fn call(auth: &Auth, request: AuthRequest) -> Reply {
    let response = auth.handle(request).await.expect("an auth route");
    let body = if response.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&response.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&response.body).into_owned()))
    };
    Reply {
        status: response.status,
        headers: response.headers,
        body,
    }
}

/// A JSON POST from the LAN.
pub(crate) fn remote_post(path: &str, body: &Value) -> AuthRequest {
    remote(Method::POST, path).json(body)
}

/// Logs in from the LAN; the reply.
pub(crate) async fn login(auth: &Auth, passphrase: &str, remember: bool) -> Reply {
    call(
        auth,
        remote_post(
            "/auth/login",
            &json!({"passphrase": passphrase, "remember": remember, "deviceName": "Laptop"}),
        ),
    )
    .await
}

/// A management token (made through the Rust API).
pub(crate) fn manager_token(auth: &Auth) -> String {
    auth.create_token("manager", ["manage_access"], None)
        .expect("token")
        .token
}

/// A request from the LAN with `Authorization: Bearer token`.
pub(crate) fn with_bearer(request: AuthRequest, token: &str) -> AuthRequest {
    request.header("authorization", &format!("Bearer {token}"))
}

/// A request with the session cookie `secret`.
pub(crate) fn with_session(request: AuthRequest, secret: &str) -> AuthRequest {
    request.header("cookie", &format!("lab_link_session={secret}"))
}

/// The principal JSON of `GET /auth/status` for a LAN request.
pub(crate) async fn status_principal(auth: &Auth, request: AuthRequest) -> Value {
    let reply = call(auth, request).await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.body["principal"].clone()
}
