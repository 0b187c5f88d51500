//! A span's fields, encoded as JSON text once, where they are recorded: the hot path
//! keeps the text inline (no heap allocation while it fits [`INLINE`] bytes) and the
//! writer copies it into the line as it is. `Debug` and string values are escaped
//! straight into that text as they are formatted, and formatting stops at the length
//! cap: a long value costs no more than the cap.

use std::fmt;
use std::io;

use smallvec::SmallVec;
use tracing::field::{Field, Visit};

/// Field text kept inside the span's state, without a heap allocation.
pub(crate) const INLINE: usize = 48;

/// Appended to a value cut at the length cap.
pub(crate) const TRUNCATED: &str = "…[truncated]";
/// Appended to a value whose `Debug` returned an error.
pub(crate) const FMT_ERROR: &str = "…[fmt error]";

/// Bytes kept in an inline array while they fit, on the heap once they do not.
#[derive(Clone)]
pub(crate) struct Text {
    inline: [u8; INLINE],
    /// Bytes used in `inline`, until the text spills.
    len: u8,
    /// The whole text once it outgrew `inline` (empty and unallocated until then).
    heap: Vec<u8>,
}

impl Default for Text {
    fn default() -> Self {
        Text {
            inline: [0; INLINE],
            len: 0,
            heap: Vec::new(),
        }
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&String::from_utf8_lossy(self.as_slice()), f)
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Text {
    #[inline]
    fn spilled(&self) -> bool {
        self.heap.capacity() != 0
    }

    #[inline]
    pub(crate) fn as_slice(&self) -> &[u8] {
        if self.spilled() {
            &self.heap
        } else {
            &self.inline[..usize::from(self.len)]
        }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        if self.spilled() {
            self.heap.len()
        } else {
            usize::from(self.len)
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `bytes`, moving the text to the heap the first time it outgrows [`INLINE`].
    #[inline]
    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        let len = usize::from(self.len);
        if !self.spilled() && len + bytes.len() <= INLINE {
            self.inline[len..len + bytes.len()].copy_from_slice(bytes);
            self.len = (len + bytes.len()) as u8;
        } else {
            self.extend_heap(bytes);
        }
    }

    #[cold]
    fn extend_heap(&mut self, bytes: &[u8]) {
        if !self.spilled() {
            let len = usize::from(self.len);
            let mut heap = Vec::with_capacity((len + bytes.len()).max(2 * INLINE));
            heap.extend_from_slice(&self.inline[..len]);
            self.heap = heap;
        }
        self.heap.extend_from_slice(bytes);
    }

    #[inline]
    fn push(&mut self, byte: u8) {
        self.extend(&[byte]);
    }
}

impl io::Write for Text {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.extend(buf);
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.extend(buf);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A span's fields as the inside of a JSON object (`"a":1,"b":"x"`), in the order they
/// were first recorded; a later record of a name replaces its value in place.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Fields {
    text: Text,
    /// Each field's name and the end of its `"name":value` in `text`.
    index: SmallVec<[(&'static str, u32); 2]>,
}

impl Fields {
    pub(crate) fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Whether the text has moved to the heap.
    pub(crate) fn spilled(&self) -> bool {
        self.text.spilled()
    }

    /// The JSON text, without the braces.
    #[inline]
    pub(crate) fn text(&self) -> &[u8] {
        self.text.as_slice()
    }

    /// Where `name` already is in the index.
    #[inline]
    fn find(&self, name: &'static str) -> Option<usize> {
        self.index
            .iter()
            .position(|&(n, _)| std::ptr::eq(n, name) || n == name)
    }

    /// Takes every field of `later` over, replacing values of the same name.
    pub(crate) fn merge(&mut self, later: &Fields) {
        let mut start = 0;
        let text = later.text();
        for &(name, end) in &later.index {
            let end = end as usize;
            let entry = &text[start..end];
            start = end + 1;
            self.set(name, |t| t.extend(entry), true);
        }
    }

    /// Sets `name` to what `encode` appends (`"name":value`, or the value only when
    /// `whole` is false). A new name is encoded straight into the text.
    fn set(&mut self, name: &'static str, encode: impl FnOnce(&mut Text), whole: bool) {
        let Some(i) = self.find(name) else {
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
        let mut entry = Text::default();
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
        let old = self.text.as_slice();
        let mut text = Text::default();
        text.extend(&old[..start]);
        text.extend(entry.as_slice());
        text.extend(&old[end..]);
        let grown = (entry.len() as i64) - (end - start) as i64;
        for slot in &mut self.index[i..] {
            slot.1 = (i64::from(slot.1) + grown) as u32;
        }
        self.text = text;
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
fn key(out: &mut Text, name: &str) {
    if plain(name) {
        out.push(b'"');
        out.extend(name.as_bytes());
        out.extend(b"\":");
    } else {
        string(out, name);
        out.push(b':');
    }
}

/// Records field values into [`Fields`], cutting text values at `max_len` bytes.
pub(crate) struct Encoder<'a> {
    pub(crate) fields: &'a mut Fields,
    pub(crate) max_len: usize,
    /// Set when a value was cut at `max_len`.
    pub(crate) cut: bool,
}

impl Encoder<'_> {
    /// A value that is already JSON text (a number, a bool).
    #[inline]
    fn raw(&mut self, field: &Field, value: &[u8]) {
        self.fields.set(field.name(), |t| t.extend(value), false);
    }

    /// A string value: `write` formats it through a writer that escapes it straight into
    /// the field text and stops the formatting at `max_len` bytes.
    fn text(&mut self, field: &Field, write: impl FnOnce(&mut Escaped<'_>) -> fmt::Result) {
        let max_len = self.max_len;
        let mut cut = false;
        self.fields.set(
            field.name(),
            |t| {
                t.push(b'"');
                let mut escaped = Escaped {
                    out: t,
                    room: max_len,
                    cut: false,
                };
                let failed = write(&mut escaped).is_err();
                cut = escaped.cut;
                if cut {
                    escaped.out.extend(TRUNCATED.as_bytes());
                } else if failed {
                    escaped.out.extend(FMT_ERROR.as_bytes());
                }
                t.push(b'"');
            },
            false,
        );
        self.cut |= cut;
    }
}

/// The bytes a JSON string cannot hold as they are: control characters, `"` and `\`.
/// One load a byte, where three comparisons were.
static ESCAPED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// A `fmt::Write` that escapes what it is given as the inside of a JSON string into
/// `out`, keeps the first `room` bytes of the unescaped text (cut at a char boundary)
/// and then stops the formatting with an error (which the caller reads as the cut).
pub(crate) struct Escaped<'a> {
    out: &'a mut Text,
    room: usize,
    cut: bool,
}

impl Escaped<'_> {
    /// Appends `s` escaped: runs of bytes that need no escape as they are, `"` and `\`
    /// after a backslash, and control characters as serde_json escapes them. Always
    /// inlined into `write_str`, which `Debug` calls for every piece it writes.
    #[inline(always)]
    fn put(&mut self, s: &str) {
        let bytes = s.as_bytes();
        let mut from = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if !ESCAPED[usize::from(b)] {
                continue;
            }
            if from < i {
                self.out.extend(&bytes[from..i]);
            }
            if b == b'"' || b == b'\\' {
                self.out.extend(&[b'\\', b]);
            } else {
                // `"\u001f"` at most: eight bytes with the quotes, which are left out.
                let mut quoted = [0u8; 8];
                let mut w = &mut quoted[..];
                // One ASCII byte is a whole str; writing into memory cannot fail.
                let _ = serde_json::to_writer(&mut w, &s[i..=i]);
                let n = 8 - w.len();
                self.out.extend(&quoted[1..n.saturating_sub(1).max(1)]);
            }
            from = i + 1;
        }
        if from < bytes.len() {
            self.out.extend(&bytes[from..]);
        }
    }
}

impl fmt::Write for Escaped<'_> {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.len() <= self.room {
            self.put(s);
            self.room -= s.len();
            return Ok(());
        }
        let mut end = self.room;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.put(&s[..end]);
        self.room = 0;
        self.cut = true;
        Err(fmt::Error)
    }
}

impl Visit for Encoder<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        // Non-finite floats are written as null, as serde_json does.
        self.fields.set(
            field.name(),
            |t| {
                let _ = serde_json::to_writer(t, &value);
            },
            false,
        );
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
            Err(_) => self.text(field, |w| fmt::Write::write_fmt(w, format_args!("{value}"))),
        }
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        match u64::try_from(value) {
            Ok(v) => self.record_u64(field, v),
            Err(_) => self.text(field, |w| fmt::Write::write_fmt(w, format_args!("{value}"))),
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.raw(field, if value { b"true" } else { b"false" });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, |w| fmt::Write::write_str(w, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field, |w| {
            fmt::Write::write_fmt(w, format_args!("{value:?}"))
        });
    }
}

/// A JSON string, escaped by serde_json.
pub(crate) fn string(out: &mut impl io::Write, s: &str) {
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

    proptest::proptest! {
        #[test]
        fn any_text_escapes_into_json_that_reads_back_the_same(
            text in "\\PC{0,40}|[\u{0}-\u{7f}]{0,40}",
        ) {
            let json = encode(1024, |e, f| {
                e.record_str(&f[0], &text);
                e.record_debug(&f[1], &text);
            });
            let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
            proptest::prop_assert_eq!(parsed["a"].as_str(), Some(text.as_str()));
            let debug = format!("{text:?}");
            proptest::prop_assert_eq!(parsed["b"].as_str(), Some(debug.as_str()));
        }
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
