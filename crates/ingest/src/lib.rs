//! Ingestion: readers that turn plain-text articles, JSON Lines, RSS/Atom
//! feeds, HTML article pages, directories, standard input and URLs into
//! clean, language-tagged [`Article`]s.
//!
//! A bad record never stops a read: it becomes one [`RecordError`] naming the
//! file, line and field, and the good records around it still come through.
//! The caller decides whether to stop at the first error (`--strict`).
//!
//! Flow inside this crate: [`read`] (format) → [`normalise`] (text hygiene)
//! → language (detected with `storyweave-lang` when the input has none).

mod error;
pub mod feed;
pub mod fetch;
pub mod html;
pub mod jsonl;
mod lines;
pub mod normalise;
pub mod plain;
mod read;

pub use error::{RecordError, RecordLocation};
pub use jsonl::{clean_article_value, parse_article_value, EMPTY_AFTER_CLEANING};
pub use read::{is_article_file, read, read_bytes, Flow, Record, Source};
pub use storyweave_core::Article;

/// Largest article body accepted, in bytes. Bigger bodies are not news
/// articles (dumps, binaries) and would dominate encoding time.
pub const MAX_TEXT_BYTES: usize = 1 << 20;
/// Longest JSON Lines line read; anything longer is skipped unread.
pub const MAX_LINE_BYTES: usize = 4 << 20;
