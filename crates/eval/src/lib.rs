//! Evaluation: scores story clustering (BCubed and pairwise F1) and pair
//! similarity (Pearson, ROC AUC, F1 at a threshold), and loads the gold sets
//! in their canonical `stories.jsonl` / `pairs.jsonl` formats.
//!
//! Everything here is pure: [`metrics`] takes labels and scores, [`data`]
//! reads files. Running the story engine over a set is the caller's job.

pub mod data;
mod error;
pub mod metrics;
pub mod run;

pub use data::{discover, load, split_of, stream_order, DataSet, DataSetFile, Kind, Pair, Split};
pub use error::EvalError;
pub use metrics::{best_f1_threshold, cluster_scores, f1_at, pearson, roc_auc, ClusterScores};
