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

#[cfg(test)]
mod tests {
    use http::Method;
    use serde_json::json;

    use super::super::testing::lan;
    use super::*;

    /// The body `{"authorized": false, "error": code, "message": …}` of a
    /// refusal, with its status.
    fn refusal(response: AuthResponse) -> (StatusCode, String, String) {
        let body = response.json_body().expect("a JSON body");
        assert_eq!(body["authorized"], false, "{body}");
        let text = |key: &str| body[key].as_str().unwrap_or_default().to_owned();
        (response.status, text("error"), text("message"))
    }

    #[track_caller]
    fn check_body(content_type: Option<&str>, body: &str, expect: Result<Value, (u16, &str)>) {
        let mut request = lan(Method::POST, "/auth/login").body(body.to_owned());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        match (parse_body(&request, 64, "invalid_request"), expect) {
            (Ok(map), Ok(expected)) => assert_eq!(Value::Object(map), expected, "{body:?}"),
            (Err(response), Err((status, message))) => {
                let (got_status, _, got_message) = refusal(response);
                assert_eq!(got_status.as_u16(), status, "{body:?}");
                assert!(got_message.contains(message), "{body:?}: {got_message}");
            }
            (got, expected) => panic!("{body:?}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn bodies_are_json_objects_sent_as_json() {
        const JSON: Option<&str> = Some("application/json");
        check_body(JSON, r#"{"a": 1}"#, Ok(json!({"a": 1})));
        check_body(Some("Application/JSON; charset=utf-8"), "{}", Ok(json!({})));
        // Empty (or blank) bodies are an empty object, whatever the type.
        check_body(None, "", Ok(json!({})));
        check_body(None, " \r\n", Ok(json!({})));
        check_body(None, r#"{"a": 1}"#, Err((415, "must be JSON")));
        check_body(
            Some("application/x-www-form-urlencoded"),
            "passphrase=x",
            Err((415, "Content-Type: application/json")),
        );
        check_body(Some("text/plain"), "{}", Err((415, "")));
        check_body(JSON, "[1]", Err((400, "must be a JSON object")));
        check_body(JSON, "null", Err((400, "must be a JSON object")));
        check_body(JSON, "{", Err((400, "not valid JSON")));
        check_body(JSON, "NaN", Err((400, "not valid JSON")));
        // Over the limit (64 bytes here): 413, before anything is parsed.
        check_body(
            JSON,
            &format!("{{\"a\": \"{}\"}}", "x".repeat(64)),
            Err((413, "")),
        );
    }

    #[test]
    fn the_limit_answers_body_too_large() {
        let request = lan(Method::POST, "/auth/login").body(vec![b' '; 65]);
        let (status, code, _) = refusal(parse_body(&request, 64, "invalid_request").unwrap_err());
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
        );
    }

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    /// The message of a field's refusal, checking its code.
    fn message<T: std::fmt::Debug>(result: Answer<T>) -> String {
        let (status, code, message) = refusal(result.unwrap_err());
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "the_code")
        );
        message
    }

    #[test]
    fn fields_are_strictly_typed() {
        let body = object(json!({
            "s": "text", "b": false, "n": null, "num": 1, "str_bool": "false",
        }));
        assert_eq!(
            string_field(&body, "s", "the_code").unwrap().as_deref(),
            Some("text")
        );
        assert_eq!(string_field(&body, "n", "the_code").unwrap(), None);
        assert_eq!(string_field(&body, "missing", "the_code").unwrap(), None);
        assert_eq!(
            message(string_field(&body, "num", "the_code")),
            "`num` must be a string"
        );
        assert_eq!(bool_field(&body, "b", "the_code").unwrap(), Some(false));
        assert_eq!(bool_field(&body, "n", "the_code").unwrap(), None);
        // 0.5.0 read "false" as true.
        assert_eq!(
            message(bool_field(&body, "str_bool", "the_code")),
            "`str_bool` must be true or false"
        );
        assert_eq!(
            message(bool_field(&body, "num", "the_code")),
            "`num` must be true or false"
        );
    }

    #[track_caller]
    fn check_ttl(ttl: Value, expect: Result<Option<f64>, &str>) {
        let body = object(json!({ "ttl": ttl }));
        match expect {
            Ok(expected) => assert_eq!(ttl_field(&body, "the_code").unwrap(), expected, "{ttl}"),
            Err(expected) => assert_eq!(message(ttl_field(&body, "the_code")), expected, "{ttl}"),
        }
    }

    #[test]
    fn ttls_are_finite_positive_and_bounded() {
        check_ttl(json!(null), Ok(None));
        check_ttl(json!(300), Ok(Some(300.0)));
        check_ttl(json!(0.5), Ok(Some(0.5)));
        check_ttl(json!(MAX_TTL_SECS), Ok(Some(MAX_TTL_SECS)));
        check_ttl(json!(0), Err("ttl must be greater than zero"));
        check_ttl(json!(-1), Err("ttl must be greater than zero"));
        check_ttl(
            json!(MAX_TTL_SECS * 2.0),
            Err("ttl must be at most 315360000 seconds"),
        );
        check_ttl(json!("10"), Err("ttl must be a number of seconds"));
        check_ttl(json!([1]), Err("ttl must be a number of seconds"));
        assert_eq!(ttl_field(&Map::new(), "the_code").unwrap(), None);
    }

    #[test]
    fn login_bodies() {
        let login = LoginBody::parse(
            &object(json!({"passphrase": "p", "remember": true, "deviceName": "  Phone "})),
            "the_code",
        )
        .unwrap();
        assert_eq!(
            (
                login.passphrase.as_str(),
                login.remember,
                login.device_name.as_str()
            ),
            ("p", true, "Phone")
        );
        // The defaults: not remembered, "Browser" (also for a blank name).
        let login = LoginBody::parse(
            &object(json!({"passphrase": "", "deviceName": " "})),
            "the_code",
        )
        .unwrap();
        assert_eq!(
            (login.remember, login.device_name.as_str()),
            (false, "Browser")
        );
        assert_eq!(
            message(LoginBody::parse(&Map::new(), "the_code").map(|login| login.remember)),
            "`passphrase` is required"
        );
        let secret = "an invitation secret".to_owned();
        let invite = LoginBody::options(&Map::new(), "the_code", secret.clone()).unwrap();
        assert_eq!(invite.passphrase, secret);
    }
}
