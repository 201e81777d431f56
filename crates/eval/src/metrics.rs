//! Scores for clustering and for pair similarity. Pure functions over labels
//! and scores; nothing here knows about articles.
//!
//! Conventions where a ratio would be 0/0: a precision or recall with an
//! empty denominator counts as 1.0 (nothing claimed, so nothing claimed
//! wrongly), and an F1 whose precision and recall are both 0 is 0.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::EvalError;

/// Clustering scores of a predicted labelling against a gold one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusterScores {
    /// BCubed precision: per item, the share of its predicted cluster that
    /// shares its gold cluster; averaged over items.
    pub bcubed_p: f64,
    /// BCubed recall: per item, the share of its gold cluster that shares its
    /// predicted cluster; averaged over items.
    pub bcubed_r: f64,
    /// Harmonic mean of the averaged BCubed precision and recall.
    pub bcubed_f1: f64,
    /// Of the item pairs put together, the share that are together in gold.
    pub pairwise_p: f64,
    /// Of the item pairs together in gold, the share put together.
    pub pairwise_r: f64,
    pub pairwise_f1: f64,
    /// Number of items scored.
    pub n: usize,
    /// Predicted clusters that hold items of two or more gold clusters
    /// (each such cluster counts once, however many gold clusters it mixes).
    pub wrong_merges: usize,
    pub predicted_clusters: usize,
    pub gold_clusters: usize,
}

/// Scores `predicted` against `gold`, both one label per item in the same
/// item order. Labels are opaque strings; only equality matters.
///
/// Runs in O(n) expected time: everything comes from the contingency counts
/// `n_pg` (items in predicted cluster `p` and gold cluster `g`):
/// BCubed P = Σ n_pg² / |p| / n, BCubed R = Σ n_pg² / |g| / n,
/// true pairs = Σ C(n_pg, 2), predicted pairs = Σ C(|p|, 2),
/// gold pairs = Σ C(|g|, 2).
pub fn cluster_scores<P: AsRef<str>, G: AsRef<str>>(
    predicted: &[P],
    gold: &[G],
) -> Result<ClusterScores, EvalError> {
    if predicted.len() != gold.len() {
        return Err(EvalError::LengthMismatch {
            what: "cluster_scores",
            left: predicted.len(),
            right: gold.len(),
        });
    }
    if predicted.is_empty() {
        return Err(EvalError::Empty("cluster_scores"));
    }
    let n = predicted.len();
    let pred_ids = intern(predicted);
    let gold_ids = intern(gold);
    let n_pred = pred_ids.iter().max().map_or(0, |m| m + 1);
    let n_gold = gold_ids.iter().max().map_or(0, |m| m + 1);

    let mut pred_size = vec![0usize; n_pred];
    let mut gold_size = vec![0usize; n_gold];
    let mut cells: HashMap<(usize, usize), usize> = HashMap::new();
    for (&p, &g) in pred_ids.iter().zip(&gold_ids) {
        pred_size[p] += 1;
        gold_size[g] += 1;
        *cells.entry((p, g)).or_default() += 1;
    }

    let mut bp = 0.0;
    let mut br = 0.0;
    let mut true_pairs = 0u64;
    let mut golds_per_pred = vec![0usize; n_pred];
    for (&(p, g), &c) in &cells {
        let c2 = (c * c) as f64;
        bp += c2 / pred_size[p] as f64;
        br += c2 / gold_size[g] as f64;
        true_pairs += pairs(c);
        golds_per_pred[p] += 1;
    }
    let bcubed_p = bp / n as f64;
    let bcubed_r = br / n as f64;
    let pred_pairs: u64 = pred_size.iter().map(|&s| pairs(s)).sum();
    let gold_pairs: u64 = gold_size.iter().map(|&s| pairs(s)).sum();
    let pairwise_p = ratio(true_pairs, pred_pairs);
    let pairwise_r = ratio(true_pairs, gold_pairs);

    Ok(ClusterScores {
        bcubed_p,
        bcubed_r,
        bcubed_f1: harmonic(bcubed_p, bcubed_r),
        pairwise_p,
        pairwise_r,
        pairwise_f1: harmonic(pairwise_p, pairwise_r),
        n,
        wrong_merges: golds_per_pred.iter().filter(|&&k| k >= 2).count(),
        predicted_clusters: n_pred,
        gold_clusters: n_gold,
    })
}

/// Dense ids 0.. for labels, in order of first appearance.
fn intern<L: AsRef<str>>(labels: &[L]) -> Vec<usize> {
    let mut ids: HashMap<&str, usize> = HashMap::new();
    labels
        .iter()
        .map(|l| {
            let next = ids.len();
            *ids.entry(l.as_ref()).or_insert(next)
        })
        .collect()
}

fn pairs(k: usize) -> u64 {
    let k = k as u64;
    k * k.saturating_sub(1) / 2
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        1.0
    } else {
        num as f64 / den as f64
    }
}

fn harmonic(p: f64, r: f64) -> f64 {
    if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    }
}

/// Pearson correlation. `None` when the lengths differ, there are fewer than
/// two points, a value is not finite, or either side has zero variance.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 || x.iter().chain(y).any(|v| !v.is_finite()) {
        return None;
    }
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    // Two passes (means first) to avoid the cancellation of the one-pass formula.
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    Some((sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0))
}

/// Area under the ROC curve: the probability that a random positive scores
/// above a random negative, a tie counting one half (Mann-Whitney U from
/// average ranks, O(n log n)). `None` when the lengths differ, a class is
/// empty, or a score is NaN.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    if scores.len() != positive.len() || scores.iter().any(|s| s.is_nan()) {
        return None;
    }
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_unstable_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Sum of the positives' 1-based ranks, tied runs sharing their mean rank.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && scores[order[j]] == scores[order[i]] {
            j += 1;
        }
        let mean_rank = (i + 1 + j) as f64 / 2.0;
        let pos_in_run = order[i..j].iter().filter(|&&k| positive[k]).count();
        rank_sum += mean_rank * pos_in_run as f64;
        i = j;
    }
    let (np, nn) = (n_pos as f64, n_neg as f64);
    Some((rank_sum - np * (np + 1.0) / 2.0) / (np * nn))
}

/// F1 of the rule "positive when score >= threshold". `None` when the
/// lengths differ or there are no items; 0 when nothing is both predicted
/// and truly positive.
pub fn f1_at(scores: &[f64], positive: &[bool], threshold: f64) -> Option<f64> {
    if scores.len() != positive.len() || scores.is_empty() {
        return None;
    }
    let (mut tp, mut predicted) = (0usize, 0usize);
    for (&s, &p) in scores.iter().zip(positive) {
        if s >= threshold {
            predicted += 1;
            tp += usize::from(p);
        }
    }
    let actual = positive.iter().filter(|&&p| p).count();
    Some(f1_from_counts(tp, predicted, actual))
}

fn f1_from_counts(tp: usize, predicted: usize, actual: usize) -> f64 {
    // F1 = 2TP / (predicted + actual), the same as the harmonic mean of P and R.
    if tp == 0 {
        0.0
    } else {
        2.0 * tp as f64 / (predicted + actual) as f64
    }
}

/// The threshold (one of the scores; "positive when score >= threshold")
/// with the highest F1, and that F1. Of thresholds with equal F1 the highest
/// wins. `None` when the lengths differ, there is no positive, or a score is
/// NaN. O(n log n).
pub fn best_f1_threshold(scores: &[f64], positive: &[bool]) -> Option<(f64, f64)> {
    if scores.len() != positive.len() || scores.iter().any(|s| s.is_nan()) {
        return None;
    }
    let actual = positive.iter().filter(|&&p| p).count();
    if actual == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_unstable_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut best: Option<(f64, f64)> = None;
    let (mut tp, mut predicted) = (0usize, 0usize);
    let mut i = 0;
    while i < order.len() {
        // Take a whole run of equal scores: a threshold cannot split it.
        let t = scores[order[i]];
        while i < order.len() && scores[order[i]] == t {
            predicted += 1;
            tp += usize::from(positive[order[i]]);
            i += 1;
        }
        let f1 = f1_from_counts(tp, predicted, actual);
        if best.is_none_or(|(_, b)| f1.partial_cmp(&b) == Some(Ordering::Greater)) {
            best = Some((t, f1));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    /// Manning, Raghavan & Schütze, "Introduction to Information Retrieval",
    /// §16.3 (purity example): 17 items in three clusters,
    /// cluster 1 = 5 x + 1 o, cluster 2 = 1 x + 4 o + 1 d, cluster 3 = 2 x + 3 d
    /// (gold sizes: x 8, o 5, d 4).
    fn iir_example() -> (Vec<&'static str>, Vec<&'static str>) {
        let mut pred = Vec::new();
        let mut gold = Vec::new();
        for (cluster, members) in [
            ("c1", &[("x", 5), ("o", 1)][..]),
            ("c2", &[("x", 1), ("o", 4), ("d", 1)][..]),
            ("c3", &[("x", 2), ("d", 3)][..]),
        ] {
            for &(g, k) in members {
                for _ in 0..k {
                    pred.push(cluster);
                    gold.push(g);
                }
            }
        }
        (pred, gold)
    }

    #[test]
    fn iir_book_example() {
        let (pred, gold) = iir_example();
        let s = cluster_scores(&pred, &gold).unwrap();
        assert_eq!(s.n, 17);
        // The book: TP = 20, FP = 20, FN = 24, so P = 20/40, R = 20/44.
        close(s.pairwise_p, 0.5);
        close(s.pairwise_r, 20.0 / 44.0);
        // F1 = 2·(1/2)·(5/11) / (1/2 + 5/11) = 10/21.
        close(s.pairwise_f1, 10.0 / 21.0);
        // BCubed P = (5²/6 + 1²/6 + 1²/6 + 4²/6 + 1²/6 + 2²/5 + 3²/5) / 17
        //          = (44/6 + 13/5) / 17 = 149/255.
        close(s.bcubed_p, 149.0 / 255.0);
        // BCubed R = (5²/8 + 1²/5 + 1²/8 + 4²/5 + 1²/4 + 2²/8 + 3²/4) / 17
        //          = (30/8 + 17/5 + 10/4) / 17 = 193/340.
        close(s.bcubed_r, 193.0 / 340.0);
        let (p, r) = (149.0 / 255.0, 193.0 / 340.0);
        close(s.bcubed_f1, 2.0 * p * r / (p + r));
        // Every predicted cluster mixes gold clusters.
        assert_eq!(s.wrong_merges, 3);
        assert_eq!((s.predicted_clusters, s.gold_clusters), (3, 3));
    }

    #[test]
    fn small_hand_example() {
        // Gold {a,b,c} {d,e}; predicted {a,b} {c,d,e}.
        let gold = ["G1", "G1", "G1", "G2", "G2"];
        let pred = ["P1", "P1", "P2", "P2", "P2"];
        let s = cluster_scores(&pred, &gold).unwrap();
        // Cells: (P1,G1)=2, (P2,G1)=1, (P2,G2)=2; |P1|=2 |P2|=3 |G1|=3 |G2|=2.
        // P = (4/2 + 1/3 + 4/3)/5 = 11/15; R = (4/3 + 1/3 + 4/2)/5 = 11/15.
        close(s.bcubed_p, 11.0 / 15.0);
        close(s.bcubed_r, 11.0 / 15.0);
        close(s.bcubed_f1, 11.0 / 15.0);
        // Predicted pairs 1 + 3 = 4, gold pairs 3 + 1 = 4, true pairs 1 + 0 + 1 = 2.
        close(s.pairwise_p, 0.5);
        close(s.pairwise_r, 0.5);
        close(s.pairwise_f1, 0.5);
        assert_eq!(s.wrong_merges, 1);
    }

    #[test]
    fn perfect_clustering_under_other_names() {
        let gold = ["a", "a", "b", "c", "c", "c"];
        let pred = ["7", "7", "1", "x", "x", "x"];
        let s = cluster_scores(&pred, &gold).unwrap();
        for v in [
            s.bcubed_p,
            s.bcubed_r,
            s.bcubed_f1,
            s.pairwise_p,
            s.pairwise_r,
            s.pairwise_f1,
        ] {
            close(v, 1.0);
        }
        assert_eq!(s.wrong_merges, 0);
    }

    #[test]
    fn all_singletons_and_all_in_one() {
        // Gold sizes 3, 2, 1 over 6 items.
        let gold = ["a", "a", "a", "b", "b", "c"];
        let singletons = ["0", "1", "2", "3", "4", "5"];
        let s = cluster_scores(&singletons, &gold).unwrap();
        // Each item recalls 1/|g|: R = (3·1/3 + 2·1/2 + 1)/6 = 3 gold clusters / 6 items.
        close(s.bcubed_p, 1.0);
        close(s.bcubed_r, 0.5);
        close(s.bcubed_f1, 2.0 * 0.5 / 1.5);
        // No pair predicted: P is vacuously 1, R = 0 of 4 gold pairs, F1 = 0.
        close(s.pairwise_p, 1.0);
        close(s.pairwise_r, 0.0);
        close(s.pairwise_f1, 0.0);
        assert_eq!(s.wrong_merges, 0);

        let one = ["z"; 6];
        let s = cluster_scores(&one, &gold).unwrap();
        // P = Σ|g|²/n² = (9 + 4 + 1)/36; R = 1.
        close(s.bcubed_p, 14.0 / 36.0);
        close(s.bcubed_r, 1.0);
        // 15 predicted pairs, 3 + 1 gold pairs, all found.
        close(s.pairwise_p, 4.0 / 15.0);
        close(s.pairwise_r, 1.0);
        assert_eq!(s.wrong_merges, 1);
    }

    #[test]
    fn gold_all_singletons_scores_one_when_predicted_so() {
        let s = cluster_scores(&["a", "b"], &["x", "y"]).unwrap();
        close(s.pairwise_f1, 1.0);
        close(s.bcubed_f1, 1.0);
    }

    #[test]
    fn cluster_scores_rejects_bad_input() {
        assert!(matches!(
            cluster_scores(&["a"], &["a", "b"]),
            Err(EvalError::LengthMismatch { .. })
        ));
        let none: [&str; 0] = [];
        assert!(matches!(
            cluster_scores(&none, &none),
            Err(EvalError::Empty(_))
        ));
    }

    #[test]
    fn cluster_scores_accept_owned_strings() {
        let pred: Vec<String> = vec!["1".into(), "1".into()];
        let gold: Vec<String> = vec!["g".into(), "h".into()];
        let s = cluster_scores(&pred, &gold).unwrap();
        close(s.bcubed_p, 0.5);
    }

    #[test]
    fn pearson_hand_cases() {
        // y = 2x + 1: exactly 1; y = -x: exactly -1.
        close(pearson(&[1.0, 2.0, 3.0], &[3.0, 5.0, 7.0]).unwrap(), 1.0);
        close(
            pearson(&[1.0, 2.0, 3.0], &[-1.0, -2.0, -3.0]).unwrap(),
            -1.0,
        );
        // x = 1,2,3,4; y = 1,3,2,4: means 2.5; Σdxdy = 2.25+(-0.25)+(-0.25)+2.25 = 4,
        // Σdx² = Σdy² = 5, r = 4/5.
        close(
            pearson(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]).unwrap(),
            0.8,
        );
        assert_eq!(pearson(&[1.0], &[1.0]), None);
        assert_eq!(pearson(&[1.0, 1.0], &[1.0, 2.0]), None);
        assert_eq!(pearson(&[1.0, 2.0], &[1.0]), None);
        assert_eq!(pearson(&[1.0, f64::NAN], &[1.0, 2.0]), None);
    }

    #[test]
    fn roc_auc_hand_cases() {
        // Perfect separation, perfectly wrong.
        close(
            roc_auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]).unwrap(),
            1.0,
        );
        close(
            roc_auc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]).unwrap(),
            0.0,
        );
        // All tied: every pos-neg pair is half.
        close(
            roc_auc(&[0.5; 4], &[true, false, true, false]).unwrap(),
            0.5,
        );
        // pos {0.8, 0.4}, neg {0.6, 0.4, 0.2}: pairs (0.8 beats all 3) +
        // (0.4 beats 0.2, ties 0.4, loses to 0.6) = 3 + 1.5 = 4.5 of 6 = 0.75.
        let s = [0.8, 0.4, 0.6, 0.4, 0.2];
        let p = [true, true, false, false, false];
        close(roc_auc(&s, &p).unwrap(), 0.75);
        assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]), None);
        assert_eq!(roc_auc(&[0.1], &[true, false]), None);
    }

    /// Tiny deterministic generator for the brute-force checks.
    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*seed >> 40) as f64 / (1u64 << 24) as f64
    }

    #[test]
    fn roc_auc_matches_brute_force_pairs() {
        let mut seed = 7;
        for n in [2usize, 5, 30, 200] {
            // Coarse scores so ties are common.
            let s: Vec<f64> = (0..n).map(|_| (lcg(&mut seed) * 10.0).floor()).collect();
            let p: Vec<bool> = (0..n)
                .map(|i| i == 0 || (i > 1 && lcg(&mut seed) < 0.4))
                .collect();
            let mut wins = 0.0;
            let mut total = 0.0;
            for i in (0..n).filter(|&i| p[i]) {
                for j in (0..n).filter(|&j| !p[j]) {
                    total += 1.0;
                    wins += match s[i].partial_cmp(&s[j]).unwrap() {
                        Ordering::Greater => 1.0,
                        Ordering::Equal => 0.5,
                        Ordering::Less => 0.0,
                    };
                }
            }
            close(roc_auc(&s, &p).unwrap(), wins / total);
        }
    }

    #[test]
    fn f1_at_hand_case() {
        let s = [0.9, 0.8, 0.7, 0.3, 0.2];
        let p = [true, false, true, true, false];
        // >= 0.75: predicted {0.9, 0.8}, TP 1 → 2·1/(2 + 3) = 0.4.
        close(f1_at(&s, &p, 0.75).unwrap(), 0.4);
        // >= 0.3: predicted 4, TP 3 → 6/7.
        close(f1_at(&s, &p, 0.3).unwrap(), 6.0 / 7.0);
        // Nothing predicted.
        close(f1_at(&s, &p, 1.0).unwrap(), 0.0);
        assert_eq!(f1_at(&s, &p[..2], 0.5), None);
    }

    #[test]
    fn best_f1_threshold_hand_case() {
        let s = [0.9, 0.8, 0.7, 0.3, 0.2];
        let p = [true, false, true, true, false];
        // Candidates: 0.9 → 2/4; 0.8 → 2/5; 0.7 → 4/6; 0.3 → 6/7; 0.2 → 6/8.
        let (t, f1) = best_f1_threshold(&s, &p).unwrap();
        close(t, 0.3);
        close(f1, 6.0 / 7.0);
        assert_eq!(best_f1_threshold(&s, &[false; 5]), None);
    }

    #[test]
    fn best_f1_threshold_is_the_brute_force_best() {
        let mut seed = 11;
        for n in [1usize, 3, 40, 300] {
            let s: Vec<f64> = (0..n)
                .map(|_| (lcg(&mut seed) * 20.0).floor() / 20.0)
                .collect();
            let p: Vec<bool> = (0..n).map(|i| i == 0 || lcg(&mut seed) < 0.3).collect();
            let (t, f1) = best_f1_threshold(&s, &p).unwrap();
            close(f1_at(&s, &p, t).unwrap(), f1);
            let brute = s
                .iter()
                .map(|&c| f1_at(&s, &p, c).unwrap())
                .fold(0.0f64, f64::max);
            close(f1, brute);
        }
    }
}
