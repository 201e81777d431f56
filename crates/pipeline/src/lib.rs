//! The [`Weaver`]: storyweave as a library. It runs articles through the
//! whole flow (embed with both encoders, extract entities, assign to a
//! story, store) and reads stories back as [`view`]s.
//!
//! Readers (`storyweave-ingest`) hand it clean, language-tagged articles;
//! the binary and the HTTP server sit on top of it.

pub mod view;

use std::path::Path;
use std::sync::Arc;

use storyweave_core::Article;
use storyweave_embed::{E5Encoder, Encoder, ModelFiles, UseEncoder};
use storyweave_engine::{ArticleInput, Decision, EngineConfig, Scorer, StoryIndex};
use storyweave_entities::EntityExtractor;
use storyweave_store::{Assignment, Inserted, Store, StoredEntity};

#[derive(Debug, thiserror::Error)]
pub enum WeaveError {
    #[error(transparent)]
    Store(#[from] storyweave_store::StoreError),
    #[error("loading the e5 model: {0}")]
    E5(#[from] storyweave_embed::E5Error),
    #[error("loading the USE-m model: {0}")]
    Use(#[from] storyweave_embed::UseError),
}

pub type Result<T, E = WeaveError> = std::result::Result<T, E>;

/// Both encoders, loaded once and shared.
#[derive(Clone)]
pub struct Encoders {
    pub e5: Arc<E5Encoder>,
    pub usem: Arc<UseEncoder>,
}

impl Encoders {
    pub fn load(files: &ModelFiles) -> Result<Self> {
        Ok(Encoders {
            e5: Arc::new(E5Encoder::load(&files.e5)?),
            usem: Arc::new(UseEncoder::load(&files.usem)?),
        })
    }

    /// Embeds articles with e5 (all) and USE-m (languages it knows), `threads` articles at a time.
    pub fn embed(&self, articles: &[Article], threads: usize) -> Vec<(Vec<f32>, Option<Vec<f32>>)> {
        let texts: Vec<String> = articles.iter().map(|a| a.full_text()).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let e5 = self.e5.embed_batch(&refs, threads);
        let use_idx: Vec<usize> = (0..articles.len())
            .filter(|&i| self.usem.supports(articles[i].lang_or_und()))
            .collect();
        let use_texts: Vec<&str> = use_idx.iter().map(|&i| refs[i]).collect();
        let use_vecs = self.usem.embed_batch(&use_texts, threads);
        let mut usem: Vec<Option<Vec<f32>>> = vec![None; articles.len()];
        for (i, v) in use_idx.into_iter().zip(use_vecs) {
            usem[i] = Some(v);
        }
        e5.into_iter().zip(usem).collect()
    }
}

/// Entities of an article, one per key, with their mention counts.
pub fn article_entities(extractor: &EntityExtractor, a: &Article) -> Vec<StoredEntity> {
    let text = a.full_text();
    let mut out: Vec<StoredEntity> = Vec::new();
    for m in extractor.extract(&text, a.lang.as_deref()) {
        match out.iter_mut().find(|e| e.key == m.key) {
            Some(e) => e.mentions += 1,
            None => out.push(StoredEntity {
                key: m.key,
                name: m.name,
                kind: serde_json::to_value(m.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                mentions: 1,
            }),
        }
    }
    out.sort_by(|a, b| b.mentions.cmp(&a.mentions).then(a.key.cmp(&b.key)));
    out
}

/// The engine's view of an article.
pub fn engine_input(
    a: &Article,
    e5: Vec<f32>,
    use_vec: Option<Vec<f32>>,
    entities: &[StoredEntity],
) -> ArticleInput {
    ArticleInput {
        id: a.id.clone(),
        lang: a.lang_or_und().to_string(),
        time: a.published_at,
        e5,
        use_vec,
        entities: entities.iter().map(|e| e.key.clone()).collect(),
        text: a.full_text(),
    }
}

/// What one call to [`Weaver::ingest`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IngestReport {
    pub added: usize,
    pub duplicates: usize,
    pub opened: usize,
    pub joined: usize,
    pub merges: usize,
}

/// The store, the live story index and the models, kept in step.
pub struct Weaver {
    store: Store,
    index: StoryIndex,
    encoders: Encoders,
    extractor: EntityExtractor,
    pub threads: usize,
    scorer: Scorer,
    config: EngineConfig,
}

impl Weaver {
    /// Opens the store at `db` and restores the live stories from it, with
    /// no re-encoding: embeddings and entities are read back.
    pub fn open(
        db: &Path,
        encoders: Encoders,
        scorer: Scorer,
        config: EngineConfig,
    ) -> Result<Weaver> {
        Self::with_store(Store::open(db)?, encoders, scorer, config)
    }

    pub fn with_store(
        store: Store,
        encoders: Encoders,
        scorer: Scorer,
        config: EngineConfig,
    ) -> Result<Weaver> {
        let index = restore_index(&store, &scorer, &config)?;
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        Ok(Weaver {
            store,
            index,
            encoders,
            extractor: EntityExtractor::new(),
            threads,
            scorer,
            config,
        })
    }

    /// The loaded encoders, shared (cheap to clone).
    pub fn encoders(&self) -> &Encoders {
        &self.encoders
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn index(&self) -> &StoryIndex {
        &self.index
    }

    /// Ingests a batch: de-duplicates, embeds (in parallel), extracts
    /// entities, assigns each article in order, and stores it all in one
    /// transaction, so that a batch is either wholly acknowledged or not at all.
    pub fn ingest(
        &mut self,
        batch: Vec<Article>,
    ) -> Result<(IngestReport, Vec<(String, Decision)>)> {
        let mut report = IngestReport::default();
        // Drop what the store or this batch already has before paying for encoding.
        let mut fresh: Vec<Article> = Vec::new();
        let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        for a in batch {
            // Each article's keys (id, url, content hash) computed once.
            let keys = [
                Some(format!("id:{}", a.id)),
                a.url.as_ref().map(|u| format!("url:{u}")),
                Some(format!("hash:{}", a.content_hash())),
            ];
            let seen_in_batch = keys.iter().flatten().any(|k| seen.contains(k));
            if seen_in_batch || self.store.article(&a.id)?.is_some() {
                report.duplicates += 1;
            } else {
                seen.extend(keys.into_iter().flatten());
                fresh.push(a);
            }
        }
        let vectors = self.encoders.embed(&fresh, self.threads);
        let entities: Vec<Vec<StoredEntity>> = fresh
            .iter()
            .map(|a| article_entities(&self.extractor, a))
            .collect();
        let index = &mut self.index;
        let mut decisions = Vec::new();
        let result = self.store.transaction(|store| {
            for ((a, (e5, usev)), ents) in fresh.iter().zip(vectors).zip(entities) {
                if let Inserted::Duplicate { .. } = store.insert_article(a)? {
                    report.duplicates += 1;
                    continue;
                }
                store.put_embedding(&a.id, "e5", &e5)?;
                if let Some(u) = &usev {
                    store.put_embedding(&a.id, "use", u)?;
                }
                store.put_entities(&a.id, &ents)?;
                let d = index.assign(&engine_input(a, e5, usev, &ents));
                let now = chrono::Utc::now();
                if d.opened {
                    store.new_story(d.story, a.published_at.unwrap_or(now))?;
                    report.opened += 1;
                } else {
                    report.joined += 1;
                }
                store.assign(
                    &Assignment {
                        article_id: a.id.clone(),
                        story_id: d.story,
                        opened: d.opened,
                        score: d.p as f64,
                        why: d.why(),
                    },
                    now,
                )?;
                for (from, into, p) in &d.merged {
                    store.merge(*from, *into, *p as f64, now)?;
                    report.merges += 1;
                }
                report.added += 1;
                decisions.push((a.id.clone(), d));
            }
            Ok(())
        });
        if let Err(e) = result {
            // The batch was rolled back: bring the live index back in step
            // with what the store holds, so no story points at nothing.
            self.index = restore_index(&self.store, &self.scorer, &self.config)?;
            return Err(e.into());
        }
        Ok((report, decisions))
    }
}

/// Rebuilds the live story index from the store, with no re-encoding:
/// embeddings and entities are read back and replayed in arrival order.
fn restore_index(store: &Store, scorer: &Scorer, config: &EngineConfig) -> Result<StoryIndex> {
    let mut index = StoryIndex::new(scorer.clone(), config.clone());
    for asg in store.assignments()? {
        let Some(a) = store.article(&asg.article_id)? else {
            continue;
        };
        let e5 = store.embedding(&a.id, "e5")?.unwrap_or_default();
        if e5.is_empty() {
            continue;
        }
        let usev = store.embedding(&a.id, "use")?;
        let ents = store.entities(&a.id)?;
        index.force(&engine_input(&a, e5, usev, &ents), Some(asg.story_id));
    }
    index.set_next_id(store.max_story_id()? + 1);
    Ok(index)
}
