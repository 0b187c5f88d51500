//! Graph memory, `graph.json`: entities and the relationships between them.
//!
//! New facts arrive as an [`Extraction`] (JSON from the model, or from
//! [`heuristic_extract`] in sim mode). [`Graph::merge`] resolves each extracted name to
//! an existing entity by name similarity before adding anything, so "Captain Sara",
//! "Sara" and "sara" are one entity.
//!
//! ```
//! use agent_demo::memory::graph::{heuristic_extract, Graph};
//!
//! let mut graph = Graph::default();
//! graph.merge(&heuristic_extract("Sara guards Riverwatch."));
//! let stats = graph.merge(&heuristic_extract("Captain Sara distrusts Theron."));
//! assert_eq!(stats.resolved, 1); // Captain Sara is Sara
//! assert_eq!(graph.entities().len(), 3);
//! assert_eq!(graph.relationships().len(), 2);
//! ```

use serde::{Deserialize, Serialize};

use super::digest::capitalized_names;

/// A thing the agent knows about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// Unique within the graph.
    pub id: u64,
    /// The name first seen.
    pub name: String,
    /// person, place, group, thing...
    pub kind: String,
    /// Facts about it, one sentence each.
    #[serde(default)]
    pub facts: Vec<String>,
    /// Other names resolved to it.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// How often it was mentioned.
    pub mentions: u32,
}

/// A directed relationship.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relationship {
    /// The subject's id.
    pub from: u64,
    /// The object's id.
    pub to: u64,
    /// For example `is the mayor of`.
    pub relation: String,
}

/// The whole graph, as saved in `graph.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    entities: Vec<Entity>,
    relationships: Vec<Relationship>,
}

/// What the model is asked to extract (and the heuristic produces).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Extraction {
    /// Entities found.
    #[serde(default)]
    pub entities: Vec<ExtractedEntity>,
    /// Relationships between them, by name.
    #[serde(default)]
    pub relationships: Vec<ExtractedRelationship>,
}

/// An entity as extracted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractedEntity {
    /// Its name.
    pub name: String,
    /// Its kind, if known.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// A fact about it.
    #[serde(default)]
    pub fact: Option<String>,
}

/// A relationship as extracted, by entity names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractedRelationship {
    /// The subject's name.
    pub from: String,
    /// The object's name.
    pub to: String,
    /// The relation.
    pub relation: String,
}

/// What a merge did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeStats {
    /// Entities added.
    pub added: usize,
    /// Extracted entities resolved to an existing one.
    pub resolved: usize,
    /// Relationships added.
    pub relationships: usize,
}

/// Similarity above which two names are the same entity.
const SAME_NAME: f64 = 0.88;

/// Normalises a name for comparison: lowercase, no titles or articles.
fn normalize(name: &str) -> String {
    const DROP: [&str; 8] = ["the", "a", "an", "captain", "mayor", "lord", "lady", "dr"];
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !DROP.contains(&w.as_str()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// How alike two names are, 0 to 1: Jaro-Winkler on the normalised names.
#[must_use]
pub fn name_similarity(a: &str, b: &str) -> f64 {
    let (a, b) = (normalize(a), normalize(b));
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    strsim::jaro_winkler(&a, &b)
}

impl Graph {
    /// Every entity.
    #[must_use]
    pub fn entities(&self) -> &[Entity] {
        &self.entities
    }

    /// Every relationship.
    #[must_use]
    pub fn relationships(&self) -> &[Relationship] {
        &self.relationships
    }

    /// The entity `name` refers to: the most similar name or alias above the threshold.
    #[must_use]
    pub fn resolve(&self, name: &str) -> Option<u64> {
        self.entities
            .iter()
            .flat_map(|e| {
                std::iter::once(&e.name)
                    .chain(&e.aliases)
                    .map(move |n| (name_similarity(name, n), e.id))
            })
            .filter(|(s, _)| *s >= SAME_NAME)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, id)| id)
    }

    fn entity_mut(&mut self, id: u64) -> Option<&mut Entity> {
        self.entities.iter_mut().find(|e| e.id == id)
    }

    /// The entity with this id.
    #[must_use]
    pub fn entity(&self, id: u64) -> Option<&Entity> {
        self.entities.iter().find(|e| e.id == id)
    }

    /// Adds an extraction, resolving names to existing entities first.
    pub fn merge(&mut self, extraction: &Extraction) -> MergeStats {
        let mut stats = MergeStats::default();
        for e in &extraction.entities {
            let (id, added) = self.upsert(&e.name, e.kind.as_deref());
            if added {
                stats.added += 1;
            } else {
                stats.resolved += 1;
            }
            if let (Some(fact), Some(entity)) = (&e.fact, self.entity_mut(id)) {
                if !entity.facts.contains(fact) && entity.facts.len() < 12 {
                    entity.facts.push(fact.clone());
                }
            }
        }
        for r in &extraction.relationships {
            let (from, from_added) = self.upsert(&r.from, None);
            let (to, to_added) = self.upsert(&r.to, None);
            stats.added += usize::from(from_added) + usize::from(to_added);
            let relation = r.relation.trim().to_lowercase();
            if from != to
                && !relation.is_empty()
                && !self
                    .relationships
                    .iter()
                    .any(|x| x.from == from && x.to == to && x.relation == relation)
            {
                self.relationships.push(Relationship { from, to, relation });
                stats.relationships += 1;
            }
        }
        stats
    }

    /// The entity for `name`, added if no existing one resolves; true if added.
    fn upsert(&mut self, name: &str, kind: Option<&str>) -> (u64, bool) {
        if let Some(id) = self.resolve(name) {
            let entity = self.entity_mut(id).expect("resolved ids exist");
            entity.mentions += 1;
            if entity.name != name && !entity.aliases.iter().any(|a| a == name) {
                entity.aliases.push(name.to_string());
            }
            if entity.kind == "unknown" {
                if let Some(kind) = kind {
                    entity.kind = kind.to_string();
                }
            }
            return (id, false);
        }
        let id = self.entities.last().map_or(0, |e| e.id + 1);
        self.entities.push(Entity {
            id,
            name: name.to_string(),
            kind: kind.map_or_else(|| guess_kind(name).to_string(), str::to_string),
            facts: Vec::new(),
            aliases: Vec::new(),
            mentions: 1,
        });
        (id, true)
    }

    /// Entities whose name or alias appears in `text` (by resolution of the names in it).
    #[must_use]
    pub fn mentioned_in(&self, text: &str) -> Vec<&Entity> {
        let lower = text.to_lowercase();
        let mut ids: Vec<u64> = capitalized_names(text)
            .iter()
            .filter_map(|n| self.resolve(n))
            .collect();
        for e in &self.entities {
            if lower.contains(&e.name.to_lowercase()) && !ids.contains(&e.id) {
                ids.push(e.id);
            }
        }
        ids.dedup();
        ids.iter().filter_map(|&id| self.entity(id)).collect()
    }

    /// One line about an entity: kind, facts and relationships.
    #[must_use]
    pub fn describe(&self, entity: &Entity) -> String {
        let mut line = if entity.kind == "unknown" {
            entity.name.clone()
        } else {
            format!("{} ({})", entity.name, entity.kind)
        };
        if !entity.facts.is_empty() {
            line.push_str(": ");
            line.push_str(&entity.facts.join(" "));
        }
        let relations: Vec<String> = self
            .relationships
            .iter()
            .filter(|r| r.from == entity.id || r.to == entity.id)
            .take(6)
            .filter_map(|r| {
                Some(format!(
                    "{} {} {}",
                    self.entity(r.from)?.name,
                    r.relation,
                    self.entity(r.to)?.name
                ))
            })
            .collect();
        if !relations.is_empty() {
            line.push_str(" Relations: ");
            line.push_str(&relations.join("; "));
            line.push('.');
        }
        line
    }
}

fn guess_kind(name: &str) -> &'static str {
    const PLACES: [&str; 14] = [
        "Valley",
        "Keep",
        "Spire",
        "Woods",
        "Tower",
        "Town",
        "Village",
        "River",
        "Ruins",
        "Haven",
        "Riverwatch",
        "Room",
        "Institute",
        "Lab",
    ];
    if name.split_whitespace().any(|w| PLACES.contains(&w)) {
        "place"
    } else if name.split_whitespace().count() == 1 {
        "unknown"
    } else {
        "thing"
    }
}

/// The prompt asking the model to extract entities and relationships as JSON.
#[must_use]
pub fn prompt(input: &str) -> String {
    format!(
        "Extract the entities and relationships from the conversation below.\n\
Answer only JSON: {{\"entities\":[{{\"name\":\"...\",\"type\":\"person|place|group|thing\",\"fact\":\"one sentence\"}}],\
\"relationships\":[{{\"from\":\"name\",\"to\":\"name\",\"relation\":\"short verb phrase\"}}]}}\n\
Conversation:\n{input}"
    )
}

/// Parses the model's JSON answer.
pub fn parse(answer: &str) -> Result<Extraction, serde_json::Error> {
    serde_json::from_str(answer.trim())
}

/// Extracts names (runs of capitalized words) and, between two names in one sentence,
/// the words linking them as a relationship ("Elena is the mayor of Haven").
#[must_use]
pub fn heuristic_extract(text: &str) -> Extraction {
    let mut out = Extraction::default();
    for sentence in super::digest::heuristic(text) {
        let names = capitalized_names(&sentence.text);
        for name in &names {
            if !out.entities.iter().any(|e| &e.name == name) {
                out.entities.push(ExtractedEntity {
                    name: name.clone(),
                    kind: None,
                    fact: (names.len() <= 3 && sentence.text.len() <= 160)
                        .then(|| sentence.text.clone()),
                });
            }
        }
        for pair in names.windows(2) {
            let (Some(a), Some(b)) = (sentence.text.find(&pair[0]), sentence.text.find(&pair[1]))
            else {
                continue;
            };
            let start = a + pair[0].len();
            if b <= start {
                continue;
            }
            let between = sentence.text[start..b]
                .trim_matches(|c: char| !c.is_alphanumeric())
                .trim_end_matches(" the")
                .trim();
            let words = between.split_whitespace().count();
            if (1..=5).contains(&words)
                && !between.contains(',')
                && !matches!(between, "and" | "or" | "with")
            {
                out.relationships.push(ExtractedRelationship {
                    from: pair[0].clone(),
                    to: pair[1].clone(),
                    relation: between.to_lowercase(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heuristic_finds_relationships() {
        let x = heuristic_extract("Elena is the mayor of Haven. Haven and Riverwatch trade.");
        assert_eq!(
            x.relationships,
            vec![ExtractedRelationship {
                from: "Elena".into(),
                to: "Haven".into(),
                relation: "is the mayor of".into()
            }]
        );
        assert_eq!(x.entities.len(), 3);
    }

    #[test]
    fn resolution_by_similarity() {
        let mut g = Graph::default();
        g.merge(&heuristic_extract("Theron studies the Crystal Spire."));
        assert_eq!(g.resolve("theron"), Some(0));
        assert_eq!(g.resolve("Crystal  Spire"), Some(1));
        assert_eq!(g.resolve("Therons"), Some(0));
        assert_eq!(g.resolve("Elena"), None);
    }

    #[test]
    fn model_json_is_parsed_and_merged() {
        let x = parse(r#"{"entities":[{"name":"Sara","type":"person","fact":"Sara is captain."}],"relationships":[{"from":"Sara","to":"Riverwatch","relation":"guards"}]}"#).unwrap();
        let mut g = Graph::default();
        let stats = g.merge(&x);
        assert_eq!(
            stats,
            MergeStats {
                added: 2,
                resolved: 0,
                relationships: 1
            }
        );
        assert_eq!(g.entities()[0].kind, "person");
        assert!(g
            .describe(&g.entities()[0])
            .contains("Sara guards Riverwatch"));
        assert!(parse("[1,2]").is_err());
    }
}
