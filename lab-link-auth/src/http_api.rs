//! The request and response types of the `{prefix}/auth/…` endpoints
//! (AUTH.md section 6), and the header parsing they need.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde_json::{json, Value};

/// One HTTP request as the access-control layer sees it.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    /// The method.
    pub method: Method,
    /// The path after the sync prefix: `/auth/login`, `/state`, `/ws`.
    pub path: String,
    /// The headers (`Origin`, `Host`, `Cookie`, `Authorization`,
    /// forwarding headers).
    pub headers: HeaderMap,
    /// The socket peer.
    pub peer: SocketAddr,
    /// Whether the request came over TLS (or a trusted proxy says so).
    pub https: bool,
    /// The body (empty for GET and the WebSocket handshake).
    pub body: Bytes,
}

impl AuthRequest {
    /// A request without headers or body, over plain HTTP.
    ///
    /// ```
    /// use http::Method;
    /// use lab_link_auth::AuthRequest;
    ///
    /// let request = AuthRequest::new(Method::POST, "/auth/login", "192.0.2.7:5000".parse()?)
    ///     .header("host", "192.0.2.1:8000")
    ///     .header("cookie", "theme=dark; lab_link_session=abc")
    ///     .json(&serde_json::json!({"passphrase": "correct horse battery"}));
    /// assert_eq!(request.header_str("content-type"), Some("application/json"));
    /// assert_eq!(request.cookie("lab_link_session"), Some("abc"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(method: Method, path: impl Into<String>, peer: SocketAddr) -> Self {
        Self {
            method,
            path: path.into(),
            headers: HeaderMap::new(),
            peer,
            https: false,
            body: Bytes::new(),
        }
    }

    /// Adds a header (appended, so a name may repeat).
    ///
    /// # Panics
    ///
    /// `name` or `value` is not a valid header name or value (a mistake in
    /// the calling code, not network input).
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("a valid header name");
        let value = HeaderValue::from_str(value).expect("a valid header value");
        self.headers.append(name, value);
        self
    }

    /// Sets the body, as is.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    #[must_use]
    pub fn json(mut self, value: &Value) -> Self {
        self.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        self.body = Bytes::from(value.to_string());
        self
    }

    /// Marks the request as having come over TLS.
    #[must_use]
    pub fn https(mut self, https: bool) -> Self {
        self.https = https;
        self
    }

    /// The scheme the client used: `"https"` when [`AuthRequest::https`]
    /// says so, otherwise `"http"`. The Origin rule compares it (W10).
    ///
    /// ```
    /// use http::Method;
    /// use lab_link_auth::AuthRequest;
    ///
    /// let request = AuthRequest::new(Method::GET, "/ws", "127.0.0.1:5000".parse()?);
    /// assert_eq!(request.scheme(), "http");
    /// assert_eq!(request.https(true).scheme(), "https");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn scheme(&self) -> &'static str {
        if self.https {
            "https"
        } else {
            "http"
        }
    }

    /// The first value of header `name`, when it is visible ASCII.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The `Origin` header.
    pub fn origin(&self) -> Option<&str> {
        self.header_str("origin")
    }

    /// The `Host` header.
    pub fn host(&self) -> Option<&str> {
        self.header_str("host")
    }

    /// The value of cookie `name` from the `Cookie` header(s): the first
    /// one, with surrounding double quotes removed.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|line| line.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| key.trim() == name)
            .map(|(_, value)| {
                let value = value.trim();
                value
                    .strip_prefix('"')
                    .and_then(|inner| inner.strip_suffix('"'))
                    .unwrap_or(value)
            })
            .filter(|value| !value.is_empty())
    }

    /// The token of an `Authorization: Bearer <token>` header (the scheme
    /// case-insensitive).
    pub fn bearer_token(&self) -> Option<&str> {
        let value = self.header_str("authorization")?.trim();
        let (scheme, token) = value.split_once(|c: char| c.is_ascii_whitespace())?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
    }
}

/// An answer of the access-control layer: status, headers (`Set-Cookie`,
/// `Content-Type`, `Retry-After`) and a JSON body.
#[derive(Debug, Clone)]
pub struct AuthResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl AuthResponse {
    /// A JSON answer with `Content-Type: application/json`.
    pub fn json(status: StatusCode, value: &Value) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Self {
            status,
            headers,
            body: Bytes::from(value.to_string()),
        }
    }

    /// The 0.5.0 error body `{"authorized": false, "error": code}`.
    pub fn error(status: StatusCode, code: &str) -> Self {
        Self::json(status, &json!({"authorized": false, "error": code}))
    }

    /// The 0.5.0 error body with a `message` (the 400s).
    pub fn error_message(status: StatusCode, code: &str, message: &str) -> Self {
        Self::json(
            status,
            &json!({"authorized": false, "error": code, "message": message}),
        )
    }

    /// `405 Method Not Allowed` in plain text, with `Allow`.
    pub fn method_not_allowed(allowed: &[Method]) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        let allow = allowed
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        if let Ok(allow) = HeaderValue::from_str(&allow) {
            headers.insert(header::ALLOW, allow);
        }
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            headers,
            body: Bytes::from_static(b"Method Not Allowed"),
        }
    }

    /// Adds a header (appended).
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json_body(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The first `Set-Cookie` header.
    pub fn set_cookie(&self) -> Option<&str> {
        self.headers
            .get(header::SET_COOKIE)
            .and_then(|value| value.to_str().ok())
    }
}
