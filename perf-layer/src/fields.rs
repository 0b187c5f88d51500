//! A span's fields as the hot path keeps them: static names and typed values,
//! turned into JSON only on the writer thread.

use std::fmt;

use tracing::field::{Field, Visit};

/// One field value. Numbers stay numbers; everything else becomes text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldValue {
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Str(String),
}

/// A span's fields in the order they were first recorded; a later record of a name
/// replaces its value.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FieldValues(pub(crate) Vec<(&'static str, FieldValue)>);

impl FieldValues {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn set(&mut self, name: &'static str, value: FieldValue) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    /// Takes every field of `later` over, replacing values of the same name.
    pub(crate) fn merge(&mut self, later: FieldValues) {
        for (name, value) in later.0 {
            self.set(name, value);
        }
    }

    /// The fields as a JSON map (what `perf_layer::record` calls `Fields`).
    #[cfg(test)]
    pub(crate) fn to_json(&self) -> crate::record::Fields {
        self.0
            .iter()
            .map(|(name, value)| {
                let value = match value {
                    FieldValue::I64(v) => (*v).into(),
                    FieldValue::U64(v) => (*v).into(),
                    FieldValue::F64(v) => (*v).into(),
                    FieldValue::Bool(v) => (*v).into(),
                    FieldValue::Str(v) => v.clone().into(),
                };
                ((*name).to_owned(), value)
            })
            .collect()
    }
}

impl Visit for FieldValues {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field.name(), FieldValue::F64(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field.name(), FieldValue::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(field.name(), FieldValue::U64(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        match i64::try_from(value) {
            Ok(v) => self.record_i64(field, v),
            Err(_) => self.set(field.name(), FieldValue::Str(value.to_string())),
        }
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        match u64::try_from(value) {
            Ok(v) => self.record_u64(field, v),
            Err(_) => self.set(field.name(), FieldValue::Str(value.to_string())),
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field.name(), FieldValue::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field.name(), FieldValue::Str(value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.set(field.name(), FieldValue::Str(format!("{value:?}")));
    }
}
