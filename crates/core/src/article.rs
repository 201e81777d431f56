//! The [`Article`]: one news item as storyweave stores it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One news article. Readers build it; the language stage fills `lang`;
/// after that every field the pipeline relies on is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Article {
    /// Stable id: from the input, else a hash of the url, else of title + text.
    pub id: String,
    pub url: Option<String>,
    /// The outlet ("Sputnik", "Reuters").
    pub source: Option<String>,
    pub title: Option<String>,
    pub text: String,
    /// BCP-47 language tag (`pt`, `id`, `zh`), detected when the input has none.
    pub lang: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub ingested_at: DateTime<Utc>,
}

impl Article {
    /// An article with the id derived from its content, stamped now.
    pub fn new(title: Option<String>, text: String) -> Self {
        let mut a = Article {
            id: String::new(),
            url: None,
            source: None,
            title,
            text,
            lang: None,
            published_at: None,
            ingested_at: Utc::now(),
        };
        a.id = a.derived_id();
        a
    }

    /// The id an article gets when its input has none: the url's hash when
    /// there is a url, else the hash of title and text. Same input, same id.
    pub fn derived_id(&self) -> String {
        match &self.url {
            Some(url) if !url.trim().is_empty() => short_hash(&["url", url.trim()]),
            _ => self.content_hash(),
        }
    }

    /// Hash of title + text, the last resort of de-duplication.
    pub fn content_hash(&self) -> String {
        short_hash(&[
            "content",
            self.title.as_deref().unwrap_or("").trim(),
            self.text.trim(),
        ])
    }

    /// Title and text as one string, the unit every encoder and signal reads.
    pub fn full_text(&self) -> String {
        match self
            .title
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            Some(t) => format!("{t}\n{}", self.text),
            None => self.text.clone(),
        }
    }

    /// The time the article speaks of: its publication date, else when it was ingested.
    pub fn time(&self) -> DateTime<Utc> {
        self.published_at.unwrap_or(self.ingested_at)
    }

    /// Language tag, `und` when unknown.
    pub fn lang_or_und(&self) -> &str {
        self.lang.as_deref().unwrap_or("und")
    }
}

/// First 16 hex digits of SHA-256 over the parts, separated by NUL bytes.
fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_prefers_url_then_content() {
        let mut a = Article::new(Some("T".into()), "body".into());
        let by_content = a.id.clone();
        assert_eq!(by_content.len(), 16);
        a.url = Some("https://example.org/x".into());
        assert_ne!(a.derived_id(), by_content);
        let b = Article::new(Some("T".into()), "body".into());
        assert_eq!(b.id, by_content, "same content gives the same id");
        let c = Article::new(Some("T".into()), "other".into());
        assert_ne!(c.id, by_content);
    }

    #[test]
    fn full_text_joins_title() {
        let a = Article::new(Some(" Head ".into()), "Body".into());
        assert_eq!(a.full_text(), "Head\nBody");
        let b = Article::new(None, "Body".into());
        assert_eq!(b.full_text(), "Body");
    }
}
