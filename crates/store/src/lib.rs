//! The embedded store: one SQLite file (WAL) holding articles, their
//! embeddings and entities, stories, every assignment with its explanation,
//! and the history of story merges.
//!
//! Invariants:
//! - an article is stored once: ingestion de-duplicates by id, then url,
//!   then content hash ([`Store::insert_article`]);
//! - once a write returns, it is durable (`synchronous=FULL`), so a crash
//!   loses nothing that was acknowledged;
//! - the schema only moves forward, through numbered [`migrations`].

mod cache;
mod migrations;

pub use cache::VectorCache;

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use storyweave_core::Article;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("cannot create the database folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("database {path} has schema version {found}, newer than this storyweave ({known}); upgrade storyweave")]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("corrupt row in {table}: {message}")]
    Corrupt {
        table: &'static str,
        message: String,
    },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Result of offering an article to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    New,
    /// Already stored (same id, url or content): the id it is stored under.
    Duplicate {
        existing_id: String,
        by: DuplicateBy,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateBy {
    Id,
    Url,
    Content,
}

/// One recorded assignment of an article to a story.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub article_id: String,
    pub story_id: i64,
    /// `true` when the article opened the story.
    pub opened: bool,
    /// The scorer's probability that the article belongs to the story.
    pub score: f64,
    /// The engine's explanation (signals and their contributions), as JSON.
    pub why: serde_json::Value,
}

/// A recorded merge: `from` was folded into `into`.
#[derive(Debug, Clone, PartialEq)]
pub struct Merge {
    pub from: i64,
    pub into: i64,
    pub at: DateTime<Utc>,
    pub score: f64,
}

/// An entity as found in one article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntity {
    pub key: String,
    /// The name as first written in the article.
    pub name: String,
    /// `person`, `place` or `organisation`.
    pub kind: String,
    pub mentions: u32,
}

/// An open store.
pub struct Store {
    conn: Connection,
}

/// Opens an SQLite file, creating its folder first.
fn open_file(path: &Path) -> Result<Connection> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder {
            path: dir.display().to_string(),
            source,
        })?;
    }
    Connection::open(path).map_err(|source| StoreError::Open {
        path: path.display().to_string(),
        source,
    })
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt {
            table: "articles",
            message: format!("bad time {s:?}: {e}"),
        })
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Store> {
        Self::setup(open_file(path)?, &path.display().to_string())
    }

    /// A private in-memory store, for tests and evaluation runs.
    pub fn in_memory() -> Result<Store> {
        Self::setup(Connection::open_in_memory()?, ":memory:")
    }

    fn setup(conn: Connection, name: &str) -> Result<Store> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrations::migrate(&conn, name)?;
        Ok(Store { conn })
    }

    /// Runs `f` in one transaction: all of it is stored, or none.
    pub fn transaction<T>(&mut self, f: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        match f(self) {
            Ok(v) => match self.conn.execute_batch("COMMIT") {
                Ok(()) => Ok(v),
                Err(e) => {
                    // A failed COMMIT leaves the transaction open: close it.
                    let _ = self.conn.execute_batch("ROLLBACK");
                    Err(e.into())
                }
            },
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Stores an article unless it is already there by id, url or content.
    pub fn insert_article(&self, a: &Article) -> Result<Inserted> {
        if self
            .conn
            .query_row("SELECT 1 FROM articles WHERE id = ?1", [&a.id], |_| Ok(()))
            .optional()?
            .is_some()
        {
            return Ok(Inserted::Duplicate {
                existing_id: a.id.clone(),
                by: DuplicateBy::Id,
            });
        }
        if let Some(url) = a.url.as_deref() {
            if let Some(id) = self
                .conn
                .query_row("SELECT id FROM articles WHERE url = ?1", [url], |r| {
                    r.get::<_, String>(0)
                })
                .optional()?
            {
                return Ok(Inserted::Duplicate {
                    existing_id: id,
                    by: DuplicateBy::Url,
                });
            }
        }
        let hash = a.content_hash();
        if let Some(id) = self
            .conn
            .query_row(
                "SELECT id FROM articles WHERE content_hash = ?1",
                [&hash],
                |r| r.get::<_, String>(0),
            )
            .optional()?
        {
            return Ok(Inserted::Duplicate {
                existing_id: id,
                by: DuplicateBy::Content,
            });
        }
        self.conn.execute(
            "INSERT INTO articles (id, url, source, title, text, lang, published_at, ingested_at, content_hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![a.id, a.url, a.source, a.title, a.text, a.lang, a.published_at.map(ts), ts(a.ingested_at), hash],
        )?;
        Ok(Inserted::New)
    }

    /// One article by id.
    pub fn article(&self, id: &str) -> Result<Option<Article>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{ARTICLE_SELECT} WHERE id = ?1"))?;
        let mut rows = stmt.query([id])?;
        match rows.next()? {
            Some(r) => Ok(Some(article_from_row(r)?)),
            None => Ok(None),
        }
    }

    /// Every article, in arrival order.
    pub fn articles(&self) -> Result<Vec<Article>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{ARTICLE_SELECT} ORDER BY seq"))?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(article_from_row(r)?);
        }
        Ok(out)
    }

    pub fn article_count(&self) -> Result<usize> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM articles", [], |r| r.get::<_, i64>(0))?
            as usize)
    }

    /// Stores an article's embedding from one model.
    pub fn put_embedding(&self, article_id: &str, model: &str, vector: &[f32]) -> Result<()> {
        let blob: Vec<u8> = vector.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.conn.execute(
            "INSERT OR REPLACE INTO embeddings (article_id, model, dim, vector) VALUES (?1, ?2, ?3, ?4)",
            params![article_id, model, vector.len() as i64, blob],
        )?;
        Ok(())
    }

    /// An article's embedding from one model, if stored.
    pub fn embedding(&self, article_id: &str, model: &str) -> Result<Option<Vec<f32>>> {
        let blob: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT vector FROM embeddings WHERE article_id = ?1 AND model = ?2",
                params![article_id, model],
                |r| r.get(0),
            )
            .optional()?;
        blob.map(|b| {
            if b.len() % 4 != 0 {
                return Err(StoreError::Corrupt {
                    table: "embeddings",
                    message: format!("blob of {} bytes for {article_id}", b.len()),
                });
            }
            Ok(b.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect())
        })
        .transpose()
    }

    /// Stores the entities found in an article (replacing earlier ones).
    pub fn put_entities(&self, article_id: &str, entities: &[StoredEntity]) -> Result<()> {
        self.conn.execute(
            "DELETE FROM article_entities WHERE article_id = ?1",
            [article_id],
        )?;
        let mut stmt = self.conn.prepare_cached(
            "INSERT OR REPLACE INTO article_entities (article_id, key, name, kind, mentions) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for e in entities {
            stmt.execute(params![article_id, e.key, e.name, e.kind, e.mentions])?;
        }
        Ok(())
    }

    /// The entities of an article, most mentioned first.
    pub fn entities(&self, article_id: &str) -> Result<Vec<StoredEntity>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT key, name, kind, mentions FROM article_entities WHERE article_id = ?1 ORDER BY mentions DESC, key",
        )?;
        let rows = stmt.query_map([article_id], |r| {
            Ok(StoredEntity {
                key: r.get(0)?,
                name: r.get(1)?,
                kind: r.get(2)?,
                mentions: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The largest story id ever given, merged stories included.
    pub fn max_story_id(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM stories", [], |r| r.get(0))?)
    }

    /// Live stories with their article ids in arrival order, newest story activity first.
    pub fn story_members(&self) -> Result<Vec<(i64, Vec<String>)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.story_id, s.article_id FROM assignments s JOIN articles a ON a.id = s.article_id ORDER BY s.story_id, a.seq",
        )?;
        let mut rows = stmt.query([])?;
        let mut out: Vec<(i64, Vec<String>)> = Vec::new();
        while let Some(r) = rows.next()? {
            let (story, article): (i64, String) = (r.get(0)?, r.get(1)?);
            match out.last_mut() {
                Some((s, list)) if *s == story => list.push(article),
                _ => out.push((story, vec![article])),
            }
        }
        Ok(out)
    }

    /// The story an article is in, if assigned.
    pub fn assignment(&self, article_id: &str) -> Result<Option<Assignment>> {
        let row: Option<(String, i64, bool, f64, String)> = self
            .conn
            .query_row(
                "SELECT article_id, story_id, opened, score, why FROM assignments WHERE article_id = ?1",
                [article_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        row.map(|(article_id, story_id, opened, score, why)| {
            Ok(Assignment {
                article_id,
                story_id,
                opened,
                score,
                why: serde_json::from_str(&why).map_err(|e| StoreError::Corrupt {
                    table: "assignments",
                    message: e.to_string(),
                })?,
            })
        })
        .transpose()
    }

    /// Where a story went when it was merged away.
    pub fn merged_into(&self, story: i64) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT merged_into FROM stories WHERE id = ?1",
                [story],
                |r| r.get::<_, Option<i64>>(0),
            )
            .optional()?
            .flatten())
    }

    /// Records a new story under the id the engine gave it.
    pub fn new_story(&self, id: i64, at: DateTime<Utc>) -> Result<()> {
        self.conn.execute(
            "INSERT INTO stories (id, created_at, updated_at) VALUES (?1, ?2, ?2)",
            params![id, ts(at)],
        )?;
        Ok(())
    }

    /// Records an article's assignment (replacing an earlier one).
    pub fn assign(&self, a: &Assignment, at: DateTime<Utc>) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO assignments (article_id, story_id, opened, score, why, assigned_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![a.article_id, a.story_id, a.opened, a.score, a.why.to_string(), ts(at)],
        )?;
        self.conn.execute(
            "UPDATE stories SET updated_at = ?2 WHERE id = ?1",
            params![a.story_id, ts(at)],
        )?;
        Ok(())
    }

    /// Folds story `from` into `into`: its articles move, the merge is recorded.
    pub fn merge(&self, from: i64, into: i64, score: f64, at: DateTime<Utc>) -> Result<()> {
        self.conn.execute(
            "UPDATE assignments SET story_id = ?2 WHERE story_id = ?1",
            params![from, into],
        )?;
        self.conn.execute(
            "UPDATE stories SET merged_into = ?2, updated_at = ?3 WHERE id = ?1",
            params![from, into, ts(at)],
        )?;
        self.conn.execute(
            "INSERT INTO merges (from_story, into_story, score, at) VALUES (?1, ?2, ?3, ?4)",
            params![from, into, score, ts(at)],
        )?;
        Ok(())
    }

    /// Every assignment of live (unmerged) stories, in arrival order of the articles.
    pub fn assignments(&self) -> Result<Vec<Assignment>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.article_id, s.story_id, s.opened, s.score, s.why
             FROM assignments s JOIN articles a ON a.id = s.article_id ORDER BY a.seq",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let why: String = r.get(4)?;
            out.push(Assignment {
                article_id: r.get(0)?,
                story_id: r.get(1)?,
                opened: r.get(2)?,
                score: r.get(3)?,
                why: serde_json::from_str(&why).map_err(|e| StoreError::Corrupt {
                    table: "assignments",
                    message: e.to_string(),
                })?,
            });
        }
        Ok(out)
    }

    /// Articles with no assignment yet, in arrival order (work left by a crash).
    pub fn unassigned(&self) -> Result<Vec<Article>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{ARTICLE_SELECT} WHERE id NOT IN (SELECT article_id FROM assignments) ORDER BY seq"
        ))?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(article_from_row(r)?);
        }
        Ok(out)
    }

    /// The merge history, oldest first.
    pub fn merges(&self) -> Result<Vec<Merge>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT from_story, into_story, at, score FROM merges ORDER BY id")?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let at: String = r.get(2)?;
            out.push(Merge {
                from: r.get(0)?,
                into: r.get(1)?,
                at: parse_ts(&at)?,
                score: r.get(3)?,
            });
        }
        Ok(out)
    }

    /// A value of the engine's persisted state (e.g. model versions).
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            [key, value],
        )?;
        Ok(())
    }
}

const ARTICLE_SELECT: &str =
    "SELECT id, url, source, title, text, lang, published_at, ingested_at FROM articles";

fn article_from_row(r: &rusqlite::Row<'_>) -> Result<Article> {
    let published: Option<String> = r.get(6)?;
    let ingested: String = r.get(7)?;
    Ok(Article {
        id: r.get(0)?,
        url: r.get(1)?,
        source: r.get(2)?,
        title: r.get(3)?,
        text: r.get(4)?,
        lang: r.get(5)?,
        published_at: published.as_deref().map(parse_ts).transpose()?,
        ingested_at: parse_ts(&ingested)?,
    })
}

#[cfg(test)]
mod tests;
