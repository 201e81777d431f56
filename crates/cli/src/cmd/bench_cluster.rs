//! `storyweave bench cluster`: what placing one article costs the story
//! engine (encoding excluded) as the number of live articles grows.
//!
//! Method: a synthetic stream with the shape of real news is generated from
//! a seed: stories of geometric size (mean 5) around random topic vectors
//! in 384-d, with e5-like cosines (unrelated articles ≈ 0.65-0.75, an
//! article to its story ≈ 0.9; stories nested in topics and sections, as
//! real embeddings are), 2-6 entity keys per article from a
//! Zipf-like vocabulary, 10-30 words of text and timestamps spread over 72
//! hours (inside the default 96-hour window, so nothing expires by time).
//! For each size N the engine is filled with N articles (untimed), then
//! `--timed` further articles are assigned one by one, each timed with
//! `Instant`. Memory is the process RSS with the filled engine alive, and
//! the engine's own account of its heap by part
//! ([`StoryIndex::memory_breakdown`]). A second, direct measurement times
//! candidate retrieval alone on the same story centres: an exact scan of
//! every centroid (what the engine did first) against [`CentroidIndex`]
//! search and upsert.

use std::time::Instant;

use anyhow::bail;
use chrono::{DateTime, TimeZone, Utc};
use clap::Args as ClapArgs;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde::Serialize;
use storyweave_engine::ann::CentroidIndex;
use storyweave_engine::{ArticleInput, EngineConfig, Scorer, Signals, StoryIndex};

const DIM: usize = 384;
/// USE-m vectors: most news languages have one, and the shipped scorer
/// counts on it (a missing one costs about 2.5 in logit), so the stream
/// carries one too.
const USE_DIM: usize = 512;
const SPAN_HOURS: f64 = 72.0;
const LANGS: [&str; 6] = ["en", "en", "fr", "de", "es", "ru"];
const ENTITY_VOCAB: usize = 50_000;
const WORD_VOCAB: usize = 30_000;
const K: usize = 16;

#[derive(ClapArgs)]
pub struct Args {
    /// Live articles to fill the engine with before timing, one run per size.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    sizes: Vec<usize>,
    /// Articles timed one by one after each fill.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    timed: u64,
    /// Seed of the synthetic stream.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Skip the direct retrieval comparison (exact scan against the centroid index).
    #[arg(long, conflicts_with = "retrieval_only")]
    no_retrieval: bool,
    /// Only the retrieval comparison: no engine fill (which scans every
    /// live story per article until the engine searches its centroid index).
    #[arg(long)]
    retrieval_only: bool,
    /// Print one JSON object instead of the tables.
    #[arg(long)]
    json: bool,
}

/// Percentiles in microseconds.
#[derive(Serialize, Clone, Copy)]
struct Stats {
    median: f64,
    p90: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

impl Stats {
    fn of(mut v: Vec<f64>) -> Stats {
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        Stats {
            median: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: v[v.len() - 1],
            mean: v.iter().sum::<f64>() / v.len() as f64,
        }
    }
}

#[derive(Serialize)]
struct Retrieval {
    stories: usize,
    exact_scan_us: Stats,
    ann_search_us: Stats,
    ann_upsert_us: Stats,
    ann_build_s: f64,
    /// Share of the exact top 16 that the index returns.
    recall_at_16: f64,
    ann_memory_mb: f64,
}

#[derive(Serialize)]
struct Engine {
    live_stories_after: usize,
    fill_s: f64,
    assign_us: Stats,
    opened_share: f64,
    /// Process-wide, read while the filled engine is alive.
    peak_rss_mb: f64,
    rss_mb: f64,
    /// The engine's own estimate of its heap by part, MB (allocator overhead excluded).
    memory_mb: Vec<(String, f64)>,
}

#[derive(Serialize)]
struct SizeReport {
    live_articles: usize,
    engine: Option<Engine>,
    retrieval: Option<Retrieval>,
}

#[derive(Serialize)]
struct Growth {
    from: usize,
    to: usize,
    articles_ratio: f64,
    median_ratio: f64,
    p99_ratio: f64,
}

#[derive(Serialize)]
struct Report {
    method: &'static str,
    timed_per_size: u64,
    seed: u64,
    config: EngineConfig,
    sizes: Vec<SizeReport>,
    growth: Vec<Growth>,
}

const METHOD: &str = "synthetic stream (seeded): geometric story sizes (mean 5), 384-d e5-like and 512-d USE-like vectors, 2-6 Zipf entity keys, 10-30 words, 72 h span; fill untimed, then each further article's StoryIndex::assign timed alone (encoding excluded); RSS is process-wide, read with the filled engine alive, sizes smallest first";

pub fn run(args: Args) -> anyhow::Result<i32> {
    if args.sizes.is_empty() || args.sizes.contains(&0) {
        bail!("--sizes needs positive article counts");
    }
    let mut sizes = args.sizes.clone();
    sizes.sort_unstable();
    sizes.dedup();
    let config = EngineConfig::default();
    let mut reports = Vec::new();
    for &n in &sizes {
        let stream = Stream::new(args.seed, n + args.timed as usize);
        let engine = (!args.retrieval_only).then(|| engine(&stream, n, &args, &config));
        let retrieval = (!args.no_retrieval).then(|| retrieval(&stream, n, args.json));
        let report = SizeReport {
            live_articles: n,
            engine,
            retrieval,
        };
        if !args.json {
            print_size(&report);
        }
        reports.push(report);
    }
    let growth: Vec<Growth> = reports
        .windows(2)
        .filter_map(|w| {
            let (a, b) = (w[0].engine.as_ref()?, w[1].engine.as_ref()?);
            Some(Growth {
                from: w[0].live_articles,
                to: w[1].live_articles,
                articles_ratio: w[1].live_articles as f64 / w[0].live_articles as f64,
                median_ratio: b.assign_us.median / a.assign_us.median,
                p99_ratio: b.assign_us.p99 / a.assign_us.p99,
            })
        })
        .collect();
    let report = Report {
        method: METHOD,
        timed_per_size: args.timed,
        seed: args.seed,
        config,
        sizes: reports,
        growth,
    };
    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &report)?;
        println!();
    } else {
        for g in &report.growth {
            println!(
                "growth {} -> {} live articles (x{:.0}): median x{:.2}, p99 x{:.2}",
                g.from, g.to, g.articles_ratio, g.median_ratio, g.p99_ratio
            );
        }
    }
    Ok(0)
}

/// Fills the engine with the first `n` articles, then times the next ones.
fn engine(stream: &Stream, n: usize, args: &Args, config: &EngineConfig) -> Engine {
    let mut index = StoryIndex::new(Scorer::default_for(Signals::All), config.clone());
    let pb = crate::progress::bar(n as u64, "fill");
    if args.json {
        pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let t = Instant::now();
    for i in 0..n {
        index.assign(&stream.article(i));
        if i % 1024 == 0 {
            pb.set_position(i as u64);
        }
    }
    pb.finish_and_clear();
    let fill_s = t.elapsed().as_secs_f64();
    // Inputs are built before the clock starts: only assignment is timed.
    let inputs: Vec<ArticleInput> = (n..n + args.timed as usize)
        .map(|i| stream.article(i))
        .collect();
    let mut us = Vec::with_capacity(inputs.len());
    let mut opened = 0usize;
    for a in &inputs {
        let t = Instant::now();
        let d = index.assign(a);
        us.push(t.elapsed().as_secs_f64() * 1e6);
        opened += d.opened as usize;
    }
    Engine {
        live_stories_after: index.live_stories(),
        fill_s,
        assign_us: Stats::of(us),
        opened_share: opened as f64 / inputs.len() as f64,
        peak_rss_mb: kib_to_mb(super::bench_encode::proc_status_kib("VmHWM")),
        rss_mb: kib_to_mb(super::bench_encode::proc_status_kib("VmRSS")),
        memory_mb: index
            .memory_breakdown()
            .into_iter()
            .map(|(part, bytes)| (part.to_string(), bytes as f64 / 1e6))
            .collect(),
    }
}

fn print_size(r: &SizeReport) {
    println!("\n{} live articles", r.live_articles);
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "µs per article",
        "median",
        "p90",
        "p99",
        "max",
        "mean",
    ]);
    if let Some(e) = &r.engine {
        t.add_row(row("assign (engine)", &e.assign_us));
    }
    if let Some(q) = &r.retrieval {
        t.add_row(row("exact centroid scan", &q.exact_scan_us));
        t.add_row(row("CentroidIndex search", &q.ann_search_us));
        t.add_row(row("CentroidIndex upsert", &q.ann_upsert_us));
    }
    println!("{t}");
    if let Some(e) = &r.engine {
        println!(
            "engine: filled in {:.1} s; {} live stories after timing; opened a story {:.1}% of the time; peak RSS {:.0} MB, RSS now {:.0} MB",
            e.fill_s,
            e.live_stories_after,
            e.opened_share * 100.0,
            e.peak_rss_mb,
            e.rss_mb
        );
        let parts: Vec<String> = e
            .memory_mb
            .iter()
            .map(|(part, mb)| format!("{part} {mb:.0}"))
            .collect();
        println!("engine heap by part, MB: {}", parts.join(", "));
    }
    if let Some(q) = &r.retrieval {
        println!(
            "centroid index over {} story centres: built in {:.1} s, recall@16 {:.3}, {:.0} MB",
            q.stories, q.ann_build_s, q.recall_at_16, q.ann_memory_mb
        );
    }
}

fn row(name: &str, s: &Stats) -> Vec<String> {
    let f = |x: f64| format!("{x:.1}");
    vec![
        name.to_string(),
        f(s.median),
        f(s.p90),
        f(s.p99),
        f(s.max),
        f(s.mean),
    ]
}

/// Candidate retrieval alone, on the stories of the first `n` articles:
/// an exact scan of every centroid against the centroid index.
fn retrieval(stream: &Stream, n: usize, quiet: bool) -> Retrieval {
    let stories = stream.stories_before(n);
    let mut flat = Vec::with_capacity(stories * DIM);
    let mut ann = CentroidIndex::new(DIM);
    let pb = crate::progress::bar(stories as u64, "index");
    if quiet {
        pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let t = Instant::now();
    for s in 0..stories {
        let c = stream.centre(s as u32);
        // Positive ids as in the engine; cannot fail with the right dimension.
        let _ = ann.upsert(s as i64 + 1, &c);
        flat.extend_from_slice(&c);
        if s % 1024 == 0 {
            pb.set_position(s as u64);
        }
    }
    pb.finish_and_clear();
    let ann_build_s = t.elapsed().as_secs_f64();
    let queries = 500.min(n);
    let (mut exact_us, mut ann_us, mut hits) = (Vec::new(), Vec::new(), 0usize);
    for i in 0..queries {
        let q = stream.article(n - 1 - i * (n / queries)).e5;
        let t = Instant::now();
        let exact = scan_top_k(&flat, &q, K);
        exact_us.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        let found = ann.search(&q, K);
        ann_us.push(t.elapsed().as_secs_f64() * 1e6);
        hits += found
            .iter()
            .filter(|(id, _)| exact.contains(&((*id - 1) as usize)))
            .count();
    }
    // Upserts as the engine makes them: a story's centroid after one more member.
    let mut upsert_us = Vec::new();
    let mut r = Rng(stream.seed ^ 0x5eed);
    for i in 0..2000 {
        let s = r.below(stories as u64) as usize;
        let member = stream.member_vector(s as u32, 1000 + i);
        let c: Vec<f32> = flat[s * DIM..(s + 1) * DIM]
            .iter()
            .zip(&member)
            .map(|(c, m)| 4.0 * c + m)
            .collect();
        let t = Instant::now();
        let _ = ann.upsert(s as i64 + 1, &c);
        upsert_us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    Retrieval {
        stories,
        exact_scan_us: Stats::of(exact_us),
        ann_search_us: Stats::of(ann_us),
        ann_upsert_us: Stats::of(upsert_us),
        ann_build_s,
        recall_at_16: hits as f64 / (queries * K.min(stories)) as f64,
        ann_memory_mb: ann.memory_bytes() as f64 / 1e6,
    }
}

/// Indices of the `k` rows of `flat` with the largest inner product with `q`.
fn scan_top_k(flat: &[f32], q: &[f32], k: usize) -> Vec<usize> {
    let mut scored: Vec<(f32, usize)> = flat
        .chunks_exact(DIM)
        .enumerate()
        .map(|(i, row)| (row.iter().zip(q).map(|(a, b)| a * b).sum(), i))
        .collect();
    let k = k.min(scored.len());
    if k > 0 && scored.len() > k {
        scored.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
        scored.truncate(k);
    }
    scored.into_iter().map(|(_, i)| i).collect()
}

fn kib_to_mb(k: Option<u64>) -> f64 {
    k.map_or(f64::NAN, |k| k as f64 * 1024.0 / 1e6)
}

/// SplitMix64: a tiny seeded generator, so the synthetic stream is the same
/// on every machine and every version (no dependency on `rand`'s streams).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }

    fn gauss(&mut self) -> f32 {
        let u = self.unit().max(1e-12);
        let v = self.unit();
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }

    fn unit_vector(&mut self, dim: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..dim).map(|_| self.gauss()).collect();
        normalise(&mut v);
        v
    }
}

fn mix(a: u64, b: u64) -> u64 {
    Rng(a ^ b.wrapping_mul(0x9e3779b97f4a7c15)).next()
}

fn normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= n);
}

/// Ranks 0.. drawn with probability ∝ 1 / (rank + 2)^1.1.
struct Zipf(Vec<f64>);

impl Zipf {
    fn new(n: usize) -> Zipf {
        let mut acc = 0.0;
        Zipf(
            (0..n)
                .map(|r| {
                    acc += 1.0 / ((r + 2) as f64).powf(1.1);
                    acc
                })
                .collect(),
        )
    }

    fn draw(&self, r: &mut Rng) -> usize {
        let x = r.unit() * self.0[self.0.len() - 1];
        self.0.partition_point(|c| *c < x).min(self.0.len() - 1)
    }
}

/// A pronounceable word for a rank (unique in its first six letters, which
/// is what the lexical signal keeps).
fn word(mut rank: usize) -> String {
    const C: &[u8] = b"bcdfghklmnprstvz";
    const V: &[u8] = b"aeiou";
    let mut w = String::new();
    for _ in 0..3 {
        w.push(C[rank % C.len()] as char);
        rank /= C.len();
        w.push(V[rank % V.len()] as char);
        rank /= V.len();
    }
    w
}

/// The synthetic stream: articles sorted by time, each a (story, member)
/// whose vector, entities and words derive from the seed alone.
struct Stream {
    seed: u64,
    mean: Vec<f32>,
    use_mean: Vec<f32>,
    /// (seconds since start, story, member number), in arrival order.
    arrivals: Vec<(u32, u32, u32)>,
    /// Arrival position of each story's first article.
    first_seen: Vec<usize>,
    entities: Zipf,
    words: Zipf,
    start: DateTime<Utc>,
}

impl Stream {
    fn new(seed: u64, n: usize) -> Stream {
        let mut r = Rng(seed);
        // e5 vectors share a strong common direction: unrelated texts still
        // have cosines around 0.7.
        let mean = r.unit_vector(DIM);
        let use_mean = r.unit_vector(USE_DIM);
        let span = SPAN_HOURS * 3600.0;
        let mut arrivals = Vec::with_capacity(n + 64);
        let mut story = 0u32;
        while arrivals.len() < n {
            let mut sr = Rng(mix(seed, story as u64));
            // Geometric sizes with mean 5.
            let mut size = 1;
            while sr.unit() < 0.8 {
                size += 1;
            }
            let start = sr.unit() * span;
            for m in 0..size {
                // Follow-ups within hours of the first report.
                let dt = if m == 0 {
                    0.0
                } else {
                    -(1.0 - sr.unit()).ln() * 6.0 * 3600.0
                };
                arrivals.push(((start + dt).min(span) as u32, story, m));
            }
            story += 1;
        }
        arrivals.sort_unstable();
        arrivals.truncate(n);
        let mut first_seen = vec![usize::MAX; story as usize];
        for (i, (_, s, _)) in arrivals.iter().enumerate() {
            let f = &mut first_seen[*s as usize];
            *f = (*f).min(i);
        }
        Stream {
            seed,
            mean,
            use_mean,
            arrivals,
            first_seen,
            entities: Zipf::new(ENTITY_VOCAB),
            words: Zipf::new(WORD_VOCAB),
            start: Utc
                .with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
                .single()
                .unwrap_or_default(),
        }
    }

    /// Stories whose first article lies among the first `n` arrivals.
    fn stories_before(&self, n: usize) -> usize {
        self.first_seen.iter().filter(|&&f| f < n).count()
    }

    /// A story's centre: the common direction, one of 40 sections
    /// (politics, sport...), its topic (shared with seven other stories)
    /// and its own direction. Cosines between centres: about 0.9 within a
    /// topic, 0.85 within a section, 0.75 otherwise. The nesting matters:
    /// text encoders give it, and graph search relies on it.
    fn centre(&self, story: u32) -> Vec<f32> {
        let topic_id = (story / 8) as u64;
        let section_id = mix(self.seed ^ 0x5ec, topic_id) % 40;
        let section = Rng(mix(self.seed ^ 0x5ec7, section_id)).unit_vector(DIM);
        let topic = Rng(mix(self.seed ^ 0x7091c, topic_id)).unit_vector(DIM);
        let own = Rng(mix(self.seed ^ 0x5707, story as u64)).unit_vector(DIM);
        let mut c: Vec<f32> = (0..DIM)
            .map(|i| 1.7 * self.mean[i] + 0.6 * section[i] + 0.45 * topic[i] + 0.6 * own[i])
            .collect();
        normalise(&mut c);
        c
    }

    /// A USE-like vector: far lower cosines than e5 (unrelated ≈ 0.1, an
    /// article to its story ≈ 0.7).
    fn use_vector(&self, story: u32, member: u32) -> Vec<f32> {
        let topic = Rng(mix(self.seed ^ 0x75e1, (story / 8) as u64)).unit_vector(USE_DIM);
        let own = Rng(mix(self.seed ^ 0x75e2, story as u64)).unit_vector(USE_DIM);
        let mut r = Rng(mix(mix(self.seed ^ 0x75e3, story as u64), member as u64));
        let mut v: Vec<f32> = (0..USE_DIM)
            .map(|i| 0.35 * self.use_mean[i] + 0.4 * topic[i] + 0.8 * own[i] + 0.03 * r.gauss())
            .collect();
        normalise(&mut v);
        v
    }

    fn member_vector(&self, story: u32, member: u32) -> Vec<f32> {
        let mut r = Rng(mix(mix(self.seed, story as u64), member as u64 + 1));
        let sigma = 0.015 + 0.015 * r.unit() as f32;
        let mut v = self.centre(story);
        for x in v.iter_mut() {
            *x += sigma * r.gauss();
        }
        normalise(&mut v);
        v
    }

    fn article(&self, i: usize) -> ArticleInput {
        let (secs, story, member) = self.arrivals[i];
        let mut sr = Rng(mix(self.seed ^ 0xe7, story as u64));
        let lang = LANGS[sr.below(LANGS.len() as u64) as usize];
        let story_entities: Vec<usize> = (0..3).map(|_| self.entities.draw(&mut sr)).collect();
        let story_words: Vec<usize> = (0..12).map(|_| self.words.draw(&mut sr)).collect();
        let mut r = Rng(mix(mix(self.seed ^ 0xa7, story as u64), member as u64));
        let mut entities: Vec<String> = Vec::new();
        for _ in 0..1 + r.below(3) {
            entities.push(format!("ent{}", story_entities[r.below(3) as usize]));
        }
        for _ in 0..1 + r.below(3) {
            entities.push(format!("ent{}", self.entities.draw(&mut r)));
        }
        let words = 10 + r.below(21) as usize;
        let text: Vec<String> = (0..words)
            .map(|_| {
                if r.unit() < 0.5 {
                    word(story_words[r.below(12) as usize])
                } else {
                    word(self.words.draw(&mut r))
                }
            })
            .collect();
        ArticleInput {
            id: format!("s{story}-{member}"),
            lang: lang.to_string(),
            time: Some(self.start + chrono::Duration::seconds(secs as i64)),
            e5: self.member_vector(story, member),
            use_vec: Some(self.use_vector(story, member)),
            entities,
            text: text.join(" "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_is_seeded_and_e5_like() {
        let a = Stream::new(3, 2000);
        let b = Stream::new(3, 2000);
        assert_eq!(a.arrivals, b.arrivals);
        assert_eq!(a.article(10).e5, b.article(10).e5);
        assert!(a.arrivals.windows(2).all(|w| w[0].0 <= w[1].0));
        let dot = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f32>();
        // An article against its own story centre, and against another story's.
        let (_, s, m) = a.arrivals[0];
        let v = a.member_vector(s, m);
        let own = dot(&v, &a.centre(s));
        let other = dot(&v, &a.centre(s + 100));
        assert!((0.8..0.99).contains(&own), "own {own}");
        assert!((0.5..0.85).contains(&other), "other {other}");
        let art = a.article(5);
        assert!((2..=6).contains(&art.entities.len()));
        let n = art.text.split(' ').count();
        assert!((10..=30).contains(&n));
    }
}
