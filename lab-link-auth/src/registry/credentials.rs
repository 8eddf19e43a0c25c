//! Sessions, API tokens and the passphrase: creating, looking up,
//! revoking and watching the credentials a principal stands on.
//!
//! A presented secret is hashed (SHA-256) and looked up by digest, never
//! compared (W12). Normal sessions live in memory; remembered ones and
//! tokens in the store when there is one, which is then authoritative on
//! every lookup (a row deleted by another process is rejected). Every
//! revocation deletes first and cancels the credential's [`Watch`] second,
//! which is what makes [`Auth::watch`] race-free.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{logged, Auth, State};
use crate::passphrase::validate_passphrase;
use crate::secret::{digest, random_id, random_secret};
use crate::time::now_unix;
use crate::{AuthError, AuthPrincipal, PrincipalKind, SessionRow, TokenRow};

/// The most sessions kept in memory; the oldest is evicted beyond (W9).
const MAX_SESSIONS: usize = 10_000;

/// `lastUsedAt` is written at most this often, in seconds.
const TOUCH_INTERVAL: f64 = 60.0;

/// Capability names always valid for tokens.
const BUILTIN_CAPABILITIES: [&str; 3] = ["control", "manage_access", "read_state"];

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

impl Auth {
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
}

// Shared by the submodules.
impl Auth {
    /// Creates a session (setup, login, invitation): kept in the store
    /// when remembered and there is one, in memory otherwise. The row and
    /// the cookie's secret.
    pub(super) fn create_session(
        &self,
        label: &str,
        remember: bool,
        auth_method: &str,
        capabilities: BTreeSet<String>,
    ) -> Result<(SessionRow, String), AuthError> {
        let config = &self.inner.config;
        let ttl = if remember {
            config.remembered_session_ttl
        } else {
            config.session_ttl
        };
        let secret = random_secret();
        let now = now_unix();
        let row = SessionRow {
            id: random_id(),
            token_hash: digest(&secret),
            label: label.to_owned(),
            created_at: now,
            last_used_at: now,
            expires_at: now + ttl.as_secs_f64(),
            remembered: remember,
            auth_method: auth_method.to_owned(),
            capabilities: capabilities.into_iter().collect(),
        };
        self.prune();
        match (&self.inner.store, remember) {
            (Some(store), true) => store.insert_session(&row)?,
            _ => {
                let mut state = self.state();
                state.sessions.insert(row.token_hash.clone(), row.clone());
                evict_sessions(&mut state);
            }
        }
        Ok((row, secret))
    }

    /// The rotation behind [`Auth::change_passphrase`] and the endpoint.
    /// With `replacing`, the new passphrase is set only while that hash is
    /// still the current one (`Ok(false)` otherwise): two rotations that
    /// both proved the old passphrase cannot both win.
    pub(super) async fn replace_passphrase(
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
            self.revoke_active_invites();
        }
        Ok(true)
    }

    pub(super) fn session_principal(&self, secret: &str) -> Option<AuthPrincipal> {
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

    pub(super) fn token_principal(&self, secret: &str) -> Option<AuthPrincipal> {
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

    /// Deletes the session whose cookie value is `secret` (logout, and the
    /// previous session of a new login).
    pub(super) fn end_session_by_secret(&self, secret: &str) {
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

    pub(super) fn create_token_checked(
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

#[cfg(test)]
mod tests {
    use http::Method;

    use super::super::testing::{auth, lan, passphrase_hash};
    use super::*;
    use crate::{AuthConfig, AuthRequest};

    fn caps(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    fn bearer(token: &str) -> AuthRequest {
        lan(Method::GET, "/state").header("authorization", &format!("Bearer {token}"))
    }

    #[test]
    fn sessions_are_found_by_their_secret_and_revoked_by_id() {
        let auth = auth(AuthConfig::new());
        let (row, secret) = auth
            .create_session("Laptop", false, "passphrase", caps(&["control"]))
            .unwrap();
        assert_eq!(row.token_hash, digest(&secret));
        assert_ne!(row.token_hash, secret);
        let principal = auth.session_principal(&secret).expect("a live session");
        assert_eq!(
            principal,
            AuthPrincipal::new(
                row.id.clone(),
                PrincipalKind::Session,
                "Laptop",
                ["control"]
            )
        );
        assert_eq!(auth.session_principal("another secret"), None);

        let watch = auth.watch(&principal);
        assert!(!watch.is_revoked());
        assert!(auth.revoke_session(&row.id));
        assert!(watch.is_revoked());
        assert!(!auth.revoke_session(&row.id));
        assert_eq!(auth.session_principal(&secret), None);
        // Watching a credential that is already gone ends at once.
        assert!(auth.watch(&principal).is_revoked());
    }

    #[test]
    fn an_expired_session_is_dropped_when_seen() {
        let auth = auth(AuthConfig::new());
        let (_, secret) = auth
            .create_session("Laptop", true, "invite", caps(&["control"]))
            .unwrap();
        for row in auth.state().sessions.values_mut() {
            row.expires_at = now_unix() - 1.0;
        }
        assert_eq!(auth.session_principal(&secret), None);
        assert!(auth.state().sessions.is_empty());
    }

    #[test]
    fn logout_and_revoke_all_end_sessions() {
        let auth = auth(AuthConfig::new());
        let (_, first) = auth
            .create_session("A", false, "passphrase", caps(&[]))
            .unwrap();
        let (_, second) = auth
            .create_session("B", false, "passphrase", caps(&[]))
            .unwrap();
        let watch = auth.watch(&auth.session_principal(&second).unwrap());
        auth.end_session_by_secret(&first);
        assert_eq!(auth.session_principal(&first), None);
        assert!(auth.session_principal(&second).is_some());
        auth.revoke_all_sessions();
        assert_eq!(auth.session_principal(&second), None);
        assert!(watch.is_revoked());
    }

    #[test]
    fn tokens_validate_label_capabilities_and_ttl() {
        let auth = auth(AuthConfig::new());
        auth.declare_capabilities(["set_channel"]);
        let refused = |label: &str, capabilities: &[&str], wildcard: bool| {
            let capabilities = capabilities.iter().map(|c| (*c).to_owned()).collect();
            auth.create_token_checked(label, capabilities, None, wildcard)
                .unwrap_err()
        };
        assert_eq!(refused(" ", &[], true), "API token label is required");
        assert_eq!(
            refused("t", &["*"], false),
            "capability `*` can only be granted by the application"
        );
        assert_eq!(
            refused("t", &["launch"], true),
            "unknown capability `launch`; known: control, manage_access, read_state, set_channel"
        );
        assert_eq!(
            auth.create_token("t", ["control"], Some(Duration::ZERO))
                .unwrap_err(),
            "ttl must be greater than zero"
        );

        let token = auth
            .create_token(
                " logger ",
                ["set_channel", "read_state", "set_channel"],
                None,
            )
            .unwrap();
        assert!(token.token.starts_with("ll_"));
        assert_eq!(token.token.len(), 46);
        assert_eq!(token.label, "logger");
        assert_eq!(token.capabilities, ["read_state", "set_channel"]);
        assert_eq!(token.expires_at, None);
        let wildcard = auth.create_token("root", ["*"], None).unwrap();
        assert!(auth
            .token_principal(&wildcard.token)
            .unwrap()
            .can("anything"));
    }

    #[test]
    fn tokens_resolve_until_revoked_or_expired() {
        let auth = auth(AuthConfig::new());
        let token = auth.create_token("logger", ["control"], None).unwrap();
        let principal = auth.resolve(&bearer(&token.token), false).unwrap();
        assert_eq!(
            (
                principal.kind,
                principal.id.as_str(),
                principal.label.as_str()
            ),
            (PrincipalKind::ApiToken, token.id.as_str(), "logger")
        );
        let watch = auth.watch(&principal);
        assert!(auth.revoke_token(&token.id));
        assert!(watch.is_revoked());
        assert!(!auth.revoke_token(&token.id));
        assert_eq!(auth.token_principal(&token.token), None);

        let timed = auth
            .create_token("timed", ["control"], Some(Duration::from_secs(60)))
            .unwrap();
        let expires_at = timed.expires_at.unwrap();
        assert!((expires_at - timed.created_at - 60.0).abs() < 1e-6);
        assert!(auth.token_principal(&timed.token).is_some());
        for row in auth.state().tokens.values_mut() {
            row.expires_at = Some(now_unix() - 1.0);
        }
        assert_eq!(auth.token_principal(&timed.token), None);

        let kept = auth.create_token("a", ["control"], None).unwrap();
        auth.revoke_all_tokens();
        assert_eq!(auth.token_principal(&kept.token), None);
    }

    #[tokio::test]
    async fn watches_end_at_the_credentials_expiry() {
        let auth = auth(AuthConfig::new().session_ttl(Duration::from_millis(50)));
        let (_, secret) = auth
            .create_session("A", false, "passphrase", caps(&[]))
            .unwrap();
        let mut watch = auth.watch(&auth.session_principal(&secret).unwrap());
        tokio::time::timeout(Duration::from_secs(10), watch.ended())
            .await
            .expect("the watch ends at the expiry");
        assert!(!watch.is_revoked());
        // `local` never ends.
        let local = AuthPrincipal::new("local", PrincipalKind::Local, "Local host", ["*"]);
        let mut watch = auth.watch(&local);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), watch.ended())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_rotation_replaces_only_the_hash_it_proved() {
        let auth = auth(AuthConfig::new());
        let (_, secret) = auth
            .create_session("A", false, "passphrase", caps(&[]))
            .unwrap();
        let invite = auth.create_invite(None);
        // Proved against a hash that is no longer current: nothing changes.
        let stale = "$argon2id$v=19$m=65536,t=3,p=4$an-older-hash".to_owned();
        let replaced = auth
            .replace_passphrase("the next passphrase", true, true, Some(&stale))
            .await
            .unwrap();
        assert!(!replaced);
        assert_eq!(auth.state().passphrase_hash, Some(passphrase_hash()));
        assert!(auth.session_principal(&secret).is_some());

        let current = passphrase_hash();
        let replaced = auth
            .replace_passphrase("the next passphrase", false, true, Some(&current))
            .await
            .unwrap();
        assert!(replaced);
        assert_ne!(auth.state().passphrase_hash, Some(current));
        assert_eq!(auth.passphrase(), None);
        assert!(auth.session_principal(&secret).is_some());
        assert_eq!(
            auth.invite_status(&invite.id),
            Some(crate::InviteStatus::Revoked)
        );
        assert!(matches!(
            auth.change_passphrase("short", true, true).await,
            Err(AuthError::WeakPassphrase(_))
        ));
    }
}
