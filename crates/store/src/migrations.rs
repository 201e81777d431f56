//! Numbered schema migrations, tracked in SQLite's `user_version`.
//! Append only: a released migration is never edited.

use rusqlite::Connection;

use crate::{Result, StoreError};

const MIGRATIONS: &[&str] = &[
    // 1: articles, embeddings, entities, stories, assignments, merges, meta.
    "CREATE TABLE articles (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        url TEXT,
        source TEXT,
        title TEXT,
        text TEXT NOT NULL,
        lang TEXT,
        published_at TEXT,
        ingested_at TEXT NOT NULL,
        content_hash TEXT NOT NULL
    );
    CREATE INDEX articles_url ON articles(url);
    CREATE INDEX articles_hash ON articles(content_hash);
    CREATE TABLE embeddings (
        article_id TEXT NOT NULL REFERENCES articles(id),
        model TEXT NOT NULL,
        dim INTEGER NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (article_id, model)
    );
    CREATE TABLE stories (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        merged_into INTEGER REFERENCES stories(id)
    );
    CREATE TABLE assignments (
        article_id TEXT PRIMARY KEY REFERENCES articles(id),
        story_id INTEGER NOT NULL REFERENCES stories(id),
        opened INTEGER NOT NULL,
        score REAL NOT NULL,
        why TEXT NOT NULL,
        assigned_at TEXT NOT NULL
    );
    CREATE INDEX assignments_story ON assignments(story_id);
    CREATE TABLE merges (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        from_story INTEGER NOT NULL REFERENCES stories(id),
        into_story INTEGER NOT NULL REFERENCES stories(id),
        score REAL NOT NULL,
        at TEXT NOT NULL
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE article_entities (
        article_id TEXT NOT NULL REFERENCES articles(id),
        key TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        mentions INTEGER NOT NULL,
        PRIMARY KEY (article_id, key)
    );",
];

/// Brings the schema up to date, one transaction per migration.
pub(crate) fn migrate(conn: &Connection, name: &str) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew {
            path: name.to_string(),
            found: version,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        conn.execute_batch(&format!(
            "BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;",
            i + 1
        ))?;
    }
    Ok(())
}
