//! Running the story engine over evaluation data: preparing articles
//! (embeddings, cached by content; entities), clustering a stream, scoring
//! pairs, and building the training examples of the learned scorer.

use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};
use storyweave_core::Article;
use storyweave_engine::scorer::{fit_logistic, fit_trees, Model};
use storyweave_engine::{
    ArticleInput, Decision, EngineConfig, Explanation, Scorer, Signals, StoryIndex, N_FEATURES,
};
use storyweave_entities::EntityExtractor;
use storyweave_pipeline::{article_entities, engine_input, Encoders};
use storyweave_store::VectorCache;

use crate::error::EvalError;
use crate::metrics::{cluster_scores, ClusterScores};

fn text_key(prefix: &str, text: &str) -> String {
    let mut h = Sha256::new();
    h.update(text.as_bytes());
    let d = h.finalize();
    let hex: String = d[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}:{hex}")
}

/// Embeds (through the cache) and extracts entities for every article.
/// `tick` is called with the number of articles done so far.
pub fn prepare(
    articles: &[&Article],
    enc: &Encoders,
    cache: &mut VectorCache,
    extractor: &EntityExtractor,
    threads: usize,
    tick: &mut dyn FnMut(usize),
) -> Result<Vec<ArticleInput>, storyweave_store::StoreError> {
    use storyweave_embed::Encoder;
    let e5_tag = format!("e5-{:?}-{:?}", enc.e5.prefix, enc.e5.max_tokens);
    let texts: Vec<String> = articles.iter().map(|a| a.full_text()).collect();
    let mut e5: Vec<Option<Vec<f32>>> = Vec::with_capacity(texts.len());
    let mut usev: Vec<Option<Vec<f32>>> = Vec::with_capacity(texts.len());
    for t in &texts {
        e5.push(cache.get(&text_key(&e5_tag, t))?);
        usev.push(cache.get(&text_key("usem", t))?);
    }
    let todo: Vec<usize> = (0..texts.len())
        .filter(|&i| {
            e5[i].is_none() || (usev[i].is_none() && enc.usem.supports(articles[i].lang_or_und()))
        })
        .collect();
    let mut done = texts.len() - todo.len();
    tick(done);
    for chunk in todo.chunks(threads.max(1) * 16) {
        let need_e5: Vec<usize> = chunk.iter().copied().filter(|&i| e5[i].is_none()).collect();
        let need_use: Vec<usize> = chunk
            .iter()
            .copied()
            .filter(|&i| usev[i].is_none() && enc.usem.supports(articles[i].lang_or_und()))
            .collect();
        let refs: Vec<&str> = need_e5.iter().map(|&i| texts[i].as_str()).collect();
        let vs = enc.e5.embed_batch(&refs, threads);
        let mut put = Vec::new();
        for (&i, v) in need_e5.iter().zip(vs) {
            put.push((text_key(&e5_tag, &texts[i]), v.clone()));
            e5[i] = Some(v);
        }
        let refs: Vec<&str> = need_use.iter().map(|&i| texts[i].as_str()).collect();
        let vs = enc.usem.embed_batch(&refs, threads);
        for (&i, v) in need_use.iter().zip(vs) {
            put.push((text_key("usem", &texts[i]), v.clone()));
            usev[i] = Some(v);
        }
        cache.put_many(&put)?;
        done += chunk.len();
        tick(done);
    }
    Ok(articles
        .iter()
        .zip(e5)
        .zip(usev)
        .map(|((a, e), u)| {
            let ents = article_entities(extractor, a);
            let u = if enc.usem.supports(a.lang_or_und()) {
                u
            } else {
                None
            };
            engine_input(a, e.unwrap_or_default(), u, &ents)
        })
        .collect())
}

/// Feeds the articles in `order` through a fresh engine; returns each
/// article's final story (merges applied).
pub fn cluster(
    inputs: &[ArticleInput],
    order: &[usize],
    scorer: Scorer,
    config: EngineConfig,
) -> Vec<i64> {
    cluster_with_decisions(inputs, order, scorer, config).0
}

/// [`cluster`], with the engine's decision for each article (indexed like
/// `inputs`), for error analysis (`storyweave eval --decisions`).
pub fn cluster_with_decisions(
    inputs: &[ArticleInput],
    order: &[usize],
    scorer: Scorer,
    config: EngineConfig,
) -> (Vec<i64>, Vec<Option<Decision>>) {
    let mut index = StoryIndex::new(scorer, config);
    let mut story = vec![0i64; inputs.len()];
    let mut decisions = vec![None; inputs.len()];
    let mut redirect: FxHashMap<i64, i64> = FxHashMap::default();
    for &i in order {
        let d = index.assign(&inputs[i]);
        story[i] = d.story;
        for (from, into, _) in &d.merged {
            redirect.insert(*from, *into);
        }
        decisions[i] = Some(d);
    }
    for s in story.iter_mut() {
        while let Some(&n) = redirect.get(s) {
            *s = n;
        }
    }
    (story, decisions)
}

/// Clusters and scores against the gold labels.
pub fn cluster_and_score(
    inputs: &[ArticleInput],
    order: &[usize],
    gold: &[String],
    scorer: Scorer,
    config: EngineConfig,
) -> ClusterScores {
    score_found(&cluster(inputs, order, scorer, config), order, gold)
        .expect("same lengths, non-empty")
}

/// Scores the stories found for each article (indexed like the inputs)
/// against the gold labels, in stream order.
pub fn score_found(
    found: &[i64],
    order: &[usize],
    gold: &[String],
) -> Result<ClusterScores, EvalError> {
    let p: Vec<String> = order.iter().map(|&i| found[i].to_string()).collect();
    let g: Vec<&str> = order.iter().map(|&i| gold[i].as_str()).collect();
    cluster_scores(&p, &g)
}

/// Each pair's probability of reporting one story, with its per-signal
/// explanation: `a` scored against a story made of `b`, with IDF
/// statistics from every text of the set.
pub fn pair_explanations(
    pairs: &[(ArticleInput, ArticleInput)],
    scorer: Scorer,
    config: EngineConfig,
) -> Vec<Explanation> {
    let mut index = StoryIndex::new(scorer, config);
    for (a, b) in pairs {
        index.observe_only(a);
        index.observe_only(b);
    }
    pairs.iter().map(|(a, b)| index.pair(a, b)).collect()
}

/// Training examples from a labelled stream, by teacher forcing: each
/// article meets the candidates the engine would retrieve, labelled by
/// whether the candidate is its gold story; then it joins its gold story.
pub fn story_examples(
    inputs: &[ArticleInput],
    order: &[usize],
    gold: &[String],
    config: EngineConfig,
) -> Vec<([f32; N_FEATURES], bool)> {
    let mut index = StoryIndex::new(
        Scorer::untrained(Signals::All),
        EngineConfig {
            signals: Signals::All,
            ..config
        },
    );
    let mut ids: FxHashMap<&str, i64> = FxHashMap::default();
    let mut out = Vec::new();
    for &i in order {
        let target = ids.get(gold[i].as_str()).copied();
        for (id, f) in index.candidates(&inputs[i]) {
            out.push((f.values(), Some(id) == target));
        }
        let id = index.force(&inputs[i], target);
        ids.insert(gold[i].as_str(), id);
    }
    out
}

/// Training examples from labelled pairs: same story (overall ≤ 1.5) or
/// different (≥ 3.5); the pairs between are left out.
pub fn pair_examples(
    pairs: &[(ArticleInput, ArticleInput, bool)],
    config: EngineConfig,
) -> Vec<([f32; N_FEATURES], bool)> {
    let mut index = StoryIndex::new(Scorer::untrained(Signals::All), config);
    for (a, b, _) in pairs {
        index.observe_only(a);
        index.observe_only(b);
    }
    pairs
        .iter()
        .map(|(a, b, y)| (index.pair_features(a, b).values(), *y))
        .collect()
}

/// Fits the scorer for one signal set on examples grouped by data set.
/// Every set weighs the same in the fit, however many examples it gives,
/// so that one large set (11,000 headlines) does not decide the weights for
/// all the others. Thresholds are set afterwards by [`tune_join_threshold`].
pub fn fit(
    sets: &[Vec<([f32; N_FEATURES], bool)>],
    signals: Signals,
    boost: &storyweave_engine::trees::BoostParams,
) -> Model {
    let n_sets = sets.iter().filter(|s| !s.is_empty()).count().max(1) as f64;
    let total: usize = sets.iter().map(Vec::len).sum();
    let mut xs = Vec::with_capacity(total);
    let mut ys = Vec::with_capacity(total);
    let mut ws = Vec::with_capacity(total);
    for set in sets.iter().filter(|s| !s.is_empty()) {
        let w = total as f64 / (n_sets * set.len() as f64);
        for (x, y) in set {
            xs.push(*x);
            ys.push(*y);
            ws.push(w);
        }
    }
    let mut active = [false; N_FEATURES];
    for (j, a) in active.iter_mut().enumerate() {
        *a = signals.uses(j);
    }
    let (mean, scale, weights, bias) = fit_logistic(&xs, &ys, &ws, &active, 1.0);
    let mut model = Model::logistic(mean, scale, weights, bias);
    let linear = Scorer {
        model: model.clone(),
        signals,
    };
    model.trees = fit_trees(&linear, &xs, &ys, &ws, boost);
    model
}

/// The same labelled stream with its stories packed together in time: each
/// gold story keeps its own internal gaps but starts at a point of a
/// `hours`-long span drawn from its label (deterministic). None when fewer
/// than half the articles are dated (nothing to pack).
pub fn dense_timeline(records: &[(Article, String)], hours: f64) -> Option<Vec<(Article, String)>> {
    let dated = records
        .iter()
        .filter(|(a, _)| a.published_at.is_some())
        .count();
    if dated * 2 < records.len() || records.is_empty() {
        return None;
    }
    let origin = records.iter().filter_map(|(a, _)| a.published_at).min()?;
    let span = (hours * 3600.0).max(1.0) as u64;
    // Per story: its first date and where in the span it now starts.
    let mut start: FxHashMap<&str, (chrono::DateTime<chrono::Utc>, i64)> = FxHashMap::default();
    for (a, s) in records {
        if let Some(t) = a.published_at {
            let e = start.entry(s.as_str()).or_insert_with(|| {
                let h = Sha256::digest(s.as_bytes());
                let offset = u64::from_le_bytes(h[..8].try_into().expect("8 bytes")) % span;
                (t, offset as i64)
            });
            e.0 = e.0.min(t);
        }
    }
    Some(
        records
            .iter()
            .map(|(a, s)| {
                let mut a = a.clone();
                if let (Some(t), Some((first, offset))) = (a.published_at, start.get(s.as_str())) {
                    a.published_at =
                        Some(origin + (t - *first) + chrono::Duration::seconds(*offset));
                }
                (a, s.clone())
            })
            .collect(),
    )
}

/// A labelled stream for threshold tuning.
pub struct Stream<'a> {
    pub inputs: &'a [ArticleInput],
    pub order: &'a [usize],
    pub gold: &'a [String],
}

/// Picks the join threshold that maximises mean BCubed F1 over the dev
/// streams (grid 0.05..0.95), with the merge threshold at its default
/// place above it ([`merge_threshold_for`]): `model` with both set, and
/// its dev F1.
pub fn tune_join_threshold(
    streams: &[Stream<'_>],
    model: &Model,
    signals: Signals,
    config: &EngineConfig,
) -> (Model, f64) {
    let grid = (1..20).map(|step| {
        let t = step as f32 * 0.05;
        Model {
            join_threshold: t,
            merge_threshold: merge_threshold_for(t),
            ..model.clone()
        }
    });
    best_on_dev(streams, None, grid, signals, config)
}

/// Picks the merge threshold, with the join threshold fixed, that
/// maximises mean BCubed F1 over the dev streams: from the join threshold
/// itself up to 0.99 (merging almost never). `model` as it stands, with
/// its dev F1 `f1` (from [`tune_join_threshold`]), is kept unless another
/// place is strictly better.
pub fn tune_merge_threshold(
    streams: &[Stream<'_>],
    model: &Model,
    f1: f64,
    signals: Signals,
    config: &EngineConfig,
) -> (f32, f64) {
    let join = model.join_threshold;
    let grid = MERGE_STEPS.iter().map(|k| Model {
        merge_threshold: (join + (1.0 - join) * k).min(0.99),
        ..model.clone()
    });
    let (m, f) = best_on_dev(streams, Some((model.clone(), f1)), grid, signals, config);
    (m.merge_threshold, f)
}

/// Where else the merge threshold may sit between the join threshold (0)
/// and 1; the default place, 0.6 ([`merge_threshold_for`]), is already
/// scored by [`tune_join_threshold`].
const MERGE_STEPS: [f32; 5] = [0.0, 0.2, 0.4, 0.8, 0.975];

/// The first model with the best mean dev BCubed F1: `incumbent` (already
/// scored), then `grid` in order.
fn best_on_dev(
    streams: &[Stream<'_>],
    incumbent: Option<(Model, f64)>,
    grid: impl Iterator<Item = Model>,
    signals: Signals,
    config: &EngineConfig,
) -> (Model, f64) {
    let mut best = incumbent;
    for m in grid {
        let scorer = Scorer {
            model: m.clone(),
            signals,
        };
        let f: f64 = streams
            .iter()
            .map(|s| {
                cluster_and_score(
                    s.inputs,
                    s.order,
                    s.gold,
                    scorer.clone(),
                    EngineConfig {
                        signals,
                        ..config.clone()
                    },
                )
                .bcubed_f1
            })
            .sum::<f64>()
            / streams.len().max(1) as f64;
        if best.as_ref().is_none_or(|b| f > b.1 + 1e-9) {
            best = Some((m, f));
        }
    }
    best.expect("a non-empty grid")
}

/// Merging is rarer than joining: a story must fit another clearly.
fn merge_threshold_for(join: f32) -> f32 {
    (join + (1.0 - join) * 0.6).min(0.98)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn rec(story: &str, day: i64, hour: i64) -> (Article, String) {
        let mut a = Article::new(None, format!("{story} {day} {hour}"));
        a.published_at = Some(
            Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
                + Duration::days(day)
                + Duration::hours(hour),
        );
        (a, story.to_string())
    }

    /// Two stories of three articles each, e5 vectors around two
    /// orthogonal directions; the tuners pick from their grids the
    /// thresholds that score best on them.
    #[test]
    fn tuners_pick_the_best_thresholds_on_the_streams() {
        let input = |i: usize| {
            let mut e5 = vec![0.0f32; 8];
            e5[i % 2] = 1.0;
            e5[2 + i] = 0.1;
            ArticleInput {
                id: format!("a{i}"),
                lang: "en".into(),
                time: None,
                e5,
                use_vec: None,
                entities: Vec::new(),
                text: String::new(),
            }
        };
        let inputs: Vec<ArticleInput> = (0..6).map(input).collect();
        let gold: Vec<String> = (0..6).map(|i| format!("s{}", i % 2)).collect();
        let order: Vec<usize> = (0..6).collect();
        let streams = [Stream {
            inputs: &inputs,
            order: &order,
            gold: &gold,
        }];
        let model = Scorer::default_for(Signals::Dense).model;
        let config = EngineConfig::default();
        let (tuned, f1) = tune_join_threshold(&streams, &model, Signals::Dense, &config);
        let t = tuned.join_threshold;
        assert_eq!(tuned.merge_threshold, merge_threshold_for(t));
        let at = |join: f32, merge: f32| {
            let m = Model {
                join_threshold: join,
                merge_threshold: merge,
                ..model.clone()
            };
            let scorer = Scorer {
                model: m,
                signals: Signals::Dense,
            };
            cluster_and_score(&inputs, &order, &gold, scorer, config.clone()).bcubed_f1
        };
        assert_eq!(f1, at(t, merge_threshold_for(t)));
        for step in 1..20 {
            let other = step as f32 * 0.05;
            assert!(at(other, merge_threshold_for(other)) <= f1 + 1e-9);
        }
        let (m, f1_merge) = tune_merge_threshold(&streams, &tuned, f1, Signals::Dense, &config);
        assert!((t..=0.99).contains(&m), "{m}");
        assert_eq!(f1_merge, at(t, m));
        assert!(at(t, merge_threshold_for(t)) <= f1_merge + 1e-9);
        for k in MERGE_STEPS {
            assert!(at(t, (t + (1.0 - t) * k).min(0.99)) <= f1_merge + 1e-9);
        }
    }

    #[test]
    fn dense_timeline_packs_stories_and_keeps_their_gaps() {
        // Three stories months apart, each with a 5-hour internal gap.
        let records = vec![
            rec("a", 0, 0),
            rec("a", 0, 5),
            rec("b", 90, 0),
            rec("b", 90, 5),
            rec("c", 200, 0),
            rec("c", 200, 5),
        ];
        let dense = dense_timeline(&records, 48.0).unwrap();
        let t = |i: usize| dense[i].0.published_at.unwrap();
        for i in [0, 2, 4] {
            assert_eq!(
                t(i + 1) - t(i),
                Duration::hours(5),
                "gap inside a story kept"
            );
        }
        let starts = [t(0), t(2), t(4)];
        let lo = *starts.iter().min().unwrap();
        let hi = *starts.iter().max().unwrap();
        assert!(hi - lo <= Duration::hours(48), "{lo} .. {hi}");
        // Packed from the first date of the set on.
        assert!(lo >= records[0].0.published_at.unwrap());
        // Labels and texts unchanged; the same input packs the same way.
        for (d, r) in dense.iter().zip(&records) {
            assert_eq!(
                (d.0.text.as_str(), d.1.as_str()),
                (r.0.text.as_str(), r.1.as_str())
            );
        }
        let again = dense_timeline(&records, 48.0).unwrap();
        assert!(dense
            .iter()
            .zip(&again)
            .all(|(x, y)| x.0.published_at == y.0.published_at));
    }

    #[test]
    fn dense_timeline_skips_mostly_undated_sets() {
        let mut records = vec![rec("a", 0, 0), rec("a", 0, 1), rec("b", 3, 0)];
        for r in records.iter_mut().take(2) {
            r.0.published_at = None;
        }
        assert!(dense_timeline(&records, 48.0).is_none());
        assert!(dense_timeline(&[], 48.0).is_none());
    }
}
