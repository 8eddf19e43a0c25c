//! The `{prefix}/auth/…` endpoints of AUTH.md 6.2: [`Auth::handle`]
//! routes a request, each endpoint runs its checks in the table's order
//! and answers 0.5.0's status, error code and JSON shape.
//!
//! A refused step returns its HTTP answer as the `Err` of an
//! [`Answer`], so each endpoint reads as its list of checks.

use std::collections::BTreeSet;
use std::time::Duration;

use http::{header, HeaderValue, Method, StatusCode};
use serde_json::{json, Value};

use super::body::{bad_request, bool_field, parse_body, string_field, ttl_field, LoginBody};
use super::{Answer, Auth};
use crate::passphrase::validate_passphrase;
use crate::time::{iso, now_unix};
use crate::{
    decide_trust, rate_limit_key, AuthError, AuthRequest, AuthResponse, PrincipalKind, SessionRow,
    TokenRow,
};

impl Auth {
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
        if !self.consume_invite(&login.passphrase) {
            return Err(AuthResponse::error(
                StatusCode::UNAUTHORIZED,
                "invalid_or_expired_invite",
            ));
        }
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

impl Auth {
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

    /// Creates a session for a successful setup, login or invitation,
    /// revoking the one the browser presented, if any (W13).
    fn start_session(
        &self,
        request: &AuthRequest,
        login: &LoginBody,
        auth_method: &str,
        capabilities: BTreeSet<String>,
    ) -> Answer<AuthResponse> {
        let config = &self.inner.config;
        if let Some(previous) = request.cookie(&config.cookie_name) {
            self.end_session_by_secret(previous);
        }
        let (row, secret) = self
            .create_session(
                &login.device_name,
                login.remember,
                auth_method,
                capabilities,
            )
            .map_err(|error| internal_error(&error))?;
        let ttl = if login.remember {
            config.remembered_session_ttl
        } else {
            config.session_ttl
        };
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

#[cfg(test)]
mod tests {
    use super::super::testing::{auth, lan, local, PASSPHRASE};
    use super::*;
    use crate::AuthConfig;

    #[tokio::test]
    async fn routes_and_methods() {
        let auth = auth(AuthConfig::new());
        for path in ["/state", "/auth", "/auth/", "/auth/login/", "/auth/LOGIN"] {
            assert!(
                auth.handle(lan(Method::POST, path)).await.is_none(),
                "{path}"
            );
        }
        for (method, path, allow) in [
            (Method::POST, "/auth/status", "GET"),
            (Method::GET, "/auth/login", "POST"),
            (Method::DELETE, "/auth/tokens", "GET, POST"),
            (Method::PUT, "/auth/sessions/revoke", "POST"),
        ] {
            let response = auth.handle(lan(method, path)).await.unwrap();
            assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
            assert_eq!(response.headers["allow"], allow, "{path}");
        }
    }

    #[tokio::test]
    async fn status_and_login() {
        let auth = auth(AuthConfig::new());
        let status = auth
            .handle(local(Method::GET, "/auth/status"))
            .await
            .unwrap();
        assert_eq!(status.json_body().unwrap()["principal"]["kind"], "local");

        let login = |passphrase: &str| {
            lan(Method::POST, "/auth/login")
                .json(&json!({"passphrase": passphrase, "deviceName": "Laptop"}))
        };
        let refused = auth.handle(login("wrong")).await.unwrap();
        assert_eq!(
            (refused.status, refused.json_body()),
            (
                StatusCode::UNAUTHORIZED,
                Some(json!({"authorized": false, "error": "invalid_credentials"}))
            )
        );
        let accepted = auth.handle(login(PASSPHRASE)).await.unwrap();
        assert_eq!(accepted.status, StatusCode::OK);
        let cookie = accepted.set_cookie().unwrap();
        assert!(
            cookie.ends_with("; HttpOnly; Max-Age=43200; Path=/; SameSite=strict"),
            "{cookie}"
        );
        let body = accepted.json_body().unwrap();
        assert_eq!(body["session"]["authMethod"], "passphrase");
        assert_eq!(body["session"]["label"], "Laptop");
        assert_eq!(
            body["session"]["capabilities"],
            json!(["control", "manage_access"])
        );
    }

    #[tokio::test]
    async fn rotation_checks_run_in_order() {
        let auth = auth(AuthConfig::new());
        let token = auth
            .create_token("m", ["manage_access"], None)
            .unwrap()
            .token;
        let rotate = |body: Value| {
            lan(Method::POST, "/auth/passphrase")
                .header("authorization", &format!("Bearer {token}"))
                .json(&body)
        };
        let code = |response: AuthResponse| {
            let body = response.json_body().unwrap();
            (
                response.status.as_u16(),
                body["error"].as_str().unwrap().to_owned(),
            )
        };
        let no_credential = lan(Method::POST, "/auth/passphrase").json(&json!({}));
        for (request, expect) in [
            (no_credential, (403, "forbidden")),
            (rotate(json!({"passphrase": 1})), (400, "invalid_request")),
            (
                rotate(json!({"passphrase": "a fine new passphrase"})),
                (400, "invalid_request"),
            ),
            (
                rotate(json!({"passphrase": "short", "currentPassphrase": "wrong"})),
                (400, "weak_passphrase"),
            ),
            (
                rotate(
                    json!({"passphrase": "a fine new passphrase", "currentPassphrase": "wrong"}),
                ),
                (401, "invalid_credentials"),
            ),
        ] {
            let response = auth.handle(request).await.unwrap();
            assert_eq!(code(response), (expect.0, expect.1.to_owned()));
        }
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        for (wait, header) in [
            (Duration::ZERO, "1"),
            (Duration::from_millis(1), "1"),
            (Duration::from_secs(1), "1"),
            (Duration::from_millis(1001), "2"),
            (Duration::from_secs(59), "59"),
        ] {
            let response = rate_limited(wait);
            assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(response.headers["retry-after"], header, "{wait:?}");
        }
    }

    #[test]
    fn a_cookie_that_is_not_a_header_value_is_an_internal_error() {
        let response = AuthResponse::json(StatusCode::OK, &json!({}));
        let response = with_cookie(response, "bad\ncookie");
        assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.json_body(),
            Some(json!({"authorized": false, "error": "internal_error"}))
        );
    }

    #[test]
    fn session_objects_have_the_wire_shape() {
        let row = SessionRow {
            id: "0123456789abcdef01234567".to_owned(),
            token_hash: "not shown".to_owned(),
            label: "Laptop".to_owned(),
            created_at: 1_700_000_000.0,
            last_used_at: 1_700_000_000.5,
            expires_at: 1_700_043_200.0,
            remembered: false,
            auth_method: "invite".to_owned(),
            capabilities: vec!["control".to_owned()],
        };
        assert_eq!(
            session_json(&row),
            json!({
                "id": "0123456789abcdef01234567",
                "label": "Laptop",
                "createdAt": "2023-11-14T22:13:20+00:00",
                "lastUsedAt": "2023-11-14T22:13:20.500000+00:00",
                "expiresAt": "2023-11-15T10:13:20+00:00",
                "remembered": false,
                "authMethod": "invite",
                "capabilities": ["control"],
            })
        );
    }
}
