//! `GET /api/search`: keyword matches plus cross-lingual semantic matches
//! (the query's e5 vector against each story's e5 centroid).

use std::collections::HashMap;
use std::sync::Arc;

use crate::json::Json;
use axum::extract::{Query, State};
use serde::Serialize;
use storyweave_embed::Encoder;
use storyweave_pipeline::view::StoryView;

use crate::api::int_param;
use crate::error::ApiError;
use crate::state::{AppState, Snapshot};

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 500;
/// Lowest cosine for a semantic-only match. e5 puts any two news texts at
/// 0.75 or more, so this floor alone separates little.
pub const MIN_SEMANTIC: f32 = 0.78;
/// A semantic-only match must also stand this many standard deviations
/// above the query's mean cosine to all stories (when there are enough
/// stories for that to mean something).
pub const MIN_Z: f32 = 1.5;
const MIN_STORIES_FOR_Z: usize = 8;

/// Everything keyword search looks in, lower-cased.
pub fn haystack(s: &StoryView) -> String {
    let mut h = String::new();
    let mut add = |t: &str| {
        h.push_str(&t.to_lowercase());
        h.push('\n');
    };
    add(&s.headline);
    s.headlines.values().for_each(|t| add(t));
    for e in &s.entities {
        add(&e.name);
        add(&e.key);
    }
    s.keywords.iter().for_each(|k| add(k));
    s.articles
        .iter()
        .filter_map(|a| a.title.as_deref())
        .for_each(&mut add);
    h
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Hit {
    pub story: i64,
    pub headline: String,
    /// Cosine between the query and the story's e5 centroid.
    pub score: f32,
    /// `keyword` when the words occur in the story, else `semantic`.
    #[serde(rename = "match")]
    pub kind: &'static str,
    pub languages: Vec<String>,
    pub article_count: usize,
}

/// Ranks the snapshot's stories for a query and its (normalised) e5 vector.
///
/// `min_score` is the cosine floor for semantic-only matches; with
/// `relative`, they must also stand out from the query's cosines to all stories.
pub fn rank(
    snap: &Snapshot,
    q: &str,
    qv: &[f32],
    min_score: f32,
    relative: bool,
    limit: usize,
) -> Vec<Hit> {
    let terms: Vec<String> = q.split_whitespace().map(str::to_lowercase).collect();
    let cos: Vec<f32> = snap
        .centroids
        .iter()
        .map(|c| c.as_ref().map_or(0.0, |c| storyweave_embed::cosine(c, qv)))
        .collect();
    let hit = |i: usize, kind| {
        let s = &snap.stories[i];
        Hit {
            story: s.id,
            headline: s.headline.clone(),
            score: cos[i],
            kind,
            languages: s.languages.clone(),
            article_count: s.article_count,
        }
    };
    let by_score = |v: &mut Vec<usize>| {
        v.sort_by(|&a, &b| cos[b].total_cmp(&cos[a]).then(a.cmp(&b)));
    };
    let mut keyword: Vec<usize> = (0..snap.stories.len())
        .filter(|&i| !terms.is_empty() && terms.iter().all(|t| snap.haystacks[i].contains(t)))
        .collect();
    by_score(&mut keyword);
    // Relative cut: short queries sit close to every story in absolute terms.
    let known: Vec<f32> = snap
        .centroids
        .iter()
        .zip(&cos)
        .filter(|(c, _)| c.is_some())
        .map(|(_, v)| *v)
        .collect();
    let cut = if relative && known.len() >= MIN_STORIES_FOR_Z {
        let n = known.len() as f32;
        let mean = known.iter().sum::<f32>() / n;
        let sd = (known.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
        min_score.max(mean + MIN_Z * sd)
    } else {
        min_score
    };
    let mut semantic: Vec<usize> = (0..snap.stories.len())
        .filter(|i| !keyword.contains(i) && snap.centroids[*i].is_some() && cos[*i] >= cut)
        .collect();
    by_score(&mut semantic);
    keyword
        .into_iter()
        .map(|i| hit(i, "keyword"))
        .chain(semantic.into_iter().map(|i| hit(i, "semantic")))
        .take(limit)
        .collect()
}

pub async fn search(
    State(state): State<Arc<AppState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let q = params
        .get("q")
        .map(|s| s.trim())
        .unwrap_or_default()
        .to_string();
    if q.is_empty() {
        return Err(ApiError::bad_request("q", "missing search text: `q=`"));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::bad_request(
            "q",
            format!("query longer than {MAX_QUERY_CHARS} characters"),
        ));
    }
    let limit = int_param(&params, "limit", 20, 100)?;
    let given = params
        .get("min_score")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty());
    let min_score = match given {
        None => MIN_SEMANTIC,
        Some(s) => s
            .parse::<f32>()
            .ok()
            .filter(|v| (-1.0..=1.0).contains(v))
            .ok_or_else(|| {
                ApiError::bad_request("min_score", "`min_score` must be a number in -1..1")
            })?,
    };
    let snap = state.snapshot().await?;
    let e5 = state.encoders.e5.clone();
    let text = q.clone();
    let qv = tokio::task::spawn_blocking(move || e5.embed(&text)).await?;
    let results = rank(&snap, &q, &qv, min_score, given.is_none(), limit);
    Ok(Json(serde_json::json!({ "query": q, "results": results })))
}
