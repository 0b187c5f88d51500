//! A span's fields, encoded as JSON text once, where they are recorded: the hot path
//! keeps the text inline (no heap allocation while it fits [`INLINE`] bytes) and the
//! writer copies it into the line as it is.

use std::cell::RefCell;
use std::fmt::{self, Write as _};

use smallvec::SmallVec;
use tracing::field::{Field, Visit};

/// Field text kept inside the span's state, without a heap allocation.
pub(crate) const INLINE: usize = 48;

/// Appended to a value cut at the length cap.
pub(crate) const TRUNCATED: &str = "…[truncated]";
/// Appended to a value whose `Debug` returned an error.
pub(crate) const FMT_ERROR: &str = "…[fmt error]";

/// A span's fields as the inside of a JSON object (`"a":1,"b":"x"`), in the order they
/// were first recorded; a later record of a name replaces its value in place.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Fields {
    text: SmallVec<[u8; INLINE]>,
    /// Each field's name and the end of its `"name":value` in `text`.
    index: SmallVec<[(&'static str, u32); 2]>,
}

impl Fields {
    pub(crate) fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The JSON text, without the braces.
    pub(crate) fn text(&self) -> &[u8] {
        &self.text
    }

    /// Takes every field of `later` over, replacing values of the same name.
    pub(crate) fn merge(&mut self, later: &Fields) {
        let mut start = 0;
        for &(name, end) in &later.index {
            let end = end as usize;
            let entry = &later.text[start..end];
            start = end + 1;
            self.set(name, |text| text.extend_from_slice(entry), true);
        }
    }

    /// Sets `name` to what `encode` appends (`"name":value`, or the value only when
    /// `whole` is false). A new name is encoded straight into the text.
    fn set(&mut self, name: &'static str, encode: impl FnOnce(&mut Vec8), whole: bool) {
        let found = self
            .index
            .iter()
            .position(|&(n, _)| std::ptr::eq(n, name) || n == name);
        let Some(i) = found else {
            if !self.text.is_empty() {
                self.text.push(b',');
            }
            if !whole {
                key(&mut self.text, name);
            }
            encode(&mut self.text);
            self.index.push((name, self.text.len() as u32));
            return;
        };
        let mut entry = Vec8::new();
        if !whole {
            key(&mut entry, name);
        }
        encode(&mut entry);
        let start = if i == 0 {
            0
        } else {
            self.index[i - 1].1 as usize + 1
        };
        let end = self.index[i].1 as usize;
        let mut text = Vec8::new();
        text.extend_from_slice(&self.text[..start]);
        text.extend_from_slice(&entry);
        text.extend_from_slice(&self.text[end..]);
        let grown = (entry.len() as i64) - (end - start) as i64;
        for slot in &mut self.index[i..] {
            slot.1 = (i64::from(slot.1) + grown) as u32;
        }
        self.text = text;
    }
}

impl Fields {
    /// The common case in one copy: a name not recorded yet and needing no escapes, with
    /// a short value. False (and nothing done) otherwise.
    #[inline]
    fn append_plain(&mut self, name: &'static str, value: &[u8]) -> bool {
        const MAX: usize = 64;
        let len = usize::from(!self.text.is_empty()) + name.len() + 3 + value.len();
        if len > MAX
            || !plain(name)
            || self
                .index
                .iter()
                .any(|&(n, _)| std::ptr::eq(n, name) || n == name)
        {
            return false;
        }
        let mut entry = [0u8; MAX];
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            entry[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        if !self.text.is_empty() {
            put(b",");
        }
        put(b"\"");
        put(name.as_bytes());
        put(b"\":");
        put(value);
        self.text.extend_from_slice(&entry[..at]);
        self.index.push((name, self.text.len() as u32));
        true
    }
}

/// Whether a name goes into JSON as it is (field names nearly always do).
#[inline]
fn plain(name: &str) -> bool {
    name.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

/// `"name":`, escaped only when the name needs it (field names rarely do).
#[inline]
fn key(out: &mut Vec8, name: &str) {
    if plain(name) {
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
    } else {
        string(out, name);
        out.push(b':');
    }
}

/// A small byte buffer for one encoded entry.
type Vec8 = SmallVec<[u8; INLINE]>;

/// Records field values into [`Fields`], cutting text values at `max_len` bytes.
pub(crate) struct Encoder<'a> {
    pub(crate) fields: &'a mut Fields,
    pub(crate) max_len: usize,
    /// Set when a value was cut at `max_len`.
    pub(crate) cut: bool,
}

impl Encoder<'_> {
    fn raw(&mut self, field: &Field, value: &[u8]) {
        if !self.fields.append_plain(field.name(), value) {
            self.fields
                .set(field.name(), |t| t.extend_from_slice(value), false);
        }
    }

    fn text(&mut self, field: &Field, write: impl FnOnce(&mut Capped<'_>) -> fmt::Result) {
        let max_len = self.max_len;
        let fields = &mut *self.fields;
        let any_cut = &mut self.cut;
        let encode = |scratch: &mut String| {
            scratch.clear();
            let mut capped = Capped {
                out: scratch,
                room: max_len,
                cut: false,
            };
            let failed = write(&mut capped).is_err();
            let cut = capped.cut;
            *any_cut |= cut;
            if cut {
                scratch.push_str(TRUNCATED);
            } else if failed {
                scratch.push_str(FMT_ERROR);
            }
            fields.set(field.name(), |t| string(t, scratch), false);
        };
        // A value's Debug may itself record fields on this thread: then use a fresh buffer.
        SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut scratch) => {
                encode(&mut scratch);
                if scratch.capacity() > 4 * INLINE && scratch.capacity() > max_len.saturating_mul(2)
                {
                    *scratch = String::new();
                }
            }
            Err(_) => encode(&mut String::new()),
        });
    }
}

thread_local! {
    /// Where a text value is formatted before it is escaped (reused: no allocation).
    static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A `fmt::Write` that keeps the first `room` bytes (cut at a char boundary) and then
/// stops the formatting.
pub(crate) struct Capped<'a> {
    out: &'a mut String,
    room: usize,
    cut: bool,
}

impl fmt::Write for Capped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.len() <= self.room {
            self.out.push_str(s);
            self.room -= s.len();
            return Ok(());
        }
        let mut end = self.room;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.out.push_str(&s[..end]);
        self.room = 0;
        self.cut = true;
        Err(fmt::Error)
    }
}

impl Visit for Encoder<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        // Non-finite floats are written as null, as serde_json does.
        let mut text: SmallVec<[u8; 32]> = SmallVec::new();
        let _ = serde_json::to_writer(&mut text, &value);
        self.raw(field, &text);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.raw(field, itoa::Buffer::new().format(value).as_bytes());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.raw(field, itoa::Buffer::new().format(value).as_bytes());
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        match i64::try_from(value) {
            Ok(v) => self.record_i64(field, v),
            Err(_) => self.text(field, |w| write!(w, "{value}")),
        }
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        match u64::try_from(value) {
            Ok(v) => self.record_u64(field, v),
            Err(_) => self.text(field, |w| write!(w, "{value}")),
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.raw(field, if value { b"true" } else { b"false" });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, |w| w.write_str(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field, |w| write!(w, "{value:?}"));
    }
}

/// A JSON string, escaped by serde_json.
pub(crate) fn string(out: &mut impl std::io::Write, s: &str) {
    // Writing into memory cannot fail.
    let _ = serde_json::to_writer(out, s);
}

/// Sets `name` to the JSON string `value` (a field not from a span's callsite).
#[cfg(feature = "opentelemetry")]
impl Fields {
    pub(crate) fn set_str(&mut self, name: &'static str, value: &str) {
        self.set(name, |t| string(t, value), false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records `record` on a span with fields `a`, `b` and `c` and returns the JSON object.
    fn encode(max_len: usize, record: impl FnOnce(&mut Encoder<'_>, &[Field])) -> String {
        let callsite = tracing::subscriber::with_default(tracing_subscriber::registry(), || {
            tracing::info_span!(
                "s",
                a = tracing::field::Empty,
                b = tracing::field::Empty,
                c = tracing::field::Empty
            )
            .metadata()
            .expect("enabled")
        });
        let names: Vec<Field> = callsite.fields().iter().collect();
        let mut fields = Fields::default();
        record(
            &mut Encoder {
                fields: &mut fields,
                max_len,
                cut: false,
            },
            &names,
        );
        format!("{{{}}}", std::str::from_utf8(fields.text()).unwrap())
    }

    #[test]
    fn values_keep_their_json_types_and_a_later_record_replaces_in_place() {
        let json = encode(1024, |e, f| {
            e.record_i64(&f[0], -3);
            e.record_str(&f[1], "line\n\"quoted\"");
            e.record_f64(&f[2], f64::NAN);
            e.record_u64(&f[0], u64::MAX);
            e.record_bool(&f[1], true);
        });
        assert_eq!(json, r#"{"a":18446744073709551615,"b":true,"c":null}"#);
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["a"], u64::MAX);
    }

    #[test]
    fn long_values_are_cut_at_a_char_boundary_with_a_visible_marker() {
        let json = encode(4, |e, f| {
            e.record_str(&f[0], "abcé");
            e.record_debug(&f[1], &"é".repeat(1000));
            e.record_str(&f[2], "abcd");
        });
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["a"], format!("abc{TRUNCATED}"));
        assert_eq!(parsed["b"], format!("\"é{TRUNCATED}"));
        assert_eq!(parsed["c"], "abcd", "a value of exactly the cap is whole");
    }

    #[test]
    fn a_debug_that_fails_is_marked_not_a_panic() {
        struct Fails;
        impl fmt::Debug for Fails {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("part")?;
                Err(fmt::Error)
            }
        }
        let json = encode(1024, |e, f| e.record_debug(&f[0], &Fails));
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["a"], format!("part{FMT_ERROR}"));
    }

    #[test]
    fn merge_appends_new_names_and_replaces_known_ones() {
        let mut first = Fields::default();
        let callsite = tracing::subscriber::with_default(tracing_subscriber::registry(), || {
            tracing::info_span!("s", a = tracing::field::Empty, b = tracing::field::Empty)
                .metadata()
                .expect("enabled")
        });
        let f: Vec<Field> = callsite.fields().iter().collect();
        Encoder {
            fields: &mut first,
            max_len: 64,
            cut: false,
        }
        .record_i64(&f[0], 1);
        let mut later = Fields::default();
        let mut e = Encoder {
            fields: &mut later,
            max_len: 64,
            cut: false,
        };
        e.record_str(&f[1], "x");
        e.record_i64(&f[0], 22);
        first.merge(&later);
        assert_eq!(first.text(), br#""a":22,"b":"x""#);
    }
}
