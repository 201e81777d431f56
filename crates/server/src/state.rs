//! Shared state: the weaver (one writer), read-only store connections, the
//! snapshot of story views that reads are answered from, and the event channel.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;

use serde::Serialize;
use storyweave_pipeline::view::{self, StoryView};
use storyweave_pipeline::{Encoders, Weaver};
use storyweave_store::Store;
use tokio::sync::broadcast;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::ServerConfig;

/// Read connections kept open between requests.
const MAX_IDLE_READERS: usize = 8;
/// Events a slow SSE client may fall behind before it skips some.
const EVENT_BUFFER: usize = 1024;

/// One story event, as sent on `GET /api/events`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StoryEvent {
    /// `story_created`, `story_updated` or `story_merged`.
    #[serde(skip)]
    pub kind: &'static str,
    /// The story (for a merge: the one that absorbed the other).
    pub story: i64,
    /// Ids of the articles of this ingest that went into the story.
    pub articles: Vec<String>,
    pub headline: String,
    /// Articles in the story now.
    pub article_count: usize,
    /// For `story_merged`: the story folded into `story`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_from: Option<i64>,
}

/// Every live story as views, with what search needs, built at one moment.
pub struct Snapshot {
    pub generation: u64,
    /// Largest first, as [`view::stories`] orders them.
    pub stories: Vec<StoryView>,
    pub by_id: HashMap<i64, usize>,
    /// Merged-away story → the story it went into.
    pub merged: HashMap<i64, i64>,
    /// Per story: the L2-normalised mean of its members' e5 vectors.
    pub centroids: Vec<Option<Vec<f32>>>,
    /// Per story: lower-cased headline, entities, keywords and titles.
    pub haystacks: Vec<String>,
    pub article_total: usize,
    pub built_in_ms: f64,
    /// Each story as the list endpoint writes it, serialised once: with no
    /// articles, and with the default number of them.
    pub list_json: [Vec<Vec<u8>>; 2],
    full_json: Vec<OnceLock<Vec<u8>>>,
}

/// The `articles=` values whose list items are kept serialised.
pub const PRESERIALISED: [usize; 2] = [0, crate::api::DEFAULT_LIST_ARTICLES];

impl Snapshot {
    /// Builds a snapshot from the store (heavy: reads every article).
    pub fn build(store: &Store, generation: u64) -> Result<Snapshot, storyweave_store::StoreError> {
        let t = Instant::now();
        let stories = view::stories(store).map_err(|e| match e {
            storyweave_pipeline::WeaveError::Store(s) => s,
            other => storyweave_store::StoreError::Corrupt {
                table: "stories",
                message: other.to_string(),
            },
        })?;
        let mut centroids = Vec::with_capacity(stories.len());
        let mut haystacks = Vec::with_capacity(stories.len());
        for s in &stories {
            let mut sum: Vec<f32> = Vec::new();
            for a in &s.articles {
                if let Some(v) = store.embedding(&a.id, "e5")? {
                    if sum.is_empty() {
                        sum = vec![0.0; v.len()];
                    }
                    if v.len() == sum.len() {
                        sum.iter_mut().zip(&v).for_each(|(s, x)| *s += x);
                    }
                }
            }
            let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt();
            centroids.push((norm > 0.0).then(|| sum.iter().map(|x| x / norm).collect()));
            haystacks.push(crate::search::haystack(s));
        }
        let merged = store
            .merges()?
            .into_iter()
            .map(|m| (m.from, m.into))
            .collect();
        let by_id = stories.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
        let article_total = store.article_count()?;
        let list_json = PRESERIALISED.map(|n| {
            stories
                .iter()
                .map(|s| crate::json::to_vec(&crate::api::trimmed(s, n)).unwrap_or_default())
                .collect()
        });
        Ok(Snapshot {
            list_json,
            full_json: stories.iter().map(|_| OnceLock::new()).collect(),
            generation,
            by_id,
            merged,
            centroids,
            haystacks,
            article_total,
            stories,
            built_in_ms: t.elapsed().as_secs_f64() * 1e3,
        })
    }

    /// The live story for `id`, following merges.
    pub fn resolve(&self, id: i64) -> Option<&StoryView> {
        self.position(id).map(|i| &self.stories[i])
    }

    /// Index in `stories` of the live story for `id`, following merges.
    pub fn position(&self, mut id: i64) -> Option<usize> {
        // Bounded: a merge chain cannot be longer than the number of merges.
        for _ in 0..=self.merged.len() {
            if let Some(&i) = self.by_id.get(&id) {
                return Some(i);
            }
            id = *self.merged.get(&id)?;
        }
        None
    }

    /// The whole story as JSON, serialised on first request.
    pub fn full_json(&self, i: usize) -> &[u8] {
        self.full_json[i].get_or_init(|| crate::json::to_vec(&self.stories[i]).unwrap_or_default())
    }
}

/// Read-only connections, opened on demand and kept for reuse. SQLite in
/// WAL mode lets them read while the weaver writes.
pub struct ReadPool {
    db: PathBuf,
    idle: Mutex<Vec<Store>>,
}

impl ReadPool {
    pub fn new(db: &Path) -> Self {
        ReadPool {
            db: db.to_path_buf(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` on a read connection, on the blocking thread pool.
    pub async fn with<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let store = match pool.idle.lock().ok().and_then(|mut v| v.pop()) {
                Some(s) => s,
                None => Store::open(&pool.db)?,
            };
            let out = f(&store);
            if let Ok(mut idle) = pool.idle.lock() {
                if idle.len() < MAX_IDLE_READERS {
                    idle.push(store);
                }
            }
            out
        })
        .await?
    }
}

/// Everything the handlers share.
pub struct AppState {
    pub(crate) weaver: Arc<tokio::sync::Mutex<Weaver>>,
    pub(crate) encoders: Encoders,
    pub(crate) readers: Arc<ReadPool>,
    pub(crate) config: ServerConfig,
    pub(crate) events: broadcast::Sender<StoryEvent>,
    pub(crate) metrics: Metrics,
    /// Bumped after every ingest; a snapshot of an older generation is stale.
    generation: AtomicU64,
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    /// One rebuild at a time; the others wait for its result.
    rebuild: tokio::sync::Mutex<()>,
    /// Open `GET /api/events` streams.
    pub(crate) event_streams: AtomicUsize,
    /// Set when the server shuts down: event streams end.
    pub(crate) stopping: tokio::sync::watch::Sender<bool>,
}

impl AppState {
    /// `db` is the database `weaver` was opened on.
    pub fn new(db: &Path, weaver: Weaver, encoders: Encoders, config: ServerConfig) -> Self {
        AppState {
            weaver: Arc::new(tokio::sync::Mutex::new(weaver)),
            encoders,
            readers: Arc::new(ReadPool::new(db)),
            config,
            events: broadcast::channel(EVENT_BUFFER).0,
            metrics: Metrics::default(),
            generation: AtomicU64::new(0),
            snapshot: RwLock::new(None),
            rebuild: tokio::sync::Mutex::new(()),
            event_streams: AtomicUsize::new(0),
            stopping: tokio::sync::watch::channel(false).0,
        }
    }

    /// Ends the event streams (the server is shutting down).
    pub fn stop_streams(&self) {
        self.stopping.send_replace(true);
    }

    /// A receiver of every story event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<StoryEvent> {
        self.events.subscribe()
    }

    /// Marks the snapshot stale (call after writing to the store).
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn current(&self) -> Option<Arc<Snapshot>> {
        let snap = self.snapshot.read().ok()?.clone()?;
        (snap.generation == self.generation.load(Ordering::SeqCst)).then_some(snap)
    }

    /// The up-to-date snapshot, rebuilt first when an ingest made it stale.
    pub async fn snapshot(&self) -> Result<Arc<Snapshot>, ApiError> {
        if let Some(s) = self.current() {
            return Ok(s);
        }
        let _guard = self.rebuild.lock().await;
        if let Some(s) = self.current() {
            return Ok(s);
        }
        // Read the generation before the store: a write that lands during the
        // build bumps it again, and the next reader rebuilds.
        let generation = self.generation.load(Ordering::SeqCst);
        let snap = self
            .readers
            .with(move |store| Ok(Snapshot::build(store, generation)?))
            .await?;
        let snap = Arc::new(snap);
        self.metrics.snapshot_built(snap.built_in_ms);
        if let Ok(mut w) = self.snapshot.write() {
            *w = Some(snap.clone());
        }
        Ok(snap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn story(id: i64) -> StoryView {
        StoryView {
            id,
            headline: format!("story {id}"),
            headlines: Default::default(),
            languages: vec![],
            coverage: vec![],
            sources: vec![],
            article_count: 1,
            first_seen: Utc::now(),
            last_updated: Utc::now(),
            entities: vec![],
            keywords: vec![],
            timeline_bucket: "hour".into(),
            timeline: vec![],
            angles: vec![],
            articles: vec![],
        }
    }

    #[test]
    fn merged_ids_lead_to_the_live_story_and_cycles_end() {
        let stories = vec![story(1), story(2)];
        let snap = Snapshot {
            generation: 0,
            by_id: stories.iter().enumerate().map(|(i, s)| (s.id, i)).collect(),
            merged: [(5, 3), (3, 1), (7, 8), (8, 7)].into_iter().collect(),
            centroids: vec![None, None],
            haystacks: vec![String::new(), String::new()],
            article_total: 2,
            built_in_ms: 0.0,
            list_json: [vec![], vec![]],
            full_json: vec![OnceLock::new(), OnceLock::new()],
            stories,
        };
        assert_eq!(snap.resolve(2).map(|s| s.id), Some(2));
        assert_eq!(snap.resolve(5).map(|s| s.id), Some(1));
        assert_eq!(snap.resolve(3).map(|s| s.id), Some(1));
        assert!(snap.resolve(7).is_none());
        assert!(snap.resolve(99).is_none());
        let json: serde_json::Value = serde_json::from_slice(snap.full_json(1)).unwrap();
        assert_eq!(json["headline"], "story 2");
    }
}
