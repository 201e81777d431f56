//! The read endpoints, the event stream and the OpenAPI document.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::json::Json;
use chrono::{DateTime, Utc};
use futures_util::Stream;
use serde_json::{json, Value};
use storyweave_pipeline::view::{why_line, StoryView};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;

use crate::error::ApiError;
use crate::state::{AppState, PRESERIALISED};

type AppRouter = Router<Arc<AppState>>;

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;
/// Articles kept per story in the list endpoint unless `articles=` says otherwise.
pub const DEFAULT_LIST_ARTICLES: usize = 3;

const OPENAPI: &str = include_str!("../assets/openapi.json");

pub fn routes() -> AppRouter {
    Router::new()
        .route("/api/stories", get(list_stories))
        .route("/api/stories/{id}", get(get_story))
        .route("/api/articles/{id}", get(get_article))
        .route("/api/articles", post(crate::ingest::post_articles))
        .route("/api/search", get(crate::search::search))
        .route("/api/events", get(events))
        .route("/api/openapi.json", get(openapi))
        .route("/metrics", get(crate::metrics::metrics))
}

/// A query parameter parsed as an integer in `0..=max`.
pub fn int_param(
    q: &HashMap<String, String>,
    name: &str,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match q.get(name).map(|s| s.trim()) {
        None | Some("") => Ok(default),
        Some(s) => {
            let n: usize = s.parse().map_err(|_| {
                ApiError::bad_request(name, format!("`{name}` must be a whole number, got {s:?}"))
            })?;
            if n > max {
                return Err(ApiError::bad_request(
                    name,
                    format!("`{name}` must be at most {max}, got {n}"),
                ));
            }
            Ok(n)
        }
    }
}

fn date_param(
    q: &HashMap<String, String>,
    name: &str,
    end_of_day: bool,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(s) = q.get(name).map(|s| s.trim()).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let t = storyweave_core::parse_date(s).map_err(|e| {
        ApiError::bad_request(name, format!("`{name}` is not an ISO date or time: {e}"))
    })?;
    // `to=2020-10-02` means through the end of that day.
    let date_only = s.len() == 10 && s.as_bytes().get(4) == Some(&b'-');
    Ok(Some(if end_of_day && date_only {
        t + chrono::Duration::days(1) - chrono::Duration::nanoseconds(1)
    } else {
        t
    }))
}

fn matches_entity(s: &StoryView, want: &str) -> bool {
    let want = want.trim().to_lowercase();
    s.entities
        .iter()
        .any(|e| e.key.to_lowercase() == want || e.name.to_lowercase() == want)
}

/// A story view with its article list cut to `n` (the earliest ones).
pub fn trimmed(s: &StoryView, n: usize) -> StoryView {
    StoryView {
        articles: s.articles.iter().take(n).cloned().collect(),
        ..s.clone()
    }
}

async fn list_stories(
    State(state): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let limit = int_param(&q, "limit", DEFAULT_LIMIT, MAX_LIMIT)?;
    let offset = int_param(&q, "offset", 0, usize::MAX)?;
    let keep = int_param(&q, "articles", DEFAULT_LIST_ARTICLES, usize::MAX)?;
    let from = date_param(&q, "from", false)?;
    let to = date_param(&q, "to", true)?;
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(ApiError::bad_request("from", "`from` is after `to`"));
        }
    }
    let langs: Vec<String> = q
        .get("lang")
        .map(|l| {
            l.split(',')
                .map(|x| x.trim().to_lowercase())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let entity = q.get("entity").map(|e| e.trim()).filter(|e| !e.is_empty());

    let snap = state.snapshot().await?;
    let hits: Vec<usize> = snap
        .stories
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            langs.is_empty()
                || s.languages
                    .iter()
                    .any(|l| langs.iter().any(|w| l.eq_ignore_ascii_case(w)))
        })
        .filter(|(_, s)| entity.is_none_or(|e| matches_entity(s, e)))
        .filter(|(_, s)| from.is_none_or(|f| s.last_updated >= f))
        .filter(|(_, s)| to.is_none_or(|t| s.first_seen <= t))
        .map(|(i, _)| i)
        .collect();
    let page = hits.iter().skip(offset).take(limit).copied();
    // The common forms are copied from the snapshot's serialised stories:
    // this is the hot endpoint, and it then costs a memcpy.
    let items: Vec<std::borrow::Cow<'_, [u8]>> = match PRESERIALISED.iter().position(|&n| n == keep)
    {
        Some(form) => page
            .map(|i| std::borrow::Cow::Borrowed(snap.list_json[form][i].as_slice()))
            .collect(),
        None => page
            .map(|i| {
                std::borrow::Cow::Owned(
                    crate::json::to_vec(&trimmed(&snap.stories[i], keep)).unwrap_or_default(),
                )
            })
            .collect(),
    };
    let head = format!(
        "{{\"total\":{},\"offset\":{offset},\"limit\":{limit},\"stories\":[",
        hits.len()
    );
    let mut body =
        Vec::with_capacity(head.len() + items.iter().map(|b| b.len() + 1).sum::<usize>() + 2);
    body.extend_from_slice(head.as_bytes());
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item);
    }
    body.extend_from_slice(b"]}");
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

fn parse_story_id(raw: &str) -> Result<i64, ApiError> {
    raw.trim().parse().map_err(|_| {
        ApiError::bad_request("id", format!("story id must be an integer, got {raw:?}"))
    })
}

async fn get_story(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_story_id(&raw)?;
    let snap = state.snapshot().await?;
    let i = snap
        .position(id)
        .ok_or_else(|| ApiError::not_found(format!("no story {id}")))?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        snap.full_json(i).to_vec(),
    )
        .into_response())
}

async fn get_article(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let found = state
        .readers
        .with(move |store| {
            let Some(a) = store.article(&id)? else {
                return Err(ApiError::not_found(format!("no article {id:?}")));
            };
            let asg = store.assignment(&a.id)?;
            let ents = store.entities(&a.id)?;
            Ok((a, asg, ents))
        })
        .await?;
    let (a, asg, ents) = found;
    let why = asg.as_ref().map(|x| x.why.clone()).unwrap_or(Value::Null);
    Ok(Json(json!({
        "id": a.id,
        "url": a.url,
        "source": a.source,
        "title": a.title,
        "text": a.text,
        "lang": a.lang,
        "published_at": a.published_at,
        "ingested_at": a.ingested_at,
        "story": asg.as_ref().map(|x| x.story_id),
        "opened": asg.as_ref().map(|x| x.opened),
        "score": asg.as_ref().map(|x| x.score),
        "why_line": why_line(&why),
        "why": why,
        "entities": ents.iter().map(|e| json!({
            "key": e.key, "name": e.name, "type": e.kind, "mentions": e.mentions
        })).collect::<Vec<_>>(),
    })))
}

/// Open event streams allowed at once; more get 503.
pub const MAX_EVENT_STREAMS: usize = 512;

/// Counts an open event stream; dropped with the stream.
struct StreamSlot(Arc<AppState>);

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.event_streams.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn events(
    State(state): State<Arc<AppState>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    if state.event_streams.fetch_add(1, Ordering::SeqCst) >= MAX_EVENT_STREAMS {
        state.event_streams.fetch_sub(1, Ordering::SeqCst);
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("too many open event streams (limit {MAX_EVENT_STREAMS}); try again later"),
        ));
    }
    let slot = StreamSlot(state.clone());
    let rx = state.subscribe();
    // A client that falls behind by more than the buffer skips what it missed.
    let stream = BroadcastStream::new(rx).filter_map(move |e| {
        let _held = &slot;
        let e = e.ok()?;
        let data = crate::json::to_string(&e).ok()?;
        Some(Ok(Event::default().event(e.kind).data(data)))
    });
    let hello = tokio_stream::once(Ok(Event::default().comment("connected")));
    // Streams end when the server shuts down, so that shutdown does not wait on them.
    let mut stop = state.stopping.subscribe();
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let stream = futures_util::StreamExt::take_until(hello.chain(stream), Box::pin(stopped));
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

async fn openapi() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response()
}
