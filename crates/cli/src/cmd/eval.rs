//! `storyweave eval` and `storyweave train`: the engine measured on
//! labelled data, and the learned scorer fitted on it.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args as ClapArgs;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde::Serialize;
use storyweave_core::Article;
use storyweave_engine::{ArticleInput, EngineConfig, Scorer, ScorerFile, Signals};
use storyweave_entities::EntityExtractor;
use storyweave_eval::data::{DataSet, Split};
use storyweave_eval::run;
use storyweave_eval::{discover, f1_at, load, pearson, roc_auc, split_of, stream_order};
use storyweave_pipeline::Encoders;
use storyweave_store::VectorCache;

use crate::progress;

#[derive(ClapArgs)]
pub struct EvalArgs {
    /// Canonical stories.jsonl / pairs.jsonl files, or folders holding them.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Print the results as JSON: {"sets": [...]}.
    #[arg(long)]
    json: bool,
    /// Which signals the engine uses: `dense` (encoders only, the baseline) or `all`.
    #[arg(long, default_value = "all")]
    signals: String,
    /// A scorer file other than the shipped one.
    #[arg(long)]
    scorer: Option<PathBuf>,
    /// e5 token budget per article: a number, or `full` (default: the shipped 256).
    #[arg(long)]
    e5_tokens: Option<String>,
    /// Also write every clustering decision as JSON Lines (set, article,
    /// gold story, found story, probability and per-signal explanation),
    /// and every pair's score beside its gold `overall`.
    #[arg(long, value_name = "FILE")]
    decisions: Option<PathBuf>,
}

#[derive(ClapArgs)]
pub struct TrainArgs {
    /// Labelled sets to learn from (their dev split only).
    #[arg(default_values = ["corpus", "../shared/data/eval/cstnews_pt", "../shared/data/eval/wikinewssum_en_sample", "../shared/data/eval/mstream_news_en", "../shared/data/eval/semeval2022_task8/hfl_sample/pairs.jsonl"])]
    paths: Vec<PathBuf>,
    /// Also learn from each dated set with its stories packed into this many
    /// hours (0: off): a live stream carries many stories at once, while
    /// the labelled sets spread theirs over months, which would teach the
    /// scorer that "close in time" means "same story".
    #[arg(long, default_value_t = 48.0)]
    dense_hours: f64,
    /// Boosted trees on top of the logistic scorer (0: logistic only, the
    /// shipped choice: 20 or 60 trees raised the dev F1 but not the test F1).
    #[arg(long, default_value_t = 0)]
    trees: usize,
    /// Where to write the scorer file.
    #[arg(long, default_value = "crates/engine/model/scorer.json")]
    out: PathBuf,
}

/// One line of the results table; the JSON schema of `eval --json`.
#[derive(Debug, Serialize)]
pub struct SetResult {
    pub name: String,
    pub path: String,
    pub kind: &'static str,
    /// `test` when the scorer was trained on this set's dev split, else `all`.
    pub split: &'static str,
    pub n: usize,
    pub bcubed_p: Option<f64>,
    pub bcubed_r: Option<f64>,
    pub bcubed_f1: Option<f64>,
    pub pairwise_f1: Option<f64>,
    pub wrong_merges: Option<usize>,
    pub stories_gold: Option<usize>,
    pub stories_found: Option<usize>,
    pub pearson: Option<f64>,
    pub pearson_cross: Option<f64>,
    pub auc: Option<f64>,
    /// Pairs: F1 of "same story" (overall <= 1.5 vs >= 3.5) when the pair's
    /// probability reaches the join threshold the clustering uses.
    pub pair_f1: Option<f64>,
}

fn cache() -> anyhow::Result<VectorCache> {
    let path = storyweave_core::paths::model_dir().with_file_name("vector-cache.db");
    Ok(VectorCache::open(&path)?)
}

struct Prep {
    encoders: Encoders,
    cache: VectorCache,
    extractor: EntityExtractor,
    threads: usize,
}

impl Prep {
    fn new(threads: usize) -> anyhow::Result<Prep> {
        Ok(Prep {
            encoders: super::encoders()?,
            cache: cache()?,
            extractor: EntityExtractor::new(),
            threads,
        })
    }

    fn inputs(&mut self, articles: &[&Article], what: &str) -> anyhow::Result<Vec<ArticleInput>> {
        let pb = progress::bar(articles.len() as u64, what);
        let out = run::prepare(
            articles,
            &self.encoders,
            &mut self.cache,
            &self.extractor,
            self.threads,
            &mut |n| pb.set_position(n as u64),
        )?;
        pb.finish_and_clear();
        Ok(out)
    }
}

fn trained_sets(file: &ScorerFile) -> Vec<String> {
    file.trained_on["sets"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn eval(args: EvalArgs, threads: usize) -> anyhow::Result<i32> {
    let signals = Signals::parse(&args.signals)
        .with_context(|| format!("--signals {}: expected `dense` or `all`", args.signals))?;
    let json = match &args.scorer {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
        None => storyweave_engine::scorer::DEFAULT_SCORER_JSON.to_string(),
    };
    let scorer = Scorer::from_json(&json, signals)?;
    let file: ScorerFile = serde_json::from_str(&json)?;
    let trained = trained_sets(&file);
    let files = discover(&args.paths)?;
    if files.is_empty() {
        anyhow::bail!("no stories.jsonl or pairs.jsonl under {:?}", args.paths);
    }
    let mut prep = Prep::new(threads)?;
    if let Some(t) = &args.e5_tokens {
        let budget = match t.as_str() {
            "full" => None,
            n => Some(
                n.parse::<usize>()
                    .with_context(|| format!("--e5-tokens {n}: expected a number or `full`"))?,
            ),
        };
        if let Some(e5) = std::sync::Arc::get_mut(&mut prep.encoders.e5) {
            e5.max_tokens = budget;
        }
    }
    let config = EngineConfig {
        signals,
        ..EngineConfig::default()
    };
    let mut results = Vec::new();
    let mut decisions_out = match &args.decisions {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => None,
    };
    for f in &files {
        let set = load(f)?;
        let held_in = trained.contains(&f.name);
        let keep = |key: &str| !held_in || split_of(key) == Split::Test;
        let split = if held_in { "test" } else { "all" };
        match set {
            DataSet::Stories {
                name,
                path,
                records,
                ..
            } => {
                let records: Vec<(Article, String)> =
                    records.into_iter().filter(|(_, s)| keep(s)).collect();
                let order = stream_order(&records);
                let arts: Vec<&Article> = records.iter().map(|(a, _)| a).collect();
                let gold: Vec<String> = records.iter().map(|(_, s)| s.clone()).collect();
                let inputs = prep.inputs(&arts, &name)?;
                let (found, decisions) =
                    run::cluster_with_decisions(&inputs, &order, scorer.clone(), config.clone());
                let s = run::score_found(&found, &order, &gold)
                    .context("an evaluation set with no articles")?;
                if let Some(out) = decisions_out.as_mut() {
                    for &i in &order {
                        let d = decisions[i].as_ref().map(|d| d.why());
                        let line = serde_json::json!({
                            "set": name, "id": arts[i].id, "lang": arts[i].lang,
                            "title": arts[i].title, "gold": gold[i], "story": found[i], "why": d,
                        });
                        writeln!(out, "{line}")?;
                    }
                }
                results.push(SetResult {
                    name,
                    path: path.display().to_string(),
                    kind: "stories",
                    split,
                    n: s.n,
                    bcubed_p: Some(s.bcubed_p),
                    bcubed_r: Some(s.bcubed_r),
                    bcubed_f1: Some(s.bcubed_f1),
                    pairwise_f1: Some(s.pairwise_f1),
                    wrong_merges: Some(s.wrong_merges),
                    stories_gold: Some(s.gold_clusters),
                    stories_found: Some(s.predicted_clusters),
                    pearson: None,
                    pearson_cross: None,
                    auc: None,
                    pair_f1: None,
                });
            }
            DataSet::Pairs {
                name, path, pairs, ..
            } => {
                let pairs: Vec<_> = pairs.into_iter().filter(|p| keep(&p.id)).collect();
                let arts: Vec<&Article> = pairs.iter().flat_map(|p| [&p.a, &p.b]).collect();
                let inputs = prep.inputs(&arts, &name)?;
                let mut it = inputs.into_iter();
                let both: Vec<(ArticleInput, ArticleInput)> = pairs
                    .iter()
                    .filter_map(|_| Some((it.next()?, it.next()?)))
                    .collect();
                let explained = run::pair_explanations(&both, scorer.clone(), config.clone());
                let scores: Vec<f64> = explained.iter().map(|e| e.p as f64).collect();
                if let Some(out) = decisions_out.as_mut() {
                    for (p, e) in pairs.iter().zip(&explained) {
                        let line = serde_json::json!({
                            "set": name, "pair": p.id, "a_lang": p.a.lang, "b_lang": p.b.lang,
                            "overall": p.overall, "p": e.p,
                            "signals": e.signals.iter().map(|(n, v, c)| serde_json::json!({"signal": n, "value": v, "contribution": c})).collect::<Vec<_>>(),
                        });
                        writeln!(out, "{line}")?;
                    }
                }
                let target: Vec<f64> = pairs.iter().map(|p| -p.overall).collect();
                let cross: Vec<usize> = (0..pairs.len())
                    .filter(|&i| pairs[i].a.lang != pairs[i].b.lang)
                    .collect();
                let (bin_s, bin_y): (Vec<f64>, Vec<bool>) = pairs
                    .iter()
                    .zip(&scores)
                    .filter_map(|(p, s)| p.same_story().map(|y| (*s, y)))
                    .unzip();
                results.push(SetResult {
                    name,
                    path: path.display().to_string(),
                    kind: "pairs",
                    split,
                    n: pairs.len(),
                    bcubed_p: None,
                    bcubed_r: None,
                    bcubed_f1: None,
                    pairwise_f1: None,
                    wrong_merges: None,
                    stories_gold: None,
                    stories_found: None,
                    pearson: pearson(&scores, &target),
                    pearson_cross: if cross.len() >= 2 {
                        pearson(
                            &cross.iter().map(|&i| scores[i]).collect::<Vec<_>>(),
                            &cross.iter().map(|&i| target[i]).collect::<Vec<_>>(),
                        )
                    } else {
                        None
                    },
                    auc: roc_auc(&bin_s, &bin_y),
                    pair_f1: f1_at(&bin_s, &bin_y, scorer.model.join_threshold as f64),
                });
            }
        }
    }
    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({ "signals": signals.name(), "sets": results }),
        )?;
        writeln!(out)?;
    } else {
        println!("{}", results_table(&results, signals));
    }
    Ok(0)
}

fn f(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into())
}

pub fn results_table(results: &[SetResult], signals: Signals) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "set",
        "split",
        "n",
        "BCubed P",
        "BCubed R",
        "BCubed F1",
        "pairwise F1",
        "wrong merges",
        "stories gold/found",
        "Pearson",
        "Pearson cross",
        "ROC AUC",
        "F1 @ join",
    ]);
    for r in results {
        t.add_row(vec![
            r.name.clone(),
            r.split.to_string(),
            r.n.to_string(),
            f(r.bcubed_p),
            f(r.bcubed_r),
            f(r.bcubed_f1),
            f(r.pairwise_f1),
            r.wrong_merges
                .map(|w| w.to_string())
                .unwrap_or_else(|| "-".into()),
            match (r.stories_gold, r.stories_found) {
                (Some(g), Some(p)) => format!("{g}/{p}"),
                _ => "-".into(),
            },
            f(r.pearson),
            f(r.pearson_cross),
            f(r.auc),
            f(r.pair_f1),
        ]);
    }
    t.add_row(vec![format!("signals: {}", signals.name())]);
    t
}

pub fn train(args: TrainArgs, threads: usize) -> anyhow::Result<i32> {
    let files = discover(&args.paths)?;
    let mut prep = Prep::new(threads)?;
    // The scorer learns the signals of stories in full detail: settling is
    // a memory bound for long live streams, and a settled story's signals
    // approximate those (the labelled sets cluster the same either way).
    let config = EngineConfig {
        settle_after_hours: f64::INFINITY,
        ..EngineConfig::default()
    };
    let mut examples = Vec::new();
    let mut streams_data: Vec<(Vec<ArticleInput>, Vec<usize>, Vec<String>)> = Vec::new();
    let mut names = Vec::new();
    for f in &files {
        names.push(f.name.clone());
        match load(f)? {
            DataSet::Stories { name, records, .. } => {
                let records: Vec<(Article, String)> = records
                    .into_iter()
                    .filter(|(_, s)| split_of(s) == Split::Dev)
                    .collect();
                let order = stream_order(&records);
                let arts: Vec<&Article> = records.iter().map(|(a, _)| a).collect();
                let gold: Vec<String> = records.iter().map(|(_, s)| s.clone()).collect();
                let inputs = prep.inputs(&arts, &name)?;
                let ex = run::story_examples(&inputs, &order, &gold, config.clone());
                eprintln!(
                    "{name}: {} dev articles, {} examples",
                    inputs.len(),
                    ex.len()
                );
                examples.push(ex);
                let dense = (args.dense_hours > 0.0)
                    .then(|| run::dense_timeline(&records, args.dense_hours))
                    .flatten()
                    .map(|dense| {
                        // Same articles, other dates: no need to embed or extract again.
                        let mut moved = inputs.clone();
                        for (input, (a, _)) in moved.iter_mut().zip(&dense) {
                            input.time = a.published_at;
                        }
                        (moved, stream_order(&dense))
                    });
                streams_data.push((inputs, order, gold.clone()));
                if let Some((inputs, order)) = dense {
                    let ex = run::story_examples(&inputs, &order, &gold, config.clone());
                    eprintln!("{name} (dense timeline): {} examples", ex.len());
                    examples.push(ex);
                    streams_data.push((inputs, order, gold));
                }
            }
            DataSet::Pairs { name, pairs, .. } => {
                let pairs: Vec<_> = pairs
                    .into_iter()
                    .filter(|p| split_of(&p.id) == Split::Dev && p.same_story().is_some())
                    .collect();
                let arts: Vec<&Article> = pairs.iter().flat_map(|p| [&p.a, &p.b]).collect();
                let inputs = prep.inputs(&arts, &name)?;
                let mut it = inputs.into_iter();
                let labelled: Vec<(ArticleInput, ArticleInput, bool)> = pairs
                    .iter()
                    .filter_map(|p| Some((it.next()?, it.next()?, p.same_story()?)))
                    .collect();
                let ex = run::pair_examples(&labelled, config.clone());
                eprintln!("{name}: {} dev pairs", ex.len());
                examples.push(ex);
            }
        }
    }
    let streams: Vec<run::Stream<'_>> = streams_data
        .iter()
        .map(|(i, o, g)| run::Stream {
            inputs: i,
            order: o,
            gold: g,
        })
        .collect();
    let mut models = std::collections::BTreeMap::new();
    let mut tuned = serde_json::Map::new();
    let boost = storyweave_engine::trees::BoostParams {
        rounds: args.trees,
        ..Default::default()
    };
    for signals in [Signals::All, Signals::Dense] {
        let fitted = run::fit(&examples, signals, &boost);
        let (mut model, f1) = run::tune_join_threshold(&streams, &fitted, signals, &config);
        let t = model.join_threshold;
        let (mt, f1) = run::tune_merge_threshold(&streams, &model, f1, signals, &config);
        model.merge_threshold = mt;
        eprintln!(
            "{}: join threshold {t:.2}, merge threshold {mt:.2}, mean dev BCubed F1 {f1:.3}",
            signals.name()
        );
        tuned.insert(
            signals.name().into(),
            serde_json::json!({"join_threshold": t, "merge_threshold": mt, "dev_bcubed_f1": f1}),
        );
        models.insert(signals.name().to_string(), model);
    }
    let positives = examples.iter().flatten().filter(|e| e.1).count();
    let n_examples: usize = examples.iter().map(Vec::len).sum();
    let file = ScorerFile {
        version: storyweave_engine::scorer::SCORER_VERSION,
        models,
        trained_on: serde_json::json!({
            "sets": names,
            "split": "dev half of each set (sha256 of story label or pair id, see storyweave_eval::split_of); eval reports the test half",
            "examples": n_examples,
            "weighting": "each set weighs the same in the fit",
            "trees": args.trees,
            "dense_hours": args.dense_hours,
            "positives": positives,
            "tuning": tuned,
            "command": "storyweave train",
        }),
    };
    let text = serde_json::to_string_pretty(&file)? + "\n";
    std::fs::write(&args.out, text).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "wrote {} ({} examples, {} positive)",
        args.out.display(),
        n_examples,
        positives
    );
    Ok(0)
}
