//! Serialising typed values to JSON for the wire, refusing what JSON cannot
//! hold.
//!
//! `serde_json` turns a NaN or an infinite float into `null`, silently; a
//! replica would then show `null` where the state holds NaN. Every value
//! the tracker records first goes through [`FiniteCheck`], a serializer that
//! writes nothing and fails at the first non-finite float.

use serde::ser::{self, Serialize};
use serde_json::Value;

use super::MutationErrorKind;

/// Serialises `value` to a JSON value, refusing non-finite floats.
///
/// # Errors
///
/// [`MutationErrorKind::NonFinite`] for a NaN or an infinity anywhere in
/// the value, [`MutationErrorKind::Serialize`] when serde fails (a map with
/// non-string keys, a failing `Serialize` impl).
///
/// ```
/// use lab_link_core::reactive::{to_json, MutationErrorKind};
///
/// assert_eq!(to_json(&vec![1.5, 2.0])?, serde_json::json!([1.5, 2.0]));
/// assert_eq!(to_json(&vec![1.5, f64::NAN]), Err(MutationErrorKind::NonFinite));
/// # Ok::<(), MutationErrorKind>(())
/// ```
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<Value, MutationErrorKind> {
    check_finite(value)?;
    serde_json::to_value(value).map_err(|e| MutationErrorKind::Serialize {
        message: e.to_string(),
    })
}

/// Checks that `value` holds no non-finite float, without building
/// anything.
pub(crate) fn check_finite<T: Serialize + ?Sized>(value: &T) -> Result<(), MutationErrorKind> {
    match value.serialize(FiniteCheck) {
        Ok(()) => Ok(()),
        Err(CheckError::NonFinite) => Err(MutationErrorKind::NonFinite),
        Err(CheckError::Custom(message)) => Err(MutationErrorKind::Serialize { message }),
    }
}

#[derive(Debug)]
enum CheckError {
    NonFinite,
    Custom(String),
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckError::NonFinite => f.write_str("non-finite float"),
            CheckError::Custom(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for CheckError {}

impl ser::Error for CheckError {
    fn custom<M: std::fmt::Display>(msg: M) -> Self {
        CheckError::Custom(msg.to_string())
    }
}

/// A serializer that only looks at floats.
struct FiniteCheck;

type Done = Result<(), CheckError>;

/// Methods that accept a value and have nothing to check.
macro_rules! accept {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method(self, _: $ty) -> Done { Ok(()) })*
    };
}

impl ser::Serializer for FiniteCheck {
    type Ok = ();
    type Error = CheckError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    accept!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
    );

    fn serialize_f32(self, v: f32) -> Done {
        if v.is_finite() {
            Ok(())
        } else {
            Err(CheckError::NonFinite)
        }
    }
    fn serialize_f64(self, v: f64) -> Done {
        if v.is_finite() {
            Ok(())
        } else {
            Err(CheckError::NonFinite)
        }
    }
    fn serialize_none(self) -> Done {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Done {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Done {
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Done {
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Done {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        value: &T,
    ) -> Done {
        value.serialize(self)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self, CheckError> {
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self, CheckError> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, CheckError> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, CheckError> {
        Ok(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self, CheckError> {
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, CheckError> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, CheckError> {
        Ok(self)
    }
}

/// The compound-value traits: every element goes through the check.
macro_rules! compound {
    ($($trait:ident :: $method:ident $(($key:ident))?),* $(,)?) => {
        $(impl ser::$trait for FiniteCheck {
            type Ok = ();
            type Error = CheckError;
            fn $method<T: Serialize + ?Sized>(&mut self, $($key: &'static str,)? value: &T) -> Done {
                $(let _ = $key;)?
                value.serialize(FiniteCheck)
            }
            fn end(self) -> Done {
                Ok(())
            }
        })*
    };
}

compound!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
    SerializeStruct::serialize_field(key),
    SerializeStructVariant::serialize_field(key),
);

impl ser::SerializeMap for FiniteCheck {
    type Ok = ();
    type Error = CheckError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Done {
        key.serialize(FiniteCheck)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        value.serialize(FiniteCheck)
    }
    fn end(self) -> Done {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[derive(serde::Serialize)]
    struct Nested {
        name: String,
        values: Vec<Option<f32>>,
        by_key: BTreeMap<String, (u8, f64)>,
    }

    #[test]
    fn finds_non_finite_floats_anywhere() {
        let ok = Nested {
            name: "a".into(),
            values: vec![Some(1.0), None],
            by_key: [("k".to_owned(), (1, 2.5))].into(),
        };
        assert_eq!(
            to_json(&ok),
            Ok(json!({"name": "a", "values": [1.0, null], "by_key": {"k": [1, 2.5]}}))
        );
        let bad_list = Nested {
            values: vec![Some(f32::INFINITY)],
            ..ok
        };
        assert_eq!(to_json(&bad_list), Err(MutationErrorKind::NonFinite));
        let bad_map = Nested {
            name: String::new(),
            values: Vec::new(),
            by_key: [("k".to_owned(), (1, f64::NEG_INFINITY))].into(),
        };
        assert_eq!(to_json(&bad_map), Err(MutationErrorKind::NonFinite));
    }

    #[test]
    fn serde_failures_are_reported() {
        let map: BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
        assert!(matches!(
            to_json(&map),
            Err(MutationErrorKind::Serialize { .. })
        ));
    }
}
