//! `Auth`: the access-control state of one server and who a request is
//! (AUTH.md sections 3 and 6 to 13, with the fixes of section 17).
//!
//! The state lives behind one `std::sync::Mutex` that is never held
//! across an `.await`. This file holds [`Auth`] itself, its construction,
//! [`Auth::resolve`] (local, then bearer token, then session cookie) and
//! the gates the endpoints share; the rest is split by concern:
//!
//! - `credentials`: sessions, API tokens, the passphrase and [`Watch`].
//!   Secrets are never compared: a presented cookie or bearer token is
//!   hashed (SHA-256) and looked up by digest (W12). Every revocation
//!   (logout, revoke, revoke-all, rotation) cancels the credential's
//!   [`Watch`] at once, so the server can close its sockets without
//!   waiting for the next frame (W3).
//! - `invites`: single-use invitations, their statuses, expiry timers and
//!   events.
//! - `endpoints`: [`Auth::handle`] and every `{prefix}/auth/…` endpoint.
//!   The passphrase is checked with Argon2id on the blocking pool, behind
//!   a semaphore, after the rate-limit slot has been reserved (W1).
//! - `body`: the strict JSON request bodies (W4).

// A refused request's `Err` is the HTTP answer itself, built once per
// refusal and sent as is: boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

mod body;
mod credentials;
mod endpoints;
mod invites;

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use http::{Method, StatusCode};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::origin::fetch_site_allowed;
use crate::passphrase::{generate_passphrase, validate_passphrase, Hasher};
use crate::rate_limit::RateLimiter;
use crate::time::now_unix;
use crate::{
    decide_trust, origin_allowed, AuthConfig, AuthError, AuthPrincipal, AuthRequest, AuthResponse,
    PrincipalKind, SessionRow, Store, TokenRow,
};

pub use credentials::{NewToken, Watch};
pub use invites::{Invite, InviteEvent, InviteStatus};
use invites::{InviteCallback, InviteRecord};

/// The access-control state of one server; cheap to clone.
///
/// The server hands it every `{prefix}/auth/…` request and asks it who a
/// request or socket is; the application uses it to mint invitations and
/// tokens.
///
/// ```
/// use http::{Method, StatusCode};
/// use lab_link_auth::{Auth, AuthConfig, AuthRequest, InviteStatus};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = std::env::temp_dir().join(format!("lab-link-auth-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// // A store without a passphrase: unconfigured until setup, but
/// // invitations work.
/// let auth = Auth::new(AuthConfig::new().store(dir.join("auth.db")))?;
/// let invite = auth.create_invite(None);
///
/// let phone = "192.0.2.7:40000".parse()?;
/// let request = AuthRequest::new(Method::POST, "/auth/invite", phone)
///     .header("host", "192.0.2.1:8000")
///     .json(&serde_json::json!({"invite": invite.token, "deviceName": "Phone"}));
/// let response = auth.handle(request).await.ok_or("an auth route")?;
/// assert_eq!(response.status, StatusCode::OK);
/// assert_eq!(auth.invite_status(&invite.id), Some(InviteStatus::Consumed));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

/// Everything an [`Auth`] and its clones share.
struct Inner {
    config: AuthConfig,
    store: Option<Store>,
    hasher: Hasher,
    rate_limiter: RateLimiter,
    state: Mutex<State>,
    callbacks: Mutex<Vec<InviteCallback>>,
}

#[derive(Default)]
struct State {
    /// The Argon2id PHC string; `None`: unconfigured.
    passphrase_hash: Option<String>,
    /// The passphrase to display (generated or given, no store).
    passphrase: Option<String>,
    /// Sessions kept in memory (normal ones, and remembered ones without a
    /// store), by digest of the cookie value.
    sessions: HashMap<String, SessionRow>,
    /// Tokens kept in memory (no store), by digest.
    tokens: HashMap<String, TokenRow>,
    /// Invitations by id.
    invites: HashMap<String, InviteRecord>,
    /// Invitation ids by digest of their secret.
    invite_ids: HashMap<String, String>,
    /// Capability names the application declared.
    declared: BTreeSet<String>,
    /// One cancellation per watched credential id, shared with its
    /// watches (an entry no watch holds any more is dropped by `prune`).
    revocations: HashMap<String, (PrincipalKind, Arc<CancellationToken>)>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("config", &self.inner.config)
            .field("store", &self.inner.store)
            .field("configured", &self.is_configured())
            .finish_non_exhaustive()
    }
}

/// What a failed step of an endpoint answers.
type Answer<T> = Result<T, AuthResponse>;

impl Auth {
    /// Opens the store and applies the passphrase rules of AUTH.md 12.4:
    ///
    /// - no store: the given passphrase, or a generated one, hashed in
    ///   memory and shown by [`Auth::passphrase`];
    /// - a store without a hash: the given passphrase is stored; without
    ///   one, the instance is unconfigured until setup;
    /// - a store with a hash: a given passphrase must match it.
    ///
    /// # Errors
    ///
    /// The store cannot be opened, or the configured passphrase is weak or
    /// does not match the stored hash.
    pub fn new(config: AuthConfig) -> Result<Self, AuthError> {
        if let Some(passphrase) = &config.passphrase {
            validate_passphrase(passphrase).map_err(AuthError::WeakPassphrase)?;
        }
        let store = config.store.as_deref().map(Store::open).transpose()?;
        let mut state = State::default();
        match &store {
            None => {
                let passphrase = config
                    .passphrase
                    .clone()
                    .unwrap_or_else(generate_passphrase);
                state.passphrase_hash = Some(Hasher::hash_blocking(&passphrase)?);
                state.passphrase = Some(passphrase);
            }
            Some(store) => match (store.passphrase_hash()?, &config.passphrase) {
                (None, Some(passphrase)) => {
                    let hash = Hasher::hash_blocking(passphrase)?;
                    store.set_passphrase_hash(&hash)?;
                    state.passphrase_hash = Some(hash);
                    state.passphrase = Some(passphrase.clone());
                }
                (None, None) => {}
                (Some(hash), Some(passphrase)) => {
                    if !Hasher::verify_blocking(passphrase, &hash) {
                        return Err(AuthError::PassphraseMismatch);
                    }
                    state.passphrase_hash = Some(hash);
                    state.passphrase = Some(passphrase.clone());
                }
                (Some(hash), None) => state.passphrase_hash = Some(hash),
            },
        }
        let hasher = Hasher::new(config.hash_concurrency);
        let rate_limiter = RateLimiter::new(config.max_failures, config.failure_window);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                store,
                hasher,
                rate_limiter,
                state: Mutex::new(state),
                callbacks: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    /// Whether a passphrase is set (login answers 503 `setup_required`
    /// until it is).
    pub fn is_configured(&self) -> bool {
        self.state().passphrase_hash.is_some()
    }

    /// The passphrase to show the operator: the configured or generated
    /// one; `None` when it lives only as a hash in the store, or after a
    /// rotation.
    pub fn passphrase(&self) -> Option<String> {
        self.state().passphrase.clone()
    }

    /// Adds capability names that tokens may be given (the server declares
    /// every command's `requires`). `control`, `manage_access` and
    /// `read_state` are always valid.
    pub fn declare_capabilities<I, C>(&self, capabilities: I)
    where
        I: IntoIterator<Item = C>,
        C: Into<String>,
    {
        self.state()
            .declared
            .extend(capabilities.into_iter().map(Into::into));
    }

    /// Who `request` is (AUTH.md section 3), checking its Origin when
    /// `check_origin` (the WebSocket handshake and every revalidation).
    ///
    /// The order: a failing Origin check (when asked) gives `None`; a
    /// trusted loopback client is `local` (with `trust_loopback`); then a
    /// live bearer token; then a live session cookie.
    pub fn resolve(&self, request: &AuthRequest, check_origin: bool) -> Option<AuthPrincipal> {
        if check_origin && !self.origin_ok(request) {
            return None;
        }
        let config = &self.inner.config;
        let trust = decide_trust(request.peer.ip(), &request.headers, &config.trusted_proxies);
        if config.trust_loopback && trust.loopback {
            return Some(self.local_principal());
        }
        if let Some(principal) = request
            .bearer_token()
            .and_then(|token| self.token_principal(token))
        {
            return Some(principal);
        }
        request
            .cookie(&config.cookie_name)
            .and_then(|secret| self.session_principal(secret))
    }

    /// Who `request` is, for an application's own routes: [`Auth::resolve`]
    /// with the Origin checked (a request without an Origin passes it).
    pub fn http_authorized(&self, request: &AuthRequest) -> Option<AuthPrincipal> {
        self.resolve(request, true)
    }

    /// The gate of `GET {prefix}/state`: the principal, or the 0.5.0
    /// answer 401 `{"detail": "Authentication required"}`. A present
    /// Origin is checked (W2).
    ///
    /// # Errors
    ///
    /// No principal: the 401 answer to send.
    pub fn state_allowed(&self, request: &AuthRequest) -> Result<AuthPrincipal, AuthResponse> {
        self.http_authorized(request).ok_or_else(|| {
            AuthResponse::json(
                StatusCode::UNAUTHORIZED,
                &json!({"detail": "Authentication required"}),
            )
        })
    }
}

// Shared by the submodules.
impl Auth {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.inner.state)
    }

    /// The Origin rule and, for a POST that carries the session cookie,
    /// the `Sec-Fetch-Site` rule (W5).
    fn origin_ok(&self, request: &AuthRequest) -> bool {
        let config = &self.inner.config;
        let origin = request.origin();
        if !origin_allowed(
            origin,
            request.host(),
            request.scheme(),
            &config.allowed_origins,
        ) {
            return false;
        }
        let cookie_post =
            request.method == Method::POST && request.cookie(&config.cookie_name).is_some();
        // A value that is not visible ASCII is no value a browser sends.
        let fetch_site = request
            .headers
            .get("sec-fetch-site")
            .map(|value| value.to_str().unwrap_or("?"));
        !cookie_post || fetch_site_allowed(fetch_site, origin.is_some_and(|o| !o.is_empty()))
    }

    fn require_origin(&self, request: &AuthRequest) -> Answer<()> {
        if self.origin_ok(request) {
            Ok(())
        } else {
            Err(AuthResponse::error(
                StatusCode::FORBIDDEN,
                "origin_not_allowed",
            ))
        }
    }

    /// The gate of the management endpoints: 403 `forbidden` for any
    /// failure (bad Origin, no credential, no `manage_access`).
    fn require_manage(&self, request: &AuthRequest) -> Answer<AuthPrincipal> {
        self.resolve(request, true)
            .filter(|principal| principal.can("manage_access"))
            .ok_or_else(|| AuthResponse::error(StatusCode::FORBIDDEN, "forbidden"))
    }

    fn local_principal(&self) -> AuthPrincipal {
        AuthPrincipal::new(
            "local",
            PrincipalKind::Local,
            "Local host",
            self.inner.config.local_capabilities.iter().cloned(),
        )
    }

    fn passphrase_capabilities(&self) -> BTreeSet<String> {
        let capabilities = &self.inner.config.passphrase_capabilities;
        if capabilities.is_empty() {
            ["control", "manage_access"].map(str::to_owned).into()
        } else {
            capabilities.clone()
        }
    }

    fn invite_capabilities(&self) -> BTreeSet<String> {
        let capabilities = &self.inner.config.invite_capabilities;
        if capabilities.is_empty() {
            ["control".to_owned()].into()
        } else {
            capabilities.clone()
        }
    }

    /// Drops expired sessions and tokens and finished invitations, so that
    /// memory stays bounded (W9); runs on every creation.
    fn prune(&self) {
        let now = now_unix();
        let (ended, events) = {
            let mut state = self.state();
            // A cancellation no watch holds any more has nobody to tell.
            state
                .revocations
                .retain(|_, (_, token)| Arc::strong_count(token) > 1);
            let mut ended = Vec::new();
            state.sessions.retain(|_, row| {
                let live = row.expires_at > now;
                if !live {
                    ended.push(row.id.clone());
                }
                live
            });
            state.tokens.retain(|_, row| {
                let live = row.expires_at.is_none_or(|at| at > now);
                if !live {
                    ended.push(row.id.clone());
                }
                live
            });
            (ended, invites::prune_invites(&mut state, now))
        };
        for id in ended {
            self.end_credential(&id);
        }
        self.emit(events);
        if let Some(store) = &self.inner.store {
            logged(store.prune_expired(now), "prune expired credentials");
        }
    }

    /// Cancels the watches of credential `id`.
    fn end_credential(&self, id: &str) {
        if let Some((_, token)) = self.state().revocations.remove(id) {
            token.cancel();
        }
    }

    /// Cancels the watches of every credential of `kind`.
    fn end_all(&self, kind: PrincipalKind) {
        let mut state = self.state();
        state.revocations.retain(|_, (watched, token)| {
            if *watched == kind {
                token.cancel();
                false
            } else {
                true
            }
        });
    }
}

/// Locks, recovering from a poisoned lock: every critical section leaves
/// the state consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The value of a store call, or `None` with the failure logged.
fn logged<T>(result: Result<T, AuthError>, what: &str) -> Option<T> {
    result
        .map_err(|error| tracing::warn!(%error, "access control could not {what}"))
        .ok()
}

/// What the unit tests of this module and its submodules share: an
/// [`Auth`] without a store, and requests from the instrument computer
/// and from the LAN.
#[cfg(test)]
mod testing {
    use std::net::SocketAddr;
    use std::sync::OnceLock;

    use http::Method;

    use super::*;

    /// The passphrase of [`auth`].
    pub(super) const PASSPHRASE: &str = "correct horse battery";

    /// The hash of [`PASSPHRASE`], computed once for every test (each
    /// `Auth::new` would hash it again).
    pub(super) fn passphrase_hash() -> String {
        static HASH: OnceLock<String> = OnceLock::new();
        HASH.get_or_init(|| Hasher::hash_blocking(PASSPHRASE).expect("hashing"))
            .clone()
    }

    /// An `Auth` on `config` without a store, configured with
    /// [`PASSPHRASE`].
    pub(super) fn auth(config: AuthConfig) -> Auth {
        let state = State {
            passphrase_hash: Some(passphrase_hash()),
            ..State::default()
        };
        Auth {
            inner: Arc::new(Inner {
                hasher: Hasher::new(1),
                rate_limiter: RateLimiter::new(config.max_failures, config.failure_window),
                config,
                store: None,
                state: Mutex::new(state),
                callbacks: Mutex::new(Vec::new()),
            }),
        }
    }

    /// A request from the instrument computer.
    pub(super) fn local(method: Method, path: &str) -> AuthRequest {
        let peer: SocketAddr = "127.0.0.1:50000".parse().expect("an address");
        AuthRequest::new(method, path, peer).header("host", "127.0.0.1:8000")
    }

    /// A request from a LAN client (a documentation address).
    pub(super) fn lan(method: Method, path: &str) -> AuthRequest {
        let peer: SocketAddr = "192.0.2.10:50000".parse().expect("an address");
        AuthRequest::new(method, path, peer).header("host", "192.0.2.1:8000")
    }
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::testing::{auth, lan, local};
    use super::*;

    fn kind(principal: Option<AuthPrincipal>) -> Option<PrincipalKind> {
        principal.map(|principal| principal.kind)
    }

    #[test]
    fn resolve_goes_local_then_bearer_then_cookie() {
        let auth = auth(AuthConfig::new());
        let token = auth.create_token("t", ["control"], None).unwrap().token;
        let (_, cookie) = auth
            .create_session("Laptop", false, "passphrase", ["control".to_owned()].into())
            .unwrap();
        let bearer = format!("Bearer {token}");
        let session = format!("lab_link_session={cookie}");

        let both = |request: AuthRequest| {
            request
                .header("authorization", &bearer)
                .header("cookie", &session)
        };
        // The instrument computer is `local`, whatever it presents.
        let request = both(local(Method::GET, "/state"));
        assert_eq!(
            kind(auth.resolve(&request, false)),
            Some(PrincipalKind::Local)
        );
        // From the LAN: the token first, then the cookie.
        let request = both(lan(Method::GET, "/state"));
        assert_eq!(
            kind(auth.resolve(&request, false)),
            Some(PrincipalKind::ApiToken)
        );
        let request = lan(Method::GET, "/state")
            .header("authorization", "Bearer ll_forged")
            .header("cookie", &session);
        assert_eq!(
            kind(auth.resolve(&request, false)),
            Some(PrincipalKind::Session)
        );
        assert_eq!(auth.resolve(&lan(Method::GET, "/state"), false), None);
        // Without loopback trust the instrument computer needs a credential.
        let untrusting = testing::auth(AuthConfig::new().trust_loopback(false));
        assert_eq!(
            untrusting.resolve(&local(Method::GET, "/state"), false),
            None
        );
    }

    #[test]
    fn a_failing_origin_check_resolves_nobody() {
        let auth = auth(AuthConfig::new());
        let request = local(Method::GET, "/ws").header("origin", "http://evil.example:8000");
        assert_eq!(auth.resolve(&request, true), None);
        // Unchecked (GET /state without an Origin rule, in 0.5.0's terms).
        assert!(auth.resolve(&request, false).is_some());
        assert_eq!(auth.http_authorized(&request), None);
        let refused = auth.state_allowed(&request).unwrap_err();
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            refused.json_body(),
            Some(json!({"detail": "Authentication required"}))
        );
    }

    #[test]
    fn origin_ok_adds_sec_fetch_site_for_cookie_posts() {
        let auth = auth(AuthConfig::new());
        let cross = |method: Method, cookie: bool| {
            let request = lan(method, "/auth/logout").header("sec-fetch-site", "cross-site");
            if cookie {
                request.header("cookie", "lab_link_session=anything")
            } else {
                request
            }
        };
        assert!(!auth.origin_ok(&cross(Method::POST, true)));
        assert!(auth.origin_ok(&cross(Method::POST, false)));
        assert!(auth.origin_ok(&cross(Method::GET, true)));
        // Another cookie name is not the session.
        let other = lan(Method::POST, "/auth/logout")
            .header("sec-fetch-site", "cross-site")
            .header("cookie", "theme=dark");
        assert!(auth.origin_ok(&other));
        let refused = auth.require_origin(&cross(Method::POST, true)).unwrap_err();
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }

    #[test]
    fn management_needs_manage_access() {
        let auth = auth(AuthConfig::new().local_capabilities(["control"]));
        let control = auth.create_token("c", ["control"], None).unwrap().token;
        let manager = auth
            .create_token("m", ["manage_access"], None)
            .unwrap()
            .token;
        let with = |token: &str| {
            lan(Method::GET, "/auth/sessions").header("authorization", &format!("Bearer {token}"))
        };
        assert!(auth.require_manage(&with(&manager)).is_ok());
        for request in [
            with(&control),
            lan(Method::GET, "/auth/sessions"),
            local(Method::GET, "/auth/sessions"),
        ] {
            let refused = auth.require_manage(&request).unwrap_err();
            assert_eq!(
                (refused.status, refused.json_body()),
                (
                    StatusCode::FORBIDDEN,
                    Some(json!({"authorized": false, "error": "forbidden"}))
                )
            );
        }
    }

    #[test]
    fn empty_capability_settings_fall_back_to_the_defaults() {
        let auth = auth(
            AuthConfig::new()
                .passphrase_capabilities(Vec::<String>::new())
                .invite_capabilities(Vec::<String>::new()),
        );
        assert_eq!(
            auth.passphrase_capabilities(),
            ["control".to_owned(), "manage_access".to_owned()].into()
        );
        assert_eq!(auth.invite_capabilities(), ["control".to_owned()].into());
        let auth = testing::auth(AuthConfig::new().invite_capabilities(["read_state"]));
        assert_eq!(auth.invite_capabilities(), ["read_state".to_owned()].into());
    }

    #[test]
    fn prune_drops_expired_credentials_and_ends_their_watches() {
        let auth = auth(AuthConfig::new());
        let token = auth.create_token("t", ["control"], None).unwrap();
        let principal = auth
            .resolve(
                &lan(Method::GET, "/state")
                    .header("authorization", &format!("Bearer {}", token.token)),
                false,
            )
            .unwrap();
        let watch = auth.watch(&principal);
        // Make the token overdue, as time would.
        for row in auth.state().tokens.values_mut() {
            row.expires_at = Some(now_unix() - 1.0);
        }
        auth.prune();
        assert!(auth.state().tokens.is_empty());
        assert!(watch.is_revoked());
        // Cancellations nobody holds any more are dropped.
        drop(watch);
        auth.prune();
        assert!(auth.state().revocations.is_empty());
    }
}
