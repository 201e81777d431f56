//! [`StoryIndex`]: the live stories and the online assignment of articles.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use crate::ann::CentroidIndex;
use crate::docfreq::DocFreq;
use crate::features::{Features, Signals};
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
    /// Undated streams cannot expire by time: keep at most this many live stories.
    pub max_live_stories: usize,
    pub signals: Signals,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            window_hours: 96.0,
            max_candidates: 16,
            df_window: 20_000,
            nearest_members: 32,
            max_live_stories: 200_000,
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

/// An article as the engine keeps it.
struct Prepared {
    lang: String,
    time: Option<i64>,
    e5: Vec<f32>,
    use_vec: Option<Vec<f32>>,
    entities: Vec<u64>,
    /// (term, 1 + ln tf), sorted by term.
    terms: Vec<(Term, f32)>,
}

struct Member {
    e5: Vec<f32>,
    use_vec: Option<Vec<f32>>,
}

#[derive(Default)]
struct LexProfile {
    weights: FxHashMap<Term, f32>,
    /// Norm of the IDF-weighted profile, refreshed on every update.
    norm: f32,
}

struct Story {
    id: StoryId,
    articles: Vec<String>,
    e5_sum: Vec<f32>,
    e5_norm: f32,
    use_sum: Vec<f32>,
    use_n: u32,
    use_norm: f32,
    recent: VecDeque<Member>,
    entities: FxHashMap<u64, u32>,
    lex: FxHashMap<String, LexProfile>,
    t_min: Option<i64>,
    t_max: Option<i64>,
    t_sum: f64,
    t_n: u32,
    last_seq: u64,
}

/// The live stories and everything needed to place the next article.
///
/// Invariants: an article is in exactly one live story; story ids only
/// grow; the same articles in the same order give the same stories (no
/// randomness, no hash-order dependence: maps use a fixed hasher and ties
/// break on the lower story id).
pub struct StoryIndex {
    config: EngineConfig,
    scorer: Scorer,
    stories: FxHashMap<StoryId, Story>,
    /// Live story ids in creation order (for deterministic scans).
    live: Vec<StoryId>,
    entity_stories: FxHashMap<u64, Vec<StoryId>>,
    df_terms: DocFreq,
    df_entities: DocFreq,
    next_id: StoryId,
    seq: u64,
    now: Option<i64>,
    /// Approximate nearest story centroids, kept in step with every story change.
    centroids: Option<CentroidIndex>,
}

const HOUR: f64 = 3600.0;

/// Below this many live stories an exact scan of the centroids costs under
/// ~1.3 ms (0.32 µs a story, measured by `storyweave bench cluster`) and is
/// exact; above it the HNSW index takes over.
const EXACT_SCAN_BELOW: usize = 4096;

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
            live: Vec::new(),
            entity_stories: FxHashMap::default(),
            next_id: 1,
            seq: 0,
            now: None,
            centroids: None,
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
        self.live.len()
    }

    /// Members of a live story, in arrival order.
    pub fn story_articles(&self, id: StoryId) -> Option<&[String]> {
        self.stories.get(&id).map(|s| s.articles.as_slice())
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
            lang: a.lang.split('-').next().unwrap_or("und").to_string(),
            time: a.time.map(|t| t.timestamp()),
            e5: a.e5.clone(),
            use_vec: a.use_vec.clone(),
            entities,
            terms,
        }
    }

    fn features(&self, a: &Prepared, s: &Story) -> Features {
        let mut f = Features {
            e5_centroid: dot(&a.e5, &s.e5_sum) / s.e5_norm,
            ..Default::default()
        };
        f.e5_nearest = s
            .recent
            .iter()
            .map(|m| dot(&a.e5, &m.e5))
            .fold(f32::MIN, f32::max)
            .max(f.e5_centroid);
        if let (Some(u), true) = (&a.use_vec, s.use_n > 0) {
            f.use_known = 1.0;
            f.use_centroid = dot(u, &s.use_sum) / s.use_norm;
            f.use_nearest = s
                .recent
                .iter()
                .filter_map(|m| m.use_vec.as_ref().map(|v| dot(u, v)))
                .fold(f.use_centroid, f32::max);
        }
        if !a.entities.is_empty() {
            let (mut shared_mass, mut total, mut shared) = (0f32, 0f32, 0u32);
            for k in &a.entities {
                let idf = self.df_entities.idf(*k);
                total += idf;
                if let Some(&c) = s.entities.get(k) {
                    let frac = c as f32 / s.articles.len() as f32;
                    shared_mass += idf * (2.0 * frac).min(1.0);
                    shared += 1;
                }
            }
            f.entity_overlap = shared_mass / total.max(1e-6);
            f.entity_shared = (1.0 + shared as f32).ln();
        }
        if let Some(profile) = s.lex.get(&a.lang) {
            f.lexical_known = 1.0;
            let (mut d, mut na) = (0f32, 0f32);
            for (t, w) in &a.terms {
                let idf = self.df_terms.idf(*t);
                let wa = w * idf;
                na += wa * wa;
                if let Some(ws) = profile.weights.get(t) {
                    d += wa * ws * idf;
                }
            }
            f.lexical = d / (na.sqrt().max(1e-6) * profile.norm.max(1e-6));
        }
        if let (Some(t), Some(lo), Some(hi)) = (a.time, s.t_min, s.t_max) {
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
        f
    }

    fn in_window(&self, a: &Prepared, s: &Story) -> bool {
        match (a.time, s.t_min, s.t_max) {
            (Some(t), Some(lo), Some(hi)) => {
                let w = (self.config.window_hours * HOUR) as i64;
                t >= lo - w && t <= hi + w
            }
            _ => true,
        }
    }

    /// Candidate stories for an article, with their signals: the stories
    /// closest by e5 centroid within the time window, plus those sharing an
    /// entity with it.
    fn candidates_prepared(&self, a: &Prepared) -> Vec<(StoryId, Features)> {
        let k = self.config.max_candidates;
        let mut ids: Vec<StoryId> = match &self.centroids {
            // The window filter runs inside the graph walk, so k in-window stories come back.
            Some(c) if self.live.len() >= EXACT_SCAN_BELOW => c
                .search_where(&a.e5, k, |id| {
                    self.stories.get(&id).is_some_and(|s| self.in_window(a, s))
                })
                .into_iter()
                .map(|(id, _)| id)
                .collect(),
            _ => {
                let mut scored: Vec<(f32, StoryId)> = self
                    .live
                    .iter()
                    .filter_map(|id| self.stories.get(id))
                    .filter(|s| self.in_window(a, s))
                    .map(|s| (dot(&a.e5, &s.e5_sum) / s.e5_norm, s.id))
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
            let mut by_entity: FxHashMap<StoryId, f32> = FxHashMap::default();
            for k in &a.entities {
                let idf = self.df_entities.idf(*k);
                if let Some(list) = self.entity_stories.get(k) {
                    if list.len() <= 64 {
                        for id in list {
                            *by_entity.entry(*id).or_insert(0.0) += idf;
                        }
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
        self.observe(&p);
        self.expire();
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
        self.observe(&p);
        self.expire();
        id
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
        let mut s = self.empty_story(0);
        self.fill(&mut s, b, &pb);
        self.features(&self.prepare(a), &s)
    }

    pub fn scorer(&self) -> &Scorer {
        &self.scorer
    }

    fn observe(&mut self, p: &Prepared) {
        self.df_terms.add(p.terms.iter().map(|(t, _)| *t).collect());
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
        let s = self.empty_story(id);
        self.stories.insert(id, s);
        self.live.push(id);
    }

    fn empty_story(&self, id: StoryId) -> Story {
        Story {
            id,
            articles: Vec::new(),
            e5_sum: Vec::new(),
            e5_norm: 1.0,
            use_sum: Vec::new(),
            use_n: 0,
            use_norm: 1.0,
            recent: VecDeque::new(),
            entities: FxHashMap::default(),
            lex: FxHashMap::default(),
            t_min: None,
            t_max: None,
            t_sum: 0.0,
            t_n: 0,
            last_seq: 0,
        }
    }

    fn add_member(&mut self, id: StoryId, a: &ArticleInput, p: &Prepared) {
        let Some(mut s) = self.stories.remove(&id) else {
            return;
        };
        for k in &p.entities {
            if !s.entities.contains_key(k) {
                let list = self.entity_stories.entry(*k).or_default();
                if !list.contains(&id) {
                    list.push(id);
                }
            }
        }
        self.fill(&mut s, a, p);
        s.last_seq = self.seq;
        self.stories.insert(id, s);
        self.sync_centroid(id);
    }

    fn sync_centroid(&mut self, id: StoryId) {
        let Some(s) = self.stories.get(&id) else {
            return;
        };
        if s.e5_sum.is_empty() {
            return;
        }
        let c = self
            .centroids
            .get_or_insert_with(|| CentroidIndex::new(s.e5_sum.len()));
        // A wrong dimension is an upstream bug; the exact scan still sees the story.
        let _ = c.upsert(id, &s.e5_sum);
    }

    fn fill(&self, s: &mut Story, a: &ArticleInput, p: &Prepared) {
        s.articles.push(a.id.clone());
        add_into(&mut s.e5_sum, &p.e5);
        s.e5_norm = norm(&s.e5_sum);
        if let Some(u) = &p.use_vec {
            add_into(&mut s.use_sum, u);
            s.use_n += 1;
            s.use_norm = norm(&s.use_sum);
        }
        s.recent.push_back(Member {
            e5: p.e5.clone(),
            use_vec: p.use_vec.clone(),
        });
        if s.recent.len() > self.config.nearest_members {
            s.recent.pop_front();
        }
        for k in &p.entities {
            *s.entities.entry(*k).or_insert(0) += 1;
        }
        let profile = s.lex.entry(p.lang.clone()).or_default();
        for (t, w) in &p.terms {
            *profile.weights.entry(*t).or_insert(0.0) += w;
        }
        profile.norm = self.profile_norm(profile);
        if let Some(t) = p.time {
            s.t_min = Some(s.t_min.map_or(t, |m| m.min(t)));
            s.t_max = Some(s.t_max.map_or(t, |m| m.max(t)));
            s.t_sum += t as f64;
            s.t_n += 1;
        }
    }

    fn profile_norm(&self, profile: &LexProfile) -> f32 {
        let mut terms: Vec<(&Term, &f32)> = profile.weights.iter().collect();
        // Sorted so the float sum does not depend on map order.
        terms.sort_unstable_by_key(|(t, _)| **t);
        terms
            .iter()
            .map(|(t, w)| (**w * self.df_terms.idf(**t)).powi(2))
            .sum::<f32>()
            .sqrt()
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
        let mut entities: Vec<u64> = small
            .entities
            .iter()
            .filter(|(_, c)| **c >= half)
            .map(|(k, _)| *k)
            .collect();
        entities.sort_unstable();
        let lang = small
            .lex
            .iter()
            .max_by_key(|(l, p)| (p.weights.len(), (*l).clone()))
            .map(|(l, _)| l.clone())
            .unwrap_or_default();
        let mut terms: Vec<(Term, f32)> = small
            .lex
            .get(&lang)
            .map(|p| p.weights.iter().map(|(t, w)| (*t, *w)).collect())
            .unwrap_or_default();
        terms.sort_unstable_by_key(|(t, _)| *t);
        let pseudo = Prepared {
            lang,
            time: (small.t_n > 0).then(|| (small.t_sum / small.t_n as f64) as i64),
            e5: small.e5_sum.iter().map(|v| v / small.e5_norm).collect(),
            use_vec: (small.use_n > 0)
                .then(|| small.use_sum.iter().map(|v| v / small.use_norm).collect()),
            entities,
            terms,
        };
        Some(self.scorer.probability(&self.features(&pseudo, big)))
    }

    fn merge(&mut self, from: StoryId, into: StoryId) {
        let Some(src) = self.stories.remove(&from) else {
            return;
        };
        self.live.retain(|id| *id != from);
        let mut keys: Vec<u64> = src.entities.keys().copied().collect();
        keys.sort_unstable();
        for k in keys {
            if let Some(list) = self.entity_stories.get_mut(&k) {
                if let Some(pos) = list.iter().position(|id| *id == from) {
                    list.remove(pos);
                    if !list.contains(&into) {
                        list.push(into);
                    }
                }
            }
        }
        let Some(mut dst) = self.stories.remove(&into) else {
            return;
        };
        dst.articles.extend(src.articles);
        add_into(&mut dst.e5_sum, &src.e5_sum);
        dst.e5_norm = norm(&dst.e5_sum);
        if src.use_n > 0 {
            add_into(&mut dst.use_sum, &src.use_sum);
            dst.use_n += src.use_n;
            dst.use_norm = norm(&dst.use_sum);
        }
        dst.recent.extend(src.recent);
        while dst.recent.len() > self.config.nearest_members {
            dst.recent.pop_front();
        }
        for (k, c) in src.entities {
            *dst.entities.entry(k).or_insert(0) += c;
        }
        let mut langs: Vec<(String, LexProfile)> = src.lex.into_iter().collect();
        langs.sort_by(|a, b| a.0.cmp(&b.0));
        for (lang, p) in langs {
            let mut ts: Vec<(Term, f32)> = p.weights.into_iter().collect();
            ts.sort_unstable_by_key(|(t, _)| *t);
            let dp = dst.lex.entry(lang).or_default();
            for (t, w) in ts {
                *dp.weights.entry(t).or_insert(0.0) += w;
            }
        }
        let mut langs: Vec<String> = dst.lex.keys().cloned().collect();
        langs.sort();
        for l in langs {
            let n = self.profile_norm(&dst.lex[&l]);
            if let Some(p) = dst.lex.get_mut(&l) {
                p.norm = n;
            }
        }
        dst.t_min = [dst.t_min, src.t_min].into_iter().flatten().min();
        dst.t_max = [dst.t_max, src.t_max].into_iter().flatten().max();
        dst.t_sum += src.t_sum;
        dst.t_n += src.t_n;
        dst.last_seq = dst.last_seq.max(src.last_seq);
        self.stories.insert(into, dst);
        if let Some(c) = &mut self.centroids {
            c.remove(from);
        }
        self.sync_centroid(into);
    }

    /// Retires stories that fell out of the time window, and the least
    /// recently updated when an undated stream exceeds the live cap.
    fn expire(&mut self) {
        if !self.seq.is_multiple_of(256) {
            return;
        }
        let horizon = self
            .now
            .map(|n| n - (2.0 * self.config.window_hours * HOUR) as i64);
        let mut dead: FxHashSet<StoryId> = FxHashSet::default();
        if let Some(h) = horizon {
            for id in &self.live {
                if self.stories[id].t_max.is_some_and(|t| t < h) {
                    dead.insert(*id);
                }
            }
        }
        let over = self
            .live
            .len()
            .saturating_sub(dead.len())
            .saturating_sub(self.config.max_live_stories);
        if over > 0 {
            let mut by_age: Vec<(u64, StoryId)> = self
                .live
                .iter()
                .filter(|id| !dead.contains(id))
                .map(|id| (self.stories[id].last_seq, *id))
                .collect();
            by_age.sort_unstable();
            dead.extend(by_age.into_iter().take(over).map(|(_, id)| id));
        }
        if dead.is_empty() {
            return;
        }
        self.live.retain(|id| !dead.contains(id));
        for id in &dead {
            self.stories.remove(id);
        }
        if let Some(c) = &mut self.centroids {
            let mut gone: Vec<StoryId> = dead.iter().copied().collect();
            gone.sort_unstable();
            for id in gone {
                c.remove(id);
            }
        }
        self.entity_stories.retain(|_, list| {
            list.retain(|id| !dead.contains(id));
            !list.is_empty()
        });
    }
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
