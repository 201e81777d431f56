//! The story engine: places each incoming article, in arrival order, into
//! the story it reports or a new one, in milliseconds and without
//! reclustering.
//!
//! For every article the [`StoryIndex`] retrieves candidate stories (by e5
//! centroid within a time window, and by shared entities), computes the
//! [`Features`] between the article and each candidate (dense similarity
//! from both encoders, cross-lingual entity overlap, within-language
//! TF-IDF, time proximity, story size), and asks the learned [`Scorer`]
//! for the probability of belonging. The best candidate wins if it clears
//! the learned join threshold; otherwise the article opens a story. Every
//! decision carries its per-signal explanation.

pub mod ann;
pub mod docfreq;
pub mod features;
pub mod index;
mod members;
pub mod scorer;
pub mod terms;
pub mod trees;

pub use features::{Features, Signals, FEATURE_NAMES, N_FEATURES};
pub use index::{ArticleInput, Decision, EngineConfig, StoryId, StoryIndex};
pub use scorer::{Explanation, Model, Scorer, ScorerError, ScorerFile};

/// Edits an exactly sized boxed slice through a `Vec` reserved for `extra`
/// more elements, then boxes it at its new length. Most parts of a story
/// never change once built, so they carry no spare capacity.
pub(crate) fn edit_exact<T>(b: &mut Box<[T]>, extra: usize, edit: impl FnOnce(&mut Vec<T>)) {
    let mut v = std::mem::take(b).into_vec();
    v.reserve_exact(extra);
    edit(&mut v);
    *b = v.into_boxed_slice();
}
