//! A content-addressed cache of embeddings, in its own SQLite file, so that
//! evaluation and training never encode the same text twice.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::Result;

pub struct VectorCache {
    conn: Connection,
}

impl VectorCache {
    pub fn open(path: &Path) -> Result<VectorCache> {
        let conn = crate::open_file(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)",
        )?;
        Ok(VectorCache { conn })
    }

    pub fn in_memory() -> Result<VectorCache> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch("CREATE TABLE vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")?;
        Ok(VectorCache { conn })
    }

    pub fn get(&self, key: &str) -> Result<Option<Vec<f32>>> {
        let blob: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT vector FROM vectors WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(blob.map(|b| {
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        }))
    }

    pub fn put_many(&mut self, items: &[(String, Vec<f32>)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt =
                tx.prepare_cached("INSERT OR REPLACE INTO vectors (key, vector) VALUES (?1, ?2)")?;
            for (k, v) in items {
                let blob: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                stmt.execute(params![k, blob])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}
