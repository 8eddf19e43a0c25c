//! `GET {prefix}/history?path=…&from=…&to=…&max_points=N&format=columns`:
//! the query string read into a [`HistoryQuery`], and the answer (or a
//! `400` naming the parameter) as JSON.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde_json::json;

use super::{parse_rfc3339, HistoryError, HistoryQuery, Series};
use crate::shared::Body;

/// A query string read: the query, and whether columns were asked for.
pub(crate) fn parse(query: Option<&str>) -> Result<(HistoryQuery, bool), HistoryError> {
    let mut path = None;
    let mut from = None;
    let mut to = None;
    let mut max_points = None;
    let mut columns = false;
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match &*name {
            "path" => path = Some(value.into_owned()),
            "from" => from = Some(time("from", &value)?),
            "to" => to = Some(time("to", &value)?),
            "max_points" => {
                let n = value.parse::<usize>().map_err(|_| {
                    HistoryError::parameter(
                        "max_points",
                        format!("max_points must be a whole number, not {value:?}"),
                    )
                })?;
                max_points = Some(n);
            }
            "format" => {
                columns = match &*value {
                    "columns" => true,
                    "points" => false,
                    other => {
                        return Err(HistoryError::parameter(
                            "format",
                            format!("format must be `points` or `columns`, not {other:?}"),
                        ))
                    }
                }
            }
            // Unknown parameters are ignored, as caches and proxies add some.
            _ => {}
        }
    }
    let path = path.ok_or_else(|| {
        HistoryError::parameter(
            "path",
            "give the recorded value's JSON Pointer as `path`".to_owned(),
        )
    })?;
    let mut query = HistoryQuery::new(path);
    if let Some(from) = from {
        query = query.from(from);
    }
    if let Some(to) = to {
        query = query.to(to);
    }
    if let Some(max_points) = max_points {
        query = query.max_points(max_points);
    }
    query.check()?;
    Ok((query, columns))
}

fn time(name: &'static str, value: &str) -> Result<std::time::SystemTime, HistoryError> {
    parse_rfc3339(value).ok_or_else(|| {
        HistoryError::parameter(
            name,
            format!("{name} must be an RFC 3339 time such as 2026-12-03T13:00:00Z, not {value:?}"),
        )
    })
}

/// The `200` answer, or the error as JSON: `400` with the parameter, `500`
/// when the file could not be read.
pub(crate) fn response(answer: Result<(Series, bool), HistoryError>) -> Response<Body> {
    let (status, body) = match answer {
        Ok((series, columns)) => (StatusCode::OK, series.to_json(columns)),
        Err(error) => match error.parameter_name() {
            Some(parameter) => (
                StatusCode::BAD_REQUEST,
                json!({"error": "bad_parameter", "parameter": parameter, "message": error.to_string()}),
            ),
            None => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "history_unavailable", "message": error.to_string()}),
            ),
        },
    };
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[track_caller]
    fn check(query: &str, expect: Result<(&str, bool), &str>) {
        let got = parse(Some(query))
            .map(|(query, columns)| (query.path().to_owned(), columns))
            .map_err(|e| e.parameter_name().unwrap_or("none"));
        assert_eq!(
            got,
            expect.map(|(path, columns)| (path.to_owned(), columns))
        );
    }

    #[test]
    fn every_parameter_is_checked_and_named() {
        check("path=%2Fa%2F0&format=columns", Ok(("/a/0", true)));
        check(
            "path=/a&from=2026-12-03T13:00:00Z&to=2026-12-03T14:00:00%2B01:00",
            Ok(("/a", false)),
        );
        check("from=2026-12-03T13:00:00Z", Err("path"));
        check("path=/a&from=yesterday", Err("from"));
        check("path=/a&to=2026-13-03T13:00:00Z", Err("to"));
        check(
            "path=/a&from=2026-12-03T14:00:00Z&to=2026-12-03T13:00:00Z",
            Err("from"),
        );
        check("path=/a&max_points=0", Err("max_points"));
        check("path=/a&max_points=1000000000", Err("max_points"));
        check("path=/a&max_points=-5", Err("max_points"));
        check("path=/a&format=csv", Err("format"));
    }
}
