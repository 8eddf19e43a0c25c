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
