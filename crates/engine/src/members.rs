//! Member vectors of a story, stored compactly: each vector as i8 codes
//! with one f32 scale (`max |x| / 127`), a quarter of its f32 size.
//!
//! They are the story's only copy of its vectors: the centroid is the sum
//! of the members plus, once more than `nearest_members` have joined, the
//! f32 sum of those that left (see `index.rs`). A unit vector of 384 or
//! 512 dimensions comes back with a cosine to any unit query off by about
//! 4e-4 (rms), under 2e-3 at worst in the tests below.

/// One quantised vector: `x[i] ≈ scale * codes[i]`.
#[derive(Clone, Copy)]
pub(crate) struct QVec<'a> {
    pub scale: f32,
    pub codes: &'a [i8],
}

impl QVec<'_> {
    /// Inner product with an f32 vector (the shorter length counts, as
    /// `zip` does for f32 vectors).
    pub fn dot(&self, q: &[f32]) -> f32 {
        self.scale * dot_i8(q, self.codes)
    }

    /// Adds the decoded vector into `acc`, growing it from empty.
    pub fn add_into(&self, acc: &mut Vec<f32>) {
        if acc.is_empty() {
            acc.resize(self.codes.len(), 0.0);
        }
        for (a, c) in acc.iter_mut().zip(self.codes) {
            *a += self.scale * *c as f32;
        }
    }
}

/// `q · c` in eight lanes, so that the loop vectorises (a single float
/// accumulator cannot be reassociated); the lane order is fixed, so the
/// result is the same on every machine.
fn dot_i8(q: &[f32], c: &[i8]) -> f32 {
    let n = q.len().min(c.len());
    let (q, c) = (&q[..n], &c[..n]);
    let mut lanes = [0f32; 8];
    let (qc, cc) = (q.chunks_exact(8), c.chunks_exact(8));
    let (qr, cr) = (qc.remainder(), cc.remainder());
    for (qa, ca) in qc.zip(cc) {
        for i in 0..8 {
            lanes[i] += qa[i] * ca[i] as f32;
        }
    }
    let mut tail = 0f32;
    for (x, y) in qr.iter().zip(cr) {
        tail += x * *y as f32;
    }
    ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
        + tail
}

/// Appends the codes of `v` to `out` and returns their scale.
pub(crate) fn quantise(v: &[f32], out: &mut Vec<i8>) -> f32 {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    if !(max > 0.0 && max.is_finite()) {
        // Zero (or broken) vectors score 0 against everything.
        out.extend(std::iter::repeat_n(0i8, v.len()));
        return 0.0;
    }
    let inv = 127.0 / max;
    out.extend(
        v.iter()
            .map(|x| (x * inv).round().clamp(-127.0, 127.0) as i8),
    );
    max / 127.0
}

/// Where one member's codes lie in [`Members::codes`].
#[derive(Clone, Copy)]
struct Head {
    e5_scale: f32,
    use_scale: f32,
    e5_len: u32,
    /// `NO_USE` when the member has no USE vector.
    use_len: u32,
}

const NO_USE: u32 = u32::MAX;

impl Head {
    fn width(&self) -> usize {
        self.e5_len as usize
            + if self.use_len == NO_USE {
                0
            } else {
                self.use_len as usize
            }
    }
}

/// A story's most recent members, oldest first: one header each and all
/// their codes in one allocation (sized exactly: most stories are small
/// and never grow again).
#[derive(Default)]
pub(crate) struct Members {
    heads: Vec<Head>,
    /// Per member: e5 codes, then USE codes when it has them.
    codes: Vec<i8>,
}

/// A member as [`Members::iter`] yields it.
pub(crate) struct MemberRef<'a> {
    pub e5: QVec<'a>,
    pub use_vec: Option<QVec<'a>>,
}

impl Members {
    pub fn len(&self) -> usize {
        self.heads.len()
    }

    pub fn push(&mut self, e5: &[f32], use_vec: Option<&[f32]>) {
        self.codes
            .reserve_exact(e5.len() + use_vec.map_or(0, <[f32]>::len));
        let e5_scale = quantise(e5, &mut self.codes);
        let (use_scale, use_len) = match use_vec {
            Some(u) => (quantise(u, &mut self.codes), u.len() as u32),
            None => (0.0, NO_USE),
        };
        self.heads.reserve_exact(1);
        self.heads.push(Head {
            e5_scale,
            use_scale,
            e5_len: e5.len() as u32,
            use_len,
        });
    }

    /// Removes the oldest member, adding its vectors into the two sums.
    pub fn pop_front_into(&mut self, e5_sum: &mut Vec<f32>, use_sum: &mut Vec<f32>) {
        let Some(first) = self.iter().next() else {
            return;
        };
        first.e5.add_into(e5_sum);
        if let Some(u) = first.use_vec {
            u.add_into(use_sum);
        }
        let width = self.heads[0].width();
        self.heads.remove(0);
        self.codes.drain(..width);
    }

    /// Appends another story's members after these (a merge).
    pub fn append(&mut self, other: Members) {
        self.heads.reserve_exact(other.heads.len());
        self.heads.extend(other.heads);
        self.codes.reserve_exact(other.codes.len());
        self.codes.extend(other.codes);
    }

    pub fn iter(&self) -> impl Iterator<Item = MemberRef<'_>> + '_ {
        let mut at = 0usize;
        self.heads.iter().map(move |h| {
            let e5_end = at + h.e5_len as usize;
            let e5 = QVec {
                scale: h.e5_scale,
                codes: &self.codes[at..e5_end],
            };
            at = e5_end;
            let use_vec = (h.use_len != NO_USE).then(|| {
                let end = at + h.use_len as usize;
                let q = QVec {
                    scale: h.use_scale,
                    codes: &self.codes[at..end],
                };
                at = end;
                q
            });
            MemberRef { e5, use_vec }
        })
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.heads.capacity() * std::mem::size_of::<Head>() + self.codes.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        // Sum of uniforms: roughly normal.
        (0..4)
            .map(|i| ((*seed >> (16 * i)) & 0xffff) as f32 / 65535.0 - 0.5)
            .sum()
    }

    /// Unit vectors sharing a strong common direction, like e5's (unrelated
    /// texts at cosine ~0.7), with one outlying dimension.
    fn unit(seed: &mut u64, common: &[f32], dim: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..dim).map(|i| common[i] + 0.7 * rng(seed)).collect();
        v[3] += 2.0 * rng(seed);
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= n);
        v
    }

    fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn cosines_survive_quantisation() {
        for dim in [384usize, 512] {
            let mut s = 42u64;
            let common: Vec<f32> = (0..dim).map(|_| rng(&mut s)).collect();
            let vs: Vec<Vec<f32>> = (0..200).map(|_| unit(&mut s, &common, dim)).collect();
            let (mut worst, mut sq, mut n) = (0f32, 0f64, 0usize);
            for (i, v) in vs.iter().enumerate() {
                let mut codes = Vec::new();
                let scale = quantise(v, &mut codes);
                let q = QVec {
                    scale,
                    codes: &codes,
                };
                for w in vs.iter().skip(i % 7).step_by(7) {
                    let err = q.dot(w) - dot(v, w);
                    worst = worst.max(err.abs());
                    sq += (err as f64).powi(2);
                    n += 1;
                }
            }
            let rms = (sq / n as f64).sqrt();
            eprintln!("{dim}-d: cosine error rms {rms:.2e}, worst {worst:.2e}");
            assert!(rms < 8e-4, "{dim}-d rms {rms}");
            assert!(worst < 2e-3, "{dim}-d worst {worst}");
        }
    }

    #[test]
    fn zero_and_odd_lengths() {
        let mut codes = Vec::new();
        assert_eq!(quantise(&[0.0; 5], &mut codes), 0.0);
        assert_eq!(codes, vec![0; 5]);
        let v = [
            0.5f32, -1.0, 0.25, 0.125, 1.0, -0.75, 0.0, 0.3, -0.2, 0.9, 0.1,
        ];
        let mut codes = Vec::new();
        let scale = quantise(&v, &mut codes);
        let q = QVec {
            scale,
            codes: &codes,
        };
        let exact = dot(&v, &v);
        assert!((q.dot(&v) - exact).abs() < 1e-2 * exact);
        // A shorter query counts only its own dimensions.
        assert!((q.dot(&v[..3]) - dot(&v[..3], &v[..3])).abs() < 1e-2);
    }

    #[test]
    fn ring_keeps_order_and_spills_the_oldest() {
        let mut m = Members::default();
        let e = |k: f32| vec![k, 1.0, 0.0];
        m.push(&e(0.1), Some(&[1.0, 0.0]));
        m.push(&e(0.2), None);
        m.push(&e(0.3), Some(&[0.0, 1.0]));
        assert_eq!(m.len(), 3);
        let firsts: Vec<f32> = m.iter().map(|r| r.e5.dot(&[1.0, 0.0, 0.0])).collect();
        assert!((firsts[0] - 0.1).abs() < 1e-2 && (firsts[2] - 0.3).abs() < 1e-2);
        let uses: Vec<bool> = m.iter().map(|r| r.use_vec.is_some()).collect();
        assert_eq!(uses, vec![true, false, true]);
        let (mut e5, mut us) = (Vec::new(), Vec::new());
        m.pop_front_into(&mut e5, &mut us);
        m.pop_front_into(&mut e5, &mut us);
        assert_eq!(m.len(), 1);
        assert!((e5[0] - 0.3).abs() < 1e-2 && (e5[1] - 2.0).abs() < 1e-2);
        assert_eq!(us.len(), 2);
        assert!((us[0] - 1.0).abs() < 1e-2);
        let last = m.iter().next().unwrap();
        assert!((last.use_vec.unwrap().dot(&[0.0, 1.0]) - 1.0).abs() < 1e-2);
        let mut other = Members::default();
        other.push(&e(0.4), None);
        m.append(other);
        assert_eq!(m.len(), 2);
        assert!((m.iter().nth(1).unwrap().e5.dot(&[1.0, 0.0, 0.0]) - 0.4).abs() < 1e-2);
    }
}
