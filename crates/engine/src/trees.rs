//! Gradient-boosted regression trees that correct the logistic scorer.
//!
//! The logistic model gives a smooth, well-calibrated base logit; a few
//! shallow trees, fitted by Newton boosting on its residuals, add what a
//! linear logit cannot express: interactions between signals (time
//! proximity says little when a whole stream is from one day; a close
//! nearest member means more in a large story). Every tree's output is
//! split among the features it tested (Saabas attribution), so a decision
//! still explains itself signal by signal.
//!
//! Written here rather than taken from a crate: the fit is ~150 lines on
//! 14 features, and it needs per-example weights (every data set weighs
//! the same), a base margin (the logistic logit) and a feature mask (the
//! dense baseline), which the small GBDT crates do not all offer together.

use serde::{Deserialize, Serialize};

/// One node; a leaf has no `feature`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Node {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature: Option<u16>,
    /// Go left when the value is below this.
    #[serde(default)]
    pub threshold: f32,
    #[serde(default)]
    pub left: u32,
    #[serde(default)]
    pub right: u32,
    /// The logit correction at this node (a leaf's output; for an inner
    /// node, what it would output as a leaf: used for attribution).
    pub value: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

impl Tree {
    /// Checks that the tree is well formed for `n_features` inputs: child
    /// links point forward inside the tree (so walks end), features exist.
    pub fn validate(&self, n_features: usize) -> Result<(), String> {
        if self.nodes.is_empty() {
            return Err("empty tree".into());
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.value.is_finite() || !n.threshold.is_finite() {
                return Err(format!("node {i}: value or threshold is not finite"));
            }
            if let Some(f) = n.feature {
                if f as usize >= n_features {
                    return Err(format!("node {i}: feature {f} out of range"));
                }
                for c in [n.left, n.right] {
                    if c as usize <= i || c as usize >= self.nodes.len() {
                        return Err(format!("node {i}: child {c} out of range"));
                    }
                }
            }
        }
        Ok(())
    }

    pub fn predict(&self, x: &[f32]) -> f32 {
        let mut i = 0usize;
        loop {
            let n = &self.nodes[i];
            match n.feature {
                Some(f) => {
                    i = if x[f as usize] < n.threshold {
                        n.left
                    } else {
                        n.right
                    } as usize
                }
                None => return n.value,
            }
        }
    }

    /// Adds each feature's share of this tree's output to `contrib` and
    /// returns the root's value (the part no feature explains).
    pub fn attribute(&self, x: &[f32], contrib: &mut [f32]) -> f32 {
        let mut i = 0usize;
        loop {
            let n = &self.nodes[i];
            match n.feature {
                Some(f) => {
                    let next = if x[f as usize] < n.threshold {
                        n.left
                    } else {
                        n.right
                    } as usize;
                    contrib[f as usize] += self.nodes[next].value - n.value;
                    i = next;
                }
                None => return self.nodes[0].value,
            }
        }
    }
}

/// Boosting settings; the defaults are what `storyweave train` uses.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct BoostParams {
    pub rounds: usize,
    pub depth: usize,
    pub learning_rate: f64,
    /// L2 penalty on leaf values.
    pub lambda: f64,
    /// A split must leave at least this much (weighted) hessian on each side.
    pub min_child_hessian: f64,
    /// Candidate thresholds per feature (quantiles of the training values).
    pub bins: usize,
}

impl Default for BoostParams {
    fn default() -> Self {
        BoostParams {
            rounds: 60,
            depth: 3,
            learning_rate: 0.1,
            lambda: 1.0,
            min_child_hessian: 20.0,
            bins: 32,
        }
    }
}

/// Fits trees on logistic loss, starting from the margins `base`, with
/// example weights `ws`; only features with `active[j]` are split on.
pub fn fit_boosted<const N: usize>(
    xs: &[[f32; N]],
    ys: &[bool],
    ws: &[f64],
    base: &[f64],
    active: &[bool; N],
    params: &BoostParams,
) -> Vec<Tree> {
    let n = xs.len();
    if n == 0 || params.rounds == 0 {
        return Vec::new();
    }
    // Quantile cut points per feature; bin(x) = number of cuts <= x.
    let cuts: Vec<Vec<f32>> = (0..N)
        .map(|j| {
            if !active[j] {
                return Vec::new();
            }
            let mut v: Vec<f32> = xs.iter().map(|x| x[j]).collect();
            v.sort_by(f32::total_cmp);
            let mut c: Vec<f32> = (1..params.bins)
                .map(|b| v[b * (n - 1) / params.bins])
                .collect();
            c.dedup();
            // A cut at the minimum would leave its left side empty.
            c.retain(|&t| t > v[0]);
            c
        })
        .collect();
    let bins: Vec<Vec<u8>> = (0..N)
        .map(|j| {
            xs.iter()
                .map(|x| cuts[j].partition_point(|&t| t <= x[j]) as u8)
                .collect()
        })
        .collect();
    let mut margin = base.to_vec();
    let mut trees = Vec::with_capacity(params.rounds);
    let (mut g, mut h) = (vec![0f64; n], vec![0f64; n]);
    for _ in 0..params.rounds {
        for i in 0..n {
            let p = 1.0 / (1.0 + (-margin[i]).exp());
            g[i] = ws[i] * (p - ys[i] as u8 as f64);
            h[i] = ws[i] * (p * (1.0 - p)).max(1e-6);
        }
        let tree = grow(&g, &h, &bins, &cuts, params);
        for (i, x) in xs.iter().enumerate() {
            margin[i] += tree.predict(x) as f64;
        }
        trees.push(tree);
    }
    trees
}

fn grow(g: &[f64], h: &[f64], bins: &[Vec<u8>], cuts: &[Vec<f32>], p: &BoostParams) -> Tree {
    let leaf = |gs: f64, hs: f64| (-gs / (hs + p.lambda) * p.learning_rate) as f32;
    let (g0, h0): (f64, f64) = (g.iter().sum(), h.iter().sum());
    let mut nodes = vec![Node {
        feature: None,
        threshold: 0.0,
        left: 0,
        right: 0,
        value: leaf(g0, h0),
    }];
    // Which node each example sits in; (node, G, H) of the nodes to split.
    let mut at = vec![0u32; g.len()];
    let mut frontier = vec![(0u32, g0, h0)];
    for _ in 0..p.depth {
        let mut next = Vec::new();
        for &(node, gs, hs) in &frontier {
            let parent = gs * gs / (hs + p.lambda);
            // Best (gain, feature, bin, G_left, H_left).
            let mut best: Option<(f64, usize, usize, f64, f64)> = None;
            for (j, cut) in cuts.iter().enumerate() {
                if cut.is_empty() {
                    continue;
                }
                let mut hist = vec![(0f64, 0f64); cut.len() + 1];
                for (i, &b) in bins[j].iter().enumerate() {
                    if at[i] == node {
                        hist[b as usize].0 += g[i];
                        hist[b as usize].1 += h[i];
                    }
                }
                let (mut gl, mut hl) = (0f64, 0f64);
                for (b, &(gb, hb)) in hist[..cut.len()].iter().enumerate() {
                    gl += gb;
                    hl += hb;
                    let (gr, hr) = (gs - gl, hs - hl);
                    if hl < p.min_child_hessian || hr < p.min_child_hessian {
                        continue;
                    }
                    let gain = gl * gl / (hl + p.lambda) + gr * gr / (hr + p.lambda) - parent;
                    if gain > 1e-9 && best.is_none_or(|bb| gain > bb.0) {
                        best = Some((gain, j, b, gl, hl));
                    }
                }
            }
            let Some((_, j, b, gl, hl)) = best else {
                continue;
            };
            let (l, r) = (nodes.len() as u32, nodes.len() as u32 + 1);
            let threshold = cuts[j][b];
            nodes[node as usize].feature = Some(j as u16);
            nodes[node as usize].threshold = threshold;
            nodes[node as usize].left = l;
            nodes[node as usize].right = r;
            for (gg, hh) in [(gl, hl), (gs - gl, hs - hl)] {
                nodes.push(Node {
                    feature: None,
                    threshold: 0.0,
                    left: 0,
                    right: 0,
                    value: leaf(gg, hh),
                });
            }
            for (i, a) in at.iter_mut().enumerate() {
                if *a == node {
                    *a = if (bins[j][i] as usize) <= b { l } else { r };
                }
            }
            next.push((l, gl, hl));
            next.push((r, gs - gl, hs - hl));
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    Tree { nodes }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// XOR of two signals: no linear logit separates it; trees must.
    #[test]
    fn boosting_learns_an_interaction_a_linear_model_cannot() {
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for i in 0..400 {
            let a = (i % 20) as f32 / 20.0;
            let b = (i / 20) as f32 / 20.0;
            xs.push([a, b, 0.5]);
            ys.push((a > 0.5) != (b > 0.5));
        }
        let ws = vec![1.0; xs.len()];
        let base = vec![0.0; xs.len()];
        let params = BoostParams {
            rounds: 40,
            depth: 2,
            learning_rate: 0.3,
            min_child_hessian: 1.0,
            ..BoostParams::default()
        };
        let trees = fit_boosted(&xs, &ys, &ws, &base, &[true, true, true], &params);
        let correct = xs
            .iter()
            .zip(&ys)
            .filter(|(x, y)| (trees.iter().map(|t| t.predict(&x[..])).sum::<f32>() > 0.0) == **y)
            .count();
        assert!(correct >= 390, "{correct}/400");
        // The constant third feature is never split on.
        assert!(trees
            .iter()
            .flat_map(|t| &t.nodes)
            .all(|n| n.feature != Some(2)));
        for t in &trees {
            t.validate(3).unwrap();
        }
    }

    #[test]
    fn masked_features_are_not_used_and_attribution_adds_up() {
        let xs: Vec<[f32; 2]> = (0..200).map(|i| [i as f32, (i % 7) as f32]).collect();
        let ys: Vec<bool> = (0..200).map(|i| i >= 100).collect();
        let ws = vec![1.0; 200];
        let trees = fit_boosted(
            &xs,
            &ys,
            &ws,
            &vec![0.0; 200],
            &[false, true],
            &BoostParams::default(),
        );
        assert!(trees
            .iter()
            .flat_map(|t| &t.nodes)
            .all(|n| n.feature != Some(0)));
        let trees = fit_boosted(
            &xs,
            &ys,
            &ws,
            &vec![0.0; 200],
            &[true, true],
            &BoostParams::default(),
        );
        for x in [&xs[3], &xs[150]] {
            for t in &trees {
                let mut c = [0f32; 2];
                let root = t.attribute(&x[..], &mut c);
                assert!((root + c[0] + c[1] - t.predict(&x[..])).abs() < 1e-5);
            }
        }
        let low: f32 = trees.iter().map(|t| t.predict(&xs[3][..])).sum();
        let high: f32 = trees.iter().map(|t| t.predict(&xs[150][..])).sum();
        assert!(low < -0.5 && high > 0.5, "{low} {high}");
    }

    #[test]
    fn malformed_trees_are_rejected() {
        let leaf = Node {
            feature: None,
            threshold: 0.0,
            left: 0,
            right: 0,
            value: 0.1,
        };
        let split = Node {
            feature: Some(0),
            threshold: 0.5,
            left: 1,
            right: 2,
            value: 0.0,
        };
        assert!(Tree {
            nodes: vec![split, leaf, leaf]
        }
        .validate(1)
        .is_ok());
        // A cycle back to the root, a missing child, an unknown feature.
        let back = Node { left: 0, ..split };
        assert!(Tree {
            nodes: vec![back, leaf, leaf]
        }
        .validate(1)
        .is_err());
        assert!(Tree {
            nodes: vec![split, leaf]
        }
        .validate(1)
        .is_err());
        assert!(Tree {
            nodes: vec![split, leaf, leaf]
        }
        .validate(0)
        .is_err());
        assert!(Tree { nodes: vec![] }.validate(1).is_err());
    }
}
