//! [`CentroidIndex`]: approximate nearest-neighbour search over the live
//! stories' e5 centroids, so that candidate retrieval costs a few hundred
//! microseconds at 200k live stories instead of a scan of every centroid.
//!
//! Backed by USearch (HNSW, C++ through `cxx`). Chosen by measurement on
//! clustered 384-d unit vectors (`storyweave bench cluster --retrieval-only`;
//! at 200k stories with f16 storage: search 0.4 ms against 30 ms for the
//! exact scan, upsert 0.3 ms, 321 MB, recall@16 0.82 where the 16th place
//! is among near-ties; with i8 storage: search 0.5 ms, upsert 0.2 ms,
//! 187 MB, recall@16 0.80, and 0.979 against 0.996 at 20k stories: the
//! misses are near-ties, which the engine then scores exactly anyway):
//! - `usearch` supports removal and in-place replacement (a removed slot is
//!   reused by the next add) and stores vectors compactly. We hand it i8
//!   codes scaled per vector (`max |x| → 127`, as for the story members)
//!   under the cosine metric, which ignores the scale: a quarter of the
//!   f32 memory, half of f16 (the index is the largest part of the engine
//!   after the members at 1M live articles). (Its own f32→i8 cast scales
//!   by the L2 norm, which leaves a 384-d unit vector about 6 levels per
//!   component: too coarse.)
//! - `hnsw_rs` was ruled out before timing: it cannot remove points, so
//!   every centroid update would leave a dead node behind, it keeps each
//!   vector and neighbour list in its own heap allocation, and it exits
//!   the process on some bad parameters.
//!
//! Determinism: USearch draws each node's level from a per-thread-context
//! splitmix64 generator seeded by the context number, and contexts are
//! handed out round-robin. The index is reserved with exactly one context,
//! so the same sequence of `upsert`/`remove`/`search` calls gives the same
//! graph and the same results on any machine with the same SIMD kernels,
//! whatever its core count. With one context, calls must not overlap; the
//! index takes `&mut self` to change and a mutex serialises searches.
//!
//! Similarity is the cosine (vectors need not be normalised).

use std::sync::Mutex;

use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use crate::members::{quantise, Width};

/// HNSW out-degree: 16 links per node and level (32 on the bottom level).
const CONNECTIVITY: usize = 16;
/// Beam width while inserting: the graph's quality.
const EXPANSION_ADD: usize = 64;
/// Beam width while searching: recall against speed.
const EXPANSION_SEARCH: usize = 96;
/// USearch marks free slots with the largest key.
const FREE_KEY: u64 = u64::MAX;

#[derive(Debug, thiserror::Error)]
pub enum AnnError {
    #[error("centroid index: vector has {found} dimensions, the index {expected}")]
    Dimensions { expected: usize, found: usize },
    #[error("centroid index: story id {0} is reserved")]
    ReservedKey(i64),
    #[error("centroid index: {0}")]
    Native(String),
}

/// Approximate nearest-neighbour index from story id to its (normalised)
/// e5 centroid.
pub struct CentroidIndex {
    dim: usize,
    index: Index,
    /// One thread context (see the module doc): searches take turns.
    search_lock: Mutex<()>,
}

impl std::fmt::Debug for CentroidIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CentroidIndex")
            .field("dim", &self.dim)
            .field("len", &self.len())
            .finish()
    }
}

fn native(e: impl std::fmt::Display) -> AnnError {
    AnnError::Native(e.to_string())
}

/// i8 codes of `v` (the cosine metric ignores their scale), made by
/// `members::quantise`: for a lone member's centroid, they give back the
/// member's own e5 codes (`members::e5_from_index_codes`).
fn codes(v: &[f32]) -> Vec<i8> {
    let mut out = Vec::with_capacity(v.len());
    quantise(v, Width::I8, &mut out);
    out.into_iter().map(|b| b as i8).collect()
}

impl CentroidIndex {
    /// An empty index for `dim`-dimensional vectors.
    ///
    /// Panics only if USearch cannot allocate its first few kilobytes.
    pub fn new(dim: usize) -> Self {
        let options = IndexOptions {
            dimensions: dim,
            metric: MetricKind::Cos,
            quantization: ScalarKind::I8,
            connectivity: CONNECTIVITY,
            expansion_add: EXPANSION_ADD,
            expansion_search: EXPANSION_SEARCH,
            multi: false,
        };
        let index = Index::new(&options).expect("usearch: allocating an empty index");
        index
            .reserve_capacity_and_threads(1024, 1)
            .expect("usearch: reserving an empty index");
        CentroidIndex {
            dim,
            index,
            search_lock: Mutex::new(()),
        }
    }

    /// Beam width of searches (default 96): higher finds more of the exact
    /// top k at a proportional cost.
    pub fn set_expansion_search(&mut self, ef: usize) {
        self.index.change_expansion_search(ef.max(1));
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    fn check(&self, v: &[f32]) -> Result<(), AnnError> {
        if v.len() != self.dim {
            return Err(AnnError::Dimensions {
                expected: self.dim,
                found: v.len(),
            });
        }
        Ok(())
    }

    /// Inserts the story's centroid, or replaces it. `v` need not be
    /// normalised.
    pub fn upsert(&mut self, story: i64, v: &[f32]) -> Result<(), AnnError> {
        self.check(v)?;
        let key = story as u64;
        if key == FREE_KEY {
            return Err(AnnError::ReservedKey(story));
        }
        let v = codes(v);
        // Removing first frees the slot, which the add then reuses: the
        // index does not grow with updates.
        self.index.remove(key).map_err(native)?;
        if self.index.size() + 1 > self.index.capacity() {
            let cap = (self.index.capacity() * 2).max(1024);
            self.index
                .reserve_capacity_and_threads(cap, 1)
                .map_err(native)?;
        }
        self.index.add(key, &v).map_err(native)
    }

    /// Forgets a story; a no-op when it is absent.
    pub fn remove(&mut self, story: i64) {
        // Removal only fails for immutable (memory-mapped) indexes.
        let _ = self.index.remove(story as u64);
    }

    /// The stored i8 codes of a story's centroid (as bytes), exactly as
    /// `upsert` made them; `None` when the story is absent.
    pub fn codes_of(&self, story: i64) -> Option<Vec<u8>> {
        let mut buf = vec![0i8; self.dim];
        match self.index.get(story as u64, &mut buf) {
            Ok(n) if n > 0 => Some(buf.into_iter().map(|c| c as u8).collect()),
            _ => None,
        }
    }

    pub fn contains(&self, story: i64) -> bool {
        self.index.contains(story as u64)
    }

    /// The `k` stories whose centroids have the largest cosine with `q`,
    /// best first (ties: lower story id first). Empty when `q` has the
    /// wrong dimension.
    pub fn search(&self, q: &[f32], k: usize) -> Vec<(i64, f32)> {
        self.run(q, k, None::<fn(i64) -> bool>)
    }

    /// Like [`search`](Self::search), among the stories for which `keep`
    /// holds (checked while walking the graph, so `k` results come back
    /// even when most near stories are filtered out).
    pub fn search_where<F: Fn(i64) -> bool>(
        &self,
        q: &[f32],
        k: usize,
        keep: F,
    ) -> Vec<(i64, f32)> {
        self.run(q, k, Some(keep))
    }

    /// A search with the filter when there is one (a filter callback per
    /// visited node costs even when it keeps everything).
    fn run<F: Fn(i64) -> bool>(&self, q: &[f32], k: usize, keep: Option<F>) -> Vec<(i64, f32)> {
        if k == 0 || self.check(q).is_err() || self.index.size() == 0 {
            return Vec::new();
        }
        let q = codes(q);
        let _turn = self.search_lock.lock().unwrap_or_else(|e| e.into_inner());
        let found = match keep {
            Some(keep) => self.index.filtered_search(&q, k, |key| keep(key as i64)),
            None => self.index.search(&q, k),
        };
        let Ok(m) = found else {
            return Vec::new();
        };
        let mut out: Vec<(i64, f32)> = m
            .keys
            .iter()
            .zip(&m.distances)
            .map(|(k, d)| (*k as i64, 1.0 - d))
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }

    /// Live stories in the index.
    pub fn len(&self) -> usize {
        self.index.size()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held by the index: graph, vectors and lookup tables.
    pub fn memory_bytes(&self) -> usize {
        self.index.memory_usage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: usize = 384;

    /// SplitMix64 with Box-Muller normals: seeded test data without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
            z ^ (z >> 31)
        }
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
        fn gauss(&mut self) -> f32 {
            let (u, v) = (self.unit().max(1e-12), self.unit());
            ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
        }
        fn vector(&mut self, around: Option<&[f32]>, spread: f32) -> Vec<f32> {
            let mut v: Vec<f32> = (0..D)
                .map(|i| around.map_or(0.0, |c| c[i]) + spread * self.gauss())
                .collect();
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= n);
            v
        }
    }

    fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    /// Clustered data with the nesting of real embeddings: 50 broad
    /// themes, 20 clusters around each, points spread around the clusters.
    /// (Flat data, where every cluster is equally far from every other, has
    /// no gradient for a graph walk and is not what text encoders give.)
    fn clustered(r: &mut Rng, n: usize) -> Vec<Vec<f32>> {
        let themes: Vec<Vec<f32>> = (0..50).map(|_| r.vector(None, 1.0)).collect();
        let centres: Vec<Vec<f32>> = (0..1000)
            .map(|i| r.vector(Some(&themes[i / 20]), 0.05))
            .collect();
        (0..n)
            .map(|_| {
                let c = &centres[(r.next() % 1000) as usize];
                r.vector(Some(c), 0.04)
            })
            .collect()
    }

    fn exact(points: &[(i64, Vec<f32>)], q: &[f32], k: usize) -> Vec<i64> {
        let mut s: Vec<(f32, i64)> = points.iter().map(|(id, v)| (dot(q, v), *id)).collect();
        s.sort_by(|a, b| b.0.total_cmp(&a.0));
        s.into_iter().take(k).map(|(_, id)| id).collect()
    }

    fn recall(index: &CentroidIndex, points: &[(i64, Vec<f32>)], queries: &[Vec<f32>]) -> f64 {
        let mut hits = 0;
        for q in queries {
            let truth = exact(points, q, 16);
            let found = index.search(q, 16);
            assert_eq!(found.len(), 16);
            assert!(found.windows(2).all(|w| w[0].1 >= w[1].1), "best first");
            hits += found.iter().filter(|(id, _)| truth.contains(id)).count();
        }
        hits as f64 / (16 * queries.len()) as f64
    }

    #[test]
    fn recall_at_16_against_brute_force_before_and_after_churn() {
        let mut r = Rng(11);
        let data = clustered(&mut r, 22_000);
        let mut index = CentroidIndex::new(D);
        let mut points: Vec<(i64, Vec<f32>)> = Vec::new();
        for (i, v) in data.iter().take(20_000).enumerate() {
            index.upsert(i as i64 + 1, v).unwrap();
            points.push((i as i64 + 1, v.clone()));
        }
        let queries: Vec<Vec<f32>> = (0..200)
            .map(|i| {
                let near = data[i * 97].clone();
                r.vector(Some(&near), 0.03)
            })
            .collect();
        let before = recall(&index, &points, &queries);
        assert!(before >= 0.95, "recall@16 {before}");

        // The engine's traffic: centroids drift, stories expire, new ones open.
        let bytes = index.memory_bytes();
        for step in 0..20_000usize {
            let i = (r.next() % points.len() as u64) as usize;
            let moved = r.vector(Some(&points[i].1), 0.01);
            index.upsert(points[i].0, &moved).unwrap();
            points[i].1 = moved;
            if step % 10 == 0 {
                let gone = points.swap_remove(i % points.len());
                index.remove(gone.0);
                let id = 100_000 + step as i64;
                let v = data[20_000 + step / 10].clone();
                index.upsert(id, &v).unwrap();
                points.push((id, v));
            }
        }
        assert_eq!(index.len(), points.len());
        let after = recall(&index, &points, &queries);
        eprintln!("recall@16: {before:.3} fresh, {after:.3} after churn");
        assert!(after >= 0.95, "recall@16 after churn {after}");
        // Replaced and removed slots are reused: no growth with updates.
        assert!(
            index.memory_bytes() <= bytes * 11 / 10,
            "{bytes} -> {}",
            index.memory_bytes()
        );
    }

    #[test]
    fn upsert_replaces_and_remove_removes() {
        let mut r = Rng(5);
        let (a, b, c) = (
            r.vector(None, 1.0),
            r.vector(None, 1.0),
            r.vector(None, 1.0),
        );
        let mut index = CentroidIndex::new(D);
        assert!(index.search(&a, 4).is_empty());
        index.upsert(7, &a).unwrap();
        index.upsert(8, &b).unwrap();
        // Unnormalised input is scaled: the sum of two members.
        let sum: Vec<f32> = c.iter().zip(&a).map(|(x, y)| x + y).collect();
        index.upsert(7, &sum).unwrap();
        assert_eq!(index.len(), 2);
        let top = index.search(&sum, 1);
        assert_eq!(top[0].0, 7);
        assert!((top[0].1 - 1.0).abs() < 1e-2, "{top:?}");
        let hit = index.search(&a, 2);
        let expect = dot(&a, &sum) / dot(&sum, &sum).sqrt();
        let got = hit.iter().find(|(id, _)| *id == 7).unwrap().1;
        assert!((got - expect).abs() < 1e-2, "{got} vs {expect}");

        // The stored codes are the members' codes of the normalised sum.
        let mut want = Vec::new();
        quantise(&sum, Width::I8, &mut want);
        assert_eq!(index.codes_of(7), Some(want));
        assert_eq!(index.codes_of(99), None);

        index.remove(7);
        index.remove(7);
        index.remove(99);
        assert_eq!(index.len(), 1);
        assert!(!index.contains(7) && index.contains(8));
        assert_eq!(index.search(&sum, 5), vec![(8, index.search(&sum, 1)[0].1)]);
        // A removed story can come back.
        index.upsert(7, &a).unwrap();
        assert_eq!(index.search(&a, 1)[0].0, 7);
    }

    #[test]
    fn filter_and_bad_input() {
        let mut r = Rng(9);
        let mut index = CentroidIndex::new(D);
        let vs: Vec<Vec<f32>> = (0..300).map(|_| r.vector(None, 1.0)).collect();
        for (i, v) in vs.iter().enumerate() {
            index.upsert(i as i64 + 1, v).unwrap();
        }
        let odd = index.search_where(&vs[1], 10, |id| id % 2 == 1);
        assert_eq!(odd.len(), 10);
        assert!(odd.iter().all(|(id, _)| id % 2 == 1));
        assert!(matches!(
            index.upsert(1, &[1.0; 3]),
            Err(AnnError::Dimensions {
                expected: 384,
                found: 3
            })
        ));
        assert!(matches!(
            index.upsert(-1, &vs[0]),
            Err(AnnError::ReservedKey(-1))
        ));
        assert!(index.search(&[1.0; 3], 5).is_empty());
        assert!(index.search(&vs[0], 0).is_empty());
    }

    #[test]
    fn same_operations_same_results() {
        let run = || {
            let mut r = Rng(21);
            let data = clustered(&mut r, 3000);
            let mut index = CentroidIndex::new(D);
            for (i, v) in data.iter().enumerate() {
                index.upsert((i % 2500) as i64 + 1, v).unwrap();
                if i % 7 == 0 {
                    index.remove((i / 7) as i64 + 1);
                }
            }
            data.iter()
                .step_by(50)
                .map(|q| index.search(q, 16))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }
}
