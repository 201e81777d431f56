//! The learned part: a logistic regression that turns signals into the
//! probability that an article belongs to a story, and the learned
//! thresholds that decide "join" versus "open a new story" and "merge".
//!
//! A logistic regression gives the base logit: 14 signals, and every
//! decision must be explainable as a sum of per-signal contributions.
//! Optional boosted trees ([`crate::trees`]) then correct it where signals
//! interact; their output is attributed to signals too, so the sum still
//! holds.

// Index loops read closer to the maths in the numeric code below.
#![allow(clippy::needless_range_loop)]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::features::{Features, Signals, FEATURE_NAMES, N_FEATURES};
use crate::trees::{fit_boosted, BoostParams, Tree};

/// The scorer file shipped in the repository (`storyweave train` rewrites it).
pub const DEFAULT_SCORER_JSON: &str = include_str!("../model/scorer.json");

#[derive(Debug, thiserror::Error)]
pub enum ScorerError {
    #[error("scorer file: {0}")]
    Json(#[from] serde_json::Error),
    #[error("scorer file: version {found}, this storyweave reads version {known}")]
    Version { found: u32, known: u32 },
    #[error("scorer file: model `{model}` has features {found:?}, expected {expected:?}")]
    Features {
        model: String,
        found: Vec<String>,
        expected: Vec<String>,
    },
    #[error("scorer file: no model for signals `{0}`")]
    Missing(String),
    #[error("scorer file: model `{model}`, tree {tree}: {why}")]
    Tree {
        model: String,
        tree: usize,
        why: String,
    },
}

/// One fitted model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Model {
    pub features: Vec<String>,
    /// Per-feature mean and scale used to standardise inputs.
    pub mean: Vec<f32>,
    pub scale: Vec<f32>,
    pub weights: Vec<f32>,
    pub bias: f32,
    /// Join the best story when its probability reaches this; else open a new one.
    pub join_threshold: f32,
    /// Merge two stories when one scores this high against the other.
    pub merge_threshold: f32,
    /// Boosted trees added to the logistic logit (none in version 1 files).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trees: Vec<Tree>,
}

impl Model {
    /// A logistic model over every signal, without trees, with
    /// placeholder thresholds (`storyweave train` tunes them afterwards).
    pub fn logistic(mean: Vec<f32>, scale: Vec<f32>, weights: Vec<f32>, bias: f32) -> Model {
        Model {
            features: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
            mean,
            scale,
            weights,
            bias,
            join_threshold: 0.5,
            merge_threshold: 0.9,
            trees: Vec::new(),
        }
    }
}

/// The scorer file: a model per signal set, and where it came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScorerFile {
    pub version: u32,
    pub models: BTreeMap<String, Model>,
    /// Free-form provenance: data sets, sizes, date.
    #[serde(default)]
    pub trained_on: serde_json::Value,
}

/// Version 2 added `trees`; version 1 files (logistic only) still load.
pub const SCORER_VERSION: u32 = 2;

/// The signal contributions behind one probability.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Explanation {
    pub p: f32,
    pub bias: f32,
    /// (signal, raw value, contribution to the logit), largest |contribution| first.
    pub signals: Vec<(String, f32, f32)>,
}

/// A loaded, validated model.
#[derive(Debug, Clone)]
pub struct Scorer {
    pub model: Model,
    pub signals: Signals,
}

impl Scorer {
    /// Parses a scorer file and takes the model for `signals`.
    pub fn from_json(json: &str, signals: Signals) -> Result<Scorer, ScorerError> {
        let file: ScorerFile = serde_json::from_str(json)?;
        if !(1..=SCORER_VERSION).contains(&file.version) {
            return Err(ScorerError::Version {
                found: file.version,
                known: SCORER_VERSION,
            });
        }
        let model = file
            .models
            .get(signals.name())
            .cloned()
            .ok_or_else(|| ScorerError::Missing(signals.name().into()))?;
        let expected: Vec<String> = FEATURE_NAMES.iter().map(|s| s.to_string()).collect();
        if model.features != expected
            || model.weights.len() != expected.len()
            || model.mean.len() != expected.len()
            || model.scale.len() != expected.len()
        {
            return Err(ScorerError::Features {
                model: signals.name().into(),
                found: model.features,
                expected,
            });
        }
        for (i, t) in model.trees.iter().enumerate() {
            t.validate(FEATURE_NAMES.len())
                .map_err(|why| ScorerError::Tree {
                    model: signals.name().into(),
                    tree: i,
                    why,
                })?;
        }
        Ok(Scorer { model, signals })
    }

    /// A scorer with every weight at zero: for runs where only the signals
    /// matter (building training examples), so that `storyweave train`
    /// works even when the shipped file lists other signals.
    pub fn untrained(signals: Signals) -> Scorer {
        let n = FEATURE_NAMES.len();
        Scorer {
            model: Model::logistic(vec![0.0; n], vec![1.0; n], vec![0.0; n], 0.0),
            signals,
        }
    }

    /// The scorer shipped with storyweave.
    pub fn default_for(signals: Signals) -> Scorer {
        Scorer::from_json(DEFAULT_SCORER_JSON, signals)
            .expect("the shipped scorer file is valid (tested)")
    }

    fn logit(&self, f: &Features) -> f32 {
        let x = impute(f.values(), &self.model.mean);
        self.linear_logit(&x) + self.model.trees.iter().map(|t| t.predict(&x)).sum::<f32>()
    }

    /// The logistic part of the logit, on imputed signal values.
    pub fn linear_logit(&self, x: &[f32; N_FEATURES]) -> f32 {
        let m = &self.model;
        let mut z = m.bias;
        for i in 0..x.len() {
            if self.signals.uses(i) {
                z += m.weights[i] * standard(x[i], m.mean[i], m.scale[i]);
            }
        }
        z
    }

    /// Probability that the article belongs to the story.
    pub fn probability(&self, f: &Features) -> f32 {
        sigmoid(self.logit(f))
    }

    pub fn explain(&self, f: &Features) -> Explanation {
        let x = impute(f.values(), &self.model.mean);
        let m = &self.model;
        let mut contrib = [0f32; N_FEATURES];
        let mut bias = m.bias;
        for t in &m.trees {
            bias += t.attribute(&x, &mut contrib);
        }
        let mut signals: Vec<(String, f32, f32)> = (0..x.len())
            .filter(|&i| self.signals.uses(i))
            .map(|i| {
                (
                    FEATURE_NAMES[i].to_string(),
                    x[i],
                    m.weights[i] * standard(x[i], m.mean[i], m.scale[i]) + contrib[i],
                )
            })
            .collect();
        signals.sort_by(|a, b| b.2.abs().total_cmp(&a.2.abs()));
        Explanation {
            p: self.probability(f),
            bias,
            signals,
        }
    }
}

/// Signals that could not be measured (no USE-m vector for the language, no
/// article of the same language in the story, no date) take their training
/// mean, so they add nothing to the logit; the `*_known` indicator carries
/// the fact that they are missing. Encoding them as 0 instead would read as
/// strong evidence against joining.
pub fn impute(mut x: [f32; N_FEATURES], mean: &[f32]) -> [f32; N_FEATURES] {
    for (flag, deps) in MISSING_GROUPS {
        if x[*flag] == 0.0 {
            for &d in *deps {
                x[d] = mean[d];
            }
        }
    }
    x
}

/// (indicator, the signals it guards), as indices into [`FEATURE_NAMES`].
const MISSING_GROUPS: &[(usize, &[usize])] = &[(4, &[2, 3]), (8, &[7]), (11, &[9, 10])];

/// A standardised signal, clipped to ±4 deviations so that one signal far
/// outside its training range cannot decide alone.
fn standard(x: f32, mean: f32, scale: f32) -> f32 {
    ((x - mean) / scale).clamp(-4.0, 4.0)
}

pub fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// Fits a logistic regression with L2 penalty `l2` by Newton's method
/// (IRLS): exact and fast for a handful of features. Inputs are
/// standardised first; `active` masks the features a signal set may use.
/// Positives and negatives are weighted to equal total mass so that the
/// many easy negatives do not drown the few positives.
pub fn fit_logistic(
    xs: &[[f32; N_FEATURES]],
    ys: &[bool],
    sample_weights: &[f64],
    active: &[bool; N_FEATURES],
    l2: f64,
) -> (Vec<f32>, Vec<f32>, Vec<f32>, f32) {
    let d = N_FEATURES;
    let total: f64 = sample_weights.iter().sum::<f64>().max(1e-12);
    // Means of the guarded signals over the rows where they were measured,
    // then every row imputed the way the scorer will impute it.
    let mut known_mean = vec![0f32; d];
    for (flag, deps) in MISSING_GROUPS {
        for &j in *deps {
            let (mut s, mut n) = (0f64, 0f64);
            for (x, w) in xs.iter().zip(sample_weights) {
                if x[*flag] != 0.0 {
                    s += w * x[j] as f64;
                    n += w;
                }
            }
            known_mean[j] = if n > 0.0 { (s / n) as f32 } else { 0.0 };
        }
    }
    let imputed: Vec<[f32; N_FEATURES]> = xs.iter().map(|x| impute(*x, &known_mean)).collect();
    let xs = &imputed[..];
    let mut mean = vec![0f64; d];
    let mut var = vec![0f64; d];
    for (x, w) in xs.iter().zip(sample_weights) {
        for j in 0..d {
            mean[j] += w * x[j] as f64 / total;
        }
    }
    for (x, w) in xs.iter().zip(sample_weights) {
        for j in 0..d {
            var[j] += w * (x[j] as f64 - mean[j]).powi(2) / total;
        }
    }
    // A floor on the scale: a signal nearly constant in training (time on an
    // undated set) must not blow up to tens of deviations elsewhere.
    let scale: Vec<f64> = var.iter().map(|v| v.sqrt().max(0.1)).collect();
    let (wp, wn) = class_weights(ys, sample_weights);
    // Parameters: [bias, w_active...]
    let idx: Vec<usize> = (0..d).filter(|&j| active[j]).collect();
    let k = idx.len() + 1;
    let mut beta = vec![0f64; k];
    for _ in 0..50 {
        let mut grad = vec![0f64; k];
        let mut hess = vec![vec![0f64; k]; k];
        for ((x, &y), &sw) in xs.iter().zip(ys).zip(sample_weights) {
            let mut row = Vec::with_capacity(k);
            row.push(1.0);
            for &j in &idx {
                row.push((x[j] as f64 - mean[j]) / scale[j]);
            }
            let z: f64 = row.iter().zip(&beta).map(|(a, b)| a * b).sum();
            let p = 1.0 / (1.0 + (-z).exp());
            let w = sw * if y { wp } else { wn };
            let t = if y { 1.0 } else { 0.0 };
            for a in 0..k {
                grad[a] += w * (p - t) * row[a];
                for b in 0..k {
                    hess[a][b] += w * p * (1.0 - p) * row[a] * row[b];
                }
            }
        }
        for a in 1..k {
            grad[a] += l2 * beta[a];
            hess[a][a] += l2;
        }
        hess[0][0] += 1e-9;
        let step = solve(hess, grad);
        let mut max_step: f64 = 0.0;
        for a in 0..k {
            beta[a] -= step[a];
            max_step = max_step.max(step[a].abs());
        }
        if max_step < 1e-7 {
            break;
        }
    }
    let mut weights = vec![0f32; d];
    for (i, &j) in idx.iter().enumerate() {
        weights[j] = beta[i + 1] as f32;
    }
    (
        mean.iter().map(|&m| m as f32).collect(),
        scale.iter().map(|&s| s as f32).collect(),
        weights,
        beta[0] as f32,
    )
}

/// Gaussian elimination with partial pivoting; `a` is small and well-conditioned by the L2 term.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap_or(c);
        a.swap(c, p);
        b.swap(c, p);
        let d = if a[c][c].abs() < 1e-12 {
            1e-12
        } else {
            a[c][c]
        };
        for r in c + 1..n {
            let f = a[r][c] / d;
            for cc in c..n {
                a[r][cc] -= f * a[c][cc];
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = vec![0f64; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|c| a[r][c] * x[c]).sum();
        let d = if a[r][r].abs() < 1e-12 {
            1e-12
        } else {
            a[r][r]
        };
        x[r] = (b[r] - s) / d;
    }
    x
}

/// Multipliers for positive and negative examples that give each class
/// half the (sample-weighted) mass while the mean weight stays 1.
fn class_weights(ys: &[bool], sample_weights: &[f64]) -> (f64, f64) {
    let total: f64 = sample_weights.iter().sum::<f64>().max(1e-12);
    let pos: f64 = ys
        .iter()
        .zip(sample_weights)
        .filter(|(y, _)| **y)
        .map(|(_, w)| w)
        .sum::<f64>()
        .max(1e-12);
    let neg = (total - pos).max(1e-12);
    let n = ys.len().max(1) as f64;
    (n / (2.0 * pos), n / (2.0 * neg))
}

/// Fits boosted trees on top of a fitted logistic `model`: the trees start
/// from its logit and see the signals imputed as the scorer imputes them.
/// Classes are balanced as in [`fit_logistic`], so the trees correct the
/// same calibrated logit rather than pull it towards the many negatives.
pub fn fit_trees(
    scorer: &Scorer,
    xs: &[[f32; N_FEATURES]],
    ys: &[bool],
    sample_weights: &[f64],
    params: &BoostParams,
) -> Vec<Tree> {
    let imputed: Vec<[f32; N_FEATURES]> =
        xs.iter().map(|x| impute(*x, &scorer.model.mean)).collect();
    let base: Vec<f64> = imputed
        .iter()
        .map(|x| scorer.linear_logit(x) as f64)
        .collect();
    let (wp, wn) = class_weights(ys, sample_weights);
    let ws: Vec<f64> = ys
        .iter()
        .zip(sample_weights)
        .map(|(y, w)| w * if *y { wp } else { wn })
        .collect();
    let mut active = [false; N_FEATURES];
    for (j, a) in active.iter_mut().enumerate() {
        *a = scorer.signals.uses(j);
    }
    fit_boosted(&imputed, ys, &ws, &base, &active, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_scorer_loads_for_both_signal_sets() {
        for s in [Signals::All, Signals::Dense] {
            let sc = Scorer::from_json(DEFAULT_SCORER_JSON, s).unwrap();
            assert_eq!(sc.model.features.len(), FEATURE_NAMES.len());
            assert!(sc.model.join_threshold > 0.0 && sc.model.join_threshold < 1.0);
        }
    }

    #[test]
    fn untrained_scorer_is_neutral_and_needs_no_file() {
        let sc = Scorer::untrained(Signals::All);
        let f = Features {
            e5_centroid: 0.9,
            use_known: 1.0,
            use_nearest: 0.8,
            ..Default::default()
        };
        assert_eq!(sc.probability(&f), 0.5);
        assert_eq!(sc.probability(&Features::default()), 0.5);
        assert!(sc.explain(&f).signals.iter().all(|s| s.2 == 0.0));
    }

    #[test]
    fn version_1_files_without_trees_still_load() {
        let mut v: serde_json::Value = serde_json::from_str(DEFAULT_SCORER_JSON).unwrap();
        v["version"] = 1.into();
        for m in v["models"].as_object_mut().unwrap().values_mut() {
            m.as_object_mut().unwrap().remove("trees");
        }
        let sc = Scorer::from_json(&v.to_string(), Signals::All).unwrap();
        assert!(sc.model.trees.is_empty());
        let f = Features {
            e5_centroid: 0.9,
            e5_nearest: 0.95,
            ..Default::default()
        };
        let shipped = Scorer::default_for(Signals::All);
        assert_eq!(sc.probability(&f), shipped.probability(&f));
    }

    #[test]
    fn bad_scorer_files_are_rejected() {
        assert!(matches!(
            Scorer::from_json("{", Signals::All),
            Err(ScorerError::Json(_))
        ));
        let mut f: ScorerFile = serde_json::from_str(DEFAULT_SCORER_JSON).unwrap();
        f.version = 99;
        assert!(matches!(
            Scorer::from_json(&serde_json::to_string(&f).unwrap(), Signals::All),
            Err(ScorerError::Version { .. })
        ));
        let mut f: ScorerFile = serde_json::from_str(DEFAULT_SCORER_JSON).unwrap();
        f.models.get_mut("all").unwrap().features.pop();
        assert!(matches!(
            Scorer::from_json(&serde_json::to_string(&f).unwrap(), Signals::All),
            Err(ScorerError::Features { .. })
        ));
    }

    #[test]
    fn logistic_fit_separates_a_separable_signal() {
        // Feature 0 decides the label; feature 7 is noise.
        let mut xs = vec![];
        let mut ys = vec![];
        for i in 0..200 {
            let mut x = [0f32; N_FEATURES];
            x[0] = (i % 20) as f32 / 20.0;
            x[7] = ((i * 7919) % 13) as f32;
            xs.push(x);
            ys.push(x[0] > 0.5);
        }
        let (mean, scale, w, b) =
            fit_logistic(&xs, &ys, &vec![1.0; xs.len()], &[true; N_FEATURES], 1.0);
        assert!(w[0] > 2.0, "{w:?}");
        assert!(w[7].abs() < w[0].abs() / 5.0, "{w:?}");
        let p = |v: f32| {
            sigmoid(b + w[0] * (v - mean[0]) / scale[0] + w[7] * (6.0 - mean[7]) / scale[7])
        };
        assert!(p(0.9) > 0.9 && p(0.1) < 0.1);
    }
}
