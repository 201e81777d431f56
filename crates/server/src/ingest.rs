//! `POST /api/articles`: authenticated ingestion through the shared weaver,
//! and the story events it sends.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::json::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};
use storyweave_core::Article;
use storyweave_engine::Decision;
use storyweave_ingest::{clean_article_value, RecordLocation};

use crate::error::ApiError;
use crate::state::{AppState, StoryEvent};

/// Longest wait for a POST body.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// Bad articles listed in one 400 answer, at most.
const MAX_LISTED_ERRORS: usize = 50;

/// What became of one posted article.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It opened a new story.
    Opened,
    /// It joined an existing story.
    Joined,
    /// Already stored (same id, url or text): nothing was added.
    Duplicate,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ArticleOutcome {
    /// Position in the posted array (0 for a single object).
    pub index: usize,
    pub id: String,
    pub status: Status,
    /// The story it is in now (after any merge), when known.
    pub story: Option<i64>,
    /// The assignment probability (not for duplicates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p: Option<f32>,
    /// For a duplicate: the id it is stored under, when found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IngestOutcome {
    pub added: usize,
    pub duplicates: usize,
    pub opened: usize,
    pub joined: usize,
    pub merges: usize,
    pub results: Vec<ArticleOutcome>,
}

/// Compares secrets in time independent of where they differ; a handful of
/// lines, so no crate for it.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = state.config.api_token.as_deref() else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "POST /api/articles is disabled: start the server with STORYWEAVE_API_TOKEN=<secret> set, then send `Authorization: Bearer <secret>`",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
    match given {
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing `Authorization: Bearer <token>` header",
        )),
        Some(g) if same_secret(g.as_bytes(), token.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::new(StatusCode::UNAUTHORIZED, "wrong API token")),
    }
}

/// Parses a body holding one article object or an array of them; every bad
/// article is reported with its index and field.
pub fn parse_body(bytes: &[u8]) -> Result<Vec<Article>, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            "body",
            format!(
                "invalid JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })?;
    let (items, single) = match value {
        Value::Array(items) => (items, false),
        obj @ Value::Object(_) => (vec![obj], true),
        _ => {
            return Err(ApiError::bad_request(
                "body",
                "expected an article object or an array of article objects",
            ))
        }
    };
    if items.is_empty() {
        return Err(ApiError::bad_request("body", "empty array: no articles"));
    }
    let mut articles = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = RecordLocation::whole(if single {
            "body".to_string()
        } else {
            format!("body[{i}]")
        });
        match clean_article_value(item, &at) {
            Ok(p) => articles.push(p.article),
            Err(e) => errors.push((i, e)),
        }
    }
    if let Some((i, first)) = errors.first() {
        let listed: Vec<Value> = errors
            .iter()
            .take(MAX_LISTED_ERRORS)
            .map(|(i, e)| json!({"index": i, "field": e.field, "error": e.message}))
            .collect();
        let what = match &first.field {
            Some(f) => format!("field `{f}`: {}", first.message),
            None => first.message.clone(),
        };
        let mut err = ApiError::bad_request(
            first.field.as_deref().unwrap_or("body"),
            format!(
                "article {i}: {what}{}; nothing was stored",
                if errors.len() > 1 {
                    format!(" (and {} more bad articles)", errors.len() - 1)
                } else {
                    String::new()
                }
            ),
        )
        .with_extra(json!({"index": i, "errors": listed}));
        if first.field.is_none() {
            err.field = None;
        }
        return Err(err);
    }
    Ok(articles)
}

pub async fn post_articles(
    State(state): State<Arc<AppState>>,
    req: Request<Body>,
) -> Result<Response, ApiError> {
    let result = post_inner(&state, req).await;
    state.metrics.ingest_request(match &result {
        Ok(_) => "ok",
        Err(e) if e.status.is_client_error() => "rejected",
        Err(_) => "error",
    });
    let outcome = result?;
    let status = if outcome.added > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(outcome)).into_response())
}

async fn post_inner(state: &Arc<AppState>, req: Request<Body>) -> Result<IngestOutcome, ApiError> {
    // Authorise before reading the body, so strangers cannot make us buffer it.
    authorize(state, req.headers())?;
    let limit = state.config.body_limit;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than the limit of {limit} bytes; send fewer articles per request"),
        )
        .with_field("body")
    };
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > limit as u64 {
            return Err(too_large());
        }
    }
    // A slow sender gets a bounded time to deliver its body.
    let bytes = tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(req.into_body(), limit))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "request body not received within {}s",
                    BODY_TIMEOUT.as_secs()
                ),
            )
        })?
        .map_err(|_| too_large())?;
    let articles = parse_body(&bytes)?;
    state.ingest(articles).await
}

impl AppState {
    /// Ingests articles through the shared weaver (one batch at a time,
    /// durably stored before this returns), refreshes the story snapshot
    /// and sends the story events.
    pub async fn ingest(&self, articles: Vec<Article>) -> Result<IngestOutcome, ApiError> {
        let weaver = self.weaver.clone().lock_owned().await;
        let batch = articles.clone();
        let (report, decisions) = tokio::task::spawn_blocking(move || {
            let mut weaver = weaver;
            weaver.ingest(batch)
        })
        .await??;
        if report.added > 0 {
            self.invalidate();
        }
        let snap = self.snapshot().await?;
        let decided: HashMap<&str, &Decision> =
            decisions.iter().map(|(id, d)| (id.as_str(), d)).collect();

        // Duplicates: find what they duplicate (by id, else url or text).
        let mut seen: HashSet<&str> = HashSet::new();
        let mut results = Vec::with_capacity(articles.len());
        let mut unresolved = Vec::new();
        for (i, a) in articles.iter().enumerate() {
            let first = seen.insert(a.id.as_str());
            let out = match decided.get(a.id.as_str()).filter(|_| first) {
                Some(d) => ArticleOutcome {
                    index: i,
                    id: a.id.clone(),
                    status: if d.opened {
                        Status::Opened
                    } else {
                        Status::Joined
                    },
                    story: Some(snap.resolve(d.story).map_or(d.story, |s| s.id)),
                    p: Some(d.p),
                    duplicate_of: None,
                },
                None => {
                    unresolved.push(i);
                    ArticleOutcome {
                        index: i,
                        id: a.id.clone(),
                        status: Status::Duplicate,
                        story: None,
                        p: None,
                        duplicate_of: None,
                    }
                }
            };
            results.push(out);
        }
        if !unresolved.is_empty() {
            let dups: Vec<Article> = unresolved.iter().map(|&i| articles[i].clone()).collect();
            let found = self
                .readers
                .with(move |store| {
                    let mut out = Vec::new();
                    let mut all: Option<Vec<Article>> = None;
                    for a in &dups {
                        let existing = if store.article(&a.id)?.is_some() {
                            Some(a.id.clone())
                        } else {
                            // Rare (same url or text under another id): scan once.
                            if all.is_none() {
                                all = Some(store.articles()?);
                            }
                            let hash = a.content_hash();
                            all.as_ref().and_then(|v| {
                                v.iter()
                                    .find(|b| {
                                        (a.url.is_some() && b.url == a.url)
                                            || b.content_hash() == hash
                                    })
                                    .map(|b| b.id.clone())
                            })
                        };
                        let story = match &existing {
                            Some(id) => store.assignment(id)?.map(|x| x.story_id),
                            None => None,
                        };
                        out.push((existing, story));
                    }
                    Ok(out)
                })
                .await?;
            for (&i, (existing, story)) in unresolved.iter().zip(found) {
                results[i].story = story.map(|s| snap.resolve(s).map_or(s, |v| v.id));
                results[i].duplicate_of = existing;
            }
        }

        // Events: one per story touched, then one per merge.
        let mut touched: BTreeMap<i64, (bool, Vec<String>)> = BTreeMap::new();
        for (id, d) in &decisions {
            // A story opened here and merged away in the same batch updates the one it went into.
            let now = snap.resolve(d.story).map_or(d.story, |v| v.id);
            let e = touched.entry(now).or_insert((false, Vec::new()));
            e.0 |= d.opened && now == d.story;
            e.1.push(id.clone());
        }
        let merges: Vec<(i64, i64)> = decisions
            .iter()
            .flat_map(|(_, d)| d.merged.iter().map(|(f, i, _)| (*f, *i)))
            .collect();
        let event = |kind: &'static str, story: i64, articles: Vec<String>, from: Option<i64>| {
            let view = snap.resolve(story);
            StoryEvent {
                kind,
                story: view.map_or(story, |v| v.id),
                articles,
                headline: view.map(|v| v.headline.clone()).unwrap_or_default(),
                article_count: view.map_or(0, |v| v.article_count),
                merged_from: from,
            }
        };
        for (story, (opened, ids)) in touched {
            let kind = if opened {
                "story_created"
            } else {
                "story_updated"
            };
            // No receivers is not an error: nobody is listening.
            let _ = self.events.send(event(kind, story, ids, None));
        }
        for (from, into) in merges {
            let _ = self
                .events
                .send(event("story_merged", into, Vec::new(), Some(from)));
        }
        self.metrics.ingested(report.added);

        Ok(IngestOutcome {
            added: report.added,
            duplicates: report.duplicates,
            opened: report.opened,
            joined: report.joined,
            merges: report.merges,
            results,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_by_content_and_length() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
    }

    #[test]
    fn bad_articles_name_index_and_field() {
        let body =
            br#"[{"id":"a","text":"Some text here."},{"id":"b","source":"no body, no title"}]"#;
        let e = parse_body(body).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.field.as_deref(), Some("text"));
        assert!(
            e.message.starts_with("article 1: field `text`"),
            "{}",
            e.message
        );
        assert_eq!(e.extra.as_ref().unwrap()["index"], 1);
    }

    #[test]
    fn single_object_and_invalid_json() {
        let ok =
            parse_body(br#"{"id":"x","text":"Hello world, this is text.","lang":"en"}"#).unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].id, "x");
        let e = parse_body(b"{not json").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("body"));
        assert!(e.message.contains("invalid JSON"), "{}", e.message);
        assert!(parse_body(b"42").is_err());
        assert!(parse_body(b"[]").is_err());
    }
}
