//! Request bodies of the `{prefix}/auth/…` endpoints: a JSON object sent
//! as `application/json`, with strictly typed fields (W4, W5).
//!
//! 0.5.0 read any content type (form bodies included), coerced
//! `"false"` to true and treated oversized bodies as empty. Here every
//! deviation is an answer: 413 over the limit, 415 for another content
//! type, 400 with a message naming the field otherwise.

use http::StatusCode;
use serde_json::{Map, Value};

use super::Answer;
use crate::{AuthRequest, AuthResponse};

/// The longest `ttl` accepted over HTTP: ten years, in seconds.
const MAX_TTL_SECS: f64 = 10.0 * 365.0 * 86_400.0;

/// The fields of setup, login and invitation bodies.
pub(super) struct LoginBody {
    /// The passphrase, or the invitation's secret.
    pub(super) passphrase: String,
    pub(super) remember: bool,
    pub(super) device_name: String,
}

impl LoginBody {
    /// `{passphrase, remember?, deviceName?}`.
    pub(super) fn parse(body: &Map<String, Value>, code: &str) -> Answer<Self> {
        let passphrase = string_field(body, "passphrase", code)?
            .ok_or_else(|| bad_request(code, "`passphrase` is required"))?;
        Self::options(body, code, passphrase)
    }

    /// `remember?` and `deviceName?`, around an already read secret.
    pub(super) fn options(
        body: &Map<String, Value>,
        code: &str,
        passphrase: String,
    ) -> Answer<Self> {
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
pub(super) fn parse_body(
    request: &AuthRequest,
    limit: usize,
    code: &str,
) -> Answer<Map<String, Value>> {
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
pub(super) fn string_field(
    body: &Map<String, Value>,
    key: &str,
    code: &str,
) -> Answer<Option<String>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(bad_request(code, &format!("`{key}` must be a string"))),
    }
}

/// An optional boolean field: JSON `true` or `false` only.
pub(super) fn bool_field(body: &Map<String, Value>, key: &str, code: &str) -> Answer<Option<bool>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(value)) => Ok(Some(*value)),
        Some(_) => Err(bad_request(code, &format!("`{key}` must be true or false"))),
    }
}

/// An optional `ttl` in seconds: a finite number above zero, at most ten
/// years.
pub(super) fn ttl_field(body: &Map<String, Value>, code: &str) -> Answer<Option<f64>> {
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

pub(super) fn bad_request(code: &str, message: &str) -> AuthResponse {
    AuthResponse::error_message(StatusCode::BAD_REQUEST, code, message)
}
