//! Random span forests for the property tests, and the session file that holds them.
#![allow(dead_code)]

/// A span of a generated forest.
#[derive(Debug, Clone)]
pub struct Raw {
    pub id: u64,
    pub parent: Option<u64>,
    pub name: String,
    pub start: u64,
    pub end: u64,
    pub depth: u32,
}

/// Whether a node's children overlap each other.
#[derive(Debug, Clone, Copy)]
pub enum Overlap {
    Never,
    Always,
    /// Chosen at random for each node.
    Random,
}

/// The shape of a random forest.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Names are drawn from the first `names` letters, so that names and stacks repeat.
    pub names: u64,
    /// 1 to `roots` roots.
    pub roots: u64,
    /// A root lasts `min_len` plus up to a million nanoseconds.
    pub min_len: u64,
    /// Roots may overlap each other (otherwise each starts after the last ended).
    pub overlapping_roots: bool,
    /// Nodes at this depth have no children.
    pub max_depth: u32,
    /// A node has up to `kids - 1` children.
    pub kids: u64,
    pub overlap: Overlap,
}

/// A random forest of `shape` drawn from `seeds`: each node's children lie inside it.
pub fn forest(seeds: &[u64], shape: Shape) -> Vec<Raw> {
    let mut rng = seeds.iter().copied().cycle();
    let mut next = move || rng.next().unwrap_or(7);
    let name = |n: u64| ((b'a' + (n % shape.names) as u8) as char).to_string();
    let mut spans = Vec::new();
    let mut id = 0u64;
    let mut t = 0u64;
    for _ in 0..1 + next() % shape.roots {
        let len = shape.min_len + next() % 1_000_000;
        id += 1;
        let mut todo = vec![(id, t, t + len, 0u32)];
        spans.push(Raw {
            id,
            parent: None,
            name: name(next()),
            start: t,
            end: t + len,
            depth: 0,
        });
        t += if shape.overlapping_roots {
            next() % (2 * len)
        } else {
            len + next() % 10_000
        };
        while let Some((pid, start, end, depth)) = todo.pop() {
            if depth >= shape.max_depth || end - start < 8 {
                continue;
            }
            let overlap = match shape.overlap {
                Overlap::Never => false,
                Overlap::Always => true,
                Overlap::Random => next() % 2 == 0,
            };
            let mut cursor = start;
            for _ in 0..next() % shape.kids {
                let room = end - cursor;
                if room < 2 {
                    break;
                }
                let s = cursor + next() % (room / 2).max(1);
                let e = (s + 1 + next() % (end - s)).min(end);
                id += 1;
                spans.push(Raw {
                    id,
                    parent: Some(pid),
                    name: name(next()),
                    start: s,
                    end: e,
                    depth: depth + 1,
                });
                todo.push((id, s, e, depth + 1));
                cursor = if overlap {
                    start + next() % (end - start)
                } else {
                    e
                };
            }
        }
    }
    spans
}

/// A random forest with roots and children overlapping at random, names from four
/// letters, and (for two seeds in three) some parents lost, so that their children
/// become fragments.
pub fn with_lost_parents(seeds: &[u64]) -> Vec<Raw> {
    let shape = Shape {
        names: 4,
        roots: 4,
        min_len: 10_000,
        overlapping_roots: true,
        max_depth: 6,
        kids: 5,
        overlap: Overlap::Random,
    };
    let mut spans = forest(seeds, shape);
    let lost = seeds[0] % 3;
    if lost > 0 {
        spans.retain(|s| s.parent.is_none() || s.id % 11 != lost);
    }
    spans
}

/// The spans as a format-1 session file, in close order: by end, deeper first on ties
/// (children close before parents); with `end_line`, closed by an `end` line.
pub fn jsonl(mut spans: Vec<Raw>, end_line: bool) -> String {
    spans.sort_by_key(|s| (s.end, std::cmp::Reverse(s.depth)));
    let mut out = String::from(
        "{\"type\":\"session\",\"format\":1,\"session\":\"p\",\"started_at\":\"2026-01-01T00:00:00Z\",\"pid\":1,\"program\":\"p\"}\n",
    );
    for s in &spans {
        let parent = s.parent.map_or("null".to_owned(), |p| p.to_string());
        out.push_str(&format!(
            "{{\"type\":\"span\",\"id\":{},\"parent\":{parent},\"name\":\"{}\",\"target\":\"t\",\"start_ns\":{},\"end_ns\":{},\"busy_ns\":{},\"enters\":1,\"thread\":\"main\",\"status\":\"ok\",\"fields\":{{}}}}\n",
            s.id, s.name, s.start, s.end, s.end - s.start
        ));
    }
    if end_line {
        out.push_str("{\"type\":\"end\",\"end_ns\":1,\"spans\":0,\"open\":0,\"dropped\":0}\n");
    }
    out
}
