//! The signals between an article and a candidate story.

use serde::{Deserialize, Serialize};

/// Names of the signals, in the order of [`Features::values`]. The scorer
/// file lists the names it was trained with, and loading checks them.
pub const FEATURE_NAMES: &[&str] = &[
    "e5_centroid",
    "e5_nearest",
    "use_centroid",
    "use_nearest",
    "use_known",
    "entity_overlap",
    "entity_shared",
    "lexical",
    "lexical_known",
    "time_newest",
    "time_mean",
    "time_known",
    "story_size",
    "article_terms",
];

/// How many signals there are.
pub const N_FEATURES: usize = 14;

/// Which signals the engine may use (`--signals`). `Dense` is the baseline
/// the full engine is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Signals {
    /// Encoder similarities only.
    Dense,
    #[default]
    All,
}

impl Signals {
    pub fn name(self) -> &'static str {
        match self {
            Signals::Dense => "dense",
            Signals::All => "all",
        }
    }

    pub fn parse(s: &str) -> Option<Signals> {
        match s {
            "dense" => Some(Signals::Dense),
            "all" => Some(Signals::All),
            _ => None,
        }
    }

    /// Whether a feature takes part under this signal set.
    pub fn uses(self, feature: usize) -> bool {
        match self {
            Signals::All => true,
            Signals::Dense => feature <= 4,
        }
    }
}

/// Signal values for one (article, story) pair.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Features {
    pub e5_centroid: f32,
    pub e5_nearest: f32,
    pub use_centroid: f32,
    pub use_nearest: f32,
    pub use_known: f32,
    pub entity_overlap: f32,
    pub entity_shared: f32,
    pub lexical: f32,
    pub lexical_known: f32,
    pub time_newest: f32,
    pub time_mean: f32,
    pub time_known: f32,
    pub story_size: f32,
    /// `ln(1 + distinct terms)` of the article: the same for every
    /// candidate, so it moves the join threshold with the article's length
    /// (a headline carries less evidence than a full text).
    pub article_terms: f32,
}

impl Features {
    pub fn values(&self) -> [f32; N_FEATURES] {
        [
            self.e5_centroid,
            self.e5_nearest,
            self.use_centroid,
            self.use_nearest,
            self.use_known,
            self.entity_overlap,
            self.entity_shared,
            self.lexical,
            self.lexical_known,
            self.time_newest,
            self.time_mean,
            self.time_known,
            self.story_size,
            self.article_terms,
        ]
    }
}
