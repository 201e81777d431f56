//! The USE-multilingual v3 network: a 6-bit embedding table, three CNN
//! n-gram branches (orders 2, 3, 5), a token mean, and a small feed-forward
//! head ending in tanh and L2 normalisation.

use crate::matmul::{matmul, Weight};
use crate::npz::Npz;
use crate::{UseError, DIM};

/// The table is split into 17 chunks; piece `id` is row `id / 17` of
/// chunk `id % 17`, each chunk with its own scale and offset.
pub(crate) const CHUNKS: usize = 17;
pub(crate) const CHUNK_ROWS: usize = 7530;
const EMB: usize = 512;
const CNN: usize = 256;
const FEAT: usize = EMB + 3 * CNN;
const HIDDEN: usize = 320;
/// (n-gram order, tokens of left context) per branch.
const ORDERS: [(usize, usize); 3] = [(2, 0), (3, 1), (5, 2)];
/// Widest context on either side; halo of one conv layer.
const HALO: usize = 2;
/// Tokens per block. Long texts run block by block (with a halo of
/// 2 * HALO recomputed tokens) so the scratch stays cache-sized and
/// memory does not grow with the text.
const BLOCK: usize = 256;

pub(crate) struct Weights {
    /// Quantised rows kept as stored (one 6-bit value per byte, 65 MB);
    /// dequantising at load would take 262 MB.
    table: Vec<Vec<u8>>,
    scale: Vec<f32>,
    lo: Vec<f32>,
    proj: [Weight; 3],
    proj_b: [Vec<f32>; 3],
    ln_g_branch: Vec<f32>,
    ln_b_branch: Vec<f32>,
    w1: [Weight; 3],
    b1: [Vec<f32>; 3],
    w2: [Weight; 3],
    b2: [Vec<f32>; 3],
    ln_g: Vec<f32>,
    ln_b: Vec<f32>,
    cnn_w: Vec<f32>,
    cnn_b: Vec<f32>,
    d0: Vec<f32>,
    d1: Vec<f32>,
    p1: Vec<f32>,
    d2: Vec<f32>,
    p3: Vec<f32>,
    d3: Vec<f32>,
    eps: f32,
}

impl Weights {
    /// Reads every array; the 17 table chunks (most of the inflate work)
    /// are split over up to `threads` threads.
    pub fn load(bytes: &[u8], threads: usize) -> Result<Self, UseError> {
        let npz = Npz::new(bytes)?;
        let threads = threads.clamp(1, CHUNKS);
        let mut table: Vec<Option<Vec<u8>>> = vec![None; CHUNKS];
        std::thread::scope(|s| -> Result<(), UseError> {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    let mut npz = npz.clone();
                    s.spawn(move || {
                        (t..CHUNKS)
                            .step_by(threads)
                            .map(|i| Ok((i, npz.u8(&format!("q{}", i + 1), &[CHUNK_ROWS, EMB])?)))
                            .collect::<Result<Vec<_>, UseError>>()
                    })
                })
                .collect();
            for w in workers {
                for (i, chunk) in w.join().expect("npz worker panicked")? {
                    table[i] = Some(chunk);
                }
            }
            Ok(())
        })?;
        let table = table
            .into_iter()
            .map(|c| c.expect("every chunk read"))
            .collect();

        let mut z = npz;
        let mut three =
            |name: &str, rows: [usize; 3], cols: usize| -> Result<[Vec<f32>; 3], UseError> {
                let mut get = |i: usize| {
                    let n = ORDERS[i].0;
                    let shape: Vec<usize> = if rows[i] == 0 {
                        vec![cols]
                    } else {
                        vec![rows[i], cols]
                    };
                    z.f32(&format!("{name}{n}"), &shape)
                };
                Ok([get(0)?, get(1)?, get(2)?])
            };
        let weight = |m: [Vec<f32>; 3], k: [usize; 3]| {
            let mut m = m.into_iter().zip(k).map(|(m, k)| Weight::new(m, k, CNN));
            [(); 3].map(|_| m.next().expect("three branches"))
        };
        let proj = weight(three("proj", [EMB; 3], CNN)?, [EMB; 3]);
        let proj_b = three("proj_b", [0; 3], CNN)?;
        let ln_g3 = three("ln_g", [0; 3], CNN)?;
        let ln_b3 = three("ln_b", [0; 3], CNN)?;
        let k = ORDERS.map(|(n, _)| n * CNN);
        let w1 = weight(three("w1_", k, CNN)?, k);
        let b1 = three("b1_", [0; 3], CNN)?;
        let w2 = weight(three("w2_", k, CNN)?, k);
        let b2 = three("b2_", [0; 3], CNN)?;
        let eps = z.f32("eps", &[])?[0];
        if eps.is_nan() || eps <= 0.0 {
            return Err(UseError::Weights {
                detail: format!("eps.npy: {eps} is not a positive number"),
            });
        }
        Ok(Weights {
            table,
            scale: z.f32("scale", &[CHUNKS])?,
            lo: z.f32("lo", &[CHUNKS])?,
            proj,
            proj_b,
            ln_g_branch: ln_g3.concat(),
            ln_b_branch: ln_b3.concat(),
            w1,
            b1,
            w2,
            b2,
            ln_g: z.f32("ln_g", &[FEAT])?,
            ln_b: z.f32("ln_b", &[FEAT])?,
            cnn_w: z.f32("cnn_W", &[FEAT, DIM])?,
            cnn_b: z.f32("cnn_b", &[DIM])?,
            d0: z.f32("d0", &[DIM, HIDDEN])?,
            d1: z.f32("d1", &[HIDDEN, HIDDEN])?,
            p1: z.f32("p1", &[DIM, HIDDEN])?,
            d2: z.f32("d2", &[HIDDEN, DIM])?,
            p3: z.f32("p3", &[HIDDEN, DIM])?,
            d3: z.f32("d3", &[DIM, DIM])?,
            eps,
        })
    }

    /// Number of piece ids the table covers.
    pub fn rows(&self) -> usize {
        CHUNKS * CHUNK_ROWS
    }

    /// Bytes of weights held.
    pub fn heap_bytes(&self) -> usize {
        let f = |v: &Vec<f32>| v.len() * 4;
        self.table.iter().map(Vec::len).sum::<usize>()
            + [&self.proj, &self.w1, &self.w2]
                .iter()
                .flat_map(|a| a.iter())
                .map(Weight::bytes)
                .sum::<usize>()
            + [
                &self.cnn_w,
                &self.d0,
                &self.d1,
                &self.p1,
                &self.d2,
                &self.p3,
                &self.d3,
            ]
            .into_iter()
            .map(f)
            .sum::<usize>()
    }

    fn embed_row(&self, id: u32, out: &mut [f32]) {
        let id = id as usize;
        let c = id % CHUNKS;
        let row = &self.table[c][(id / CHUNKS) * EMB..][..EMB];
        let (scale, lo) = (self.scale[c], self.lo[c]);
        for (o, &q) in out.iter_mut().zip(row) {
            *o = f32::from(q) * scale + lo;
        }
    }

    /// The L2-normalised embedding of a token sequence (ids < `rows()`).
    pub fn forward(&self, ids: &[u32], s: &mut Scratch) -> Vec<f32> {
        let n = ids.len();
        let mut acc = vec![0f32; FEAT];
        for a in (0..n).step_by(BLOCK) {
            let b = (a + BLOCK).min(n);
            self.block(ids, a, b, s, &mut acc);
        }
        self.head(&acc, n)
    }

    /// Adds the layer-normalised features of tokens `a..b` to `acc`.
    fn block(&self, ids: &[u32], a: usize, b: usize, s: &mut Scratch, acc: &mut [f32]) {
        let n = ids.len();
        let len = b - a;
        // Buffer row r of x holds token a + r - 2*HALO; h rows hold
        // token a + r - HALO. Rows outside the text stay zero: the zero
        // padding of each sentence.
        let rows_x = len + 4 * HALO;
        let rows_h = len + 2 * HALO;
        let x0 = (2 * HALO).saturating_sub(a);
        let x1 = (b + 2 * HALO).min(n) + 2 * HALO - a;
        // The projection and first layer norm depend on the token id alone,
        // so they run once per distinct id in the block (about 60% of rows
        // in news text) and are then copied to every row holding that id.
        s.order.clear();
        s.order.extend(x0..x1);
        s.order.sort_unstable_by_key(|&r| ids[a + r - 2 * HALO]);
        s.slot.clear();
        s.slot.resize(rows_x, 0);
        s.emb.clear();
        let mut prev = None;
        for &r in &s.order {
            let id = ids[a + r - 2 * HALO];
            if prev != Some(id) {
                prev = Some(id);
                let u = s.emb.len();
                s.emb.resize(u + EMB, 0.0);
                self.embed_row(id, &mut s.emb[u..]);
            }
            s.slot[r] = s.emb.len() / EMB - 1;
        }
        let uniq = s.emb.len() / EMB;
        for (i, xu) in s.xu.iter_mut().enumerate() {
            xu.clear();
            xu.resize(uniq * CNN, 0.0);
            matmul(xu, CNN, &s.emb, EMB, &self.proj[i], uniq);
        }
        // Bias, then one layer norm across the three branches together.
        let mut row = [0f32; 3 * CNN];
        for u in 0..uniq {
            for (i, xu) in s.xu.iter().enumerate() {
                let src = &xu[u * CNN..(u + 1) * CNN];
                for ((o, &v), &bias) in row[i * CNN..].iter_mut().zip(src).zip(&self.proj_b[i]) {
                    *o = v + bias;
                }
            }
            layer_norm(&mut row, &self.ln_g_branch, &self.ln_b_branch, self.eps);
            for (i, xu) in s.xu.iter_mut().enumerate() {
                xu[u * CNN..(u + 1) * CNN].copy_from_slice(&row[i * CNN..(i + 1) * CNN]);
            }
        }
        for (x, xu) in s.x.iter_mut().zip(&s.xu) {
            x.clear();
            x.resize(rows_x * CNN, 0.0);
            for r in x0..x1 {
                let u = s.slot[r];
                x[r * CNN..(r + 1) * CNN].copy_from_slice(&xu[u * CNN..(u + 1) * CNN]);
            }
        }

        s.feats.clear();
        s.feats.resize(len * FEAT, 0.0);
        let h0 = HALO.saturating_sub(a);
        let h1 = (b + HALO).min(n) + HALO - a;
        for (i, &(_, left)) in ORDERS.iter().enumerate() {
            let x = &s.x[i];
            let h = &mut s.h;
            h.clear();
            h.resize(rows_h * CNN, 0.0);
            // Window of h row r starts at x row r + HALO - left; consecutive
            // rows of x are contiguous, so the im2col matrix is x itself
            // read with overlapping rows (row stride CNN, width order*CNN).
            matmul(
                &mut h[h0 * CNN..],
                CNN,
                &x[(h0 + HALO - left) * CNN..],
                CNN,
                &self.w1[i],
                h1 - h0,
            );
            for r in h0..h1 {
                let res = &x[(r + HALO) * CNN..(r + HALO + 1) * CNN];
                relu_bias_residual(&mut h[r * CNN..(r + 1) * CNN], &self.b1[i], res);
            }
            let off = EMB + i * CNN;
            matmul(
                &mut s.feats[off..],
                FEAT,
                &h[(HALO - left) * CNN..],
                CNN,
                &self.w2[i],
                len,
            );
            for r in 0..len {
                let res = &h[(r + HALO) * CNN..(r + HALO + 1) * CNN];
                let out = &mut s.feats[r * FEAT + off..r * FEAT + off + CNN];
                relu_bias_residual(out, &self.b2[i], res);
            }
        }
        for r in 0..len {
            let f = &mut s.feats[r * FEAT..(r + 1) * FEAT];
            let u = s.slot[r + 2 * HALO];
            f[..EMB].copy_from_slice(&s.emb[u * EMB..(u + 1) * EMB]);
            layer_norm(f, &self.ln_g, &self.ln_b, self.eps);
            add(acc, f);
        }
    }

    /// Projects the summed token features to the sentence embedding.
    fn head(&self, sum: &[f32], n: usize) -> Vec<f32> {
        // Summing before the linear projection equals projecting each token
        // and summing, with n rows fewer to multiply.
        let mut mean = vec_mat(sum, &self.cnn_w, DIM);
        let inv = 1.0 / (n as f32).sqrt();
        for (m, &b) in mean.iter_mut().zip(&self.cnn_b) {
            *m = (*m + n as f32 * b) * inv;
        }
        let mut y0 = vec_mat(&mean, &self.d0, HIDDEN);
        relu(&mut y0);
        let mut y1 = vec_mat(&mean, &self.p1, HIDDEN);
        add(&mut y1, &vec_mat(&y0, &self.d1, HIDDEN));
        relu(&mut y1);
        let mut y2 = vec_mat(&y1, &self.d2, DIM);
        relu(&mut y2);
        let mut z = vec_mat(&y1, &self.p3, DIM);
        add(&mut z, &vec_mat(&y2, &self.d3, DIM));
        z.iter_mut().for_each(|v| *v = v.tanh());
        let norm2: f32 = z.iter().map(|v| v * v).sum();
        let inv = 1.0 / norm2.max(self.eps).sqrt();
        z.iter_mut().for_each(|v| *v *= inv);
        z
    }
}

/// Per-thread buffers, reused across texts.
#[derive(Default)]
pub(crate) struct Scratch {
    /// Rows of the block's x buffer, sorted by token id.
    order: Vec<usize>,
    /// Distinct-id index of each x-buffer row.
    slot: Vec<usize>,
    /// Embeddings and projections of the distinct ids.
    emb: Vec<f32>,
    xu: [Vec<f32>; 3],
    x: [Vec<f32>; 3],
    h: Vec<f32>,
    feats: Vec<f32>,
}

fn layer_norm(x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let d = x.len() as f32;
    let mean = lane_sum(x, |v| v) / d;
    let var = lane_sum(x, |v| (v - mean) * (v - mean)) / d;
    let inv = 1.0 / (var + eps).sqrt();
    for ((v, &g), &b) in x.iter_mut().zip(gamma).zip(beta) {
        *v = (*v - mean) * inv * g + b;
    }
}

/// Sum of `f(v)` over 16 independent lanes, so the compiler vectorises it
/// (a single f32 accumulator would force strict sequential adds).
fn lane_sum(x: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [0f32; 16];
    let chunks = x.chunks_exact(16);
    let tail: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for c in chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l += f(v);
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// `out = max(out + bias, 0) + residual`.
fn relu_bias_residual(out: &mut [f32], bias: &[f32], residual: &[f32]) {
    for ((o, &b), &r) in out.iter_mut().zip(bias).zip(residual) {
        *o = (*o + b).max(0.0) + r;
    }
}

fn relu(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = v.max(0.0));
}

fn add(x: &mut [f32], y: &[f32]) {
    x.iter_mut().zip(y).for_each(|(a, &b)| *a += b);
}

/// `x @ w` for a row vector `x` and a row-major `w` with `cols` columns.
fn vec_mat(x: &[f32], w: &[f32], cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; cols];
    for (&xi, row) in x.iter().zip(w.chunks_exact(cols)) {
        for (o, &wv) in out.iter_mut().zip(row) {
            *o += xi * wv;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_norm_centres_and_scales() {
        let mut x = vec![1.0f32, 2.0, 3.0, 6.0];
        layer_norm(&mut x, &[1.0; 4], &[0.5; 4], 1e-12);
        let mean: f32 = x.iter().sum::<f32>() / 4.0;
        let var: f32 = x.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 4.0;
        assert!(
            (mean - 0.5).abs() < 1e-6 && (var - 1.0).abs() < 1e-5,
            "{x:?}"
        );
    }
}
