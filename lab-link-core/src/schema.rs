//! The schema document served at `GET {prefix}/schema`: the state's JSON
//! Schema annotated with lab-link's vocabulary, every command with its
//! `edits` binding, every stream, and a hash of the whole.
//!
//! # Vocabulary
//!
//! JSON Schema 2020-12 treats unknown keywords as annotations, so the
//! metadata declared with `#[reactive(...)]` on state fields and
//! `#[param(...)]` on command parameters is written next to the standard
//! keywords of the value it describes:
//!
//! | keyword | from | meaning |
//! |---|---|---|
//! | `title` (standard) | `title = "Bias"` | the display label |
//! | `description` (standard) | the doc comment | what the value is |
//! | `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum` (standard) | `range = a..=b` | the accepted numbers |
//! | `readOnly` (standard) | `read_only` | only the server changes the value |
//! | `unit` | `unit = "V"` | the engineering unit of the numbers |
//! | `precision` | `precision = 3` | the decimals to show |
//! | `group` | `group = "Bias"` | the panel a UI shows the value in |
//! | `order` | `order = 1` | the position within its group |
//!
//! # Edits
//!
//! A command that sets one state field declares it with
//! `#[command(edits = "/channels/{channel}/bias_voltage", value = value)]`:
//! a path template whose `{name}`s are params of the command, and the param
//! that carries the new value. [`LabSync::command`](crate::LabSync::command)
//! checks the template against the state type ([`check_edits`]) and refuses
//! a second command that claims the same field.
//!
//! # Version
//!
//! `schemaHash` is `sha256:` and the hex SHA-256 of the document's
//! canonical JSON (object keys sorted, no whitespace) without the hash
//! itself: equal documents have equal hashes, whatever their key order.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::ops::{Bound, RangeBounds};

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::command::{CommandInfo, Edit, RegisterError};
use crate::reactive::Reactive;
use crate::stream::StreamInfo;

/// The schema document of a state schema, its commands and its streams,
/// with its `schemaHash`:
/// `{"state": …, "commands": {name: info}, "streams": [info], "schemaHash": "sha256:…"}`.
///
/// ```
/// use lab_link_core::schema::document;
///
/// let schema = document(None, Vec::new(), Vec::new());
/// let hash = schema["schemaHash"].as_str().unwrap_or_default();
/// assert!(hash.starts_with("sha256:"));
/// assert_eq!(hash.len(), "sha256:".len() + 64);
/// ```
pub fn document(
    state: Option<Value>,
    commands: Vec<CommandInfo>,
    streams: Vec<StreamInfo>,
) -> Value {
    let commands: Map<String, Value> = commands
        .into_iter()
        .map(|info| {
            let name = info.name.clone();
            // Invariant: CommandInfo holds strings and JSON values.
            let value = serde_json::to_value(info).expect("command info serialises");
            (name, value)
        })
        .collect();
    let streams = serde_json::to_value(streams).expect("stream info serialises");
    let mut document = serde_json::json!({
        "state": state,
        "commands": commands,
        "streams": streams,
    });
    let hash = hash(&document);
    if let Value::Object(object) = &mut document {
        object.insert("schemaHash".to_owned(), Value::String(hash));
    }
    document
}

/// `sha256:` and the hex SHA-256 of `value`'s canonical JSON: object keys
/// sorted, no whitespace, numbers and strings as serde_json writes them.
///
/// ```
/// use lab_link_core::schema::hash;
/// use serde_json::json;
///
/// assert_eq!(hash(&json!({"a": 1, "b": [true]})), hash(&json!({"b": [true], "a": 1})));
/// assert_ne!(hash(&json!({"a": 1})), hash(&json!({"a": 2})));
/// ```
pub fn hash(value: &Value) -> String {
    let mut canonical = String::new();
    write_canonical(value, &mut canonical);
    let digest = Sha256::digest(canonical.as_bytes());
    let mut text = String::from("sha256:");
    for byte in digest {
        // Invariant: writing to a String cannot fail.
        write!(text, "{byte:02x}").expect("writing to a String");
    }
    text
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(object) => {
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&object[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The JSON Schema of `S` (schemars), annotated with the metadata its
/// `#[derive(Reactive)]` declares: what
/// [`LabSync::with_state_schema`](crate::LabSync::with_state_schema)
/// publishes.
pub fn state_schema<S: Reactive + schemars::JsonSchema>() -> Value {
    let mut root = serde_json::to_value(schemars::schema_for!(S)).unwrap_or(Value::Null);
    let defs = match &mut root {
        Value::Object(object) => object.get_mut("$defs").map(Value::take),
        _ => None,
    };
    let mut defs = Defs::new(match defs {
        Some(Value::Object(defs)) => defs,
        _ => Map::new(),
    });
    S::annotate_schema(&mut root, &mut defs);
    if let (Value::Object(object), false) = (&mut root, defs.defs.is_empty()) {
        object.insert("$defs".to_owned(), Value::Object(defs.defs));
    }
    root
}

/// The definitions (`$defs`) of a schema being annotated, and which of
/// them are done: each definition is annotated once, however many fields
/// refer to it (recursive types included).
#[derive(Debug, Default)]
pub struct Defs {
    defs: Map<String, Value>,
    visited: HashSet<String>,
}

impl Defs {
    /// The definitions of a root schema.
    pub fn new(defs: Map<String, Value>) -> Self {
        Defs {
            defs,
            visited: HashSet::new(),
        }
    }

    /// Runs `annotate` on the object schema `schema` stands for: itself,
    /// or the definition its `$ref` names (once per definition).
    pub fn object(
        &mut self,
        schema: &mut Value,
        annotate: impl FnOnce(&mut Map<String, Value>, &mut Defs),
    ) {
        let reference = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|reference| reference.strip_prefix("#/$defs/"))
            .map(|name| crate::pointer::unescape(name).into_owned());
        let Some(name) = reference else {
            if let Value::Object(object) = schema {
                annotate(object, self);
            }
            return;
        };
        if !self.visited.insert(name.clone()) {
            return;
        }
        // Taken out while annotated, so that `annotate` can reach the other
        // definitions; put back in place, keeping the key order.
        let Some(mut definition) = self.defs.get_mut(&name).map(Value::take) else {
            return;
        };
        if let Value::Object(object) = &mut definition {
            annotate(object, self);
        }
        if let Some(slot) = self.defs.get_mut(&name) {
            *slot = definition;
        }
    }
}

/// A segment of an `edits` path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A member name or an array index, as written (unescaped).
    Literal(String),
    /// `{name}`: the value of the command's param `name`.
    Param(String),
}

/// Splits an `edits` template (`/channels/{channel}/bias_voltage`) into
/// its segments.
///
/// # Errors
///
/// A template that does not start with `/`, or a segment with a `{` or
/// `}` that is not one whole `{name}`.
///
/// ```
/// use lab_link_core::schema::{parse_template, Segment};
///
/// assert_eq!(parse_template("/channels/{channel}/bias_voltage")?, [
///     Segment::Literal("channels".into()),
///     Segment::Param("channel".into()),
///     Segment::Literal("bias_voltage".into()),
/// ]);
/// assert!(parse_template("channels").is_err());
/// # Ok::<(), String>(())
/// ```
pub fn parse_template(template: &str) -> Result<Vec<Segment>, String> {
    if template.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = template.strip_prefix('/') else {
        return Err(format!(
            "the path {template:?} must start with `/`, as a JSON Pointer does"
        ));
    };
    rest.split('/')
        .map(|segment| {
            let param = segment
                .strip_prefix('{')
                .and_then(|inner| inner.strip_suffix('}'));
            match param {
                Some(name) if !name.is_empty() && !name.contains(['{', '}']) => {
                    Ok(Segment::Param(name.to_owned()))
                }
                _ if segment.contains(['{', '}']) => Err(format!(
                    "the segment {segment:?} of {template:?} must be a whole `{{param}}` or \
                     contain no braces"
                )),
                _ => Ok(Segment::Literal(
                    crate::pointer::unescape(segment).into_owned(),
                )),
            }
        })
        .collect()
}

/// The field an `edits` template stands for, whatever its params are
/// called: `/channels/{channel}/x` and `/channels/{i}/x` are one field.
fn field_key(segments: &[Segment]) -> Vec<Option<&str>> {
    segments
        .iter()
        .map(|segment| match segment {
            Segment::Literal(name) => Some(name.as_str()),
            Segment::Param(_) => None,
        })
        .collect()
}

/// Checks the `edits` bindings of `command` before it is registered on a
/// `LabSync<S>`: each path must exist in `S`, and no command of
/// `registered` may edit the same field.
///
/// # Errors
///
/// [`RegisterError::UnknownPath`] or [`RegisterError::SameField`].
pub fn check_edits<'a, S: Reactive>(
    command: &CommandInfo,
    registered: impl IntoIterator<Item = &'a CommandInfo> + Clone,
) -> Result<(), RegisterError> {
    for edit in &command.edits {
        let unknown = |reason: String| RegisterError::UnknownPath {
            command: command.name.clone(),
            path: edit.path.clone(),
            reason,
        };
        let segments = parse_template(&edit.path).map_err(unknown)?;
        S::check_path(&segments).map_err(unknown)?;
        let key = field_key(&segments);
        let claimed = registered.clone().into_iter().find_map(|other| {
            other
                .edits
                .iter()
                .find(|other_edit| {
                    parse_template(&other_edit.path).is_ok_and(|other| field_key(&other) == key)
                })
                .map(|other_edit| (other, other_edit))
        });
        if let Some((other, other_edit)) = claimed {
            return Err(RegisterError::SameField {
                command: command.name.clone(),
                path: edit.path.clone(),
                other: other.name.clone(),
                other_path: other_edit.path.clone(),
            });
        }
    }
    Ok(())
}

/// An `Edit` as the generated code builds it.
impl Edit {
    /// The binding of the field at `path` (a template) to the param
    /// `value`.
    pub fn new(path: impl Into<String>, value: impl Into<String>) -> Self {
        Edit {
            path: path.into(),
            value: value.into(),
        }
    }
}

/// Writes `keyword: value` into a schema object (replacing what schemars
/// wrote).
pub fn keyword(schema: &mut Value, keyword: &str, value: impl Serialize) {
    if let (Value::Object(object), Ok(value)) = (schema, serde_json::to_value(value)) {
        object.insert(keyword.to_owned(), value);
    }
}

/// Writes the bounds of `range` as `minimum` / `exclusiveMinimum` and
/// `maximum` / `exclusiveMaximum`; a bound that is not a JSON number is
/// left out.
///
/// ```
/// use lab_link_core::schema::range_keywords;
/// use serde_json::json;
///
/// let mut schema = json!({"type": "number"});
/// range_keywords::<f64, _>(&mut schema, -10.0..10.0);
/// assert_eq!(schema, json!({"type": "number", "minimum": -10.0, "exclusiveMaximum": 10.0}));
/// ```
pub fn range_keywords<T: Serialize, R: RangeBounds<T>>(schema: &mut Value, range: R) {
    let mut bound = |bound: Bound<&T>, inclusive: &str, exclusive: &str| {
        let (name, value) = match bound {
            Bound::Included(value) => (inclusive, value),
            Bound::Excluded(value) => (exclusive, value),
            Bound::Unbounded => return,
        };
        if let Ok(value @ Value::Number(_)) = serde_json::to_value(value) {
            keyword(schema, name, value);
        }
    };
    bound(range.start_bound(), "minimum", "exclusiveMinimum");
    bound(range.end_bound(), "maximum", "exclusiveMaximum");
}

/// Runs `annotate` on the schema of the property `name` of an object
/// schema, if it has one.
pub fn property(object: &mut Map<String, Value>, name: &str, annotate: impl FnOnce(&mut Value)) {
    if let Some(property) = object
        .get_mut("properties")
        .and_then(|properties| properties.get_mut(name))
    {
        annotate(property);
    }
}

/// [`Reactive::check_path`] of a leaf: the path must end here.
///
/// # Errors
///
/// A path that goes on into the leaf.
pub fn leaf_path(segments: &[Segment]) -> Result<(), String> {
    match segments.first() {
        None => Ok(()),
        Some(segment) => Err(format!(
            "the path goes on ({}) into a value that is replaced whole",
            segment_text(segment)
        )),
    }
}

/// A segment as written in a template, for messages.
pub fn segment_text(segment: &Segment) -> String {
    match segment {
        Segment::Literal(name) => format!("{name:?}"),
        Segment::Param(name) => format!("`{{{name}}}`"),
    }
}

/// The types `unit` and `precision` describe: numbers, and containers of
/// numbers (the keyword then describes each number).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a number, so a unit or a precision cannot describe it",
    label = "not a number",
    note = "`unit` and `precision` go on numeric fields (`f64`, `i32`, …), `Option`s or \
            `Vec`s of them; use `title` or the doc comment for anything else"
)]
pub trait Numeric {}

macro_rules! numeric {
    ($($ty:ty),*) => { $(impl Numeric for $ty {})* };
}
numeric!(f32, f64, i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);
impl<T: Numeric> Numeric for Option<T> {}
impl<T: Numeric> Numeric for Vec<T> {}
impl<T: Numeric> Numeric for Box<T> {}
impl<T: Numeric, const N: usize> Numeric for [T; N] {}

/// Checks at compile time that a field described with `unit` or
/// `precision` is numeric.
pub fn assert_numeric<T: Numeric + ?Sized>() {}

/// A value whose changes the server can record as history: a number, a
/// `bool`, a `String`, or an `Option` of one (a `None` is not recorded).
/// Implemented for exactly these; `#[reactive(history)]` requires it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a number, a bool or a string, so its history cannot be recorded",
    label = "not a leaf that history can record",
    note = "`#[reactive(history)]` goes on numeric, `bool` and `String` fields (or `Option`s of \
            them); to record every leaf below a struct or list, give \
            `ServerConfig::history` a pattern such as \"/channels/*/bias_voltage\""
)]
pub trait HistoryValue {}

macro_rules! history_value {
    ($($ty:ty),*) => { $(impl HistoryValue for $ty {})* };
}
history_value!(
    f32, f64, i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, bool, String
);
impl<T: HistoryValue> HistoryValue for Option<T> {}

/// Checks at compile time that a field marked `#[reactive(history)]` is
/// a [`HistoryValue`].
pub fn assert_history_value<T: HistoryValue + ?Sized>() {}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{hash, parse_template, Defs, Segment};

    #[track_caller]
    fn check_template(template: &str, expect: Result<Vec<Segment>, &str>) {
        assert_eq!(parse_template(template), expect.map_err(ToOwned::to_owned));
    }

    #[test]
    fn templates_split_into_literals_and_params() {
        check_template("", Ok(vec![]));
        check_template(
            "/a~1b/{x}/0",
            Ok(vec![
                Segment::Literal("a/b".into()),
                Segment::Param("x".into()),
                Segment::Literal("0".into()),
            ]),
        );
        check_template(
            "a",
            Err("the path \"a\" must start with `/`, as a JSON Pointer does"),
        );
        check_template(
            "/x{y}",
            Err("the segment \"x{y}\" of \"/x{y}\" must be a whole `{param}` or contain no braces"),
        );
    }

    #[test]
    fn the_hash_ignores_key_order_and_whitespace() {
        let a = json!({"b": {"y": 1, "x": [1.5, "s"]}, "a": null});
        let b: serde_json::Value =
            serde_json::from_str(r#"{ "a": null, "b": { "x": [1.5, "s"], "y": 1 } }"#).unwrap();
        assert_eq!(hash(&a), hash(&b));
        // The SHA-256 of `{}`.
        assert_eq!(
            hash(&json!({})),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn a_definition_is_annotated_once_and_stays_in_place() {
        let serde_json::Value::Object(defs) = json!({"A": {"n": 0}, "B": {"n": 0}}) else {
            unreachable!()
        };
        let mut defs = Defs::new(defs);
        for _ in 0..2 {
            defs.object(&mut json!({"$ref": "#/$defs/A"}), |object, _| {
                let n = object["n"].as_i64().unwrap_or_default();
                object.insert("n".into(), json!(n + 1));
            });
        }
        assert_eq!(
            serde_json::Value::Object(defs.defs),
            json!({"A": {"n": 1}, "B": {"n": 0}})
        );
    }
}
