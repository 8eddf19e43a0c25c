//! `Auth`: sessions, invitations and API tokens, who a request is, and the
//! `{prefix}/auth/…` endpoints (AUTH.md sections 3 and 6 to 13, with the
//! fixes of section 17).
//!
//! Secrets are never compared: a presented cookie, bearer token or
//! invitation is hashed (SHA-256) and looked up by digest (W12). The
//! passphrase is checked with Argon2id on the blocking pool, behind a
//! semaphore, after the login's rate-limit slot has been reserved (W1).
//!
//! Every revocation (logout, revoke, revoke-all, rotation) cancels the
//! credential's [`Watch`] at once, so the server can close its sockets
//! without waiting for the next frame (W3). The state lives behind one
//! `std::sync::Mutex` that is never held across an `.await`.

// A refused request's `Err` is the HTTP answer itself, built once per
// refusal and sent as is: boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http::{header, HeaderValue, Method, StatusCode};
use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

use crate::origin::fetch_site_allowed;
use crate::passphrase::{generate_passphrase, validate_passphrase, Hasher};
use crate::secret::{digest, random_id, random_secret};
use crate::time::{iso, now_unix};
use crate::{
    decide_trust, origin_allowed, rate_limit_key, AuthConfig, AuthError, AuthPrincipal,
    AuthRequest, AuthResponse, PrincipalKind, RateLimiter, SessionRow, Store, TokenRow,
};

/// The most sessions kept in memory; the oldest is evicted beyond (W9).
const MAX_SESSIONS: usize = 10_000;
/// The most invitations kept in memory; the oldest is dropped beyond (W9).
const MAX_INVITES: usize = 10_000;
/// How long a consumed, expired or revoked invitation stays queryable
/// through [`Auth::invite_status`], in seconds.
const INVITE_RETENTION: f64 = 3600.0;
/// `lastUsedAt` is written at most this often, in seconds.
const TOUCH_INTERVAL: f64 = 60.0;
/// The longest `ttl` accepted over HTTP: ten years, in seconds.
const MAX_TTL_SECS: f64 = 10.0 * 365.0 * 86_400.0;
/// Capability names always valid for tokens.
const BUILTIN_CAPABILITIES: [&str; 3] = ["control", "manage_access", "read_state"];

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

/// A new invitation: its secret is shown once.
#[derive(Debug, Clone, PartialEq)]
pub struct Invite {
    /// 24 hex.
    pub id: String,
    /// The secret (43 base64url characters).
    pub token: String,
    /// Unix seconds.
    pub expires_at: f64,
}

/// An invitation's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteStatus {
    /// Not used yet.
    Active,
    /// Exchanged for a session.
    Consumed,
    /// Timed out.
    Expired,
    /// Revoked (by hand or by a passphrase rotation).
    Revoked,
}

impl InviteStatus {
    /// The wire name: `active`, `consumed`, `expired`, `revoked`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Consumed => "consumed",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

/// A change of an invitation's status, for the application to project
/// into its state.
#[derive(Debug, Clone, PartialEq)]
pub struct InviteEvent {
    /// The invitation.
    pub invite_id: String,
    /// Its new status.
    pub status: InviteStatus,
    /// Unix seconds.
    pub occurred_at: f64,
}

/// A new API token: its secret is shown once.
#[derive(Debug, Clone, PartialEq)]
pub struct NewToken {
    /// 24 hex.
    pub id: String,
    /// `ll_` + 43 base64url characters.
    pub token: String,
    /// The label.
    pub label: String,
    /// Unix seconds.
    pub created_at: f64,
    /// Unix seconds, `None` for never.
    pub expires_at: Option<f64>,
    /// Sorted.
    pub capabilities: Vec<String>,
}

/// Completes when a principal's credential ends: revoked, logged out,
/// rotated away or expired.
///
/// Revocations by this process end it at once. A row deleted by another
/// process sharing the store file is only noticed by re-resolving the
/// request (the server's periodic re-check).
#[derive(Debug)]
pub struct Watch {
    revoked: Option<Arc<CancellationToken>>,
    deadline: Option<tokio::time::Instant>,
}

impl Watch {
    /// Waits for the end of the credential (never, for `local`).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future and calling again waits for the
    /// same end.
    pub async fn ended(&mut self) {
        let deadline = async {
            match self.deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        let revoked = async {
            match &self.revoked {
                Some(token) => token.cancelled().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = deadline => {}
            () = revoked => {}
        }
    }

    /// Whether the credential has been revoked already (expiry aside).
    pub fn is_revoked(&self) -> bool {
        self.revoked
            .as_ref()
            .is_some_and(|token| token.is_cancelled())
    }
}

type InviteCallback = Arc<dyn Fn(&InviteEvent) + Send + Sync>;

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

struct InviteRecord {
    digest: String,
    expires_at: f64,
    status: InviteStatus,
    changed_at: f64,
    /// The expiry timer's task, while active.
    timer: Option<tokio::task::AbortHandle>,
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

    /// Registers a callback for every invitation status change. It runs on
    /// the thread that caused the change (or the expiry timer's task), with
    /// no lock held; a panic in it is logged and swallowed.
    pub fn on_invite_event<F>(&self, callback: F)
    where
        F: Fn(&InviteEvent) + Send + Sync + 'static,
    {
        lock(&self.inner.callbacks).push(Arc::new(callback));
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

    /// A watch on `principal`'s credential: it ends on revocation (logout,
    /// revoke, revoke-all, rotation) or at the credential's expiry, and at
    /// once when the credential is already gone. `local` never ends.
    pub fn watch(&self, principal: &AuthPrincipal) -> Watch {
        if principal.kind == PrincipalKind::Local {
            return Watch {
                revoked: None,
                deadline: None,
            };
        }
        // The cancellation is registered before the credential is looked
        // up: a revocation deletes first and cancels second, so either it
        // cancels this token or the look-up below misses the credential.
        let token = self
            .state()
            .revocations
            .entry(principal.id.clone())
            .or_insert_with(|| (principal.kind, Arc::new(CancellationToken::new())))
            .1
            .clone();
        let expires_at = match principal.kind {
            PrincipalKind::Session => self.session_expiry(&principal.id).map(Some),
            _ => self.token_expiry(&principal.id),
        };
        match expires_at {
            None => {
                self.end_credential(&principal.id);
                token.cancel();
                Watch {
                    revoked: Some(token),
                    deadline: None,
                }
            }
            Some(expires_at) => Watch {
                revoked: Some(token),
                deadline: expires_at.and_then(|at| {
                    let left = (at - now_unix()).max(0.0);
                    let left = Duration::try_from_secs_f64(left).ok()?;
                    tokio::time::Instant::now().checked_add(left)
                }),
            },
        }
    }

    /// Creates an invitation (default lifetime `invite_ttl`). When a tokio
    /// runtime is running, a timer marks it `expired` (and fires the event)
    /// at its expiry; otherwise that is noticed lazily.
    pub fn create_invite(&self, ttl: Option<Duration>) -> Invite {
        self.prune();
        let ttl = ttl.unwrap_or(self.inner.config.invite_ttl);
        let now = now_unix();
        let secret = random_secret();
        let id = random_id();
        let expires_at = now + ttl.as_secs_f64();
        let evicted = {
            let mut state = self.state();
            let token_digest = digest(&secret);
            state.invite_ids.insert(token_digest.clone(), id.clone());
            state.invites.insert(
                id.clone(),
                InviteRecord {
                    digest: token_digest,
                    expires_at,
                    status: InviteStatus::Active,
                    changed_at: now,
                    timer: None,
                },
            );
            evict_invites(&mut state, now)
        };
        self.emit(evicted);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&self.inner);
            let timer_id = id.clone();
            let timer = runtime.spawn(async move {
                tokio::time::sleep(ttl).await;
                if let Some(inner) = weak.upgrade() {
                    Auth { inner }.expire_invite(&timer_id);
                }
            });
            // The timer is aborted when the invitation leaves `active`
            // earlier, so finished invitations leave no sleeping task.
            let mut state = self.state();
            match state.invites.get_mut(&id) {
                Some(record) if record.status == InviteStatus::Active => {
                    record.timer = Some(timer.abort_handle());
                }
                _ => timer.abort(),
            }
        }
        Invite {
            id,
            token: secret,
            expires_at,
        }
    }

    /// Revokes an invitation; `true` only if it was active.
    pub fn revoke_invite(&self, id: &str) -> bool {
        let now = now_unix();
        let events = {
            let mut state = self.state();
            let Some(record) = state.invites.get_mut(id) else {
                return false;
            };
            if record.status != InviteStatus::Active {
                return false;
            }
            if record.expires_at <= now {
                vec![set_invite_status(id, record, InviteStatus::Expired, now)]
            } else {
                vec![set_invite_status(id, record, InviteStatus::Revoked, now)]
            }
        };
        let revoked = events[0].status == InviteStatus::Revoked;
        self.emit(events);
        revoked
    }

    /// An invitation's status (an overdue active one turns `expired`
    /// here); `None` for an unknown or long-finished one.
    pub fn invite_status(&self, id: &str) -> Option<InviteStatus> {
        self.expire_invite(id);
        self.state().invites.get(id).map(|record| record.status)
    }

    /// Creates an API token (`ll_` + secret). Unlike the HTTP endpoint,
    /// this may grant `*`. `ttl: None` never expires.
    ///
    /// # Errors
    ///
    /// A blank label, an unknown capability name, a zero `ttl`, or a
    /// store failure: the message.
    pub fn create_token<I, C>(
        &self,
        label: &str,
        capabilities: I,
        ttl: Option<Duration>,
    ) -> Result<NewToken, String>
    where
        I: IntoIterator<Item = C>,
        C: Into<String>,
    {
        if ttl.is_some_and(|ttl| ttl.is_zero()) {
            return Err("ttl must be greater than zero".to_owned());
        }
        let capabilities = capabilities.into_iter().map(Into::into).collect();
        self.create_token_checked(label, capabilities, ttl.map(|ttl| ttl.as_secs_f64()), true)
    }

    /// Revokes an API token; `true` if it existed.
    pub fn revoke_token(&self, id: &str) -> bool {
        let in_memory = {
            let mut state = self.state();
            let before = state.tokens.len();
            state.tokens.retain(|_, row| row.id != id);
            before != state.tokens.len()
        };
        let in_store = self
            .inner
            .store
            .as_ref()
            .and_then(|store| logged(store.delete_token(id), "delete a token"))
            .unwrap_or(false);
        self.end_credential(id);
        in_memory || in_store
    }

    /// Revokes every API token.
    pub fn revoke_all_tokens(&self) {
        self.state().tokens.clear();
        if let Some(store) = &self.inner.store {
            logged(store.delete_all_tokens(), "delete all tokens");
        }
        self.end_all(PrincipalKind::ApiToken);
    }

    /// Revokes a session by id; `true` if it existed.
    pub fn revoke_session(&self, id: &str) -> bool {
        let in_memory = {
            let mut state = self.state();
            let before = state.sessions.len();
            state.sessions.retain(|_, row| row.id != id);
            before != state.sessions.len()
        };
        let in_store = self
            .inner
            .store
            .as_ref()
            .and_then(|store| logged(store.delete_session(id), "delete a session"))
            .unwrap_or(false);
        self.end_credential(id);
        in_memory || in_store
    }

    /// Revokes every session, in memory and in the store.
    pub fn revoke_all_sessions(&self) {
        self.state().sessions.clear();
        if let Some(store) = &self.inner.store {
            logged(store.delete_all_sessions(), "delete all sessions");
        }
        self.end_all(PrincipalKind::Session);
    }

    /// Sets a new passphrase (the rotation of AUTH.md 12.6): the new hash
    /// is stored, the displayable passphrase cleared, and with the flags
    /// every session is revoked and every active invitation too. Tokens
    /// and `local` are unaffected. The application is trusted: unlike
    /// `POST {prefix}/auth/passphrase`, this needs no current passphrase.
    ///
    /// # Errors
    ///
    /// [`AuthError::WeakPassphrase`], a hashing or a store failure;
    /// nothing changes then.
    pub async fn change_passphrase(
        &self,
        passphrase: &str,
        revoke_sessions: bool,
        revoke_invites: bool,
    ) -> Result<(), AuthError> {
        self.replace_passphrase(passphrase, revoke_sessions, revoke_invites, None)
            .await
            .map(|_| ())
    }

    /// Answers a `{prefix}/auth/…` request (AUTH.md 6.2); `None` for any
    /// other path. A wrong method gets 405.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future mid-way leaves no partial state behind: a login
    /// attempt's rate-limit slot is released, and a session is created
    /// only after the last `.await`.
    pub async fn handle(&self, request: AuthRequest) -> Option<AuthResponse> {
        let allowed: &[Method] = match request.path.as_str() {
            "/auth/status" | "/auth/sessions" => &[Method::GET],
            "/auth/tokens" => &[Method::GET, Method::POST],
            "/auth/setup"
            | "/auth/login"
            | "/auth/invite"
            | "/auth/logout"
            | "/auth/passphrase"
            | "/auth/sessions/revoke"
            | "/auth/sessions/revoke-all"
            | "/auth/invites"
            | "/auth/invites/revoke"
            | "/auth/tokens/revoke"
            | "/auth/tokens/revoke-all" => &[Method::POST],
            _ => return None,
        };
        if !allowed.contains(&request.method) {
            return Some(AuthResponse::method_not_allowed(allowed));
        }
        let answer = match (request.path.as_str(), request.method == Method::GET) {
            ("/auth/status", _) => Ok(self.status(&request)),
            ("/auth/setup", _) => self.setup(&request).await,
            ("/auth/login", _) => self.login(&request).await,
            ("/auth/invite", _) => self.exchange_invite(&request),
            ("/auth/logout", _) => self.logout(&request),
            ("/auth/passphrase", _) => self.rotate(&request).await,
            ("/auth/sessions", _) => self.list_sessions(&request),
            ("/auth/sessions/revoke", _) => self.revoke_session_endpoint(&request),
            ("/auth/sessions/revoke-all", _) => self.revoke_all_sessions_endpoint(&request),
            ("/auth/invites", _) => self.create_invite_endpoint(&request),
            ("/auth/invites/revoke", _) => self.revoke_invite_endpoint(&request),
            ("/auth/tokens", true) => self.list_tokens(&request),
            ("/auth/tokens", false) => self.create_token_endpoint(&request),
            ("/auth/tokens/revoke", _) => self.revoke_token_endpoint(&request),
            _ => self.revoke_all_tokens_endpoint(&request),
        };
        Some(answer.unwrap_or_else(|response| response))
    }
}

// The endpoints, in the order of AUTH.md 6.2.
impl Auth {
    fn status(&self, request: &AuthRequest) -> AuthResponse {
        let principal = self.http_authorized(request);
        AuthResponse::json(
            StatusCode::OK,
            &json!({
                "configured": self.is_configured(),
                "authorized": principal.is_some(),
                "principal": principal.map(|principal| principal.to_json()),
            }),
        )
    }

    async fn setup(&self, request: &AuthRequest) -> Answer<AuthResponse> {
        self.require_origin(request)?;
        let config = &self.inner.config;
        let trust = decide_trust(request.peer.ip(), &request.headers, &config.trusted_proxies);
        if !trust.loopback {
            return Err(AuthResponse::error(
                StatusCode::FORBIDDEN,
                "local_setup_required",
            ));
        }
        if self.is_configured() {
            return Err(already_configured());
        }
        let body = parse_body(request, config.body_limit, "invalid_request")?;
        let login = LoginBody::parse(&body, "invalid_request")?;
        validate_passphrase(&login.passphrase).map_err(|message| {
            AuthResponse::error_message(StatusCode::BAD_REQUEST, "weak_passphrase", &message)
        })?;
        let hash = self
            .inner
            .hasher
            .hash(login.passphrase.clone())
            .await
            .map_err(|error| internal_error(&error))?;
        {
            // Two setups may race through the hashing: the first one wins.
            let mut state = self.state();
            if state.passphrase_hash.is_some() {
                return Err(already_configured());
            }
            if let Some(store) = &self.inner.store {
                store
                    .set_passphrase_hash(&hash)
                    .map_err(|error| internal_error(&error))?;
            }
            state.passphrase_hash = Some(hash);
        }
        self.start_session(request, &login, "setup", self.passphrase_capabilities())
    }

    async fn login(&self, request: &AuthRequest) -> Answer<AuthResponse> {
        self.require_origin(request)?;
        if !self.is_configured() {
            return Err(setup_required());
        }
        let body = parse_body(request, self.inner.config.body_limit, "invalid_request")?;
        let login = LoginBody::parse(&body, "invalid_request")?;
        self.verify_passphrase(request, &login.passphrase).await?;
        self.start_session(
            request,
            &login,
            "passphrase",
            self.passphrase_capabilities(),
        )
    }

    fn exchange_invite(&self, request: &AuthRequest) -> Answer<AuthResponse> {
        self.require_origin(request)?;
        let body = parse_body(request, self.inner.config.body_limit, "invalid_request")?;
        let secret = match (body.get("invite"), body.get("token")) {
            (Some(Value::String(secret)), _)
            | (None | Some(Value::Null), Some(Value::String(secret))) => secret.clone(),
            (None | Some(Value::Null), None | Some(Value::Null)) => String::new(),
            _ => return Err(bad_request("invalid_request", "`invite` must be a string")),
        };
        let login = LoginBody::options(&body, "invalid_request", secret)?;
        let invalid = || AuthResponse::error(StatusCode::UNAUTHORIZED, "invalid_or_expired_invite");
        if login.passphrase.is_empty() {
            return Err(invalid());
        }
        let now = now_unix();
        let event = {
            let mut state = self.state();
            let Some(id) = state.invite_ids.get(&digest(&login.passphrase)).cloned() else {
                return Err(invalid());
            };
            let Some(record) = state.invites.get_mut(&id) else {
                return Err(invalid());
            };
            match record.status {
                InviteStatus::Active if record.expires_at > now => {
                    set_invite_status(&id, record, InviteStatus::Consumed, now)
                }
                InviteStatus::Active => {
                    let event = set_invite_status(&id, record, InviteStatus::Expired, now);
                    drop(state);
                    self.emit(vec![event]);
                    return Err(invalid());
                }
                _ => return Err(invalid()),
            }
        };
        self.emit(vec![event]);
        self.start_session(request, &login, "invite", self.invite_capabilities())
    }

    fn logout(&self, request: &AuthRequest) -> Answer<AuthResponse> {
        self.require_origin(request)?;
        parse_body(request, self.inner.config.body_limit, "invalid_request")?;
        if let Some(secret) = request.cookie(&self.inner.config.cookie_name) {
            self.end_session_by_secret(secret);
        }
        let mut cookie = format!(
            "{}=\"\"; expires={}; Max-Age=0; Path=/; SameSite=strict; HttpOnly",
            self.inner.config.cookie_name,
            httpdate::fmt_http_date(std::time::SystemTime::now()),
        );
        if request.https {
            cookie.push_str("; Secure");
        }
        let response = AuthResponse::json(
            StatusCode::OK,
            &json!({"configured": self.is_configured(), "authorized": false}),
        );
        Ok(with_cookie(response, &cookie))
    }

    /// The rotation, which also needs the current passphrase (W5) unless
    /// the caller is `local` or `require_current_passphrase` is off; one
    /// given is checked in every case. Its checks, in order: 403
    /// `forbidden`; 400 `invalid_request` (a bad body, `currentPassphrase`
    /// missing); 400 `weak_passphrase`; then as login: 503
    /// `setup_required`, 429 `rate_limited`, 401 `invalid_credentials`.
    async fn rotate(&self, request: &AuthRequest) -> Answer<AuthResponse> {
        let principal = self.require_manage(request)?;
        let body = parse_body(request, self.inner.config.body_limit, "invalid_request")?;
        let passphrase = string_field(&body, "passphrase", "invalid_request")?.unwrap_or_default();
        let current = string_field(&body, "currentPassphrase", "invalid_request")?;
        let revoke_sessions =
            bool_field(&body, "revokeSessions", "invalid_request")?.unwrap_or(true);
        let revoke_invites = bool_field(&body, "revokeInvites", "invalid_request")?.unwrap_or(true);
        let needs_current =
            self.inner.config.require_current_passphrase && principal.kind != PrincipalKind::Local;
        if needs_current && current.is_none() {
            return Err(bad_request(
                "invalid_request",
                "`currentPassphrase` is required",
            ));
        }
        validate_passphrase(&passphrase).map_err(|message| {
            AuthResponse::error_message(StatusCode::BAD_REQUEST, "weak_passphrase", &message)
        })?;
        let replacing = match current {
            Some(current) => Some(self.verify_passphrase(request, &current).await?),
            None => None,
        };
        match self
            .replace_passphrase(
                &passphrase,
                revoke_sessions,
                revoke_invites,
                replacing.as_deref(),
            )
            .await
        {
            Ok(true) => Ok(AuthResponse::json(
                StatusCode::OK,
                &json!({"changed": true}),
            )),
            // Another rotation won the race: the current passphrase given
            // is not current any more.
            Ok(false) => Err(AuthResponse::error(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
            )),
            Err(error) => Err(internal_error(&error)),
        }
    }

    fn list_sessions(&self, request: &AuthRequest) -> Answer<AuthResponse> {
        self.require_manage(request)?;
        let now = now_unix();
        let mut sessions: Vec<SessionRow> = self
            .state()
            .sessions
            .values()
            .filter(|row| row.expires_at > now)
            .cloned()
            .collect();
        if let Some(store) = &self.inner.store {
            let stored = store.sessions().map_err(|error| internal_error(&error))?;
            sessions.extend(stored.into_iter().filter(|row| row.expires_at > now));
        }
        sessions.sort_by(|a, b| a.created_at.total_cmp(&b.created_at));
        let sessions: Vec<Value> = sessions.iter().map(session_json).collect();
        Ok(AuthResponse::json(
            StatusCode::OK,
            &json!({"sessions": sessions}),
        ))
    }

    fn revoke_session_endpoint(&self, request: &AuthRequest) -> Answer<AuthResponse> {
        self.require_manage(request)?;
        let body = parse_body(request, self.inner.config.body_limit, "invalid_request")?;
        let id = string_field(&body, "id", "invalid_request")?.unwrap_or_default();
        let revoked = self.revoke_session(&id);
        Ok(AuthResponse::json(
            StatusCode::OK,
            &json!({"revoked": revoked}),
        ))
    }

    fn revoke_all_sessions_endpoint(&self, request: &AuthRequest) -> Answer<AuthResponse> {
        self.require_manage(request)?;
        parse_body(request, self.inner.config.body_limit, "invalid_request")?;
        self.revoke_all_sessions();
        Ok(AuthResponse::json(
            StatusCode::OK,
            &json!({"revoked": true}),
        ))
    }

    fn create_invite_endpoint(&self, request: &AuthRequest) -> Answer<AuthResponse> {
        self.require_manage(request)?;
        let body = parse_body(request, self.inner.config.body_limit, "invalid_invite")?;
        let ttl = ttl_field(&body, "invalid_invite")?;
        let invite = self.create_invite(ttl.map(Duration::from_secs_f64));
        Ok(AuthResponse::json(
            StatusCode::OK,
            &json!({
                "id": invite.id,
                "token": invite.token,
                "expiresAt": iso(invite.expires_at),
                "status": "active",
            }),
        ))
    }

    fn revoke_invite_endpoint(&self, request: &AuthRequest) -> Answer<AuthResponse> {
        self.require_manage(request)?;
        let body = parse_body(request, self.inner.config.body_limit, "invalid_request")?;
        let id = string_field(&body, "id", "invalid_request")?.unwrap_or_default();
        let revoked = self.revoke_invite(&id);
        Ok(AuthResponse::json(
            StatusCode::OK,
            &json!({"revoked": revoked}),
        ))
    }

    fn list_tokens(&self, request: &AuthRequest) -> Answer<AuthResponse> {
        self.require_manage(request)?;
        let now = now_unix();
        let mut tokens: Vec<TokenRow> = self.state().tokens.values().cloned().collect();
        if let Some(store) = &self.inner.store {
            tokens.extend(store.tokens().map_err(|error| internal_error(&error))?);
        }
        tokens.retain(|row| row.expires_at.is_none_or(|at| at > now));
        tokens.sort_by(|a, b| a.created_at.total_cmp(&b.created_at));
        let tokens: Vec<Value> = tokens
            .iter()
            .map(|row| {
                json!({
                    "id": row.id,
                    "label": row.label,
                    "createdAt": iso(row.created_at),
                    "lastUsedAt": row.last_used_at.map(iso),
                    "expiresAt": row.expires_at.map(iso),
                    "capabilities": row.capabilities,
                })
            })
            .collect();
        Ok(AuthResponse::json(
            StatusCode::OK,
            &json!({"tokens": tokens}),
        ))
    }

    fn create_token_endpoint(&self, request: &AuthRequest) -> Answer<AuthResponse> {
        self.require_manage(request)?;
        let body = parse_body(request, self.inner.config.body_limit, "invalid_token")?;
        let label = string_field(&body, "label", "invalid_token")?.unwrap_or_default();
        let capabilities = match body.get("capabilities") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    bad_request("invalid_token", "`capabilities` must be a list of strings")
                })?,
            Some(_) => {
                return Err(bad_request(
                    "invalid_token",
                    "`capabilities` must be a list of strings",
                ))
            }
        };
        let ttl = ttl_field(&body, "invalid_token")?;
        let token = self
            .create_token_checked(&label, capabilities, ttl, false)
            .map_err(|message| bad_request("invalid_token", &message))?;
        Ok(AuthResponse::json(
            StatusCode::OK,
            &json!({
                "id": token.id,
                "token": token.token,
                "label": token.label,
                "createdAt": iso(token.created_at),
                "expiresAt": token.expires_at.map(iso),
                "capabilities": token.capabilities,
            }),
        ))
    }

    fn revoke_token_endpoint(&self, request: &AuthRequest) -> Answer<AuthResponse> {
        self.require_manage(request)?;
        let body = parse_body(request, self.inner.config.body_limit, "invalid_request")?;
        let id = string_field(&body, "id", "invalid_request")?.unwrap_or_default();
        let revoked = self.revoke_token(&id);
        Ok(AuthResponse::json(
            StatusCode::OK,
            &json!({"revoked": revoked}),
        ))
    }

    fn revoke_all_tokens_endpoint(&self, request: &AuthRequest) -> Answer<AuthResponse> {
        self.require_manage(request)?;
        parse_body(request, self.inner.config.body_limit, "invalid_request")?;
        self.revoke_all_tokens();
        Ok(AuthResponse::json(
            StatusCode::OK,
            &json!({"revoked": true}),
        ))
    }
}

// Credentials and helpers.
impl Auth {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.inner.state)
    }

    /// The rotation behind [`Auth::change_passphrase`] and the endpoint.
    /// With `replacing`, the new passphrase is set only while that hash is
    /// still the current one (`Ok(false)` otherwise): two rotations that
    /// both proved the old passphrase cannot both win.
    async fn replace_passphrase(
        &self,
        passphrase: &str,
        revoke_sessions: bool,
        revoke_invites: bool,
        replacing: Option<&str>,
    ) -> Result<bool, AuthError> {
        validate_passphrase(passphrase).map_err(AuthError::WeakPassphrase)?;
        let hash = self.inner.hasher.hash(passphrase.to_owned()).await?;
        {
            let mut state = self.state();
            if replacing
                .is_some_and(|replacing| state.passphrase_hash.as_deref() != Some(replacing))
            {
                return Ok(false);
            }
            if let Some(store) = &self.inner.store {
                store.set_passphrase_hash(&hash)?;
            }
            state.passphrase_hash = Some(hash);
            state.passphrase = None;
        }
        if revoke_sessions {
            self.revoke_all_sessions();
        }
        if revoke_invites {
            let now = now_unix();
            let events = {
                let mut state = self.state();
                state
                    .invites
                    .iter_mut()
                    .filter(|(_, record)| record.status == InviteStatus::Active)
                    .map(|(id, record)| set_invite_status(id, record, InviteStatus::Revoked, now))
                    .collect()
            };
            self.emit(events);
        }
        Ok(true)
    }

    /// Checks `passphrase` against the current hash, as `request`'s
    /// client: the rate-limit slot is taken before the (slow) verification,
    /// so concurrent attempts count against the limit too (W1). The hash
    /// verified against, which is still the current one.
    ///
    /// # Errors
    ///
    /// 503 `setup_required` (no passphrase yet), 429 `rate_limited`, 401
    /// `invalid_credentials`.
    async fn verify_passphrase(&self, request: &AuthRequest, passphrase: &str) -> Answer<String> {
        let Some(hash) = self.state().passphrase_hash.clone() else {
            return Err(setup_required());
        };
        let config = &self.inner.config;
        let trust = decide_trust(request.peer.ip(), &request.headers, &config.trusted_proxies);
        let slot = self
            .inner
            .rate_limiter
            .try_reserve(&rate_limit_key(trust.client))
            .map_err(rate_limited)?;
        let verified = !passphrase.is_empty()
            && self
                .inner
                .hasher
                .verify(passphrase.to_owned(), hash.clone())
                .await;
        let invalid = || AuthResponse::error(StatusCode::UNAUTHORIZED, "invalid_credentials");
        if !verified {
            slot.failed();
            return Err(invalid());
        }
        // A rotation that finished during the verification makes the old
        // passphrase worthless (the slot is released, not counted).
        if self.state().passphrase_hash.as_deref() != Some(hash.as_str()) {
            return Err(invalid());
        }
        slot.succeeded();
        Ok(hash)
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

    /// Creates a session for a successful setup, login or invitation,
    /// revoking the one the browser presented, if any (W13).
    fn start_session(
        &self,
        request: &AuthRequest,
        login: &LoginBody,
        auth_method: &str,
        capabilities: BTreeSet<String>,
    ) -> Answer<AuthResponse> {
        if let Some(previous) = request.cookie(&self.inner.config.cookie_name) {
            self.end_session_by_secret(previous);
        }
        let config = &self.inner.config;
        let ttl = if login.remember {
            config.remembered_session_ttl
        } else {
            config.session_ttl
        };
        let secret = random_secret();
        let now = now_unix();
        let row = SessionRow {
            id: random_id(),
            token_hash: digest(&secret),
            label: login.device_name.clone(),
            created_at: now,
            last_used_at: now,
            expires_at: now + ttl.as_secs_f64(),
            remembered: login.remember,
            auth_method: auth_method.to_owned(),
            capabilities: capabilities.into_iter().collect(),
        };
        self.prune();
        match (&self.inner.store, login.remember) {
            (Some(store), true) => store
                .insert_session(&row)
                .map_err(|error| internal_error(&error))?,
            _ => {
                let mut state = self.state();
                state.sessions.insert(row.token_hash.clone(), row.clone());
                evict_sessions(&mut state);
            }
        }
        let mut cookie = format!(
            "{}={}; HttpOnly; Max-Age={}; Path=/; SameSite=strict",
            config.cookie_name,
            secret,
            ttl.as_secs().max(1),
        );
        if request.https {
            cookie.push_str("; Secure");
        }
        let response = AuthResponse::json(
            StatusCode::OK,
            &json!({"configured": true, "authorized": true, "session": session_json(&row)}),
        );
        Ok(with_cookie(response, &cookie))
    }

    fn session_principal(&self, secret: &str) -> Option<AuthPrincipal> {
        let token_hash = digest(secret);
        let now = now_unix();
        let expired = {
            let mut state = self.state();
            match state.sessions.get_mut(&token_hash) {
                Some(row) if row.expires_at > now => {
                    if now - row.last_used_at >= TOUCH_INTERVAL {
                        row.last_used_at = now;
                    }
                    return Some(session_principal(row));
                }
                Some(_) => state.sessions.remove(&token_hash),
                None => None,
            }
        };
        if let Some(row) = expired {
            self.end_credential(&row.id);
            return None;
        }
        let store = self.inner.store.as_ref()?;
        let row = logged(store.session_by_hash(&token_hash), "look a session up")??;
        if row.expires_at <= now {
            logged(store.delete_session(&row.id), "delete an expired session");
            self.end_credential(&row.id);
            return None;
        }
        if now - row.last_used_at >= TOUCH_INTERVAL {
            logged(store.touch_session(&row.id, now), "touch a session");
        }
        Some(session_principal(&row))
    }

    fn token_principal(&self, secret: &str) -> Option<AuthPrincipal> {
        let token_hash = digest(secret);
        let now = now_unix();
        let expired = {
            let mut state = self.state();
            match state.tokens.get_mut(&token_hash) {
                Some(row) if row.expires_at.is_none_or(|at| at > now) => {
                    if row.last_used_at.is_none_or(|at| now - at >= TOUCH_INTERVAL) {
                        row.last_used_at = Some(now);
                    }
                    return Some(token_principal(row));
                }
                Some(_) => state.tokens.remove(&token_hash),
                None => None,
            }
        };
        if let Some(row) = expired {
            self.end_credential(&row.id);
            return None;
        }
        let store = self.inner.store.as_ref()?;
        let row = logged(store.token_by_hash(&token_hash), "look a token up")??;
        if row.expires_at.is_some_and(|at| at <= now) {
            self.end_credential(&row.id);
            return None;
        }
        if row.last_used_at.is_none_or(|at| now - at >= TOUCH_INTERVAL) {
            logged(store.touch_token(&row.id, now), "touch a token");
        }
        Some(token_principal(&row))
    }

    /// The expiry of a live session, by id.
    fn session_expiry(&self, id: &str) -> Option<f64> {
        let now = now_unix();
        let in_memory = self
            .state()
            .sessions
            .values()
            .find(|row| row.id == id)
            .map(|row| row.expires_at);
        let expires_at = in_memory.or_else(|| {
            let rows = logged(self.inner.store.as_ref()?.sessions(), "list sessions")?;
            rows.into_iter()
                .find(|row| row.id == id)
                .map(|row| row.expires_at)
        })?;
        (expires_at > now).then_some(expires_at)
    }

    /// The expiry of a live token, by id: `Some(None)` for never.
    fn token_expiry(&self, id: &str) -> Option<Option<f64>> {
        let now = now_unix();
        let in_memory = self
            .state()
            .tokens
            .values()
            .find(|row| row.id == id)
            .map(|row| row.expires_at);
        let expires_at = in_memory.or_else(|| {
            let rows = logged(self.inner.store.as_ref()?.tokens(), "list tokens")?;
            rows.into_iter()
                .find(|row| row.id == id)
                .map(|row| row.expires_at)
        })?;
        expires_at.is_none_or(|at| at > now).then_some(expires_at)
    }

    /// Deletes the session whose cookie value is `secret` (logout, and the
    /// previous session of a new login).
    fn end_session_by_secret(&self, secret: &str) {
        let token_hash = digest(secret);
        let removed = self.state().sessions.remove(&token_hash);
        let id = match removed {
            Some(row) => Some(row.id),
            None => self.inner.store.as_ref().and_then(|store| {
                let row = logged(store.session_by_hash(&token_hash), "look a session up")??;
                logged(store.delete_session(&row.id), "delete a session");
                Some(row.id)
            }),
        };
        if let Some(id) = id {
            self.end_credential(&id);
        }
    }

    fn create_token_checked(
        &self,
        label: &str,
        capabilities: Vec<String>,
        ttl: Option<f64>,
        allow_wildcard: bool,
    ) -> Result<NewToken, String> {
        let label = label.trim();
        if label.is_empty() {
            return Err("API token label is required".to_owned());
        }
        {
            let state = self.state();
            for capability in &capabilities {
                if capability == "*" {
                    if !allow_wildcard {
                        return Err(
                            "capability `*` can only be granted by the application".to_owned()
                        );
                    }
                } else if !BUILTIN_CAPABILITIES.contains(&capability.as_str())
                    && !state.declared.contains(capability)
                {
                    let known: Vec<&str> = BUILTIN_CAPABILITIES
                        .iter()
                        .copied()
                        .chain(state.declared.iter().map(String::as_str))
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    return Err(format!(
                        "unknown capability `{capability}`; known: {}",
                        known.join(", ")
                    ));
                }
            }
        }
        self.prune();
        let capabilities: Vec<String> = capabilities
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let secret = format!("ll_{}", random_secret());
        let now = now_unix();
        let row = TokenRow {
            id: random_id(),
            token_hash: digest(&secret),
            label: label.to_owned(),
            created_at: now,
            last_used_at: None,
            expires_at: ttl.map(|ttl| now + ttl),
            capabilities,
        };
        match &self.inner.store {
            Some(store) => store
                .insert_token(&row)
                .map_err(|error| format!("the token could not be stored: {error}"))?,
            None => {
                self.state()
                    .tokens
                    .insert(row.token_hash.clone(), row.clone());
            }
        }
        Ok(NewToken {
            id: row.id,
            token: secret,
            label: row.label,
            created_at: row.created_at,
            expires_at: row.expires_at,
            capabilities: row.capabilities,
        })
    }

    /// Marks an overdue active invitation `expired` (the timer, and lazy
    /// checks).
    fn expire_invite(&self, id: &str) {
        let now = now_unix();
        let event = {
            let mut state = self.state();
            match state.invites.get_mut(id) {
                Some(record)
                    if record.status == InviteStatus::Active && record.expires_at <= now =>
                {
                    set_invite_status(id, record, InviteStatus::Expired, now)
                }
                _ => return,
            }
        };
        self.emit(vec![event]);
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
            let mut events = Vec::new();
            for (id, record) in &mut state.invites {
                if record.status == InviteStatus::Active && record.expires_at <= now {
                    events.push(set_invite_status(id, record, InviteStatus::Expired, now));
                }
            }
            let finished: Vec<(String, String)> = state
                .invites
                .iter()
                .filter(|(_, record)| {
                    record.status != InviteStatus::Active
                        && now - record.changed_at > INVITE_RETENTION
                })
                .map(|(id, record)| (id.clone(), record.digest.clone()))
                .collect();
            for (id, token_digest) in finished {
                state.invites.remove(&id);
                state.invite_ids.remove(&token_digest);
            }
            (ended, events)
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

    fn emit(&self, events: Vec<InviteEvent>) {
        if events.is_empty() {
            return;
        }
        let callbacks = lock(&self.inner.callbacks).clone();
        for event in &events {
            for callback in &callbacks {
                let call = std::panic::AssertUnwindSafe(|| callback(event));
                if std::panic::catch_unwind(call).is_err() {
                    tracing::warn!(invite = %event.invite_id, "an invitation event callback panicked");
                }
            }
        }
    }
}

/// The fields of setup, login and invitation bodies.
struct LoginBody {
    /// The passphrase, or the invitation's secret.
    passphrase: String,
    remember: bool,
    device_name: String,
}

impl LoginBody {
    /// `{passphrase, remember?, deviceName?}`.
    fn parse(body: &Map<String, Value>, code: &str) -> Answer<Self> {
        let passphrase = string_field(body, "passphrase", code)?
            .ok_or_else(|| bad_request(code, "`passphrase` is required"))?;
        Self::options(body, code, passphrase)
    }

    /// `remember?` and `deviceName?`, around an already read secret.
    fn options(body: &Map<String, Value>, code: &str, passphrase: String) -> Answer<Self> {
        let remember = bool_field(body, "remember", code)?.unwrap_or(false);
        let device_name = string_field(body, "deviceName", code)?
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "Browser".to_owned());
        Ok(Self {
            passphrase,
            remember,
            device_name,
        })
    }
}

/// A POST body: empty, or a JSON object sent as `application/json`
/// (W4, W5). Over the limit: 413; another content type: 415; invalid JSON
/// or not an object: 400.
fn parse_body(request: &AuthRequest, limit: usize, code: &str) -> Answer<Map<String, Value>> {
    if request.body.len() > limit {
        return Err(AuthResponse::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ));
    }
    if request.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let is_json = request
        .header_str("content-type")
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(AuthResponse::error_message(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the request body must be JSON, sent with Content-Type: application/json",
        ));
    }
    match serde_json::from_slice::<Value>(&request.body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(bad_request(code, "the request body must be a JSON object")),
        Err(error) => Err(bad_request(
            code,
            &format!("the request body is not valid JSON: {error}"),
        )),
    }
}

/// An optional string field (`null` counts as absent).
fn string_field(body: &Map<String, Value>, key: &str, code: &str) -> Answer<Option<String>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(bad_request(code, &format!("`{key}` must be a string"))),
    }
}

/// An optional boolean field: JSON `true` or `false` only.
fn bool_field(body: &Map<String, Value>, key: &str, code: &str) -> Answer<Option<bool>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(value)) => Ok(Some(*value)),
        Some(_) => Err(bad_request(code, &format!("`{key}` must be true or false"))),
    }
}

/// An optional `ttl` in seconds: a finite number above zero, at most ten
/// years.
fn ttl_field(body: &Map<String, Value>, code: &str) -> Answer<Option<f64>> {
    match body.get("ttl") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => match number.as_f64() {
            Some(ttl) if ttl.is_finite() && ttl > 0.0 && ttl <= MAX_TTL_SECS => Ok(Some(ttl)),
            Some(ttl) if ttl.is_finite() && ttl > 0.0 => Err(bad_request(
                code,
                &format!("ttl must be at most {MAX_TTL_SECS} seconds"),
            )),
            _ => Err(bad_request(code, "ttl must be greater than zero")),
        },
        Some(_) => Err(bad_request(code, "ttl must be a number of seconds")),
    }
}

fn bad_request(code: &str, message: &str) -> AuthResponse {
    AuthResponse::error_message(StatusCode::BAD_REQUEST, code, message)
}

fn setup_required() -> AuthResponse {
    AuthResponse::error(StatusCode::SERVICE_UNAVAILABLE, "setup_required")
}

fn already_configured() -> AuthResponse {
    AuthResponse::error(StatusCode::CONFLICT, "already_configured")
}

fn internal_error(error: &AuthError) -> AuthResponse {
    tracing::error!(%error, "access control failed");
    AuthResponse::error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
}

/// 429 `rate_limited` with `Retry-After` in whole seconds (at least 1).
fn rate_limited(retry_after: Duration) -> AuthResponse {
    let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    AuthResponse::error(StatusCode::TOO_MANY_REQUESTS, "rate_limited")
        .with_header(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)))
}

fn with_cookie(response: AuthResponse, cookie: &str) -> AuthResponse {
    match HeaderValue::from_str(cookie) {
        Ok(value) => response.with_header(header::SET_COOKIE, value),
        // Only the configured cookie name can make this fail: a start-up
        // mistake, not network input.
        Err(_) => {
            tracing::error!("the session cookie is not a valid header: check `cookie_name`");
            AuthResponse::error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
        }
    }
}

fn session_json(row: &SessionRow) -> Value {
    json!({
        "id": row.id,
        "label": row.label,
        "createdAt": iso(row.created_at),
        "lastUsedAt": iso(row.last_used_at),
        "expiresAt": iso(row.expires_at),
        "remembered": row.remembered,
        "authMethod": row.auth_method,
        "capabilities": row.capabilities,
    })
}

fn session_principal(row: &SessionRow) -> AuthPrincipal {
    AuthPrincipal::new(
        row.id.clone(),
        PrincipalKind::Session,
        row.label.clone(),
        row.capabilities.iter().cloned(),
    )
}

fn token_principal(row: &TokenRow) -> AuthPrincipal {
    AuthPrincipal::new(
        row.id.clone(),
        PrincipalKind::ApiToken,
        row.label.clone(),
        row.capabilities.iter().cloned(),
    )
}

fn set_invite_status(
    id: &str,
    record: &mut InviteRecord,
    status: InviteStatus,
    now: f64,
) -> InviteEvent {
    record.status = status;
    record.changed_at = now;
    if status != InviteStatus::Active {
        if let Some(timer) = record.timer.take() {
            timer.abort();
        }
    }
    InviteEvent {
        invite_id: id.to_owned(),
        status,
        occurred_at: now,
    }
}

/// Evicts the oldest memory sessions beyond [`MAX_SESSIONS`].
fn evict_sessions(state: &mut State) {
    while state.sessions.len() > MAX_SESSIONS {
        let oldest = state
            .sessions
            .iter()
            .min_by(|a, b| a.1.created_at.total_cmp(&b.1.created_at))
            .map(|(key, _)| key.clone());
        match oldest {
            Some(key) => {
                if let Some(row) = state.sessions.remove(&key) {
                    if let Some((_, token)) = state.revocations.remove(&row.id) {
                        token.cancel();
                    }
                }
            }
            None => break,
        }
    }
}

/// Drops the oldest invitations beyond [`MAX_INVITES`] (finished ones
/// first); an active one dropped is reported as revoked.
fn evict_invites(state: &mut State, now: f64) -> Vec<InviteEvent> {
    let mut events = Vec::new();
    while state.invites.len() > MAX_INVITES {
        let victim = state
            .invites
            .iter()
            .min_by(|a, b| {
                let active = |record: &InviteRecord| record.status == InviteStatus::Active;
                active(a.1)
                    .cmp(&active(b.1))
                    .then(a.1.changed_at.total_cmp(&b.1.changed_at))
            })
            .map(|(id, _)| id.clone());
        let Some(id) = victim else { break };
        if let Some(mut record) = state.invites.remove(&id) {
            state.invite_ids.remove(&record.digest);
            if record.status == InviteStatus::Active {
                events.push(set_invite_status(
                    &id,
                    &mut record,
                    InviteStatus::Revoked,
                    now,
                ));
            }
        }
    }
    events
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
