//! Stories as people read them: the story card (headline, entities,
//! keywords, coverage, timeline, angles per language) and each article
//! with the reason it is there. Built from the store alone.
//!
//! The JSON field names are a stable schema (see ARCHITECTURE.md), close to
//! Event Registry's event object where a name exists there.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use storyweave_core::Article;
use storyweave_store::{Store, StoredEntity};

use crate::Result;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Count {
    pub key: String,
    pub count: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EntityView {
    pub key: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Articles of the story that mention it.
    pub count: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AngleView {
    pub lang: String,
    /// One readable sentence on what this language's press stresses.
    pub line: String,
    /// Entities over-represented in this language against the whole story.
    pub entities: Vec<String>,
    /// Words this language's articles use most, weighted against the store.
    pub terms: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TimelinePoint {
    /// Start of the bucket (an hour or a day, see `timeline_bucket`).
    pub at: DateTime<Utc>,
    pub count: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ArticleView {
    pub id: String,
    pub lang: String,
    pub title: Option<String>,
    pub source: Option<String>,
    pub url: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    /// First words of the body.
    pub snippet: String,
    /// Why the article is in this story: the engine's recorded decision.
    pub why: serde_json::Value,
    /// The same, as one readable line.
    pub why_line: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StoryView {
    pub id: i64,
    pub headline: String,
    /// The most central article's title in each language.
    pub headlines: BTreeMap<String, String>,
    pub languages: Vec<String>,
    pub coverage: Vec<Count>,
    pub sources: Vec<Count>,
    pub article_count: usize,
    pub first_seen: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
    pub entities: Vec<EntityView>,
    pub keywords: Vec<String>,
    pub timeline_bucket: String,
    pub timeline: Vec<TimelinePoint>,
    pub angles: Vec<AngleView>,
    pub articles: Vec<ArticleView>,
}

struct Member {
    article: Article,
    entities: Vec<StoredEntity>,
    e5: Option<Vec<f32>>,
    why: serde_json::Value,
}

/// Every live story, largest first (ties: newest first, then id).
pub fn stories(store: &Store) -> Result<Vec<StoryView>> {
    let background = Background::new(store)?;
    let mut out = Vec::new();
    for (id, members) in store.story_members()? {
        out.push(build(store, id, &members, &background)?);
    }
    out.sort_by(|a, b| {
        b.article_count
            .cmp(&a.article_count)
            .then(b.last_updated.cmp(&a.last_updated))
            .then(a.id.cmp(&b.id))
    });
    Ok(out)
}

/// One story by id; a merged-away id leads to the story it went into.
pub fn story(store: &Store, mut id: i64) -> Result<Option<StoryView>> {
    while let Some(next) = store.merged_into(id)? {
        id = next;
    }
    let Some((_, members)) = store.story_members()?.into_iter().find(|(s, _)| *s == id) else {
        return Ok(None);
    };
    let background = Background::new(store)?;
    Ok(Some(build(store, id, &members, &background)?))
}

/// Word document frequencies per language over the whole store, to tell a
/// story's own words from the language's everyday ones.
struct Background {
    df: HashMap<(String, String), usize>,
    docs: HashMap<String, usize>,
    /// Every article, read once here and reused for the cards.
    articles: HashMap<String, Article>,
}

impl Background {
    fn new(store: &Store) -> Result<Self> {
        let mut df = HashMap::new();
        let mut docs = HashMap::new();
        let mut articles = HashMap::new();
        for a in store.articles()? {
            let lang = a.lang_or_und().to_string();
            *docs.entry(lang.clone()).or_insert(0) += 1;
            let mut words = words(&a.full_text());
            words.sort();
            words.dedup();
            for w in words {
                *df.entry((lang.clone(), w)).or_insert(0) += 1;
            }
            articles.insert(a.id.clone(), a);
        }
        Ok(Background { df, docs, articles })
    }

    fn idf(&self, lang: &str, word: &str) -> f64 {
        let n = *self.docs.get(lang).unwrap_or(&0) as f64;
        let df = *self
            .df
            .get(&(lang.to_string(), word.to_string()))
            .unwrap_or(&0) as f64;
        ((n + 1.0) / (df + 1.0)).ln()
    }
}

/// Content words for keywords: lower-cased, 4+ letters (CJK: 2+ characters).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| {
            let n = w.chars().count();
            let cjk = w.chars().any(|c| ('\u{3040}'..='\u{9fff}').contains(&c));
            !w.chars().any(|c| c.is_ascii_digit())
                && if cjk { (2..=8).contains(&n) } else { n >= 4 }
        })
        .collect()
}

fn build(store: &Store, id: i64, ids: &[String], bg: &Background) -> Result<StoryView> {
    let mut members = Vec::new();
    for aid in ids {
        let Some(article) = bg.articles.get(aid).cloned() else {
            continue;
        };
        members.push(Member {
            entities: store.entities(aid)?,
            e5: store.embedding(aid, "e5")?,
            why: store
                .assignment(aid)?
                .map(|a| a.why)
                .unwrap_or(serde_json::Value::Null),
            article,
        });
    }
    // Centrality: summed cosine to the other members.
    let centrality: Vec<f32> = members
        .iter()
        .map(|m| {
            let Some(v) = &m.e5 else { return 0.0 };
            members
                .iter()
                .filter_map(|o| o.e5.as_ref())
                .map(|o| v.iter().zip(o).map(|(a, b)| a * b).sum::<f32>())
                .sum()
        })
        .collect();
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by(|&a, &b| centrality[b].total_cmp(&centrality[a]).then(a.cmp(&b)));
    let title_of = |m: &Member| {
        m.article
            .title
            .clone()
            .unwrap_or_else(|| first_sentence(&m.article.text))
    };
    // The most central article that has a title; else the most central one's first sentence.
    let headline = order
        .iter()
        .find(|&&i| members[i].article.title.is_some())
        .or(order.first())
        .map(|&i| title_of(&members[i]))
        .unwrap_or_default();
    let mut headlines = BTreeMap::new();
    for &i in &order {
        headlines
            .entry(members[i].article.lang_or_und().to_string())
            .or_insert_with(|| title_of(&members[i]));
    }

    let coverage = counts(members.iter().map(|m| m.article.lang_or_und().to_string()));
    let languages: Vec<String> = {
        let mut l: Vec<String> = coverage.iter().map(|c| c.key.clone()).collect();
        l.sort();
        l
    };
    let sources = counts(members.iter().filter_map(|m| m.article.source.clone()));
    // Publication times where known; ingestion times only for a story with none.
    let mut times: Vec<DateTime<Utc>> = members
        .iter()
        .filter_map(|m| m.article.published_at)
        .collect();
    if times.is_empty() {
        times = members.iter().map(|m| m.article.ingested_at).collect();
    }
    let first_seen = times.iter().min().copied().unwrap_or_else(Utc::now);
    let last_updated = times.iter().max().copied().unwrap_or_else(Utc::now);

    let entities = story_entities(&members);
    let angles = angles(&members, &entities, bg);
    let keywords = keywords(members.iter(), bg, 8);
    let (timeline_bucket, timeline) = timeline(&times);

    let mut articles: Vec<ArticleView> = members
        .iter()
        .map(|m| ArticleView {
            id: m.article.id.clone(),
            lang: m.article.lang_or_und().to_string(),
            title: m.article.title.clone(),
            source: m.article.source.clone(),
            url: m.article.url.clone(),
            published_at: m.article.published_at,
            snippet: m.article.text.chars().take(240).collect(),
            why_line: why_line(&m.why),
            why: m.why.clone(),
        })
        .collect();
    articles.sort_by(|a, b| a.published_at.cmp(&b.published_at).then(a.id.cmp(&b.id)));

    Ok(StoryView {
        id,
        headline,
        headlines,
        languages,
        coverage,
        sources,
        article_count: members.len(),
        first_seen,
        last_updated,
        entities,
        keywords,
        timeline_bucket,
        timeline,
        angles,
        articles,
    })
}

fn first_sentence(text: &str) -> String {
    let s: String = text
        .chars()
        .take_while(|c| !matches!(c, '.' | '!' | '?' | '\n' | '。'))
        .take(120)
        .collect();
    s.trim().to_string()
}

fn counts(items: impl Iterator<Item = String>) -> Vec<Count> {
    let mut m: BTreeMap<String, usize> = BTreeMap::new();
    for i in items {
        *m.entry(i).or_insert(0) += 1;
    }
    let mut v: Vec<Count> = m
        .into_iter()
        .map(|(key, count)| Count { key, count })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
    v
}

fn is_latin(s: &str) -> bool {
    s.chars()
        .filter(|c| c.is_alphabetic())
        .all(|c| (c as u32) < 0x250)
}

fn story_entities(members: &[Member]) -> Vec<EntityView> {
    struct Acc {
        count: usize,
        names: BTreeMap<String, (bool, usize)>,
        kinds: BTreeMap<String, usize>,
    }
    let mut acc: BTreeMap<String, Acc> = BTreeMap::new();
    for m in members {
        let en = m.article.lang_or_und() == "en";
        for e in &m.entities {
            let a = acc.entry(e.key.clone()).or_insert(Acc {
                count: 0,
                names: BTreeMap::new(),
                kinds: BTreeMap::new(),
            });
            a.count += 1;
            let n = a.names.entry(e.name.clone()).or_insert((false, 0));
            n.0 |= en;
            n.1 += 1;
            *a.kinds.entry(e.kind.clone()).or_insert(0) += 1;
        }
    }
    let mut out: Vec<EntityView> = acc
        .into_iter()
        .map(|(key, a)| {
            // Display: as English articles write it, else the commonest Latin spelling, else the commonest.
            let name = a
                .names
                .iter()
                .max_by_key(|(n, (en, c))| (*en, is_latin(n), *c, std::cmp::Reverse((*n).clone())))
                .map(|(n, _)| n.clone())
                .unwrap_or_else(|| key.clone());
            let kind = a
                .kinds
                .iter()
                .max_by_key(|(k, c)| (**c, std::cmp::Reverse((*k).clone())))
                .map(|(k, _)| k.clone())
                .unwrap_or_default();
            EntityView {
                key,
                name,
                kind,
                count: a.count,
            }
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
    out
}

fn keywords<'a>(
    members: impl Iterator<Item = &'a Member>,
    bg: &Background,
    n: usize,
) -> Vec<String> {
    let mut score: BTreeMap<(String, String), f64> = BTreeMap::new();
    for m in members {
        let l = m.article.lang_or_und().to_string();
        let mut tf: BTreeMap<String, f64> = BTreeMap::new();
        for w in words(&m.article.full_text()) {
            *tf.entry(w).or_insert(0.0) += 1.0;
        }
        // Sublinear term frequency times IDF, summed over the articles:
        // words repeated within and across articles rise above one-offs.
        for (w, n) in tf {
            let idf = bg.idf(&l, &w);
            *score.entry((l.clone(), w)).or_insert(0.0) += (1.0 + n.ln()) * idf;
        }
    }
    let mut v: Vec<((String, String), f64)> = score.into_iter().filter(|(_, s)| *s > 0.0).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut out: Vec<String> = Vec::new();
    for ((_, w), _) in v {
        // The same word from two languages ("azerbaijan") is one keyword.
        if !out.contains(&w) {
            out.push(w);
        }
        if out.len() == n {
            break;
        }
    }
    out
}

fn angles(members: &[Member], entities: &[EntityView], bg: &Background) -> Vec<AngleView> {
    let total = members.len() as f64;
    let name_of: HashMap<&str, &str> = entities
        .iter()
        .map(|e| (e.key.as_str(), e.name.as_str()))
        .collect();
    let story_share: HashMap<&str, f64> = entities
        .iter()
        .map(|e| (e.key.as_str(), e.count as f64 / total))
        .collect();
    let mut langs: Vec<String> = members
        .iter()
        .map(|m| m.article.lang_or_und().to_string())
        .collect();
    langs.sort();
    langs.dedup();
    let mut out = Vec::new();
    for lang in langs {
        let in_lang: Vec<&Member> = members
            .iter()
            .filter(|m| m.article.lang_or_und() == lang)
            .collect();
        let n = in_lang.len() as f64;
        let mut mentions: BTreeMap<&str, f64> = BTreeMap::new();
        for m in &in_lang {
            for e in &m.entities {
                *mentions.entry(e.key.as_str()).or_insert(0.0) += e.mentions as f64;
            }
        }
        // Lift: this language's share of articles naming it over the story's,
        // weighted by how insistently it is named.
        let mut lifted: Vec<(f64, &str)> = mentions
            .iter()
            .filter_map(|(k, c)| {
                let share = in_lang
                    .iter()
                    .filter(|m| m.entities.iter().any(|e| e.key == *k))
                    .count() as f64
                    / n;
                let base = story_share.get(k).copied().unwrap_or(share);
                let lift = (share + 0.1) / (base + 0.1) * (1.0 + c.ln_1p());
                (members.len() == in_lang.len() || share > base || *c >= 2.0).then_some((lift, *k))
            })
            .collect();
        lifted.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        let ents: Vec<String> = lifted
            .iter()
            .take(4)
            .map(|(_, k)| name_of.get(k).copied().unwrap_or(k).to_string())
            .collect();
        let terms = keywords(in_lang.iter().copied(), bg, 5);
        let line = angle_line(&lang, in_lang.len(), &ents, &terms);
        out.push(AngleView {
            lang,
            line,
            entities: ents,
            terms,
        });
    }
    out
}

fn angle_line(lang: &str, n: usize, ents: &[String], terms: &[String]) -> String {
    let who = match ents.len() {
        0 => "no named actors".to_string(),
        1 => ents[0].clone(),
        k => format!("{} and {}", ents[..k - 1].join(", "), ents[k - 1]),
    };
    let articles = if n == 1 {
        "1 article".to_string()
    } else {
        format!("{n} articles")
    };
    if terms.is_empty() {
        format!("{lang} ({articles}) centres on {who}.")
    } else {
        format!(
            "{lang} ({articles}) centres on {who}; its words: {}.",
            terms.join(", ")
        )
    }
}

/// Hourly buckets for stories shorter than three days, daily otherwise.
fn timeline(times: &[DateTime<Utc>]) -> (String, Vec<TimelinePoint>) {
    let (Some(lo), Some(hi)) = (times.iter().min(), times.iter().max()) else {
        return ("day".into(), vec![]);
    };
    let hourly = *hi - *lo < Duration::days(3);
    let bucket = |t: &DateTime<Utc>| {
        let secs = if hourly { 3600 } else { 86400 };
        DateTime::from_timestamp(t.timestamp().div_euclid(secs) * secs, 0).unwrap_or(*t)
    };
    let mut m: BTreeMap<DateTime<Utc>, usize> = BTreeMap::new();
    for t in times {
        *m.entry(bucket(t)).or_insert(0) += 1;
    }
    (
        if hourly { "hour" } else { "day" }.to_string(),
        m.into_iter()
            .map(|(at, count)| TimelinePoint { at, count })
            .collect(),
    )
}

/// "opened a new story (best p=0.12 < 0.50)" or "joined (p=0.93): e5_centroid +2.10, entity_overlap +1.30".
pub fn why_line(why: &serde_json::Value) -> String {
    let p = why["p"].as_f64().unwrap_or(0.0);
    let th = why["threshold"].as_f64().unwrap_or(0.0);
    let top: Vec<String> = why["best"]["signals"]
        .as_array()
        .map(|s| {
            s.iter()
                .take(3)
                .map(|x| {
                    format!(
                        "{} {:+.2}",
                        x["signal"].as_str().unwrap_or("?"),
                        x["contribution"].as_f64().unwrap_or(0.0)
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    match why["decision"].as_str() {
        Some("joined") => format!("joined (p={p:.2} ≥ {th:.2}): {}", top.join(", ")),
        Some("opened") if why["best"].is_null() => {
            "opened a new story (no candidate story)".to_string()
        }
        Some("opened") => format!("opened a new story (best candidate p={p:.2} < {th:.2})"),
        _ => "no recorded decision".to_string(),
    }
}
