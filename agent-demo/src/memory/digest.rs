//! Digests, `digests.jsonl`: each entry cut into rated segments (importance, type).
//!
//! The model writes the digest as JSON ([`prompt`], [`parse`]); the heuristic digester
//! ([`heuristic`]) is the simulated model's answer and the fallback for bad JSON.
//!
//! ```
//! use agent_demo::memory::digest::{heuristic, SegmentKind};
//!
//! let segments = heuristic("We enter Haven. Who is the mayor?");
//! assert_eq!(segments.len(), 2);
//! assert_eq!(segments[1].kind, SegmentKind::Query);
//! assert_eq!(segments[0].topics, vec!["Haven"]);
//! ```

use serde::{Deserialize, Serialize};

use super::history::Role;

/// What a segment does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SegmentKind {
    /// A question.
    Query,
    /// A fact or description.
    Information,
    /// Something someone does.
    Action,
    /// Greetings and small talk.
    Social,
}

/// One rated piece of an entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// The text.
    pub text: String,
    /// 1 (noise) to 5 (must remember).
    pub importance: u8,
    /// What it does.
    #[serde(rename = "type")]
    pub kind: SegmentKind,
    /// Names it mentions.
    #[serde(default)]
    pub topics: Vec<String>,
}

/// The digest of one history entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    /// The entry it digests.
    pub entry_id: u64,
    /// Who said it.
    pub role: Role,
    /// Its segments.
    pub segments: Vec<Segment>,
}

#[derive(Serialize, Deserialize)]
struct Answer {
    segments: Vec<RawSegment>,
}

#[derive(Serialize, Deserialize)]
struct RawSegment {
    text: String,
    #[serde(default)]
    importance: Option<f64>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    topics: Vec<String>,
}

const SOCIAL: [&str; 8] = [
    "hi",
    "hello",
    "hey",
    "thanks",
    "thank you",
    "bye",
    "goodbye",
    "good morning",
];
const ACTION_WORDS: [&str; 20] = [
    "go", "attack", "look", "take", "open", "cast", "search", "ask", "enter", "follow", "run",
    "walk", "talk", "give", "buy", "book", "check", "move", "travel", "use",
];

/// The prompt asking the model for a digest as JSON.
#[must_use]
pub fn prompt(role: Role, text: &str) -> String {
    format!(
        "Split the following {} message into segments and rate each one.\n\
Answer only JSON: {{\"segments\":[{{\"text\":\"...\",\"importance\":1-5,\"type\":\"query|information|action|social\",\"topics\":[\"names\"]}}]}}\n\
Message:\n{text}",
        role.label().to_lowercase()
    )
}

/// Parses the model's JSON answer, clamping importance to 1..=5 and reading unknown
/// types as information.
pub fn parse(answer: &str) -> Result<Vec<Segment>, serde_json::Error> {
    let answer: Answer = serde_json::from_str(answer.trim())?;
    Ok(answer
        .segments
        .into_iter()
        .filter(|s| !s.text.trim().is_empty())
        .map(|s| Segment {
            text: s.text.trim().to_string(),
            importance: s.importance.unwrap_or(3.0).round().clamp(1.0, 5.0) as u8,
            kind: match s.kind.as_deref().map(str::to_lowercase).as_deref() {
                Some("query" | "question") => SegmentKind::Query,
                Some("action" | "command") => SegmentKind::Action,
                Some("social") => SegmentKind::Social,
                _ => SegmentKind::Information,
            },
            topics: s.topics,
        })
        .collect())
}

/// The JSON the model is asked for, as the heuristic digester would write it.
#[must_use]
pub fn to_answer_json(segments: &[Segment]) -> String {
    let answer = Answer {
        segments: segments
            .iter()
            .map(|s| RawSegment {
                text: s.text.clone(),
                importance: Some(f64::from(s.importance)),
                kind: Some(
                    serde_json::to_value(s.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                ),
                topics: s.topics.clone(),
            })
            .collect(),
    };
    serde_json::to_string(&answer).unwrap_or_default()
}

/// Cuts text into sentences and rates them by form and content.
#[must_use]
pub fn heuristic(text: &str) -> Vec<Segment> {
    sentences(text)
        .into_iter()
        .map(|sentence| {
            let lower = sentence.to_lowercase();
            let first = lower
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_matches(|c: char| !c.is_alphanumeric());
            let topics = capitalized_names(sentence);
            let kind = if sentence.ends_with('?') {
                SegmentKind::Query
            } else if SOCIAL
                .iter()
                .any(|s| lower.trim_end_matches(['!', '.']) == *s)
                || (SOCIAL.contains(&first) && sentence.len() < 40)
            {
                SegmentKind::Social
            } else if ACTION_WORDS.contains(&first)
                || ((first == "i" || first == "we")
                    && lower
                        .split_whitespace()
                        .nth(1)
                        .is_some_and(|w| ACTION_WORDS.contains(&w)))
            {
                SegmentKind::Action
            } else {
                SegmentKind::Information
            };
            let mut importance: u8 = match kind {
                SegmentKind::Social => 1,
                SegmentKind::Query => 2,
                _ => 3,
            };
            if !topics.is_empty() && kind != SegmentKind::Social {
                importance += 1;
            }
            if sentence.chars().any(|c| c.is_ascii_digit()) || sentence.len() > 120 {
                importance += 1;
            }
            Segment {
                text: sentence.to_string(),
                importance: importance.min(5),
                kind,
                topics,
            }
        })
        .collect()
}

/// Splits text after `.`, `!`, `?` followed by whitespace, and at line breaks.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut start = 0;
        let bytes = line.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            let end_of_sentence = matches!(b, b'.' | b'!' | b'?')
                && bytes.get(i + 1).map_or(true, u8::is_ascii_whitespace);
            if end_of_sentence {
                let s = line[start..=i].trim();
                if !s.is_empty() {
                    out.push(s);
                }
                start = i + 1;
            }
        }
        let s = line[start..].trim();
        if !s.is_empty() {
            out.push(s);
        }
    }
    out
}

/// Words that start with a capital but are not names.
const NOT_NAMES: [&str; 48] = [
    "The", "A", "An", "I", "We", "You", "He", "She", "They", "It", "What", "Who", "Where", "When",
    "Why", "How", "Which", "Is", "Are", "Do", "Does", "Can", "Could", "Should", "Would", "Let",
    "Tell", "Good", "Yes", "No", "Then", "There", "This", "That", "These", "Those", "My", "Our",
    "Your", "In", "On", "At", "From", "If", "And", "But", "Here", "Hello",
];

/// Runs of capitalized words that look like names ("Mountain Keep", "Elena"); linking
/// words inside a run ("Keep of the North") are kept.
#[must_use]
pub fn capitalized_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut pending_link: Vec<&str> = Vec::new();
    let flush = |current: &mut Vec<&str>, names: &mut Vec<String>| {
        if !current.is_empty() {
            let name = current.join(" ");
            if !names.contains(&name) {
                names.push(name);
            }
            current.clear();
        }
    };
    for raw in text.split_whitespace() {
        let word = raw.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '-');
        let word = word.strip_suffix("'s").unwrap_or(word);
        let capital = word.chars().next().is_some_and(char::is_uppercase);
        if capital && !(current.is_empty() && NOT_NAMES.contains(&word)) {
            current.append(&mut pending_link);
            current.push(word);
        } else if !current.is_empty() && matches!(word, "of" | "the") && pending_link.len() < 2 {
            pending_link.push(word);
            continue;
        } else {
            pending_link.clear();
            flush(&mut current, &mut names);
        }
        pending_link.clear();
        // Punctuation after a word ends the name.
        if raw.ends_with([',', '.', '!', '?', ';', ':']) {
            flush(&mut current, &mut names);
        }
    }
    flush(&mut current, &mut names);
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_linking_words_and_skip_sentence_starters() {
        assert_eq!(
            capitalized_names("The Keep of the North guards Haven, says Captain Sara."),
            vec!["Keep of the North", "Haven", "Captain Sara"]
        );
        assert_eq!(
            capitalized_names("What about the end of it"),
            Vec::<String>::new()
        );
        assert_eq!(capitalized_names("Elena's house"), vec!["Elena"]);
    }

    #[test]
    fn heuristic_rates_segments() {
        let s = heuristic("Hello! I attack the goblin. Sara has 12 guards at Riverwatch.");
        assert_eq!(s[0].kind, SegmentKind::Social);
        assert_eq!(s[0].importance, 1);
        assert_eq!(s[1].kind, SegmentKind::Action);
        assert_eq!(s[2].kind, SegmentKind::Information);
        assert_eq!(s[2].importance, 5);
    }

    #[test]
    fn model_json_round_trips_and_is_clamped() {
        let segments = heuristic("Who rules Haven? Elena does.");
        assert_eq!(parse(&to_answer_json(&segments)).unwrap(), segments);
        let parsed =
            parse(r#"{"segments":[{"text":"x","importance":9,"type":"weird"},{"text":" "}]}"#)
                .unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].importance, 5);
        assert_eq!(parsed[0].kind, SegmentKind::Information);
        assert!(parse("not json").is_err());
    }
}
