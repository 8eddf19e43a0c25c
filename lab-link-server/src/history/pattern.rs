//! Which values are recorded: JSON Pointer patterns whose `*` segments
//! stand for any index or key, and the walk that finds the recorded
//! leaves inside one patch operation.

use serde_json::Value;

/// The recorded patterns; a pattern also covers every leaf below it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Patterns {
    /// Each pattern's escaped segments; `*` matches any one segment.
    patterns: Vec<Vec<String>>,
}

impl Patterns {
    /// Parses `patterns`; a malformed one is returned as an error message
    /// naming it, and left out.
    pub(crate) fn parse<'a>(patterns: impl IntoIterator<Item = &'a str>) -> (Self, Vec<String>) {
        let mut parsed = Self::default();
        let mut errors = Vec::new();
        for pattern in patterns {
            match segments(pattern) {
                Ok(segments) if !parsed.patterns.contains(&segments) => {
                    parsed.patterns.push(segments);
                }
                Ok(_) => {}
                Err(reason) => errors.push(format!("history pattern {pattern:?}: {reason}")),
            }
        }
        (parsed, errors)
    }

    /// Whether nothing is recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether the value at `path` (escaped segments) is recorded: some
    /// pattern matches it or one of its ancestors.
    pub(crate) fn covers(&self, path: &[&str]) -> bool {
        self.patterns
            .iter()
            .any(|pattern| pattern.len() <= path.len() && prefix_matches(pattern, path))
    }

    /// Whether something at or below `path` may be recorded.
    fn reaches(&self, path: &[&str]) -> bool {
        self.patterns.iter().any(|pattern| {
            let shared = pattern.len().min(path.len());
            prefix_matches(&pattern[..shared], &path[..shared])
        })
    }

    /// Calls `record` with the pointer and value of every recorded leaf
    /// (number, bool, string or null) that writing `value` at `path` sets.
    pub(crate) fn leaves(&self, path: &str, value: &Value, record: &mut dyn FnMut(&str, &Value)) {
        let mut pointer = path.to_owned();
        let mut segments: Vec<String> = split(path).map(ToOwned::to_owned).collect();
        self.walk(&mut pointer, &mut segments, value, record);
    }

    /// Depth first through `value`, pruned where no pattern reaches.
    fn walk(
        &self,
        pointer: &mut String,
        segments: &mut Vec<String>,
        value: &Value,
        record: &mut dyn FnMut(&str, &Value),
    ) {
        let path: Vec<&str> = segments.iter().map(String::as_str).collect();
        if !self.reaches(&path) {
            return;
        }
        let children: Box<dyn Iterator<Item = (String, &Value)>> =
            match value {
                Value::Object(members) => Box::new(members.iter().map(|(key, member)| {
                    (lab_link_core::pointer::escape(key).into_owned(), member)
                })),
                Value::Array(items) => Box::new(
                    items
                        .iter()
                        .enumerate()
                        .map(|(index, item)| (index.to_string(), item)),
                ),
                leaf => {
                    if self.covers(&path) {
                        record(pointer, leaf);
                    }
                    return;
                }
            };
        let len = pointer.len();
        for (segment, child) in children {
            pointer.push('/');
            pointer.push_str(&segment);
            segments.push(segment);
            self.walk(pointer, segments, child, record);
            segments.pop();
            pointer.truncate(len);
        }
    }
}

fn prefix_matches(pattern: &[String], path: &[&str]) -> bool {
    pattern
        .iter()
        .zip(path)
        .all(|(want, have)| want == "*" || want == have)
}

/// The escaped segments of a pointer (`""` has none).
pub(crate) fn split(pointer: &str) -> impl Iterator<Item = &str> {
    pointer.split('/').skip(1)
}

/// A pattern's escaped segments, checked: a JSON Pointer (`""` or starting
/// with `/`, `~` only in `~0` and `~1`).
fn segments(pattern: &str) -> Result<Vec<String>, String> {
    if !pattern.is_empty() && !pattern.starts_with('/') {
        return Err("a pattern is a JSON Pointer: it starts with `/`".to_owned());
    }
    split(pattern)
        .map(|segment| {
            let mut chars = segment.chars();
            while let Some(c) = chars.next() {
                if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
                    return Err(format!(
                        "segment {segment:?} has a `~` that is not `~0` or `~1`"
                    ));
                }
            }
            Ok(segment.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::Patterns;

    #[track_caller]
    fn check(patterns: &[&str], path: &str, value: Value, expect: &[(&str, Value)]) {
        let (patterns, errors) = Patterns::parse(patterns.iter().copied());
        assert!(errors.is_empty(), "{errors:?}");
        let mut found = Vec::new();
        patterns.leaves(path, &value, &mut |pointer, value| {
            found.push((pointer.to_owned(), value.clone()));
        });
        let expect: Vec<(String, Value)> = expect
            .iter()
            .map(|(pointer, value)| ((*pointer).to_owned(), value.clone()))
            .collect();
        assert_eq!(found, expect);
    }

    #[test]
    fn a_replaced_leaf_is_recorded_when_a_pattern_matches() {
        let bias = ["/channels/*/bias_voltage"];
        check(
            &bias,
            "/channels/2/bias_voltage",
            json!(1.5),
            &[("/channels/2/bias_voltage", json!(1.5))],
        );
        check(&bias, "/channels/2/active", json!(true), &[]);
        check(&bias, "/temperature", json!(4.2), &[]);
    }

    #[test]
    fn a_written_subtree_records_the_leaves_below_it() {
        let bias = ["/channels/*/bias_voltage"];
        check(
            &bias,
            "/channels",
            json!([{"bias_voltage": 1.0, "active": true}, {"bias_voltage": 2.0}]),
            &[
                ("/channels/0/bias_voltage", json!(1.0)),
                ("/channels/1/bias_voltage", json!(2.0)),
            ],
        );
        check(
            &bias,
            "",
            json!({"channels": [{"bias_voltage": -1}]}),
            &[("/channels/0/bias_voltage", json!(-1))],
        );
    }

    #[test]
    fn a_pattern_covers_its_subtree_and_escapes_compare_as_written() {
        check(
            &["/labels"],
            "/labels/a~1b",
            json!({"x": "y", "n": null}),
            &[
                ("/labels/a~1b/x", json!("y")),
                ("/labels/a~1b/n", Value::Null),
            ],
        );
        check(
            &["/labels/a~1b"],
            "/labels/a~1b",
            json!("z"),
            &[("/labels/a~1b", json!("z"))],
        );
        check(&["/labels/a~1b"], "/labels/ab", json!("z"), &[]);
    }

    #[test]
    fn malformed_patterns_are_reported_and_left_out() {
        let (patterns, errors) = Patterns::parse(["channels/*", "/a~2", "/ok", "/ok"]);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("\"channels/*\""), "{errors:?}");
        assert!(patterns.covers(&["ok"]));
        assert!(patterns.covers(&["ok", "deeper"]));
        assert!(!patterns.covers(&[]));
    }
}
