//! `GET /api/search`: keyword matches plus cross-lingual semantic matches
//! (the query's e5 vector against each story's e5 centroid).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Json;
use serde::Serialize;
use storyweave_embed::Encoder;
use storyweave_pipeline::view::StoryView;

use crate::api::int_param;
use crate::error::ApiError;
use crate::state::{AppState, Snapshot};

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 500;
/// Lowest cosine for a semantic-only match. e5 puts unrelated news at about
/// 0.75-0.8 from a short query; the same event scores above this.
pub const MIN_SEMANTIC: f32 = 0.82;
/// Semantic-only matches further than this below the best one are dropped.
pub const SEMANTIC_MARGIN: f32 = 0.05;

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
pub fn rank(snap: &Snapshot, q: &str, qv: &[f32], limit: usize) -> Vec<Hit> {
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
    let mut semantic: Vec<usize> = (0..snap.stories.len())
        .filter(|i| !keyword.contains(i) && cos[*i] >= MIN_SEMANTIC)
        .collect();
    by_score(&mut semantic);
    let best = semantic.first().map_or(0.0, |&i| cos[i]);
    semantic.retain(|&i| cos[i] >= best - SEMANTIC_MARGIN);
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
    let q = params.get("q").map(|s| s.trim()).unwrap_or_default().to_string();
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
    let snap = state.snapshot().await?;
    let e5 = state.encoders.e5.clone();
    let text = q.clone();
    let qv = tokio::task::spawn_blocking(move || e5.embed(&text)).await?;
    let results = rank(&snap, &q, &qv, limit);
    Ok(Json(serde_json::json!({ "query": q, "results": results })))
}
