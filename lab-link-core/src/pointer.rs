//! RFC 6901 JSON Pointers: parsing, escaping, building and resolving.
//!
//! A [`JsonPointer`] is kept in its escaped string form (`/labels/a~1b`),
//! which is what goes on the wire. Parsing validates the syntax once, so
//! every later walk over the tokens cannot fail on syntax, only on the
//! document (a missing key, an index out of range, a scalar in the way).
//!
//! Array indices follow the RFC strictly: decimal digits without a leading
//! zero (`0`, `7`, `12`, never `01`, `+1` or `-1`), and `-` naming the
//! position after the last element, which only `add` (and the target of
//! `move`/`copy`) may use.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// An RFC 6901 JSON Pointer such as `/channels/0/bias_voltage`.
///
/// The empty pointer `""` names the whole document. Every other pointer is a
/// sequence of `/`-prefixed reference tokens in which `~` is written `~0`
/// and `/` is written `~1`.
///
/// # Examples
///
/// ```
/// use lab_link_core::JsonPointer;
/// use serde_json::json;
///
/// let mut pointer = JsonPointer::root();
/// pointer.push("labels");
/// pointer.push("a/b");
/// assert_eq!(pointer.as_str(), "/labels/a~1b");
///
/// let doc = json!({"labels": {"a/b": "x"}});
/// assert_eq!(pointer.resolve(&doc)?, &json!("x"));
///
/// let parsed: JsonPointer = "/labels/a~1b".parse()?;
/// assert_eq!(parsed, pointer);
/// assert_eq!(parsed.tokens().collect::<Vec<_>>(), ["labels", "a/b"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JsonPointer {
    /// Invariant: empty, or starts with `/` and every `~` is followed by
    /// `0` or `1`.
    escaped: String,
}

impl JsonPointer {
    /// The empty pointer, which names the whole document.
    ///
    /// ```
    /// # use lab_link_core::JsonPointer;
    /// assert!(JsonPointer::root().is_root());
    /// assert_eq!(JsonPointer::root().as_str(), "");
    /// ```
    pub fn root() -> Self {
        Self::default()
    }

    /// Parses an escaped pointer string.
    ///
    /// # Errors
    ///
    /// Returns a [`PointerSyntaxError`] when the string is not empty and does
    /// not start with `/`, or when a `~` is not followed by `0` or `1`.
    ///
    /// ```
    /// # use lab_link_core::JsonPointer;
    /// assert!(JsonPointer::parse("/a/~01").is_ok());
    /// assert!(JsonPointer::parse("a").is_err());
    /// assert!(JsonPointer::parse("/a~2").is_err());
    /// ```
    pub fn parse(escaped: &str) -> Result<Self, PointerSyntaxError> {
        validate(escaped)?;
        Ok(Self {
            escaped: escaped.to_owned(),
        })
    }

    /// Wraps an escaped pointer this crate built itself (from escaped
    /// tokens), skipping validation.
    pub(crate) fn from_escaped_unchecked(escaped: String) -> Self {
        debug_assert!(validate(&escaped).is_ok(), "{escaped:?}");
        Self { escaped }
    }

    /// Builds a pointer from unescaped reference tokens.
    ///
    /// ```
    /// # use lab_link_core::JsonPointer;
    /// let pointer = JsonPointer::from_tokens(["labels", "~tilde"]);
    /// assert_eq!(pointer.as_str(), "/labels/~0tilde");
    /// ```
    pub fn from_tokens<I, T>(tokens: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let mut pointer = Self::root();
        for token in tokens {
            pointer.push(token.as_ref());
        }
        pointer
    }

    /// Appends one unescaped reference token (an object key, or an array
    /// index written in decimal).
    ///
    /// ```
    /// # use lab_link_core::JsonPointer;
    /// let mut pointer = JsonPointer::root();
    /// pointer.push("a~b");
    /// assert_eq!(pointer.as_str(), "/a~0b");
    /// ```
    pub fn push(&mut self, token: &str) {
        self.escaped.push('/');
        self.escaped.push_str(&escape(token));
    }

    /// Appends an array index.
    ///
    /// ```
    /// # use lab_link_core::JsonPointer;
    /// let mut pointer = JsonPointer::from_tokens(["channels"]);
    /// pointer.push_index(3);
    /// assert_eq!(pointer.as_str(), "/channels/3");
    /// ```
    pub fn push_index(&mut self, index: usize) {
        use fmt::Write;
        // Writing into a String cannot fail.
        let _ = write!(self.escaped, "/{index}");
    }

    /// Removes the last reference token and returns it unescaped, or `None`
    /// for the root pointer.
    ///
    /// ```
    /// # use lab_link_core::JsonPointer;
    /// let mut pointer = JsonPointer::from_tokens(["a", "b/c"]);
    /// assert_eq!(pointer.pop().as_deref(), Some("b/c"));
    /// assert_eq!(pointer.as_str(), "/a");
    /// ```
    pub fn pop(&mut self) -> Option<String> {
        let slash = self.escaped.rfind('/')?;
        let token = unescape(&self.escaped[slash + 1..]).into_owned();
        self.escaped.truncate(slash);
        Some(token)
    }

    /// Cuts the escaped form back to `len` bytes, a length this pointer had
    /// before some `push`es (cheaper than `pop`, which decodes the token).
    pub(crate) fn truncate(&mut self, len: usize) {
        self.escaped.truncate(len);
    }

    /// Returns a new pointer with `token` appended.
    ///
    /// ```
    /// # use lab_link_core::JsonPointer;
    /// let channels = JsonPointer::from_tokens(["channels"]);
    /// assert_eq!(channels.join("0").as_str(), "/channels/0");
    /// ```
    #[must_use]
    pub fn join(&self, token: &str) -> Self {
        let mut pointer = self.clone();
        pointer.push(token);
        pointer
    }

    /// The escaped string form, as it goes on the wire.
    pub fn as_str(&self) -> &str {
        &self.escaped
    }

    /// Whether this is the empty pointer naming the whole document.
    pub fn is_root(&self) -> bool {
        self.escaped.is_empty()
    }

    /// The number of reference tokens (`0` for the root).
    ///
    /// ```
    /// # use lab_link_core::JsonPointer;
    /// assert_eq!(JsonPointer::from_tokens(["a", "", "c"]).len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.escaped.bytes().filter(|&b| b == b'/').count()
    }

    /// Whether the pointer has no tokens, i.e. is the root.
    pub fn is_empty(&self) -> bool {
        self.is_root()
    }

    /// The unescaped reference tokens, first to last.
    pub fn tokens(&self) -> Tokens<'_> {
        Tokens::new(&self.escaped)
    }

    /// The parent pointer and the unescaped last token, or `None` for the
    /// root.
    ///
    /// ```
    /// # use lab_link_core::JsonPointer;
    /// let pointer = JsonPointer::from_tokens(["labels", "a/b"]);
    /// let (parent, last) = pointer.split_last().unwrap();
    /// assert_eq!((parent.as_str(), last.as_ref()), ("/labels", "a/b"));
    /// ```
    pub fn split_last(&self) -> Option<(JsonPointer, Cow<'_, str>)> {
        let (parent, last) = split_last_raw(&self.escaped)?;
        Some((
            JsonPointer {
                escaped: parent.to_owned(),
            },
            unescape(last),
        ))
    }

    /// Whether `self` is `other` or lies inside it.
    ///
    /// ```
    /// # use lab_link_core::JsonPointer;
    /// let a: JsonPointer = "/a".parse()?;
    /// assert!(JsonPointer::from_tokens(["a", "b"]).starts_with(&a));
    /// assert!(!JsonPointer::from_tokens(["ab"]).starts_with(&a));
    /// # Ok::<(), lab_link_core::PointerSyntaxError>(())
    /// ```
    pub fn starts_with(&self, other: &JsonPointer) -> bool {
        starts_with_raw(&self.escaped, &other.escaped)
    }

    /// Finds the value this pointer names in `doc`.
    ///
    /// # Errors
    ///
    /// Returns a [`ResolveError`] naming the first token that could not be
    /// followed and why (missing key, index out of range or malformed, a
    /// scalar where a container was needed).
    pub fn resolve<'v>(&self, doc: &'v Value) -> Result<&'v Value, ResolveError> {
        resolve_raw(doc, &self.escaped)
    }

    /// Finds the value this pointer names in `doc`, mutably.
    ///
    /// # Errors
    ///
    /// As [`JsonPointer::resolve`].
    ///
    /// ```
    /// # use lab_link_core::JsonPointer;
    /// # use serde_json::json;
    /// let mut doc = json!({"channels": [{"active": false}]});
    /// let pointer: JsonPointer = "/channels/0/active".parse()?;
    /// *pointer.resolve_mut(&mut doc)? = json!(true);
    /// assert_eq!(doc, json!({"channels": [{"active": true}]}));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resolve_mut<'v>(&self, doc: &'v mut Value) -> Result<&'v mut Value, ResolveError> {
        resolve_raw_mut(doc, &self.escaped)
    }
}

/// Escapes one reference token: `~` becomes `~0`, `/` becomes `~1`.
///
/// ```
/// # use lab_link_core::pointer::escape;
/// assert_eq!(escape("a/b~c"), "a~1b~0c");
/// assert_eq!(escape("plain"), "plain");
/// ```
pub fn escape(token: &str) -> Cow<'_, str> {
    // A byte scan: both special characters are ASCII, and this is on the
    // path of every recorded operation and every diffed member.
    if token.bytes().any(|b| b == b'~' || b == b'/') {
        Cow::Owned(token.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(token)
    }
}

/// Unescapes one reference token of a validated pointer: `~1` becomes `/`,
/// then `~0` becomes `~` (in that order, so `~01` decodes to `~1`).
///
/// ```
/// # use lab_link_core::pointer::unescape;
/// assert_eq!(unescape("a~1b~0c"), "a/b~c");
/// assert_eq!(unescape("~01"), "~1");
/// ```
pub fn unescape(token: &str) -> Cow<'_, str> {
    if token.contains('~') {
        Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
    } else {
        Cow::Borrowed(token)
    }
}

impl fmt::Display for JsonPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.escaped)
    }
}

impl fmt::Debug for JsonPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.escaped, f)
    }
}

impl FromStr for JsonPointer {
    type Err = PointerSyntaxError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for JsonPointer {
    type Error = PointerSyntaxError;

    fn try_from(escaped: String) -> Result<Self, Self::Error> {
        validate(&escaped)?;
        Ok(Self { escaped })
    }
}

impl AsRef<str> for JsonPointer {
    fn as_ref(&self) -> &str {
        &self.escaped
    }
}

impl Serialize for JsonPointer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.escaped)
    }
}

impl<'de> Deserialize<'de> for JsonPointer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let escaped = String::deserialize(deserializer)?;
        JsonPointer::try_from(escaped).map_err(serde::de::Error::custom)
    }
}

/// Iterator over the unescaped tokens of a [`JsonPointer`].
#[derive(Debug, Clone)]
pub struct Tokens<'a> {
    rest: Option<&'a str>,
}

impl<'a> Tokens<'a> {
    fn new(escaped: &'a str) -> Self {
        // A validated non-root pointer starts with '/': skip it so `rest`
        // holds "tok/tok/...".
        Self {
            rest: escaped.strip_prefix('/'),
        }
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Cow<'a, str>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest?;
        match rest.find('/') {
            Some(slash) => {
                self.rest = Some(&rest[slash + 1..]);
                Some(unescape(&rest[..slash]))
            }
            None => {
                self.rest = None;
                Some(unescape(rest))
            }
        }
    }
}

/// A pointer string that is not valid RFC 6901 syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON Pointer {pointer:?}: {reason}")]
pub struct PointerSyntaxError {
    pointer: String,
    reason: &'static str,
}

impl PointerSyntaxError {
    /// The string that failed to parse.
    pub fn pointer(&self) -> &str {
        &self.pointer
    }
}

/// Why a pointer could not be followed through a document.
///
/// The [`Display`](fmt::Display) text names the pointer prefix where the walk
/// stopped and the reason; its exact wording is not part of the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} (at {at:?})")]
pub struct ResolveError {
    at: String,
    kind: ResolveErrorKind,
}

impl ResolveError {
    pub(crate) fn new(at: String, kind: ResolveErrorKind) -> Self {
        Self { at, kind }
    }

    /// The escaped pointer prefix up to and including the token that failed.
    pub fn at(&self) -> &str {
        &self.at
    }

    /// Why the token could not be followed.
    pub fn kind(&self) -> &ResolveErrorKind {
        &self.kind
    }
}

/// The reasons a pointer token cannot be followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveErrorKind {
    /// The object has no member with this key.
    #[error("no member {key:?} in the object")]
    NoSuchKey {
        /// The unescaped key.
        key: String,
    },
    /// The index is not below the array's length.
    #[error("index {index} is out of range for an array of length {len}")]
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// The array's length.
        len: usize,
    },
    /// The token is not an array index: not all digits, a leading zero, or
    /// too large.
    #[error("{token:?} is not an array index (digits without a leading zero)")]
    InvalidIndex {
        /// The offending token.
        token: String,
    },
    /// `-` (the position after the last element) was used where an existing
    /// element is needed.
    #[error("\"-\" names the end of the array, not an element")]
    EndOfArray,
    /// The value in the way is a scalar, so it has no children.
    #[error("cannot look up {token:?} in a {found}")]
    NotAContainer {
        /// The token that was to be looked up.
        token: String,
        /// The JSON type found instead (`"number"`, `"string"`, …).
        found: &'static str,
    },
}

/// The name of a value's JSON type, for messages.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn validate(escaped: &str) -> Result<(), PointerSyntaxError> {
    let error = |reason| PointerSyntaxError {
        pointer: escaped.to_owned(),
        reason,
    };
    if !escaped.is_empty() && !escaped.starts_with('/') {
        return Err(error("a non-empty pointer must start with \"/\""));
    }
    let bytes = escaped.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'~' && !matches!(bytes.get(i + 1), Some(b'0' | b'1')) {
            return Err(error("\"~\" must be followed by \"0\" or \"1\""));
        }
    }
    Ok(())
}

/// Splits a validated escaped pointer into its escaped parent and escaped
/// last token.
pub(crate) fn split_last_raw(escaped: &str) -> Option<(&str, &str)> {
    let slash = escaped.rfind('/')?;
    Some((&escaped[..slash], &escaped[slash + 1..]))
}

/// Whether escaped pointer `inner` is `outer` or lies inside it.
pub(crate) fn starts_with_raw(inner: &str, outer: &str) -> bool {
    inner.starts_with(outer)
        && (inner.len() == outer.len() || inner.as_bytes()[outer.len()] == b'/')
}

/// Where an index token points in an array of length `len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArrayPosition {
    /// An existing element, or `len` itself when written as digits.
    Index(usize),
    /// The `-` token.
    End,
}

/// Parses an escaped array-index token strictly: `-`, `0`, or digits
/// without a leading zero.
pub(crate) fn parse_index(token: &str) -> Result<ArrayPosition, ResolveErrorKind> {
    if token == "-" {
        return Ok(ArrayPosition::End);
    }
    let invalid = || ResolveErrorKind::InvalidIndex {
        token: unescape(token).into_owned(),
    };
    let bytes = token.as_bytes();
    if bytes.is_empty()
        || !bytes.iter().all(u8::is_ascii_digit)
        || (bytes[0] == b'0' && bytes.len() > 1)
    {
        return Err(invalid());
    }
    token
        .parse()
        .map(ArrayPosition::Index)
        .map_err(|_| invalid())
}

/// Resolves the index of an existing element.
pub(crate) fn element_index(token: &str, len: usize) -> Result<usize, ResolveErrorKind> {
    match parse_index(token)? {
        ArrayPosition::Index(index) if index < len => Ok(index),
        ArrayPosition::Index(index) => Err(ResolveErrorKind::IndexOutOfRange { index, len }),
        ArrayPosition::End => Err(ResolveErrorKind::EndOfArray),
    }
}

/// Resolves an insertion position: `0..=len`, or `-` for `len`.
pub(crate) fn insert_index(token: &str, len: usize) -> Result<usize, ResolveErrorKind> {
    match parse_index(token)? {
        ArrayPosition::Index(index) if index <= len => Ok(index),
        ArrayPosition::Index(index) => Err(ResolveErrorKind::IndexOutOfRange { index, len }),
        ArrayPosition::End => Ok(len),
    }
}

/// One step of a walk: the child of `value` named by escaped `token`.
fn child<'v>(value: &'v Value, token: &str) -> Result<&'v Value, ResolveErrorKind> {
    match value {
        Value::Object(map) => {
            map.get(unescape(token).as_ref())
                .ok_or_else(|| ResolveErrorKind::NoSuchKey {
                    key: unescape(token).into_owned(),
                })
        }
        Value::Array(items) => Ok(&items[element_index(token, items.len())?]),
        other => Err(ResolveErrorKind::NotAContainer {
            token: unescape(token).into_owned(),
            found: type_name(other),
        }),
    }
}

fn child_mut<'v>(value: &'v mut Value, token: &str) -> Result<&'v mut Value, ResolveErrorKind> {
    match value {
        Value::Object(map) => {
            let key = unescape(token);
            map.get_mut(key.as_ref())
                .ok_or_else(|| ResolveErrorKind::NoSuchKey {
                    key: key.into_owned(),
                })
        }
        Value::Array(items) => {
            let index = element_index(token, items.len())?;
            Ok(&mut items[index])
        }
        other => Err(ResolveErrorKind::NotAContainer {
            token: unescape(token).into_owned(),
            found: type_name(other),
        }),
    }
}

/// The escaped prefix of `escaped` that ends with the token starting at
/// byte `start` (the byte after its `/`) and running `len` bytes.
fn prefix_through(escaped: &str, start: usize, len: usize) -> String {
    escaped[..start + len].to_owned()
}

/// Resolves a validated escaped pointer string.
pub(crate) fn resolve_raw<'v>(doc: &'v Value, escaped: &str) -> Result<&'v Value, ResolveError> {
    let mut current = doc;
    let mut start = 1;
    for token in escaped.split('/').skip(1) {
        current = child(current, token).map_err(|kind| ResolveError {
            at: prefix_through(escaped, start, token.len()),
            kind,
        })?;
        start += token.len() + 1;
    }
    Ok(current)
}

/// Resolves a validated escaped pointer string, mutably.
pub(crate) fn resolve_raw_mut<'v>(
    doc: &'v mut Value,
    escaped: &str,
) -> Result<&'v mut Value, ResolveError> {
    let mut current = doc;
    let mut start = 1;
    for token in escaped.split('/').skip(1) {
        current = child_mut(current, token).map_err(|kind| ResolveError {
            at: prefix_through(escaped, start, token.len()),
            kind,
        })?;
        start += token.len() + 1;
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[track_caller]
    fn check_resolve(doc: &Value, pointer: &str, expect: Result<Value, &str>) {
        let pointer = JsonPointer::parse(pointer).expect("valid syntax");
        let got = pointer.resolve(doc).cloned().map_err(|e| e.to_string());
        assert_eq!(got, expect.map_err(str::to_owned));
    }

    #[test]
    fn rfc6901_examples_resolve() {
        // The example document and pointers of RFC 6901 section 5.
        let doc = json!({
            "foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3,
            "g|h": 4, "i\\j": 5, "k\"l": 6, " ": 7, "m~n": 8
        });
        check_resolve(&doc, "", Ok(doc.clone()));
        check_resolve(&doc, "/foo", Ok(json!(["bar", "baz"])));
        check_resolve(&doc, "/foo/0", Ok(json!("bar")));
        check_resolve(&doc, "/", Ok(json!(0)));
        check_resolve(&doc, "/a~1b", Ok(json!(1)));
        check_resolve(&doc, "/c%d", Ok(json!(2)));
        check_resolve(&doc, "/e^f", Ok(json!(3)));
        check_resolve(&doc, "/g|h", Ok(json!(4)));
        check_resolve(&doc, "/i\\j", Ok(json!(5)));
        check_resolve(&doc, "/k\"l", Ok(json!(6)));
        check_resolve(&doc, "/ ", Ok(json!(7)));
        check_resolve(&doc, "/m~0n", Ok(json!(8)));
    }

    #[test]
    fn resolve_errors_name_the_failing_prefix_and_reason() {
        let doc = json!({"channels": [{"v": 1}, {"v": 2}], "n": 3});
        check_resolve(
            &doc,
            "/channels/2/v",
            Err("index 2 is out of range for an array of length 2 (at \"/channels/2\")"),
        );
        check_resolve(
            &doc,
            "/channels/01",
            Err("\"01\" is not an array index (digits without a leading zero) (at \"/channels/01\")"),
        );
        check_resolve(
            &doc,
            "/channels/-",
            Err("\"-\" names the end of the array, not an element (at \"/channels/-\")"),
        );
        check_resolve(
            &doc,
            "/missing",
            Err("no member \"missing\" in the object (at \"/missing\")"),
        );
        check_resolve(
            &doc,
            "/n/x",
            Err("cannot look up \"x\" in a number (at \"/n/x\")"),
        );
        check_resolve(
            &doc,
            "/channels/+1",
            Err("\"+1\" is not an array index (digits without a leading zero) (at \"/channels/+1\")"),
        );
        check_resolve(
            &doc,
            "/channels/99999999999999999999999",
            Err("\"99999999999999999999999\" is not an array index (digits without a leading zero) (at \"/channels/99999999999999999999999\")"),
        );
    }

    #[test]
    fn syntax_is_validated() {
        for bad in ["a", "#/a", "/~", "/~2", "/a~"] {
            let err = JsonPointer::parse(bad).unwrap_err();
            assert_eq!(err.pointer(), bad);
        }
        for good in ["", "/", "//", "/~0~1", "/a/0/-"] {
            assert_eq!(JsonPointer::parse(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn tokens_round_trip_through_escaping() {
        let tokens = ["", "a/b", "~", "~1", "0", "-", "ü"];
        let pointer = JsonPointer::from_tokens(tokens);
        assert_eq!(pointer.as_str(), "//a~1b/~0/~01/0/-/ü");
        assert_eq!(pointer.tokens().collect::<Vec<_>>(), tokens);
        assert_eq!(pointer.len(), tokens.len());
        assert_eq!(JsonPointer::parse(pointer.as_str()).unwrap(), pointer);
    }

    #[test]
    fn serde_validates() {
        let pointer: JsonPointer = serde_json::from_value(json!("/a~1b")).unwrap();
        assert_eq!(pointer.tokens().collect::<Vec<_>>(), ["a/b"]);
        assert_eq!(serde_json::to_value(&pointer).unwrap(), json!("/a~1b"));
        assert!(serde_json::from_value::<JsonPointer>(json!("a")).is_err());
    }

    #[test]
    fn starts_with_respects_token_boundaries() {
        let p = |s: &str| JsonPointer::parse(s).unwrap();
        assert!(p("/a/b").starts_with(&p("/a")));
        assert!(p("/a").starts_with(&p("/a")));
        assert!(p("/a").starts_with(&p("")));
        assert!(!p("/ab").starts_with(&p("/a")));
        assert!(!p("/a").starts_with(&p("/a/b")));
    }

    #[test]
    fn indices_are_strict() {
        assert_eq!(insert_index("-", 3), Ok(3));
        assert_eq!(insert_index("3", 3), Ok(3));
        assert_eq!(
            insert_index("4", 3),
            Err(ResolveErrorKind::IndexOutOfRange { index: 4, len: 3 })
        );
        assert_eq!(element_index("0", 1), Ok(0));
        assert!(element_index("00", 1).is_err());
        assert!(element_index("-0", 1).is_err());
        assert!(element_index("", 1).is_err());
        assert!(element_index("1e0", 2).is_err());
    }
}
