//! A few of a span's fields, read from its raw JSON without building a map.
//!
//! [`Span::fields`](crate::Span::fields) parses every field into owned values; the
//! analyses that look at thousands of spans want three or four keys each, so
//! [`pick`] reads just those, borrowing strings from the text, and skips the rest.
//! As with a map, a key given twice keeps its last value.
//!
//! ```
//! use perf_analyze::input::pick::{pick, FieldValue};
//!
//! let raw = r#"{"model":"gemma3","eval_count":12,"nested":{"a":[1]},"eval_count":40}"#;
//! let fields = pick(raw, &["model", "eval_count", "missing"]);
//! assert_eq!(fields.get("model").and_then(FieldValue::as_str), Some("gemma3"));
//! assert_eq!(fields.get("eval_count").and_then(FieldValue::as_u64), Some(40));
//! assert!(fields.get("missing").is_none());
//! ```

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// One picked field's value: a number, a string, or anything else.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    /// A non-negative integer.
    U64(u64),
    /// A negative integer.
    I64(i64),
    /// A number with a fraction or an exponent.
    F64(f64),
    /// A string, borrowed unless it had escapes.
    Str(Cow<'a, str>),
    /// `null`, a boolean, an array or an object.
    Other,
}

impl FieldValue<'_> {
    /// The value as a count or a duration: a non-negative integer, or a non-negative
    /// finite float truncated; `None` for anything else.
    #[must_use]
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            FieldValue::U64(n) => Some(n),
            FieldValue::F64(f) if f.is_finite() && f >= 0.0 => Some(f as u64),
            _ => None,
        }
    }

    /// The value if it is a string.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            FieldValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// The values of the keys given to [`pick`].
#[derive(Debug)]
pub struct Picked<'k, 'a> {
    keys: &'k [&'k str],
    values: Vec<Option<FieldValue<'a>>>,
}

impl<'a> Picked<'_, 'a> {
    /// The value of `key`, if it is present; a key not asked for is never present (and
    /// a bug, which debug builds catch).
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&FieldValue<'a>> {
        let at = self.keys.iter().position(|k| *k == key);
        debug_assert!(at.is_some(), "{key:?} was not picked");
        let at = at?;
        self.values[at].as_ref()
    }
}

/// Reads the values of `keys` from `raw`, a JSON object; nothing if it is not one.
#[must_use]
pub fn pick<'k, 'a>(raw: &'a str, keys: &'k [&'k str]) -> Picked<'k, 'a> {
    let mut picked = Picked {
        keys,
        values: vec![None; keys.len()],
    };
    let mut de = serde_json::Deserializer::from_str(raw);
    if de
        .deserialize_map(Fill(&mut picked))
        .and_then(|()| de.end())
        .is_err()
    {
        picked.values.iter_mut().for_each(|v| *v = None);
    }
    picked
}

/// Fills a [`Picked`] from a JSON object.
struct Fill<'p, 'k, 'a>(&'p mut Picked<'k, 'a>);

impl<'de> Visitor<'de> for Fill<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of span fields")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(at) = map.next_key_seed(KeyIndex(self.0.keys))? {
            match at {
                Some(at) => self.0.values[at] = Some(map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Reads a key as its position among the keys asked for.
struct KeyIndex<'k>(&'k [&'k str]);

impl<'de> DeserializeSeed<'de> for KeyIndex<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyIndex<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|k| *k == key))
    }
}

impl<'de> Deserialize<'de> for FieldValue<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = FieldValue<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
        Ok(FieldValue::U64(n))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
        Ok(u64::try_from(n).map_or(FieldValue::I64(n), FieldValue::U64))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Self::Value, E> {
        Ok(FieldValue::F64(f))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(FieldValue::Str(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(FieldValue::Str(Cow::Owned(s.to_owned())))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(FieldValue::Other)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(FieldValue::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(FieldValue::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(FieldValue::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What a map of the same text says about `key`, as a [`FieldValue`].
    fn from_map(raw: &str, key: &str) -> Option<FieldValue<'static>> {
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(raw).ok()?;
        Some(match map.get(key)? {
            serde_json::Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => FieldValue::U64(u),
                (None, Some(i), _) => FieldValue::I64(i),
                (_, _, f) => FieldValue::F64(f?),
            },
            serde_json::Value::String(s) => FieldValue::Str(Cow::Owned(s.clone())),
            _ => FieldValue::Other,
        })
    }

    #[test]
    fn escaped_strings_and_keys_are_read() {
        let raw = r#"{"mo\u0064el":"a\"b","n":-3,"f":2.5,"b":true,"z":null}"#;
        let keys = ["model", "n", "f", "b", "z", "none"];
        let picked = pick(raw, &keys);
        assert_eq!(
            picked.get("model").and_then(FieldValue::as_str),
            Some("a\"b")
        );
        assert_eq!(picked.get("n"), Some(&FieldValue::I64(-3)));
        assert_eq!(picked.get("f").and_then(FieldValue::as_u64), Some(2));
        assert_eq!(picked.get("b"), Some(&FieldValue::Other));
        assert_eq!(picked.get("z"), Some(&FieldValue::Other));
        assert!(picked.get("none").is_none());
    }

    #[test]
    fn not_an_object_picks_nothing() {
        for raw in ["", "[1]", "3", r#"{"a":1"#, r#"{"a":1} x"#] {
            assert!(pick(raw, &["a"]).get("a").is_none(), "{raw}");
        }
    }

    proptest! {
        #[test]
        fn agrees_with_a_map(
            entries in proptest::collection::vec(
                ("[abc]{1,2}", prop_oneof![
                    any::<u64>().prop_map(serde_json::Value::from),
                    any::<i64>().prop_map(serde_json::Value::from),
                    (-1e20f64..1e20).prop_map(serde_json::Value::from),
                    "\\PC{0,5}".prop_map(serde_json::Value::from),
                    Just(serde_json::Value::Null),
                    Just(serde_json::json!({"a": [1, {"b": 2}]})),
                ]),
                0..6,
            ),
        ) {
            // Written by hand so that repeated keys stay in the text.
            let body: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}:{v}", serde_json::Value::from(k.as_str())))
                .collect();
            let raw = format!("{{{}}}", body.join(","));
            let keys = ["a", "b", "c", "ab", "ba"];
            let picked = pick(&raw, &keys);
            for key in keys {
                prop_assert_eq!(picked.get(key).cloned(), from_map(&raw, key), "{} in {}", key, raw);
            }
        }
    }
}
