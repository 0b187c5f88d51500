//! A scanner for span lines exactly as the writer lays them out: the key order of
//! [`SpanRecord`], no whitespace, no escapes in names. It reads such a line several
//! times faster than serde_json matching every key; anything else makes it return
//! `None`, and [`SpanRecord::from_line`] falls back to serde_json, which reads the line
//! or says what is wrong with it.

use std::borrow::Cow;

use serde_json::value::RawValue;

use super::{RawFields, SpanRecord, Status};

/// Reads `line` (trimmed, without its newline) if it is a span line in perf-layer's own layout.
/// Everything the scanner matches is ASCII, so the slices it cuts are on character boundaries.
///
/// Accepting a line serde_json would refuse is a bug (a test compares the two on
/// generated lines); refusing one it accepts only costs time.
pub(super) fn span_line(line: &str) -> Option<SpanRecord<'_, RawFields<'_>>> {
    let mut c = Cursor {
        s: line.as_bytes(),
        text: line,
        at: 0,
    };
    c.literal(br#"{"type":"span","id":"#)?;
    let id = c.uint()?;
    c.literal(br#","parent":"#)?;
    let parent = if c.eat(b"null") {
        None
    } else {
        Some(c.uint()?)
    };
    let mut follows_from = Vec::new();
    if c.eat(br#","follows_from":["#) && !c.eat(b"]") {
        loop {
            follows_from.push(c.uint()?);
            if c.eat(b"]") {
                break;
            }
            c.literal(b",")?;
        }
    }
    c.literal(br#","name":"#)?;
    let name = c.string()?;
    c.literal(br#","target":"#)?;
    let target = c.string()?;
    c.literal(br#","start_ns":"#)?;
    let start_ns = c.uint()?;
    c.literal(br#","end_ns":"#)?;
    let end_ns = c.uint()?;
    c.literal(br#","busy_ns":"#)?;
    let busy_ns = c.uint()?;
    let idle_ns = if c.eat(br#","idle_ns":"#) {
        Some(c.uint()?)
    } else {
        None
    };
    c.literal(br#","enters":"#)?;
    let enters = c.uint()?;
    c.literal(br#","thread":"#)?;
    let thread = c.string()?;
    c.literal(br#","status":""#)?;
    let status = if c.eat(br#"ok""#) {
        Status::Ok
    } else if c.eat(br#"error""#) {
        Status::Error
    } else if c.eat(br#"open""#) {
        Status::Open
    } else {
        return None;
    };
    c.literal(br#","fields":"#)?;
    // `fields` is the last key: the rest of the line is the object and the closing brace.
    let fields = line[c.at..].strip_suffix('}')?;
    let fields = match fields.as_bytes() {
        b"{}" => None,
        [b'{', .., b'}'] => Some(serde_json::from_str::<&RawValue>(fields).ok()?),
        _ => return None,
    };
    Some(SpanRecord {
        id,
        parent,
        follows_from,
        name: Cow::Borrowed(name),
        target: Cow::Borrowed(target),
        start_ns,
        end_ns,
        busy_ns,
        idle_ns,
        enters,
        thread: Cow::Borrowed(thread),
        status,
        fields,
    })
}

struct Cursor<'a> {
    s: &'a [u8],
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    /// Skips `expected` if the input continues with it.
    // Inlined, the comparison with a literal of known length needs no call to memcmp.
    #[inline(always)]
    fn eat(&mut self, expected: &[u8]) -> bool {
        if self.s[self.at..].starts_with(expected) {
            self.at += expected.len();
            true
        } else {
            false
        }
    }

    #[inline(always)]
    fn literal(&mut self, expected: &[u8]) -> Option<()> {
        self.eat(expected).then_some(())
    }

    /// A JSON unsigned integer that fits a u64 (no leading zeros, no fraction or exponent).
    fn uint(&mut self) -> Option<u64> {
        let start = self.at;
        let mut value: u64 = 0;
        while let Some(&d) = self.s.get(self.at) {
            if !d.is_ascii_digit() {
                break;
            }
            // Nineteen digits always fit a u64; the twentieth may not.
            value = if self.at - start < 19 {
                value * 10 + u64::from(d - b'0')
            } else {
                value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?
            };
            self.at += 1;
        }
        let digits = self.at - start;
        if digits == 0 || (digits > 1 && self.s[start] == b'0') {
            return None;
        }
        // A fraction or an exponent makes it no integer: let serde_json say so.
        match self.s.get(self.at) {
            Some(b'.' | b'e' | b'E') => None,
            _ => Some(value),
        }
    }

    /// A JSON string without escapes or control characters.
    fn string(&mut self) -> Option<&'a str> {
        if self.s.get(self.at) != Some(&b'"') {
            return None;
        }
        let from = self.at + 1;
        let len = self.s[from..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        if self.s[from + len] != b'"' {
            return None;
        }
        self.at = from + len + 1;
        self.text.get(from..from + len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Fields, Record};
    use proptest::prelude::*;

    /// The fields as a reader sees them: `{}` reads as no fields either way.
    fn fields<'a>(span: &SpanRecord<'a, RawFields<'a>>) -> Option<&'a str> {
        span.fields.map(RawValue::get).filter(|raw| *raw != "{}")
    }

    /// The scanner reads what serde_json reads, or leaves the line to it.
    fn agrees(line: &str) {
        if let Some(fast) = span_line(line) {
            let serde = serde_json::from_str::<SpanRecord<'_, RawFields<'_>>>(line)
                .unwrap_or_else(|e| panic!("accepted a line serde refuses ({e}): {line}"));
            assert_eq!(fields(&fast), fields(&serde), "{line}");
            assert_eq!(without_fields(fast), without_fields(serde), "{line}");
        }
    }

    fn without_fields<'a>(s: SpanRecord<'a, RawFields<'a>>) -> SpanRecord<'a, ()> {
        SpanRecord {
            id: s.id,
            parent: s.parent,
            follows_from: s.follows_from,
            name: s.name,
            target: s.target,
            start_ns: s.start_ns,
            end_ns: s.end_ns,
            busy_ns: s.busy_ns,
            idle_ns: s.idle_ns,
            enters: s.enters,
            thread: s.thread,
            status: s.status,
            fields: (),
        }
    }

    fn record(
        name: String,
        thread: String,
        ids: (u64, Option<u64>, Vec<u64>),
        times: (u64, u64, u64, Option<u64>, u64),
        status: Status,
        fields: Vec<(String, i64)>,
    ) -> String {
        let mut map = Fields::new();
        for (k, v) in fields {
            map.insert(k, v.into());
        }
        let span = SpanRecord {
            id: ids.0,
            parent: ids.1,
            follows_from: ids.2,
            name: name.into(),
            target: "agent_demo::memory".into(),
            start_ns: times.0,
            end_ns: times.1,
            busy_ns: times.2,
            idle_ns: times.3,
            enters: times.4,
            thread: thread.into(),
            status,
            fields: map,
        };
        serde_json::to_string(&Record::Span(span)).unwrap()
    }

    proptest! {
        #[test]
        fn reads_every_written_line_as_serde_does(
            name in "\\PC{0,12}",
            thread in "[a-z\"\\\\\u{1}é]{0,6}",
            ids in (any::<u64>(), any::<Option<u64>>(), proptest::collection::vec(any::<u64>(), 0..3)),
            times in (any::<u64>(), any::<u64>(), any::<u64>(), any::<Option<u64>>(), any::<u64>()),
            status in prop_oneof![Just(Status::Ok), Just(Status::Error), Just(Status::Open)],
            fields in proptest::collection::vec(("[a-z.\"]{1,8}", any::<i64>()), 0..3),
        ) {
            let escaped = |s: &str| serde_json::to_string(s).unwrap().contains('\\');
            let plain = !escaped(&name) && !escaped(&thread);
            let line = record(name, thread, ids, times, status, fields);
            agrees(&line);
            // The layer's own lines take the fast path unless a name or thread needs an escape.
            prop_assert_eq!(span_line(&line).is_some(), plain);
            // Every cut of a written line is read as serde reads it.
            for cut in 0..line.len() {
                if line.is_char_boundary(cut) {
                    agrees(&line[..cut]);
                }
            }
        }
    }

    #[test]
    fn edge_cases_agree_with_serde() {
        let base = r#"{"type":"span","id":1,"parent":null,"name":"a","target":"t","start_ns":0,"end_ns":1,"busy_ns":1,"enters":1,"thread":"main","status":"ok","fields":{}}"#;
        agrees(base);
        assert!(span_line(base).is_some());
        for (from, to) in [
            (r#""id":1"#, r#""id":01"#),
            (r#""id":1"#, r#""id":1.0"#),
            (r#""id":1"#, r#""id":1e3"#),
            (r#""id":1"#, r#""id":-1"#),
            (r#""id":1"#, r#""id":18446744073709551616"#),
            (r#""id":1"#, r#""id":18446744073709551615"#),
            (r#""parent":null"#, r#""parent":nul"#),
            (r#""name":"a""#, r#""name":"a\"b""#),
            (r#""name":"a""#, r#""name":"a\u0041""#),
            (r#""name":"a""#, r#""name":"a	b""#),
            (r#""status":"ok""#, r#""status":"OK""#),
            (r#""status":"ok""#, r#""status":"okay""#),
            (r#""fields":{}"#, r#""fields":{"a":1}"#),
            (r#""fields":{}"#, r#""fields":{"a":}"#),
            (r#""fields":{}"#, r#""fields":{"a":1}}"#),
            (r#""fields":{}"#, r#""fields":{} "#),
            (r#""fields":{}"#, r#""fields":{"a":"}"}"#),
            (r#""fields":{}"#, r#""fields":null"#),
            (r#""fields":{}"#, r#""fields":{},"extra":1"#),
            (r#""enters":1,"#, r#""enters":1,"idle_ns":4,"#),
            (r#""busy_ns":1,"#, r#""busy_ns":1,"idle_ns":4,"#),
            (r#""parent":null,"#, r#""parent":null,"follows_from":[],"#),
            (
                r#""parent":null,"#,
                r#""parent":null,"follows_from":[1,2],"#,
            ),
            (r#""parent":null,"#, r#""parent":null,"follows_from":[1,],"#),
            (
                r#""parent":null,"#,
                r#""parent":null,"follows_from":[1 ,2],"#,
            ),
        ] {
            assert!(base.contains(from), "{from}");
            agrees(&base.replacen(from, to, 1));
        }
        // The layer's own variations take the fast path.
        for (from, to) in [
            (r#""id":1"#, r#""id":18446744073709551615"#),
            (r#""fields":{}"#, r#""fields":{"a":1}"#),
            (r#""fields":{}"#, r#""fields":{"a":"}"}"#),
            (r#""busy_ns":1,"#, r#""busy_ns":1,"idle_ns":4,"#),
            (r#""parent":null,"#, r#""parent":null,"follows_from":[],"#),
            (
                r#""parent":null,"#,
                r#""parent":null,"follows_from":[1,2],"#,
            ),
        ] {
            let line = base.replacen(from, to, 1);
            assert!(span_line(&line).is_some(), "{line}");
        }
    }
}
