//! The tracked view of maps with `String` keys: `BTreeMap`, `HashMap`, and
//! `IndexMap` with the `indexmap` feature.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::ops::Deref;

use serde::Serialize;

use super::{Ctx, MutationError, MutationErrorKind, Reactive};
use crate::schema::{Defs, Segment};

/// A visitor of a map's entries that can stop with an error.
#[doc(hidden)]
pub type Visit<'v, V> = dyn FnMut(&str, &V) -> Result<(), MutationError> + 'v;

/// A map with `String` keys, as the tracked view needs it. Implemented for
/// `BTreeMap<String, V>`, `HashMap<String, V, S>` and (feature `indexmap`)
/// `IndexMap<String, V, S>`; you do not implement it.
pub trait TrackedMap: Serialize {
    /// The value type.
    type Value: Reactive;

    #[doc(hidden)]
    fn get_mut_value(&mut self, key: &str) -> Option<&mut Self::Value>;
    #[doc(hidden)]
    fn insert_value(&mut self, key: String, value: Self::Value) -> Option<Self::Value>;
    #[doc(hidden)]
    fn remove_value(&mut self, key: &str) -> Option<Self::Value>;
    #[doc(hidden)]
    fn len_values(&self) -> usize;
    #[doc(hidden)]
    fn clear_values(&mut self);
    #[doc(hidden)]
    fn retain_values(&mut self, keep: &mut dyn FnMut(&str, &Self::Value) -> bool);
    #[doc(hidden)]
    fn for_each_value(&self, visit: &mut Visit<'_, Self::Value>) -> Result<(), MutationError>;
}

/// `TrackedMap` and `Reactive` for one map type, whose inherent methods
/// have the same names; `$remove` is the removal that keeps the order of
/// the other entries where the map has one.
macro_rules! tracked_map {
    ($map:ty => [$($generics:tt)*], $remove:ident) => {
        impl<$($generics)*> TrackedMap for $map {
            type Value = V;
            fn get_mut_value(&mut self, key: &str) -> Option<&mut V> {
                self.get_mut(key)
            }
            fn insert_value(&mut self, key: String, value: V) -> Option<V> {
                self.insert(key, value)
            }
            fn remove_value(&mut self, key: &str) -> Option<V> {
                self.$remove(key)
            }
            fn len_values(&self) -> usize {
                self.len()
            }
            fn clear_values(&mut self) {
                self.clear();
            }
            fn retain_values(&mut self, keep: &mut dyn FnMut(&str, &V) -> bool) {
                self.retain(|k, v| keep(k, v));
            }
            fn for_each_value(&self, visit: &mut Visit<'_, V>) -> Result<(), MutationError> {
                self.iter().try_for_each(|(k, v)| visit(k, v))
            }
        }

        impl<$($generics)*> Reactive for $map {
            type Tracked<'a>
                = MapTracked<'a, $map>
            where
                Self: 'a;

            fn tracked<'a>(&'a mut self, ctx: Ctx<'a>) -> MapTracked<'a, $map> {
                MapTracked { value: self, ctx }
            }

            fn validate(&self, path: &mut String) -> Result<(), MutationError> {
                validate_map(self, path)
            }

            fn annotate_schema(schema: &mut serde_json::Value, defs: &mut Defs) {
                if let Some(values) = schema.get_mut("additionalProperties") {
                    V::annotate_schema(values, defs);
                }
            }

            fn check_path(segments: &[Segment]) -> Result<(), String> {
                // Any key, a literal or a `{param}`, may name an entry.
                match segments.split_first() {
                    None => Ok(()),
                    Some((_, rest)) => V::check_path(rest),
                }
            }

            fn history_paths(path: &mut String, out: &mut Vec<String>) {
                super::items_history_paths::<V>(path, out);
            }
        }
    };
}

tracked_map!(BTreeMap<String, V> => [V: Reactive], remove);
tracked_map!(HashMap<String, V, S> => [V: Reactive, S: BuildHasher], remove);
// `shift_remove` keeps the order of the other entries, as the JSON object
// does.
#[cfg(feature = "indexmap")]
tracked_map!(indexmap::IndexMap<String, V, S> => [V: Reactive, S: BuildHasher], shift_remove);

fn validate_map<M: TrackedMap>(map: &M, path: &mut String) -> Result<(), MutationError> {
    let len = path.len();
    map.for_each_value(&mut |key, value| {
        path.push('/');
        path.push_str(&crate::pointer::escape(key));
        let result = value.validate(path);
        path.truncate(len);
        result
    })
}

/// The tracked view of a map with `String` keys.
///
/// | method | operations recorded |
/// |---|---|
/// | [`insert`](MapTracked::insert) | `add` for a new key, `replace` for an existing one (none if equal) |
/// | [`remove`](MapTracked::remove) | `remove` (none if absent) |
/// | [`clear`](MapTracked::clear), [`retain`](MapTracked::retain) | one `replace` of the whole map, if it changed |
///
/// Keys are escaped per RFC 6901 (`a/b` is `/a~1b`). [`at`](MapTracked::at)
/// gives the tracked view of one value. Reading goes through `Deref`.
///
/// ```
/// use lab_link_core::reactive::{Reactive, Recorder};
/// use std::collections::BTreeMap;
///
/// let mut recorder = Recorder::new();
/// let mut labels: BTreeMap<String, String> = BTreeMap::new();
/// let mut view = labels.tracked(recorder.root());
/// view.insert("a/b".into(), "x".into())?;
/// view.insert("a/b".into(), "y".into())?;
/// assert_eq!(view.remove("missing"), None);
/// assert_eq!(
///     serde_json::to_string(&recorder.take_ops())?,
///     r#"[{"op":"add","path":"/a~1b","value":"y"}]"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct MapTracked<'a, M> {
    value: &'a mut M,
    ctx: Ctx<'a>,
}

impl<'a, M: TrackedMap> MapTracked<'a, M> {
    /// The tracked view of the value at `key`.
    ///
    /// # Errors
    ///
    /// [`MutationErrorKind::NoSuchKey`] when the key is absent.
    pub fn at(&mut self, key: &str) -> Result<<M::Value as Reactive>::Tracked<'_>, MutationError> {
        match self.value.get_mut_value(key) {
            Some(value) => Ok(value.tracked(self.ctx.child(key))),
            None => Err(self.ctx.error_at(
                key,
                MutationErrorKind::NoSuchKey {
                    key: key.to_owned(),
                },
            )),
        }
    }

    /// Inserts or replaces the value at `key`: `add` for a new key,
    /// `replace` for an existing one (nothing if the JSON form is
    /// unchanged). Returns the previous value.
    ///
    /// # Errors
    ///
    /// A refused value: nothing changes.
    pub fn insert(
        &mut self,
        key: String,
        value: M::Value,
    ) -> Result<Option<M::Value>, MutationError> {
        let json = self.ctx.child(&key).to_json(&value)?;
        match self.value.get_mut_value(&key) {
            Some(slot) => {
                let changed = serde_json::to_value(&*slot).map_or(true, |old| old != json);
                let old = std::mem::replace(slot, value);
                if changed {
                    self.ctx.record_replace_key(&key, json);
                }
                Ok(Some(old))
            }
            None => {
                self.ctx.record_add_key(&key, json);
                self.value.insert_value(key, value);
                Ok(None)
            }
        }
    }

    /// Removes the value at `key`: `remove`, if it was there.
    pub fn remove(&mut self, key: &str) -> Option<M::Value> {
        let old = self.value.remove_value(key)?;
        self.ctx.record_remove_key(key);
        Some(old)
    }

    /// Removes every entry: one `replace` with `{}`, if it was not empty.
    pub fn clear(&mut self) {
        if self.value.len_values() > 0 {
            self.value.clear_values();
            self.ctx
                .record_replace(serde_json::Value::Object(serde_json::Map::new()));
        }
    }

    /// Keeps the entries `keep` returns `true` for: one `replace` of the
    /// whole map, if any was removed.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &M::Value) -> bool) {
        let before = self.value.len_values();
        self.value.retain_values(&mut keep);
        if self.value.len_values() != before {
            // Invariant: every value serialised when it was inserted.
            let json = serde_json::to_value(&*self.value)
                .expect("map values were serialised when they were inserted");
            self.ctx.record_replace(json);
        }
    }
}

impl<M> Deref for MapTracked<'_, M> {
    type Target = M;

    fn deref(&self) -> &M {
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::super::Recorder;
    use super::*;
    use serde_json::json;

    #[test]
    fn insert_is_add_then_replace_and_equal_is_nothing() {
        let mut recorder = Recorder::new();
        let mut map: HashMap<String, i32> = HashMap::new();
        let mut view = map.tracked(recorder.root());
        assert_eq!(view.insert("a".into(), 1).unwrap(), None);
        let _ = recorder.take_ops();
        let mut view = map.tracked(recorder.root());
        assert_eq!(view.insert("a".into(), 2).unwrap(), Some(1));
        assert_eq!(view.insert("b".into(), 0).unwrap(), None);
        assert_eq!(view.insert("a".into(), 2).unwrap(), Some(2));
        assert_eq!(view.remove("b"), Some(0));
        assert_eq!(*view.at("a").unwrap(), 2); // views read through Deref
        assert!(view.at("zz").is_err());
        assert_eq!(
            serde_json::to_value(recorder.take_ops()).unwrap(),
            json!([
                {"op": "replace", "path": "/a", "value": 2},
                {"op": "add", "path": "/b", "value": 0},
                {"op": "remove", "path": "/b"}
            ])
        );
    }

    #[test]
    fn clear_and_retain_replace_the_whole_map() {
        let mut recorder = Recorder::new();
        let mut map: BTreeMap<String, i32> = [("a".to_owned(), 1), ("b".to_owned(), 2)].into();
        let mut view = map.tracked(recorder.root());
        view.retain(|_, _| true);
        view.retain(|k, _| k == "a");
        view.clear();
        view.clear();
        assert_eq!(
            serde_json::to_value(recorder.take_ops()).unwrap(),
            json!([{"op": "replace", "path": "", "value": {}}])
        );
    }

    #[cfg(feature = "indexmap")]
    #[test]
    fn index_maps_keep_the_order_of_the_other_keys_on_remove() {
        let mut recorder = Recorder::new();
        let mut map: indexmap::IndexMap<String, i32> = [
            ("a".to_owned(), 1),
            ("b".to_owned(), 2),
            ("c".to_owned(), 3),
        ]
        .into_iter()
        .collect();
        let mut view = map.tracked(recorder.root());
        assert_eq!(view.remove("a"), Some(1));
        view.insert("a".into(), 4).unwrap();
        assert_eq!(map.keys().collect::<Vec<_>>(), ["b", "c", "a"]);
        assert_eq!(
            serde_json::to_value(recorder.take_ops()).unwrap(),
            json!([{"op": "remove", "path": "/a"}, {"op": "add", "path": "/a", "value": 4}])
        );
    }

    #[test]
    fn nested_values_are_tracked_at_escaped_paths() {
        let mut recorder = Recorder::new();
        let mut map: BTreeMap<String, Vec<i32>> = [("x/y".to_owned(), vec![1])].into();
        map.tracked(recorder.root())
            .at("x/y")
            .unwrap()
            .push(2)
            .unwrap();
        assert_eq!(
            serde_json::to_value(recorder.take_ops()).unwrap(),
            json!([{"op": "add", "path": "/x~1y/1", "value": 2}])
        );
    }
}
