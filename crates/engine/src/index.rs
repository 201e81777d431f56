//! [`StoryIndex`]: the live stories and the online assignment of articles.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use crate::ann::CentroidIndex;
use crate::docfreq::DocFreq;
use crate::edit_exact;
use crate::features::{Features, Signals};
use crate::members::{e5_from_index_codes, MemberRef, Members, QVec};
use crate::scorer::{Explanation, Scorer};
use crate::terms::{fnv1a, term_counts, Term};

pub type StoryId = i64;

/// What the engine needs to know of an article: computed upstream
/// (embeddings, entity keys) and handed over once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArticleInput {
    pub id: String,
    /// BCP-47 tag; the lexical signal only compares articles of one language.
    pub lang: String,
    pub time: Option<DateTime<Utc>>,
    /// L2-normalised e5 embedding.
    pub e5: Vec<f32>,
    /// L2-normalised USE-m embedding, when the language is one USE-m knows.
    pub use_vec: Option<Vec<f32>>,
    /// Cross-lingual entity keys (`armenia`, `lavrov`).
    pub entities: Vec<String>,
    /// Title and body, for the lexical terms.
    pub text: String,
}

/// Engine settings. The defaults are documented in ARCHITECTURE.md.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EngineConfig {
    /// A story is a candidate while the article lies within this many hours
    /// of the story's time span.
    pub window_hours: f64,
    /// Stories scored in full per article (the rest are ruled out by the
    /// cheap centroid similarity).
    pub max_candidates: usize,
    /// Articles in the sliding IDF window.
    pub df_window: usize,
    /// Members kept per story for the nearest-member signal.
    pub nearest_members: usize,
    /// Undated streams cannot expire by time: keep at most this many live
    /// stories (the least recently updated go first). Dated streams stay
    /// under it too.
    pub max_live_stories: usize,
    /// Terms kept per story and language for the lexical signal: beyond
    /// this many, the lowest TF-IDF weights are dropped (their mass stays
    /// in the profile's norm). Bounds a long-running story's memory.
    #[serde(default = "default_lexical_terms")]
    pub lexical_terms: usize,
    /// A dated story that has gained no article for this many hours (of
    /// article time) settles: its members collapse into one, the direction
    /// of their sum. Its centroid is unchanged, and so are its signals
    /// except the nearest member, which becomes the centroid until new
    /// articles join; its past then counts as one member. Idle stories are
    /// most of the live ones in a long stream, so this is what keeps
    /// memory per live article down. Undated stories never settle.
    #[serde(default = "default_settle_after_hours")]
    pub settle_after_hours: f64,
    pub signals: Signals,
}

fn default_settle_after_hours() -> f64 {
    SETTLE_AFTER_HOURS
}

/// See [`EngineConfig::settle_after_hours`]. On every labelled set the
/// stories come out the same even when stories settle as soon as a newer
/// article arrives (0 h); 24 h keeps the nearest member for any story that
/// moved within a day. (`train` fits the scorer with settling off.)
pub const SETTLE_AFTER_HOURS: f64 = 24.0;

fn default_lexical_terms() -> usize {
    LEXICAL_TERMS
}

/// See [`EngineConfig::lexical_terms`]. 2048 keeps the stories of the
/// labelled sets (a few articles of up to ~3,000 distinct stems) nearly
/// whole: the lexical signal moves by at most 0.011 there (512 moved it by
/// up to 0.19). A capped profile holds at most 16 KB per language.
pub const LEXICAL_TERMS: usize = 2048;

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            window_hours: 96.0,
            max_candidates: 16,
            df_window: 20_000,
            nearest_members: 32,
            max_live_stories: 1_000_000,
            lexical_terms: LEXICAL_TERMS,
            settle_after_hours: SETTLE_AFTER_HOURS,
            signals: Signals::All,
        }
    }
}

/// The outcome of assigning one article.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Decision {
    pub story: StoryId,
    /// True when the article opened a new story.
    pub opened: bool,
    /// Probability of the best candidate (0 when there was none).
    pub p: f32,
    pub threshold: f32,
    /// The best candidate story and why it scored as it did.
    pub best: Option<(StoryId, Explanation)>,
    pub candidates: usize,
    /// Stories folded into another because this article showed they converged: (from, into, p).
    pub merged: Vec<(StoryId, StoryId, f32)>,
}

impl Decision {
    /// The explanation as stored with the assignment.
    pub fn why(&self) -> serde_json::Value {
        serde_json::json!({
            "decision": if self.opened { "opened" } else { "joined" },
            "p": self.p,
            "threshold": self.threshold,
            "candidates": self.candidates,
            "best": self.best.as_ref().map(|(id, e)| serde_json::json!({
                "story": id,
                "bias": e.bias,
                "signals": e.signals.iter().map(|(n, v, c)| serde_json::json!({"signal": n, "value": v, "contribution": c})).collect::<Vec<_>>(),
            })),
            "merged": self.merged.iter().map(|(f, i, p)| serde_json::json!({"from": f, "into": i, "p": p})).collect::<Vec<_>>(),
        })
    }
}

/// The primary language subtag, held in place: primary subtags have at
/// most 8 letters (longer tags are cut), and zero padding sorts like the
/// string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
struct Lang([u8; 8]);

impl Lang {
    fn of(tag: &str) -> Lang {
        let primary = tag.split('-').next().unwrap_or("und").as_bytes();
        let mut b = [0u8; 8];
        let n = primary.len().min(8);
        b[..n].copy_from_slice(&primary[..n]);
        Lang(b)
    }
}

/// An article as the engine keeps it.
struct Prepared {
    lang: Lang,
    time: Option<i64>,
    e5: Vec<f32>,
    use_vec: Option<Vec<f32>>,
    entities: Vec<u64>,
    /// (term, 1 + ln tf), sorted by term.
    terms: Vec<(Term, f32)>,
}

/// A story's terms in one language: summed `1 + ln tf` per term.
struct LexProfile {
    lang: Lang,
    /// Sorted by term, in one exactly sized allocation (most profiles
    /// never change again).
    entries: Box<[LexEntry]>,
    /// Squared IDF-weighted weights of the terms dropped by the cap (at
    /// their IDF when dropped): the norm keeps counting them, so a capped
    /// profile scores like the full one minus the dropped terms' overlap.
    dropped_sq: f32,
    /// Norm of the IDF-weighted profile, refreshed on every update.
    norm: f32,
}

/// A lexical profile entry: the term and its weight as an f16, in six
/// bytes where `(u32, f32)` pads to eight (profiles are the engine's
/// third-largest part). The f16 keeps about three decimal digits, far
/// finer than the lexical signal needs; weights past its range saturate.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct LexEntry([u16; 3]);

impl LexEntry {
    fn new(t: Term, w: f32) -> Self {
        let w = half::f16::from_f32(w.min(half::f16::MAX.to_f32()));
        LexEntry([t as u16, (t >> 16) as u16, w.to_bits()])
    }

    fn term(self) -> Term {
        Term::from(self.0[0]) | (Term::from(self.0[1]) << 16)
    }

    fn weight(self) -> f32 {
        half::f16::from_bits(self.0[2]).to_f32()
    }
}

impl LexProfile {
    fn new(lang: Lang) -> Self {
        LexProfile {
            lang,
            entries: Box::default(),
            dropped_sq: 0.0,
            norm: 0.0,
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn weight(&self, t: Term) -> Option<f32> {
        self.entries
            .binary_search_by_key(&t, |e| e.term())
            .ok()
            .map(|i| self.entries[i].weight())
    }

    /// The (term, weight) pairs, sorted by term.
    fn pairs(&self) -> Vec<(Term, f32)> {
        self.entries
            .iter()
            .map(|e| (e.term(), e.weight()))
            .collect()
    }

    /// Adds term weights (sorted by term) into the profile.
    fn add(&mut self, add: &[(Term, f32)]) {
        let (a, b) = (&self.entries, add);
        let (mut i, mut j) = (0, 0);
        let mut n = 0;
        while i < a.len() || j < b.len() {
            match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) if x.term() == y.0 => (i, j) = (i + 1, j + 1),
                (Some(x), Some(y)) if x.term() < y.0 => i += 1,
                (Some(_), None) => i += 1,
                _ => j += 1,
            }
            n += 1;
        }
        if n == a.len() {
            for (t, w) in add {
                if let Ok(k) = self.entries.binary_search_by_key(t, |e| e.term()) {
                    self.entries[k] = LexEntry::new(*t, self.entries[k].weight() + w);
                }
            }
            return;
        }
        let mut out = Vec::with_capacity(n);
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) if x.term() == y.0 => {
                    out.push(LexEntry::new(y.0, x.weight() + y.1));
                    (i, j) = (i + 1, j + 1);
                }
                (Some(x), Some(y)) if x.term() < y.0 => {
                    out.push(*x);
                    i += 1;
                }
                (Some(x), None) => {
                    out.push(*x);
                    i += 1;
                }
                (_, Some(y)) => {
                    out.push(LexEntry::new(y.0, y.1));
                    j += 1;
                }
                (None, None) => unreachable!(),
            }
        }
        self.entries = out.into_boxed_slice();
    }

    /// Drops the lowest IDF-weighted terms beyond `cap` (ties: the larger
    /// term id goes), then refreshes the norm.
    fn cap_and_norm(&mut self, cap: usize, df: &DocFreq) {
        let e = &self.entries;
        let idf: Vec<f32> = e.iter().map(|x| df.idf(u64::from(x.term()))).collect();
        if e.len() > cap {
            let mut order: Vec<usize> = (0..e.len()).collect();
            let score = |i: usize| e[i].weight() * idf[i];
            order.sort_unstable_by(|&x, &y| {
                score(y)
                    .total_cmp(&score(x))
                    .then(e[x].term().cmp(&e[y].term()))
            });
            let mut keep = vec![false; e.len()];
            for &i in &order[..cap] {
                keep[i] = true;
            }
            // Summed in term order, like the norm.
            for (i, k) in keep.iter().enumerate() {
                if !k {
                    self.dropped_sq += score(i).powi(2);
                }
            }
            let (mut kept, mut kept_idf) = (Vec::with_capacity(cap), Vec::with_capacity(cap));
            for (i, k) in keep.iter().enumerate() {
                if *k {
                    kept.push(e[i]);
                    kept_idf.push(idf[i]);
                }
            }
            self.entries = kept.into_boxed_slice();
            self.norm = norm_of(&self.entries, &kept_idf, self.dropped_sq);
        } else {
            self.norm = norm_of(&self.entries, &idf, self.dropped_sq);
        }
    }
}

/// Sorted by term, so the float sum does not depend on arrival order.
fn norm_of(entries: &[LexEntry], idf: &[f32], dropped_sq: f32) -> f32 {
    let sq: f32 = entries
        .iter()
        .zip(idf)
        .map(|(e, i)| (e.weight() * i).powi(2))
        .sum::<f32>();
    (sq + dropped_sq).sqrt()
}

#[derive(Default)]
struct Rest {
    e5: Vec<f32>,
    use_vec: Vec<f32>,
}

const NO_REST: &[f32] = &[];

/// A story's article ids in arrival order, in one exactly sized buffer:
/// each id as its length (LEB128) and bytes. A `Vec<String>` costs a
/// 24-byte handle and an allocation per article, more than most ids.
#[derive(Default)]
struct ArticleIds {
    bytes: Box<[u8]>,
    count: u32,
}

impl ArticleIds {
    fn len(&self) -> usize {
        self.count as usize
    }

    fn push(&mut self, id: &str) {
        self.extend_bytes(&leb128(id), id.as_bytes(), 1);
    }

    fn append(&mut self, other: &ArticleIds) {
        self.extend_bytes(&other.bytes, &[], other.count);
    }

    fn extend_bytes(&mut self, a: &[u8], b: &[u8], count: u32) {
        edit_exact(&mut self.bytes, a.len() + b.len(), |v| {
            v.extend_from_slice(a);
            v.extend_from_slice(b);
        });
        self.count += count;
    }

    fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        let mut at = 0;
        (0..self.count).map(move |_| {
            let (mut n, mut shift) = (0usize, 0);
            loop {
                let b = self.bytes[at];
                at += 1;
                n |= ((b & 0x7f) as usize) << shift;
                shift += 7;
                if b & 0x80 == 0 {
                    break;
                }
            }
            let s = &self.bytes[at..at + n];
            at += n;
            // Written from a `&str` by `push`.
            std::str::from_utf8(s).unwrap_or_default()
        })
    }

    fn heap_bytes(&self) -> usize {
        self.bytes.len()
    }
}

fn leb128(id: &str) -> Vec<u8> {
    let (mut n, mut out) = (id.len(), Vec::new());
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

/// `Story::t_lo` / `t_hi` of a story without a dated member: an empty
/// span, which `min` / `max` with a time turns into that one time.
const NO_SPAN: (i64, i64) = (i64::MAX, i64::MIN);

/// (key, count) pairs sorted by key, as `[key low, key high, count]`:
/// 12 bytes a pair where `(u64, u32)` pads to 16, in one exactly sized
/// allocation.
#[derive(Default, Debug, PartialEq)]
struct Counts(Box<[[u32; 3]]>);

impl Counts {
    fn key(e: &[u32; 3]) -> u64 {
        u64::from(e[0]) | (u64::from(e[1]) << 32)
    }

    fn entry(k: u64, c: u32) -> [u32; 3] {
        [k as u32, (k >> 32) as u32, c]
    }

    fn get(&self, k: u64) -> Option<u32> {
        self.0
            .binary_search_by_key(&k, Self::key)
            .ok()
            .map(|i| self.0[i][2])
    }

    fn iter(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.0.iter().map(|e| (Self::key(e), e[2]))
    }

    fn keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.0.iter().map(Self::key)
    }

    /// The two lists (both sorted by key) summed, in one pass.
    fn merged(&self, other: impl Iterator<Item = (u64, u32)>) -> Counts {
        use std::cmp::Ordering;
        let mut out = Vec::with_capacity(self.0.len() + other.size_hint().0);
        let (mut a, mut b) = (self.iter().peekable(), other.peekable());
        loop {
            let order = match (a.peek(), b.peek()) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(x), Some(y)) => x.0.cmp(&y.0),
            };
            let (k, c) = match order {
                Ordering::Less => a.next(),
                Ordering::Greater => b.next(),
                Ordering::Equal => a.next().zip(b.next()).map(|(x, y)| (x.0, x.1 + y.1)),
            }
            .expect("peeked");
            out.push(Self::entry(k, c));
        }
        Counts(out.into_boxed_slice())
    }

    fn heap_bytes(&self) -> usize {
        self.0.len() * 12
    }
}

struct Story {
    id: StoryId,
    articles: ArticleIds,
    /// The last `nearest_members` members' vectors (quantised).
    members: Members,
    /// f32 sums of the members that left `members`, once one has: the
    /// centroid is this plus the sum of `members`. (Boxed: rare.)
    rest: Option<Box<Rest>>,
    e5_norm: f32,
    use_n: u32,
    use_norm: f32,
    /// (entity key, articles naming it), sorted by key, packed in 12
    /// bytes each (see [`Counts`]).
    entities: Counts,
    /// Sorted by language.
    lex: Box<[LexProfile]>,
    /// Time span of the dated members; [`NO_SPAN`] while there are none.
    t_lo: i64,
    t_hi: i64,
    t_sum: f64,
    t_n: u32,
    last_seq: u64,
}

impl Story {
    fn e5_rest(&self) -> &[f32] {
        self.rest.as_ref().map_or(NO_REST, |r| &r.e5)
    }

    fn use_rest(&self) -> &[f32] {
        self.rest.as_ref().map_or(NO_REST, |r| &r.use_vec)
    }

    fn entity(&self, k: u64) -> Option<u32> {
        self.entities.get(k)
    }

    fn t_min(&self) -> Option<i64> {
        (self.t_lo <= self.t_hi).then_some(self.t_lo)
    }

    fn t_max(&self) -> Option<i64> {
        (self.t_lo <= self.t_hi).then_some(self.t_hi)
    }

    fn profile(&self, lang: Lang) -> Option<&LexProfile> {
        self.lex.iter().find(|p| p.lang == lang)
    }

    /// The unnormalised e5 centroid. `solo`: the e5 codes of a lone
    /// member that lent them to the centroid index.
    fn e5_sum(&self, solo: Option<&[u8]>) -> Vec<f32> {
        let mut sum = self.e5_rest().to_vec();
        for m in self.members.iter() {
            if let Some(e) = e5_of(&m, solo) {
                e.add_into(&mut sum);
            }
        }
        sum
    }

    fn use_sum(&self) -> Vec<f32> {
        let mut sum = self.use_rest().to_vec();
        for m in self.members.iter() {
            if let Some(u) = m.use_vec {
                u.add_into(&mut sum);
            }
        }
        sum
    }

    /// The unit e5 centroid, and the unit USE-m centroid when a member has
    /// one, from the cached norms. `solo`: as for [`Story::e5_sum`].
    fn centroid_directions(&self, solo: Option<&[u8]>) -> (Vec<f32>, Option<Vec<f32>>) {
        let e5 = self.e5_sum(solo).iter().map(|v| v / self.e5_norm).collect();
        let use_vec =
            (self.use_n > 0).then(|| self.use_sum().iter().map(|v| v / self.use_norm).collect());
        (e5, use_vec)
    }

    /// `q` · the e5 centroid (unnormalised), without decoding it.
    fn e5_sum_dot(&self, q: &[f32], solo: Option<&[u8]>) -> f32 {
        self.members.iter().fold(dot(q, self.e5_rest()), |acc, m| {
            acc + e5_of(&m, solo).map_or(0.0, |e| e.dot(q))
        })
    }

    /// Refreshes both norms; returns the e5 centroid (for the ANN index).
    /// The members must hold their codes (none lent).
    fn refresh_norms(&mut self) -> Vec<f32> {
        let e5 = self.e5_sum(None);
        self.e5_norm = norm(&e5);
        if self.use_n > 0 {
            self.use_norm = norm(&self.use_sum());
        }
        e5
    }

    /// Spills the oldest members into the f32 sums beyond `keep`.
    fn trim_members(&mut self, keep: usize) {
        while self.members.len() > keep {
            let rest = self.rest.get_or_insert_with(Box::default);
            self.members.pop_front_into(&mut rest.e5, &mut rest.use_vec);
        }
    }
}

/// A member's e5 codes, or the lent `solo` codes when it has none here.
fn e5_of<'a>(m: &MemberRef<'a>, solo: Option<&'a [u8]>) -> Option<QVec<'a>> {
    m.e5.or_else(|| {
        solo.map(|codes| QVec {
            scale: m.e5_scale,
            dim: m.e5_dim,
            width: crate::members::E5_WIDTH,
            codes,
        })
    })
}

/// The live stories naming one entity key. Candidate retrieval only reads
/// short lists; long ones (common entities) become sets, so that adding
/// and removing a story stays O(1) at any size.
enum Posting {
    Few(Vec<StoryId>),
    Many(FxHashSet<StoryId>),
}

/// Lists longer than this are not used to find candidates.
const ENTITY_LIST_MAX: usize = 64;

impl Posting {
    fn len(&self) -> usize {
        match self {
            Posting::Few(v) => v.len(),
            Posting::Many(s) => s.len(),
        }
    }

    fn contains(&self, id: StoryId) -> bool {
        match self {
            Posting::Few(v) => v.contains(&id),
            Posting::Many(s) => s.contains(&id),
        }
    }

    fn insert(&mut self, id: StoryId) {
        match self {
            Posting::Few(v) => {
                if !v.contains(&id) {
                    // Most lists stay at one or two stories.
                    v.reserve_exact(1);
                    v.push(id);
                    if v.len() > ENTITY_LIST_MAX {
                        *self = Posting::Many(v.iter().copied().collect());
                    }
                }
            }
            Posting::Many(s) => {
                s.insert(id);
            }
        }
    }

    /// Whether `id` was there.
    fn remove(&mut self, id: StoryId) -> bool {
        match self {
            Posting::Few(v) => match v.iter().position(|x| *x == id) {
                Some(pos) => {
                    v.remove(pos);
                    true
                }
                None => false,
            },
            Posting::Many(s) => {
                let was = s.remove(&id);
                // Back to a list well below the switch, so that a story
                // coming and going does not convert it every time.
                if s.len() <= ENTITY_LIST_MAX / 2 {
                    let mut v: Vec<StoryId> = s.iter().copied().collect();
                    v.sort_unstable();
                    *self = Posting::Few(v);
                }
                was
            }
        }
    }

    /// The ids, in an order that callers must not depend on.
    fn for_each(&self, mut f: impl FnMut(StoryId)) {
        match self {
            Posting::Few(v) => v.iter().for_each(|id| f(*id)),
            Posting::Many(s) => s.iter().for_each(|id| f(*id)),
        }
    }
}

/// The live stories and everything needed to place the next article.
///
/// Invariants: an article is in exactly one live story; story ids only
/// grow; the same articles in the same order give the same stories (no
/// randomness, no hash-order dependence: maps use a fixed hasher, results
/// never depend on iteration order, and ties break on the lower story id).
/// `by_time` and `by_seq` hold exactly the live stories (those with a time
/// for `by_time`), so expiry never scans them all.
pub struct StoryIndex {
    config: EngineConfig,
    scorer: Scorer,
    /// Boxed: growing the map moves pointers, not stories.
    stories: FxHashMap<StoryId, Box<Story>>,
    /// (t_max, id) of the live stories with a time: the time expiry order.
    by_time: BTreeSet<(i64, StoryId)>,
    /// (last_seq, id) of the live stories: the live-cap expiry order.
    by_seq: BTreeSet<(u64, StoryId)>,
    entity_stories: FxHashMap<u64, Posting>,
    df_terms: DocFreq,
    df_entities: DocFreq,
    next_id: StoryId,
    seq: u64,
    now: Option<i64>,
    /// Approximate nearest story centroids, kept in step with every story change.
    centroids: Option<CentroidIndex>,
    /// The `by_time` entry up to which idle stories have settled.
    settled_through: Option<(i64, StoryId)>,
}

const HOUR: f64 = 3600.0;
/// Distinct terms beyond which an article counts as full length for
/// `article_terms` (headlines have about 6, full articles hundreds).
const ARTICLE_TERMS_CAP: usize = 50;

/// Below this many live stories an exact scan of the centroids (computed
/// from the quantised members) is cheap and exact; above it the HNSW index
/// takes over (at 4,096 stories the scan cost 1.3 ms per article, the
/// index about 0.15 ms).
const EXACT_SCAN_BELOW: usize = 1024;
/// Idle stories settled per article at most: stories fall idle at about
/// the rate they open (under one per article), so the backlog drains.
const SETTLE_PER_ARTICLE: usize = 8;

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt().max(1e-12)
}

impl StoryIndex {
    pub fn new(scorer: Scorer, config: EngineConfig) -> Self {
        StoryIndex {
            df_terms: DocFreq::new(config.df_window),
            df_entities: DocFreq::new(config.df_window),
            config,
            scorer,
            stories: FxHashMap::default(),
            by_time: BTreeSet::new(),
            by_seq: BTreeSet::new(),
            entity_stories: FxHashMap::default(),
            next_id: 1,
            seq: 0,
            now: None,
            centroids: None,
            settled_through: None,
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Continues numbering after stories restored from storage.
    pub fn set_next_id(&mut self, next: StoryId) {
        self.next_id = self.next_id.max(next);
    }

    pub fn live_stories(&self) -> usize {
        self.stories.len()
    }

    /// Members of a live story, in arrival order.
    pub fn story_articles(&self, id: StoryId) -> Option<Vec<&str>> {
        self.stories.get(&id).map(|s| s.articles.iter().collect())
    }

    /// Approximate heap bytes of the live stories, by part: for
    /// `bench cluster` (allocator overhead not included).
    pub fn memory_breakdown(&self) -> Vec<(&'static str, usize)> {
        let (mut members, mut rest, mut articles, mut entities, mut lex, mut shells) =
            (0, 0, 0, 0, 0, 0);
        for s in self.stories.values() {
            shells += std::mem::size_of::<Story>();
            members += s.members.heap_bytes();
            rest += s
                .rest
                .as_ref()
                .map_or(0, |r| 48 + (r.e5.capacity() + r.use_vec.capacity()) * 4);
            articles += s.articles.heap_bytes();
            entities += s.entities.heap_bytes();
            lex += s.lex.len() * std::mem::size_of::<LexProfile>()
                + s.lex
                    .iter()
                    .map(|p| p.len() * std::mem::size_of::<LexEntry>())
                    .sum::<usize>();
        }
        let postings: usize = self
            .entity_stories
            .values()
            .map(|p| {
                48 + match p {
                    Posting::Few(v) => v.capacity() * 8,
                    Posting::Many(s) => s.capacity() * 9,
                }
            })
            .sum();
        vec![
            ("story records", shells + self.stories.capacity() * 17),
            ("member vectors (e5 7-bit, USE 4-bit)", members),
            ("spilled member sums (f32)", rest),
            ("article ids", articles),
            ("entity counts", entities),
            ("lexical profiles", lex),
            ("entity postings", postings),
            (
                "expiry order",
                (self.by_time.len() + self.by_seq.len()) * 24,
            ),
            (
                "centroid index",
                self.centroids
                    .as_ref()
                    .map_or(0, CentroidIndex::memory_bytes),
            ),
        ]
    }

    fn prepare(&self, a: &ArticleInput) -> Prepared {
        let terms = term_counts(&a.text)
            .into_iter()
            .map(|(t, n)| (t, 1.0 + n.ln()))
            .collect();
        let mut entities: Vec<u64> = a.entities.iter().map(|k| fnv1a(k.as_bytes())).collect();
        entities.sort_unstable();
        entities.dedup();
        Prepared {
            lang: Lang::of(&a.lang),
            time: a.time.map(|t| t.timestamp()),
            e5: a.e5.clone(),
            use_vec: a.use_vec.clone(),
            entities,
            terms,
        }
    }

    /// The e5 codes a lone member lent to the centroid index, if it did,
    /// rebuilt from the index's i8 codes of its centroid.
    fn solo_codes(&self, s: &Story) -> Option<Vec<u8>> {
        if !s.members.e5_elsewhere() {
            return None;
        }
        let codes = self.centroids.as_ref()?.codes_of(s.id)?;
        Some(e5_from_index_codes(&codes))
    }

    fn features(&self, a: &Prepared, s: &Story) -> Features {
        // One pass over the members gives both the centroid (their sum,
        // plus the spilled rest) and the nearest member.
        let solo = self.solo_codes(s);
        let a_use = a.use_vec.as_deref().filter(|_| s.use_n > 0);
        let mut e5_dot = dot(&a.e5, s.e5_rest());
        let mut e5_best = f32::MIN;
        let mut use_dot = a_use.map_or(0.0, |u| dot(u, s.use_rest()));
        let mut use_best = f32::MIN;
        for m in s.members.iter() {
            let d = e5_of(&m, solo.as_deref()).map_or(0.0, |e| e.dot(&a.e5));
            e5_dot += d;
            e5_best = e5_best.max(d);
            if let (Some(u), Some(mu)) = (a_use, m.use_vec) {
                let d = mu.dot(u);
                use_dot += d;
                use_best = use_best.max(d);
            }
        }
        let mut f = Features {
            e5_centroid: e5_dot / s.e5_norm,
            ..Default::default()
        };
        f.e5_nearest = e5_best.max(f.e5_centroid);
        if a_use.is_some() {
            f.use_known = 1.0;
            f.use_centroid = use_dot / s.use_norm;
            f.use_nearest = use_best.max(f.use_centroid);
        }
        if !a.entities.is_empty() {
            let (mut shared_mass, mut total, mut shared) = (0f32, 0f32, 0u32);
            for k in &a.entities {
                let idf = self.df_entities.idf(*k);
                total += idf;
                if let Some(c) = s.entity(*k) {
                    let frac = c as f32 / s.articles.len() as f32;
                    shared_mass += idf * (2.0 * frac).min(1.0);
                    shared += 1;
                }
            }
            f.entity_overlap = shared_mass / total.max(1e-6);
            f.entity_shared = (1.0 + shared as f32).ln();
        }
        if let Some(profile) = s.profile(a.lang) {
            f.lexical_known = 1.0;
            let (mut d, mut na) = (0f32, 0f32);
            for (t, w) in &a.terms {
                let idf = self.df_terms.idf(u64::from(*t));
                let wa = w * idf;
                na += wa * wa;
                if let Some(ws) = profile.weight(*t) {
                    d += wa * ws * idf;
                }
            }
            f.lexical = d / (na.sqrt().max(1e-6) * profile.norm.max(1e-6));
        }
        if let (Some(t), Some(lo), Some(hi)) = (a.time, s.t_min(), s.t_max()) {
            f.time_known = 1.0;
            let gap = if t < lo {
                lo - t
            } else if t > hi {
                t - hi
            } else {
                0
            } as f64
                / HOUR;
            f.time_newest = (-gap / 24.0).exp() as f32;
            let mean = s.t_sum / s.t_n as f64;
            f.time_mean = (-(t as f64 - mean).abs() / HOUR / 72.0).exp() as f32;
        }
        f.story_size = (1.0 + s.articles.len() as f32).ln();
        f.article_terms = (1.0 + a.terms.len().min(ARTICLE_TERMS_CAP) as f32).ln();
        f
    }

    fn in_window(&self, a: &Prepared, s: &Story) -> bool {
        match (a.time, s.t_min(), s.t_max()) {
            (Some(t), Some(lo), Some(hi)) => {
                let w = (self.config.window_hours * HOUR) as i64;
                t >= lo - w && t <= hi + w
            }
            _ => true,
        }
    }

    /// Whether every live story is within the article's time window:
    /// undated articles and stories always are; a dated story spans
    /// [t_min, t_max] with t_max between the oldest and newest t_max.
    fn all_in_window(&self, a: &Prepared) -> bool {
        let (Some(t), Some((oldest, _)), Some((newest, _))) =
            (a.time, self.by_time.first(), self.by_time.last())
        else {
            return true;
        };
        let w = (self.config.window_hours * HOUR) as i64;
        t >= newest - w && t <= oldest + w
    }

    /// Candidate stories for an article, with their signals: the stories
    /// closest by e5 centroid within the time window, plus those sharing an
    /// entity with it.
    fn candidates_prepared(&self, a: &Prepared) -> Vec<(StoryId, Features)> {
        let k = self.config.max_candidates;
        let mut ids: Vec<StoryId> = match &self.centroids {
            // The window filter runs inside the graph walk, so k in-window
            // stories come back. It costs a story lookup per visited node,
            // so it is skipped when every live story is in the window.
            Some(c) if self.stories.len() >= EXACT_SCAN_BELOW && self.all_in_window(a) => {
                c.search(&a.e5, k).into_iter().map(|(id, _)| id).collect()
            }
            Some(c) if self.stories.len() >= EXACT_SCAN_BELOW => c
                .search_where(&a.e5, k, |id| {
                    self.stories.get(&id).is_some_and(|s| self.in_window(a, s))
                })
                .into_iter()
                .map(|(id, _)| id)
                .collect(),
            _ => {
                // Map order does not matter: the top k under (score, id) is unique.
                let mut scored: Vec<(f32, StoryId)> = self
                    .stories
                    .values()
                    .filter(|s| self.in_window(a, s))
                    .map(|s| {
                        let solo = self.solo_codes(s);
                        (s.e5_sum_dot(&a.e5, solo.as_deref()) / s.e5_norm, s.id)
                    })
                    .collect();
                if scored.len() > k {
                    scored.select_nth_unstable_by(k - 1, |x, y| {
                        y.0.total_cmp(&x.0).then(x.1.cmp(&y.1))
                    });
                    scored.truncate(k);
                }
                scored.into_iter().map(|(_, id)| id).collect()
            }
        };
        if self.config.signals == Signals::All {
            // Rare shared entities find a story even when its vectors drifted.
            // Each story's weight is summed in the article's (sorted) entity order.
            let mut by_entity: FxHashMap<StoryId, f32> = FxHashMap::default();
            for k in &a.entities {
                let idf = self.df_entities.idf(*k);
                if let Some(list) = self.entity_stories.get(k) {
                    if list.len() <= ENTITY_LIST_MAX {
                        list.for_each(|id| *by_entity.entry(id).or_insert(0.0) += idf);
                    }
                }
            }
            let mut extra: Vec<(f32, StoryId)> =
                by_entity.into_iter().map(|(id, w)| (w, id)).collect();
            extra.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
            for (_, id) in extra.into_iter().take(k / 2) {
                if !ids.contains(&id) && self.stories.get(&id).is_some_and(|s| self.in_window(a, s))
                {
                    ids.push(id);
                }
            }
        }
        ids.sort_unstable();
        ids.into_iter()
            .filter_map(|id| self.stories.get(&id).map(|s| (id, self.features(a, s))))
            .collect()
    }

    /// The candidate stories of an article and their signals, without
    /// assigning it (used to build training examples).
    pub fn candidates(&self, a: &ArticleInput) -> Vec<(StoryId, Features)> {
        self.candidates_prepared(&self.prepare(a))
    }

    /// Places an article: joins the most probable candidate story when it
    /// clears the learned threshold, else opens a new story. Then checks
    /// whether the joined story has converged with another.
    pub fn assign(&mut self, a: &ArticleInput) -> Decision {
        let p = self.prepare(a);
        let cands = self.candidates_prepared(&p);
        let threshold = self.scorer.model.join_threshold;
        let mut best: Option<(StoryId, f32, Features)> = None;
        let mut fits: Vec<(StoryId, f32)> = Vec::new();
        for (id, f) in &cands {
            let prob = self.scorer.probability(f);
            if prob >= threshold {
                fits.push((*id, prob));
            }
            if best.as_ref().is_none_or(|b| prob > b.1) {
                best = Some((*id, prob, *f));
            }
        }
        let (story, opened) = match &best {
            Some((id, prob, _)) if *prob >= threshold => (*id, false),
            _ => (self.open_story(), true),
        };
        self.add_member(story, a, &p);
        let mut merged = Vec::new();
        if !opened {
            for (other, _) in fits.into_iter().filter(|(id, _)| *id != story) {
                if let Some(pm) = self.merge_score(story, other) {
                    if pm >= self.scorer.model.merge_threshold {
                        let (into, from) = (story.min(other), story.max(other));
                        self.merge(from, into);
                        merged.push((from, into, pm));
                    }
                }
            }
        }
        let story = self.resolve(story, &merged);
        self.placed(&p);
        Decision {
            story,
            opened,
            p: best.as_ref().map(|b| b.1).unwrap_or(0.0),
            threshold,
            best: best.map(|(id, _, f)| (id, self.scorer.explain(&f))),
            candidates: cands.len(),
            merged,
        }
    }

    fn resolve(&self, mut story: StoryId, merged: &[(StoryId, StoryId, f32)]) -> StoryId {
        for (from, into, _) in merged {
            if story == *from {
                story = *into;
            }
        }
        story
    }

    /// Adds an article to a given story (or a new one) without scoring:
    /// replay from storage, and teacher forcing when training.
    pub fn force(&mut self, a: &ArticleInput, story: Option<StoryId>) -> StoryId {
        let p = self.prepare(a);
        let id = match story {
            Some(id) if self.stories.contains_key(&id) => id,
            Some(id) => {
                self.insert_story(id);
                id
            }
            None => self.open_story(),
        };
        self.add_member(id, a, &p);
        self.placed(&p);
        id
    }

    /// Once an article has its story: it joins the window statistics, then
    /// stories past the window leave and idle ones settle. Shared by
    /// `assign` and `force`, so that a replay from storage rebuilds the
    /// same live state as the stream did.
    fn placed(&mut self, p: &Prepared) {
        self.observe(p);
        self.expire();
        self.settle_idle();
    }

    /// Adds an article to the IDF statistics only (pair scoring).
    pub fn observe_only(&mut self, a: &ArticleInput) {
        let p = self.prepare(a);
        self.observe(&p);
    }

    /// Probability that `a` belongs to a story made of `b` alone, with its
    /// explanation: the pair similarity used for SemEval-style evaluation.
    pub fn pair(&self, a: &ArticleInput, b: &ArticleInput) -> Explanation {
        self.scorer.explain(&self.pair_features(a, b))
    }

    /// The signals between `a` and a story made of `b` alone.
    pub fn pair_features(&self, a: &ArticleInput, b: &ArticleInput) -> Features {
        let pb = self.prepare(b);
        let mut s = empty_story(0);
        fill(&self.config, &self.df_terms, &mut s, b, &pb);
        self.features(&self.prepare(a), &s)
    }

    pub fn scorer(&self) -> &Scorer {
        &self.scorer
    }

    fn observe(&mut self, p: &Prepared) {
        self.df_terms
            .add(p.terms.iter().map(|(t, _)| u64::from(*t)).collect());
        self.df_entities.add(p.entities.clone());
        self.seq += 1;
        if let Some(t) = p.time {
            self.now = Some(self.now.map_or(t, |n| n.max(t)));
        }
    }

    fn open_story(&mut self) -> StoryId {
        let id = self.next_id;
        self.insert_story(id);
        id
    }

    fn insert_story(&mut self, id: StoryId) {
        self.next_id = self.next_id.max(id + 1);
        let s = Box::new(empty_story(id));
        self.by_seq.insert((s.last_seq, id));
        self.stories.insert(id, s);
    }

    fn add_member(&mut self, id: StoryId, a: &ArticleInput, p: &Prepared) {
        let lent = self.stories.get(&id).and_then(|s| self.solo_codes(s));
        let Some(s) = self.stories.get_mut(&id) else {
            return;
        };
        s.members.restore_solo_e5(lent.as_deref());
        let (old_t, old_seq) = (s.t_max(), s.last_seq);
        let new_keys: Vec<u64> = p
            .entities
            .iter()
            .copied()
            .filter(|k| s.entity(*k).is_none())
            .collect();
        let e5 = fill(&self.config, &self.df_terms, s, a, p);
        s.last_seq = self.seq;
        let (new_t, new_seq) = (s.t_max(), s.last_seq);
        if old_t != new_t {
            if let Some(t) = old_t {
                self.by_time.remove(&(t, id));
            }
            if let Some(t) = new_t {
                self.by_time.insert((t, id));
            }
        }
        if old_seq != new_seq {
            self.by_seq.remove(&(old_seq, id));
            self.by_seq.insert((new_seq, id));
        }
        for k in new_keys {
            self.entity_stories
                .entry(k)
                .or_insert_with(|| Posting::Few(Vec::new()))
                .insert(id);
        }
        if self.sync_centroid(id, &e5) {
            self.lend_solo_e5(id);
        }
    }

    /// A lone member's codes can be rebuilt from the centroid's codes in
    /// the index: keep one copy, once the round trip is checked. (Below the
    /// scan threshold the exact scan reads every story, and memory is no
    /// concern.) Call after the index took the story's centroid.
    fn lend_solo_e5(&mut self, id: StoryId) {
        if self.stories.len() < EXACT_SCAN_BELOW {
            return;
        }
        let rebuilt = self
            .centroids
            .as_ref()
            .and_then(|c| c.codes_of(id))
            .map(|c| e5_from_index_codes(&c));
        if let Some(s) = self.stories.get_mut(&id) {
            let same = s.rest.is_none()
                && rebuilt.is_some_and(|r| s.members.solo_e5().is_some_and(|m| m.codes == r));
            if same {
                s.members.release_solo_e5();
            }
        }
    }

    /// Collapses a story's members (and spilled sums) into one member,
    /// the direction of their sum: the centroid stays, the per-member
    /// detail goes, and a settled story costs what a lone one does (its e5
    /// codes then live in the centroid index only). New members join it as
    /// usual.
    fn settle(&mut self, id: StoryId) {
        let Some(s) = self.stories.get_mut(&id) else {
            return;
        };
        // A lone member without spilled sums is settled already; with more
        // than one member, or with sums, no codes are lent.
        if s.members.len() < 2 && s.rest.is_none() {
            return;
        }
        // Members are unit vectors (the nearest-member signal reads their
        // dot products as cosines), so the sum joins as its direction.
        let (e5, use_vec) = s.centroid_directions(None);
        s.members = Members::default();
        s.rest = None;
        s.members.push(&e5, use_vec.as_deref());
        let centroid = s.refresh_norms();
        if self.sync_centroid(id, &centroid) {
            self.lend_solo_e5(id);
        }
    }

    /// Settles the stories idle for `settle_after_hours`, walking the time
    /// order from where the last call stopped: a story that gains an
    /// article moves to the end of that order and settles again later.
    /// At most [`SETTLE_PER_ARTICLE`] per call, so that a jump in time (a
    /// feed that was down for a day) spreads its backlog over the next
    /// articles instead of stalling one.
    fn settle_idle(&mut self) {
        let Some(now) = self.now else {
            return;
        };
        let after = (self.config.settle_after_hours.max(0.0) * HOUR) as i64;
        let upto = (now.saturating_sub(after), StoryId::MIN);
        if self.settled_through.is_some_and(|k| k >= upto) {
            return;
        }
        let from = self
            .settled_through
            .map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        let due: Vec<(i64, StoryId)> = self
            .by_time
            .range((from, std::ops::Bound::Excluded(upto)))
            .take(SETTLE_PER_ARTICLE)
            .copied()
            .collect();
        if let Some(last) = due.last() {
            self.settled_through = Some(*last);
        }
        for (_, id) in due {
            self.settle(id);
        }
    }

    /// Whether the index now holds the story's centroid.
    fn sync_centroid(&mut self, id: StoryId, e5_sum: &[f32]) -> bool {
        if e5_sum.is_empty() {
            return false;
        }
        let c = self
            .centroids
            .get_or_insert_with(|| CentroidIndex::new(e5_sum.len()));
        // A wrong dimension is an upstream bug; the exact scan still sees the story.
        c.upsert(id, e5_sum).is_ok()
    }

    /// How well story `a` fits into story `b`, scored like an article: its
    /// centroid, its common entities, its time.
    fn merge_score(&self, a: StoryId, b: StoryId) -> Option<f32> {
        let (sa, sb) = (self.stories.get(&a)?, self.stories.get(&b)?);
        let (small, big) = if sa.articles.len() <= sb.articles.len() {
            (sa, sb)
        } else {
            (sb, sa)
        };
        let half = small.articles.len().div_ceil(2) as u32;
        let entities: Vec<u64> = small
            .entities
            .iter()
            .filter(|(_, c)| *c >= half)
            .map(|(k, _)| k)
            .collect();
        let profile = small.lex.iter().max_by_key(|p| (p.len(), p.lang));
        let lang = profile.map(|p| p.lang).unwrap_or_default();
        let terms: Vec<(Term, f32)> = profile.map(LexProfile::pairs).unwrap_or_default();
        let (e5, use_vec) = small.centroid_directions(self.solo_codes(small).as_deref());
        let pseudo = Prepared {
            lang,
            time: (small.t_n > 0).then(|| (small.t_sum / small.t_n as f64) as i64),
            e5,
            use_vec,
            entities,
            terms,
        };
        Some(self.scorer.probability(&self.features(&pseudo, big)))
    }

    /// Drops a story from the expiry orders and the entity postings.
    fn unlink(&mut self, s: &Story) {
        if let Some(t) = s.t_max() {
            self.by_time.remove(&(t, s.id));
        }
        self.by_seq.remove(&(s.last_seq, s.id));
    }

    fn merge(&mut self, from: StoryId, into: StoryId) {
        let Some(mut src) = self.stories.remove(&from) else {
            return;
        };
        let lent = self.solo_codes(&src);
        src.members.restore_solo_e5(lent.as_deref());
        self.unlink(&src);
        for k in src.entities.keys() {
            if let Some(list) = self.entity_stories.get_mut(&k) {
                if list.remove(from) && !list.contains(into) {
                    list.insert(into);
                }
            }
        }
        if let Some(c) = &mut self.centroids {
            c.remove(from);
        }
        let Some(mut dst) = self.stories.remove(&into) else {
            return;
        };
        let lent = self.solo_codes(&dst);
        dst.members.restore_solo_e5(lent.as_deref());
        self.unlink(&dst);
        let src = *src;
        dst.articles.append(&src.articles);
        if let Some(r) = &src.rest {
            let d = dst.rest.get_or_insert_with(Box::default);
            add_into(&mut d.e5, &r.e5);
            add_into(&mut d.use_vec, &r.use_vec);
        }
        dst.use_n += src.use_n;
        // The oldest of the merged members spill first: dst's, then src's.
        dst.members.append(src.members);
        dst.trim_members(self.config.nearest_members);
        dst.entities = dst.entities.merged(src.entities.iter());
        for sp in src.lex.into_vec() {
            match dst.lex.binary_search_by_key(&sp.lang, |p| p.lang) {
                Ok(i) => {
                    let dp = &mut dst.lex[i];
                    dp.add(&sp.pairs());
                    dp.dropped_sq += sp.dropped_sq;
                }
                Err(i) => edit_exact(&mut dst.lex, 1, |lex| lex.insert(i, sp)),
            }
        }
        for p in dst.lex.iter_mut() {
            p.cap_and_norm(self.config.lexical_terms, &self.df_terms);
        }
        dst.t_lo = dst.t_lo.min(src.t_lo);
        dst.t_hi = dst.t_hi.max(src.t_hi);
        dst.t_sum += src.t_sum;
        dst.t_n += src.t_n;
        dst.last_seq = dst.last_seq.max(src.last_seq);
        let e5 = dst.refresh_norms();
        if let Some(t) = dst.t_max() {
            self.by_time.insert((t, into));
        }
        self.by_seq.insert((dst.last_seq, into));
        self.stories.insert(into, dst);
        self.sync_centroid(into, &e5);
    }

    /// Retires stories that fell out of the time window, and the least
    /// recently updated when the live cap is exceeded. Runs every 256
    /// articles; its cost is in the stories retired, not the stories live.
    fn expire(&mut self) {
        if !self.seq.is_multiple_of(256) {
            return;
        }
        let horizon = self
            .now
            .map(|n| n - (2.0 * self.config.window_hours * HOUR) as i64);
        let mut dead: Vec<StoryId> = match horizon {
            Some(h) => self
                .by_time
                .range(..(h, StoryId::MIN))
                .map(|(_, id)| *id)
                .collect(),
            None => Vec::new(),
        };
        let over = self
            .stories
            .len()
            .saturating_sub(dead.len())
            .saturating_sub(self.config.max_live_stories);
        if over > 0 {
            let timed_out: FxHashSet<StoryId> = dead.iter().copied().collect();
            dead.extend(
                self.by_seq
                    .iter()
                    .map(|(_, id)| *id)
                    .filter(|id| !timed_out.contains(id))
                    .take(over),
            );
        }
        dead.sort_unstable();
        for id in dead {
            let Some(s) = self.stories.remove(&id) else {
                continue;
            };
            self.unlink(&s);
            for k in s.entities.keys() {
                if let Some(list) = self.entity_stories.get_mut(&k) {
                    list.remove(id);
                    if list.len() == 0 {
                        self.entity_stories.remove(&k);
                    }
                }
            }
            if let Some(c) = &mut self.centroids {
                c.remove(id);
            }
        }
    }
}

fn empty_story(id: StoryId) -> Story {
    Story {
        id,
        articles: ArticleIds::default(),
        members: Members::default(),
        rest: None,
        e5_norm: 1.0,
        use_n: 0,
        use_norm: 1.0,
        entities: Counts::default(),
        lex: Box::default(),
        t_lo: NO_SPAN.0,
        t_hi: NO_SPAN.1,
        t_sum: 0.0,
        t_n: 0,
        last_seq: 0,
    }
}

/// Adds an article to a story's state; returns the new e5 centroid
/// (unnormalised) for the ANN index.
fn fill(
    config: &EngineConfig,
    df_terms: &DocFreq,
    s: &mut Story,
    a: &ArticleInput,
    p: &Prepared,
) -> Vec<f32> {
    s.articles.push(&a.id);
    s.members.push(&p.e5, p.use_vec.as_deref());
    if p.use_vec.is_some() {
        s.use_n += 1;
    }
    s.trim_members(config.nearest_members);
    s.entities = s.entities.merged(p.entities.iter().map(|k| (*k, 1)));
    let i = match s.lex.binary_search_by_key(&p.lang, |l| l.lang) {
        Ok(i) => i,
        Err(i) => {
            edit_exact(&mut s.lex, 1, |lex| lex.insert(i, LexProfile::new(p.lang)));
            i
        }
    };
    let profile = &mut s.lex[i];
    profile.add(&p.terms);
    profile.cap_and_norm(config.lexical_terms, df_terms);
    if let Some(t) = p.time {
        s.t_lo = s.t_lo.min(t);
        s.t_hi = s.t_hi.max(t);
        s.t_sum += t as f64;
        s.t_n += 1;
    }
    s.refresh_norms()
}

fn add_into(sum: &mut Vec<f32>, v: &[f32]) {
    if sum.is_empty() {
        sum.extend_from_slice(v);
    } else {
        for (s, x) in sum.iter_mut().zip(v) {
            *s += x;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::FEATURE_NAMES;

    fn unit(seed: u64, around: Option<&[f32]>, spread: f32, dim: usize) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9e3779b97f4a7c15) | 1;
        let mut v: Vec<f32> = (0..dim)
            .map(|i| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                around.map_or(0.0, |c| c[i])
                    + spread * ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
            })
            .collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= n);
        v
    }

    fn article(id: &str, e5: Vec<f32>, use_vec: Option<Vec<f32>>, text: &str) -> ArticleInput {
        ArticleInput {
            id: id.into(),
            lang: "en-GB".into(),
            time: None,
            e5,
            use_vec,
            entities: vec!["peru".into(), id.into()],
            text: text.into(),
        }
    }

    fn index(config: EngineConfig) -> StoryIndex {
        StoryIndex::new(Scorer::default_for(Signals::All), config)
    }

    /// The dense signals from the quantised members match the f32 ones,
    /// also once members spill into the f32 rest (nearest_members 4).
    #[test]
    fn dense_signals_match_f32() {
        let config = EngineConfig {
            nearest_members: 4,
            ..EngineConfig::default()
        };
        let mut idx = index(config);
        let centre = unit(1, None, 1.0, 384);
        let use_centre = unit(2, None, 1.0, 512);
        let members: Vec<(Vec<f32>, Vec<f32>)> = (0..10)
            .map(|i| {
                (
                    unit(10 + i, Some(&centre), 0.15, 384),
                    unit(20 + i, Some(&use_centre), 0.3, 512),
                )
            })
            .collect();
        let id = idx.force(
            &article("m0", members[0].0.clone(), Some(members[0].1.clone()), "x"),
            None,
        );
        for (i, (e, u)) in members.iter().enumerate().skip(1) {
            idx.force(
                &article(&format!("m{i}"), e.clone(), Some(u.clone()), "x"),
                Some(id),
            );
        }
        let s = &idx.stories[&id];
        assert_eq!(s.members.len(), 4);
        assert_eq!(s.articles.len(), 10);
        let q = unit(99, Some(&centre), 0.2, 384);
        let qu = unit(98, Some(&use_centre), 0.3, 512);
        let f = idx.features(
            &idx.prepare(&article("q", q.clone(), Some(qu.clone()), "x")),
            s,
        );
        let sum = |vs: &mut dyn Iterator<Item = &Vec<f32>>| {
            let mut acc = Vec::new();
            vs.for_each(|v| add_into(&mut acc, v));
            acc
        };
        let e5_sum = sum(&mut members.iter().map(|m| &m.0));
        let use_sum = sum(&mut members.iter().map(|m| &m.1));
        let centroid = dot(&q, &e5_sum) / norm(&e5_sum);
        let nearest = members[6..]
            .iter()
            .map(|m| dot(&q, &m.0))
            .fold(centroid, f32::max);
        let use_centroid = dot(&qu, &use_sum) / norm(&use_sum);
        let use_nearest = members[6..]
            .iter()
            .map(|m| dot(&qu, &m.1))
            .fold(use_centroid, f32::max);
        for (got, want) in [
            (f.e5_centroid, centroid),
            (f.e5_nearest, nearest),
            (f.use_centroid, use_centroid),
            (f.use_nearest, use_nearest),
        ] {
            assert!((got - want).abs() < 2e-3, "{got} vs {want}");
        }
        assert_eq!(f.use_known, 1.0);
    }

    /// `article_terms` depends on the article alone: the same against every
    /// story, larger for a longer text, and flat past the cap.
    #[test]
    fn article_terms_follows_the_article_length() {
        let mut idx = index(EngineConfig::default());
        let e5 = unit(1, None, 1.0, 384);
        let a = idx.force(
            &article("a", e5.clone(), None, "rain floods the valley"),
            None,
        );
        let b = idx.force(&article("b", unit(2, None, 1.0, 384), None, "a"), None);
        let words: Vec<String> = (0..200).map(|i| format!("word{i}x")).collect();
        let signal = |idx: &StoryIndex, n: usize, story: StoryId| {
            let text = words[..n].join(" ");
            let q = idx.prepare(&article("q", e5.clone(), None, &text));
            idx.features(&q, &idx.stories[&story]).article_terms
        };
        let short = signal(&idx, 5, a);
        assert_eq!(short, signal(&idx, 5, b));
        assert!((short - 6f32.ln()).abs() < 1e-6, "{short}");
        assert!(signal(&idx, 30, a) > short);
        let capped = (1.0 + ARTICLE_TERMS_CAP as f32).ln();
        assert_eq!(signal(&idx, ARTICLE_TERMS_CAP, a), capped);
        assert_eq!(signal(&idx, 200, a), capped);
    }

    /// Past the scan threshold a lone member lends its e5 codes to the
    /// centroid index; the signals do not change, nor do they once it
    /// takes them back for a second member.
    #[test]
    fn lent_codes_give_the_same_signals() {
        let mut idx = index(EngineConfig::default());
        let mk = |i: u64| {
            let e = unit(1000 + i, None, 1.0, 384);
            let u = unit(5000 + i, None, 1.0, 512);
            article(&format!("s{i}"), e, Some(u), "quake arequipa")
        };
        let n = EXACT_SCAN_BELOW as u64 + 10;
        let ids: Vec<StoryId> = (0..n).map(|i| idx.force(&mk(i), None)).collect();
        let last = *ids.last().unwrap();
        let s = &idx.stories[&last];
        assert!(s.members.e5_elsewhere(), "lent");
        assert!(
            !idx.stories[&ids[0]].members.e5_elsewhere(),
            "made below the threshold"
        );
        let fresh = |idx: &StoryIndex, a: &ArticleInput| {
            let mut f = empty_story(0);
            fill(&idx.config, &idx.df_terms, &mut f, a, &idx.prepare(a));
            f
        };
        let q = idx.prepare(&mk(7));
        let dense = |f: Features| f.values()[..5].to_vec();
        assert_eq!(
            dense(idx.features(&q, s)),
            dense(idx.features(&q, &fresh(&idx, &mk(n - 1))))
        );
        // The exact scan and merges read the lent codes too.
        let solo = idx.solo_codes(s);
        assert!(solo.is_some());
        assert_eq!(
            s.e5_sum_dot(&q.e5, solo.as_deref()),
            fresh(&idx, &mk(n - 1)).e5_sum_dot(&q.e5, None)
        );
        // A second member: the codes come back.
        let second = mk(n + 1);
        idx.force(&second, Some(last));
        let s = &idx.stories[&last];
        assert!(!s.members.e5_elsewhere());
        assert_eq!(s.members.len(), 2);
        let mut both = fresh(&idx, &mk(n - 1));
        fill(
            &idx.config,
            &idx.df_terms,
            &mut both,
            &second,
            &idx.prepare(&second),
        );
        assert_eq!(dense(idx.features(&q, s)), dense(idx.features(&q, &both)));
        // Merging a lending story into another keeps its vector.
        let other = ids[ids.len() - 2];
        assert!(idx.stories[&other].members.e5_elsewhere());
        idx.merge(other, last);
        assert_eq!(idx.stories[&last].members.len(), 3);
        assert!(idx.stories[&last].members.iter().all(|m| m.e5.is_some()));
    }

    #[test]
    fn lexical_profile_is_capped_by_tfidf_and_keeps_its_norm() {
        let df = DocFreq::new(100);
        let mut p = LexProfile::new(Lang::of("en"));
        // Terms 0..100 once, terms 0..10 nine more times: the heavy ten stay.
        let once: Vec<(Term, f32)> = (0..100).map(|t| (t, 1.0)).collect();
        p.add(&once);
        for _ in 0..9 {
            p.add(&once[..10]);
        }
        p.cap_and_norm(usize::MAX, &df);
        let full = p.norm;
        assert_eq!(p.len(), 100);
        p.cap_and_norm(20, &df);
        assert_eq!(p.len(), 20);
        assert!(
            p.entries.windows(2).all(|w| w[0].term() < w[1].term()),
            "sorted"
        );
        assert_eq!(p.weight(3), Some(10.0));
        // Ties among the light terms: the lower ids stay.
        assert_eq!(p.weight(19), Some(1.0));
        assert_eq!(p.weight(20), None);
        assert!((p.norm - full).abs() < 1e-3 * full, "{} vs {full}", p.norm);
        // A dropped term can come back.
        p.add(&[(50, 1.0)]);
        assert_eq!(p.weight(50), Some(1.0));
    }

    #[test]
    fn long_texts_give_capped_profiles_and_merges_keep_them_capped() {
        let config = EngineConfig {
            lexical_terms: 8,
            ..EngineConfig::default()
        };
        let mut idx = index(config);
        let text: String = (0..40).map(|i| format!("t{i:02}word ")).collect();
        let e = unit(5, None, 1.0, 384);
        let a = idx.force(&article("a", e.clone(), None, &text), None);
        let b = idx.force(&article("b", e.clone(), None, &text), None);
        assert_eq!(idx.stories[&a].lex[0].len(), 8);
        idx.merge(b, a);
        let s = &idx.stories[&a];
        assert_eq!(s.lex.len(), 1);
        assert_eq!(s.lex[0].len(), 8);
        assert!(s.lex[0].entries.iter().all(|e| e.weight() == 2.0));
        assert_eq!(s.lex[0].lang, Lang::of("en"));
        assert_eq!(s.entities.iter().collect::<Vec<_>>(), {
            let mut v = vec![(fnv1a(b"a"), 1), (fnv1a(b"b"), 1), (fnv1a(b"peru"), 2)];
            v.sort_unstable();
            v
        });
        assert!(idx.entity_stories[&fnv1a(b"peru")].contains(a));
        assert!(!idx.entity_stories[&fnv1a(b"peru")].contains(b));
        assert_eq!(idx.by_seq.len(), 1);
    }

    #[test]
    fn story_records_stay_small() {
        // ARCHITECTURE.md ("Engine memory layout") quotes this size.
        assert_eq!(std::mem::size_of::<Story>(), 144);
    }

    #[test]
    fn lexical_entries_keep_the_term_and_three_digits_of_weight() {
        assert_eq!(std::mem::size_of::<LexEntry>(), 6);
        for t in [0, 1, 0xffff, 0x1_0000, 0xdead_beef, Term::MAX] {
            assert_eq!(LexEntry::new(t, 1.0).term(), t);
        }
        for w in [1.0f32, 1.693_147, 2.098_612, 7.5, 123.456, 4_000.0] {
            let back = LexEntry::new(7, w).weight();
            assert!((back - w).abs() <= w * 5e-4, "{w} -> {back}");
        }
        // Past the f16 range a weight saturates instead of becoming infinite.
        let big = LexEntry::new(7, 1e9).weight();
        assert!(big.is_finite() && big > 60_000.0);
    }

    #[test]
    fn article_ids_round_trip() {
        let long = "x".repeat(300);
        let mut ids = ArticleIds::default();
        for id in ["a", "", "é-1", long.as_str()] {
            ids.push(id);
        }
        let mut more = ArticleIds::default();
        more.push("z9");
        ids.append(&more);
        assert_eq!(ids.len(), 5);
        assert_eq!(
            ids.iter().collect::<Vec<_>>(),
            vec!["a", "", "é-1", long.as_str(), "z9"]
        );
        // Two length bytes for the 300-byte id, one for the others.
        assert_eq!(ids.heap_bytes(), 2 + 1 + 1 + 4 + 2 + 300 + 1 + 2);
    }

    #[test]
    fn postings_switch_to_sets_and_back() {
        let mut p = Posting::Few(Vec::new());
        for id in 0..=ENTITY_LIST_MAX as i64 {
            p.insert(id);
            p.insert(id);
        }
        assert!(matches!(p, Posting::Many(_)));
        assert_eq!(p.len(), ENTITY_LIST_MAX + 1);
        for id in 0..=(ENTITY_LIST_MAX / 2) as i64 {
            assert!(p.remove(id));
        }
        assert!(!p.remove(0));
        assert!(matches!(p, Posting::Few(_)));
        assert_eq!(p.len(), ENTITY_LIST_MAX / 2);
        let mut seen = Vec::new();
        p.for_each(|id| seen.push(id));
        assert_eq!(
            seen,
            ((ENTITY_LIST_MAX / 2 + 1) as i64..=ENTITY_LIST_MAX as i64).collect::<Vec<_>>()
        );
    }

    /// Undated stream over the live cap: the least recently updated go,
    /// and every side table forgets them.
    #[test]
    fn live_cap_retires_the_least_recent() {
        let config = EngineConfig {
            max_live_stories: 100,
            ..EngineConfig::default()
        };
        let mut idx = index(config);
        let mut first = None;
        for i in 0..300u64 {
            let id = idx.force(
                &article(&format!("n{i}"), unit(i, None, 1.0, 16), None, "x"),
                None,
            );
            first.get_or_insert(id);
            // Story 1 keeps being updated: it outlives the cap.
            if i % 10 == 0 {
                idx.force(
                    &article(&format!("k{i}"), unit(i, None, 1.0, 16), None, "x"),
                    first,
                );
            }
        }
        // Expiry runs every 256 articles: 330 in, 256 of them counted at the check.
        assert!(idx.live_stories() <= 100 + 256);
        assert!(idx.stories.contains_key(&first.unwrap()));
        for i in 0..2000u64 {
            idx.force(
                &article(&format!("m{i}"), unit(i, None, 1.0, 16), None, "x"),
                None,
            );
        }
        assert!(idx.live_stories() <= 100 + 256);
        assert_eq!(idx.by_seq.len(), idx.live_stories());
        assert!(idx.by_time.is_empty());
        assert_eq!(idx.centroids.as_ref().unwrap().len(), idx.live_stories());
        for p in idx.entity_stories.values() {
            assert!(p.len() > 0);
            p.for_each(|id| assert!(idx.stories.contains_key(&id)));
        }
    }

    #[test]
    fn the_window_filter_is_skipped_only_when_it_keeps_everything() {
        let mut idx = index(EngineConfig::default());
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let at = |h: i64| {
            let mut a = article(&format!("h{h}"), unit(h as u64, None, 1.0, 16), None, "x");
            a.time = Some(t0 + chrono::Duration::hours(h));
            a
        };
        assert!(idx.all_in_window(&idx.prepare(&at(0))), "no stories");
        idx.force(&at(0), None);
        idx.force(&at(50), None);
        let all = |idx: &StoryIndex, h: i64| idx.all_in_window(&idx.prepare(&at(h)));
        assert!(all(&idx, 90) && all(&idx, -46));
        assert!(!all(&idx, 97), "the story at hour 0 is out of reach");
        assert!(!all(&idx, -47), "the story at hour 50 is out of reach");
        let mut undated = at(500);
        undated.time = None;
        assert!(idx.all_in_window(&idx.prepare(&undated)));
    }

    #[test]
    fn dated_stories_expire_in_time_order() {
        let mut idx = index(EngineConfig::default());
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        for i in 0..600i64 {
            let mut a = article(&format!("d{i}"), unit(i as u64, None, 1.0, 16), None, "x");
            a.time = Some(t0 + chrono::Duration::hours(i));
            idx.force(&a, None);
        }
        // 2 × 96 h kept behind the newest (hour 599), checked at article 512.
        let oldest = idx.by_time.first().unwrap().0;
        assert!(oldest >= (t0 + chrono::Duration::hours(511 - 192)).timestamp());
        assert_eq!(idx.by_time.len(), idx.live_stories());
        assert_eq!(FEATURE_NAMES.len(), 14);
    }

    /// A story idle for `settle_after_hours` collapses into one member
    /// (its centroid); its centroid signals stay, its nearest member
    /// becomes the centroid, it takes new members, and above the scan
    /// threshold it lends its e5 codes to the centroid index like a lone
    /// story.
    #[test]
    fn idle_stories_settle_into_their_centroid() {
        let mut idx = index(EngineConfig::default());
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let at = |a: ArticleInput, h: i64| ArticleInput {
            time: Some(t0 + chrono::Duration::hours(h)),
            ..a
        };
        // Filler stories, so that the centroid index is in use (later in
        // time than the story, so that they do not settle before it).
        let n = EXACT_SCAN_BELOW as u64 + 10;
        for i in 0..n {
            let a = article(&format!("f{i}"), unit(7000 + i, None, 1.0, 384), None, "x");
            idx.force(&at(a, 3), None);
        }
        let centre = unit(1, None, 1.0, 384);
        let use_centre = unit(2, None, 1.0, 512);
        let member = |i: u64| {
            let a = article(
                &format!("m{i}"),
                unit(10 + i, Some(&centre), 0.15, 384),
                Some(unit(20 + i, Some(&use_centre), 0.3, 512)),
                "quake arequipa",
            );
            at(a, 1)
        };
        let id = idx.force(&member(0), None);
        for i in 1..5 {
            idx.force(&member(i), Some(id));
        }
        // A copy of one member: its nearest member is itself.
        let q = idx.prepare(&ArticleInput {
            id: "q".into(),
            ..member(2)
        });
        let before = idx.features(&q, &idx.stories[&id]);
        let bytes_before = idx.stories[&id].members.heap_bytes();
        assert_eq!(idx.stories[&id].members.len(), 5);
        assert!(before.e5_nearest > 0.999 && before.e5_centroid < 0.99);

        // A day later (default 24 h) the story settles.
        let later = article("later", unit(555, None, 1.0, 384), None, "x");
        idx.force(&at(later.clone(), 24), None);
        assert_eq!(idx.stories[&id].members.len(), 5, "not idle for 24 h yet");
        idx.force(
            &at(
                ArticleInput {
                    id: "later2".into(),
                    ..later
                },
                26,
            ),
            None,
        );
        let s = &idx.stories[&id];
        assert_eq!(s.members.len(), 1);
        assert_eq!(s.articles.len(), 5);
        assert!(s.members.e5_elsewhere(), "lent like a lone story");
        assert!(s.members.heap_bytes() * 4 < bytes_before);
        let after = idx.features(&q, s);
        for (got, want) in [
            (after.e5_centroid, before.e5_centroid),
            (after.use_centroid, before.use_centroid),
        ] {
            assert!((got - want).abs() < 2e-3, "{got} vs {want}");
        }
        assert!((after.e5_nearest - after.e5_centroid).abs() < 2e-3);
        assert!((after.use_nearest - after.use_centroid).abs() < 1e-2);
        assert_eq!(after.story_size, before.story_size);

        // It takes new members as before: the codes come back first.
        idx.force(&member(9), Some(id));
        let s = &idx.stories[&id];
        assert_eq!(s.members.len(), 2);
        assert!(s.members.iter().all(|m| m.e5.is_some()));
        assert_eq!(s.articles.len(), 6);
    }

    /// After a jump in time the backlog of idle stories settles a few per
    /// article, oldest first, and drains.
    #[test]
    fn settling_spreads_a_backlog_over_articles() {
        let mut idx = index(EngineConfig::default());
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let dated = |id: String, seed: u64, h: i64| ArticleInput {
            time: Some(t0 + chrono::Duration::hours(h)),
            ..article(&id, unit(seed, None, 1.0, 16), None, "x")
        };
        let ids: Vec<StoryId> = (0..20u64)
            .map(|i| {
                let id = idx.force(&dated(format!("a{i}"), i, i as i64), None);
                idx.force(&dated(format!("b{i}"), 100 + i, i as i64), Some(id));
                id
            })
            .collect();
        let settled = |idx: &StoryIndex| {
            ids.iter()
                .filter(|id| idx.stories[id].members.len() == 1)
                .count()
        };
        // Hours 0..19 are within a day of each other: nothing settles.
        assert_eq!(settled(&idx), 0);
        for (k, want) in [(0, 8), (1, 16), (2, 20)] {
            idx.force(&dated(format!("late{k}"), 999 + k, 100), None);
            assert_eq!(settled(&idx), want);
            // Oldest first.
            assert!(ids[..want]
                .iter()
                .all(|id| idx.stories[id].members.len() == 1));
        }
    }
}
