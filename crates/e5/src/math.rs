//! Dense kernels of the forward pass.
//!
//! * GEMM against a right-hand side packed in 32-column panels ([`PackedB`]).
//!   On CPUs with AVX-512 a hand-written 12x32 register-blocked kernel runs
//!   it: the `gemm` crate only has AVX2 kernels on stable Rust, and a profile
//!   showed its AVX2 kernel at its peak taking half the time. Elsewhere the
//!   `gemm` crate runs each panel (the portable fallback, compared in tests).
//! * LayerNorm, softmax and GELU with branch-free exp/erf written so the
//!   compiler vectorises them; libm's scalar `expf`/`erff` would cost more
//!   than the GEMMs (a 485-token article needs ~34M exps and ~9M erfs). On
//!   AVX-512 CPUs the same bodies are compiled a second time with AVX-512
//!   enabled (the crate itself is built for baseline x86-64).

/// Columns per packed panel: two 16-lane AVX-512 registers.
pub(crate) const NR: usize = 32;

/// A 64-byte-aligned f32 buffer (aligned vector loads of packed panels).
#[derive(Default)]
pub(crate) struct AlignedVec {
    raw: Vec<f32>,
    off: usize,
    len: usize,
}

impl AlignedVec {
    pub(crate) fn zeroed(len: usize) -> AlignedVec {
        let mut v = AlignedVec::default();
        v.resize(len);
        v
    }
    /// Makes room for `len` elements; contents are unspecified afterwards.
    pub(crate) fn resize(&mut self, len: usize) {
        if self.raw.len() < len + 16 {
            self.raw = vec![0.0; len + 16];
            self.off = (16 - (self.raw.as_ptr() as usize % 64) / 4) % 16;
        }
        self.len = len;
    }
    pub(crate) fn as_slice(&self) -> &[f32] {
        &self.raw[self.off..self.off + self.len]
    }
    pub(crate) fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.raw[self.off..self.off + self.len]
    }
}

/// A `[k, n]` right-hand side stored as `n / 32` panels, each `[k][32]` row-major.
#[derive(Default)]
pub(crate) struct PackedB {
    pub k: usize,
    pub n: usize,
    pub data: AlignedVec,
}

impl PackedB {
    /// Packs `B[kk][j] = get(kk, j)` for `j < n`; columns up to the next multiple of 32 are zero.
    pub(crate) fn pack_into(&mut self, k: usize, n: usize, get: impl Fn(usize, usize) -> f32) {
        let np = n.div_ceil(NR);
        self.k = k;
        self.n = np * NR;
        self.data.resize(np * k * NR);
        let d = self.data.as_mut_slice();
        for p in 0..np {
            for kk in 0..k {
                let row = &mut d[(p * k + kk) * NR..(p * k + kk + 1) * NR];
                for (jj, v) in row.iter_mut().enumerate() {
                    let j = p * NR + jj;
                    *v = if j < n { get(kk, j) } else { 0.0 };
                }
            }
        }
    }

    /// Packs the transpose of a row-major `[n, k]` matrix (an `nn.Linear` weight),
    /// so that `x · packed` = `x W^T`. `n` must be a multiple of 32.
    pub(crate) fn from_linear(w: &[f32], n: usize, k: usize) -> PackedB {
        debug_assert!(n.is_multiple_of(NR) && w.len() == n * k);
        let mut b = PackedB {
            k,
            n,
            data: AlignedVec::zeroed(n * k),
        };
        let d = b.data.as_mut_slice();
        for (j, row) in w.chunks_exact(k).enumerate() {
            let (p, jj) = (j / NR, j % NR);
            let panel = &mut d[p * k * NR..(p + 1) * k * NR];
            for (kk, &v) in row.iter().enumerate() {
                panel[kk * NR + jj] = v;
            }
        }
        b
    }
}

fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `C[i][j] (= or +=) sum_kk A[i*lda + kk] * B[kk][j]` for `i < m`, `j < b.n`;
/// `C` has row stride `ldc`.
pub(crate) fn matmul(
    m: usize,
    a: &[f32],
    lda: usize,
    b: &PackedB,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    if m == 0 || b.n == 0 {
        return;
    }
    let k = b.k;
    // These bounds make both kernels' raw-pointer accesses sound.
    assert!(
        k > 0 && lda >= k && (m - 1) * lda + k <= a.len(),
        "matmul: lhs too small"
    );
    assert!(
        ldc >= b.n && (m - 1) * ldc + b.n <= c.len(),
        "matmul: dst too small"
    );
    assert!(
        b.data.as_slice().len() == k * b.n,
        "matmul: packed rhs size"
    );
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: AVX-512F is present; bounds asserted above.
        unsafe { avx512::matmul(m, a, lda, b, c, ldc, accumulate) };
        return;
    }
    matmul_portable(m, a, lda, b, c, ldc, accumulate);
}

/// The fallback: the `gemm` crate (AVX2/FMA or scalar, runtime-dispatched), per panel.
pub(crate) fn matmul_portable(
    m: usize,
    a: &[f32],
    lda: usize,
    b: &PackedB,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    let k = b.k;
    assert!(m > 0 && k > 0 && (m - 1) * lda + k <= a.len());
    assert!(ldc >= b.n && (m - 1) * ldc + b.n <= c.len());
    let bd = b.data.as_slice();
    for p in 0..b.n / NR {
        let panel = &bd[p * k * NR..(p + 1) * k * NR];
        let cp = &mut c[p * NR..];
        // SAFETY: A spans (m-1)*lda + k elements, the panel k*32, C (from
        // column p*32) (m-1)*ldc + 32, all asserted in bounds above; C is an
        // exclusive borrow distinct from A and B.
        unsafe {
            gemm::gemm(
                m,
                NR,
                k,
                cp.as_mut_ptr(),
                1,
                ldc as isize,
                accumulate,
                a.as_ptr(),
                1,
                lda as isize,
                panel.as_ptr(),
                1,
                NR as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{PackedB, NR};
    use std::arch::x86_64::*;

    /// Rows per micro-tile: 12 rows x 2 registers = 24 accumulators of 32.
    const MR: usize = 12;
    /// Panels per column block, sized so a block of B (k x 32*NB floats)
    /// stays in L2 while all row tiles sweep it.
    fn panels_per_block(k: usize) -> usize {
        (384 * 1024 / (k * NR * 4)).max(1)
    }

    /// # Safety
    /// AVX-512F must be available and the bounds checked by `super::matmul` hold.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn matmul(
        m: usize,
        a: &[f32],
        lda: usize,
        b: &PackedB,
        c: &mut [f32],
        ldc: usize,
        acc: bool,
    ) {
        let k = b.k;
        let np = b.n / NR;
        let nb = panels_per_block(k);
        let (ap, bp, cp) = (a.as_ptr(), b.data.as_slice().as_ptr(), c.as_mut_ptr());
        let mut p0 = 0;
        while p0 < np {
            let p1 = (p0 + nb).min(np);
            let mut i = 0;
            while i < m {
                let rows = (m - i).min(MR);
                for p in p0..p1 {
                    let a_t = ap.add(i * lda);
                    let b_t = bp.add(p * k * NR);
                    let c_t = cp.add(i * ldc + p * NR);
                    match rows {
                        12 => tile::<12>(k, a_t, lda, b_t, c_t, ldc, acc),
                        11 => tile::<11>(k, a_t, lda, b_t, c_t, ldc, acc),
                        10 => tile::<10>(k, a_t, lda, b_t, c_t, ldc, acc),
                        9 => tile::<9>(k, a_t, lda, b_t, c_t, ldc, acc),
                        8 => tile::<8>(k, a_t, lda, b_t, c_t, ldc, acc),
                        7 => tile::<7>(k, a_t, lda, b_t, c_t, ldc, acc),
                        6 => tile::<6>(k, a_t, lda, b_t, c_t, ldc, acc),
                        5 => tile::<5>(k, a_t, lda, b_t, c_t, ldc, acc),
                        4 => tile::<4>(k, a_t, lda, b_t, c_t, ldc, acc),
                        3 => tile::<3>(k, a_t, lda, b_t, c_t, ldc, acc),
                        2 => tile::<2>(k, a_t, lda, b_t, c_t, ldc, acc),
                        _ => tile::<1>(k, a_t, lda, b_t, c_t, ldc, acc),
                    }
                }
                i += rows;
            }
            p0 = p1;
        }
    }

    /// One R x 32 tile of C over the full depth k.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn tile<const R: usize>(
        k: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        accumulate: bool,
    ) {
        let mut s0 = [_mm512_setzero_ps(); R];
        let mut s1 = [_mm512_setzero_ps(); R];
        if accumulate {
            for r in 0..R {
                s0[r] = _mm512_loadu_ps(c.add(r * ldc));
                s1[r] = _mm512_loadu_ps(c.add(r * ldc + 16));
            }
        }
        for kk in 0..k {
            let b0 = _mm512_load_ps(b.add(kk * NR));
            let b1 = _mm512_load_ps(b.add(kk * NR + 16));
            for r in 0..R {
                let av = _mm512_set1_ps(*a.add(r * lda + kk));
                s0[r] = _mm512_fmadd_ps(av, b0, s0[r]);
                s1[r] = _mm512_fmadd_ps(av, b1, s1[r]);
            }
        }
        for r in 0..R {
            _mm512_storeu_ps(c.add(r * ldc), s0[r]);
            _mm512_storeu_ps(c.add(r * ldc + 16), s1[r]);
        }
    }
}

/// Runs `f` compiled with AVX-512 enabled when the CPU has it, else as built.
/// The elementwise kernels are written for auto-vectorisation; this is what
/// lets them use 16-lane registers.
macro_rules! dispatch {
    ($(#[$m:meta])* fn $name:ident / $portable:ident ($($arg:ident : $ty:ty),*) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        pub(crate) fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
                fn fast($($arg: $ty),*) $(-> $ret)? { $portable($($arg),*) }
                if has_avx512() {
                    // SAFETY: the CPU supports the enabled features.
                    return unsafe { fast($($arg),*) };
                }
            }
            $portable($($arg),*)
        }
        #[inline(always)]
        pub(crate) fn $portable($($arg: $ty),*) $(-> $ret)? $body
    };
}

/// `e^x` to about 2 ulp (Cephes `expf` polynomial), branch-free.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Rounding by adding 1.5*2^23 puts round(x*log2e) in the low mantissa bits.
    const MAGIC: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let t = x * LOG2E + MAGIC;
    let n = t - MAGIC;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let p = p * r * r + r + 1.0;
    // 2^n from the integer in t's low bits.
    let ni = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    p * f32::from_bits(((ni + 127) << 23) as u32)
}

/// `erf(x)` as a rational minimax approximation (the one Eigen and XLA use for
/// f32), accurate to a few ulp; branch-free. Tested against libm below.
#[inline(always)]
pub(crate) fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10f32;
    p = p * x2 + 2.770_681_4e-8;
    p = p * x2 - 2.101_024e-6;
    p = p * x2 - 5.692_506_4e-5;
    p = p * x2 - 7.349_906e-4;
    p = p * x2 - 2.954_6e-3;
    p = p * x2 - 1.609_603_3e-2;
    let p = p * x;
    let mut q = -1.456_607_2e-5f32;
    q = q * x2 - 2.133_740_6e-4;
    q = q * x2 - 1.682_827e-3;
    q = q * x2 - 7.373_329e-3;
    q = q * x2 - 1.426_474e-2;
    p / q
}

/// Lanes of the split accumulators below: lets the compiler vectorise sums.
const LANES: usize = 16;

#[inline(always)]
fn sum(v: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let mut chunks = v.chunks_exact(LANES);
    for ch in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(ch) {
            *a += x;
        }
    }
    acc.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

dispatch! {
    /// In-place exact-erf GELU: `0.5 x (1 + erf(x / sqrt 2))`.
    fn gelu / gelu_portable(v: &mut [f32]) {
        for x in v {
            *x = 0.5 * *x * (1.0 + erf(*x * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}

dispatch! {
    /// Row softmax without the final division: `row[j] = exp(row[j] - max)`;
    /// returns `1 / sum` so the caller scales the narrower `P V` product instead.
    fn softmax_unnormalized / softmax_unnormalized_portable(row: &mut [f32]) -> f32 {
        let mut mx = [f32::NEG_INFINITY; LANES];
        let mut chunks = row.chunks_exact(LANES);
        for ch in &mut chunks {
            for (m, &x) in mx.iter_mut().zip(ch) {
                *m = m.max(x);
            }
        }
        let max = chunks.remainder().iter().chain(&mx).copied().fold(f32::NEG_INFINITY, f32::max);
        for x in row.iter_mut() {
            *x = exp(*x - max);
        }
        1.0 / sum(row)
    }
}

dispatch! {
    /// `row = LayerNorm(row + bias) * w + b`, biased variance.
    fn add_bias_layer_norm / add_bias_layer_norm_portable(
        row: &mut [f32], bias: &[f32], w: &[f32], b: &[f32], eps: f32
    ) {
        let h = row.len() as f32;
        for (x, &bb) in row.iter_mut().zip(bias) {
            *x += bb;
        }
        let mean = sum(row) / h;
        let mut acc = [0.0f32; LANES];
        let mut chunks = row.chunks_exact(LANES);
        for ch in &mut chunks {
            for (a, &x) in acc.iter_mut().zip(ch) {
                *a += (x - mean) * (x - mean);
            }
        }
        let rem: f32 = chunks.remainder().iter().map(|&x| (x - mean) * (x - mean)).sum();
        let var = (acc.iter().sum::<f32>() + rem) / h;
        let inv = 1.0 / (var + eps).sqrt();
        for ((x, &ww), &bb) in row.iter_mut().zip(w).zip(b) {
            *x = (*x - mean) * inv * ww + bb;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.0) - 1.0)
            .collect()
    }

    #[test]
    fn exp_matches_std() {
        let mut worst = 0.0f32;
        let mut x = -87.0f32;
        while x < 88.0 {
            let (got, want) = (exp(x), x.exp());
            worst = worst.max(((got - want) / want).abs());
            x += 0.0137;
        }
        assert!(worst < 4e-7, "max relative error {worst}");
        assert!(exp(-1000.0) < 1e-37);
    }

    #[test]
    fn erf_matches_libm() {
        let mut worst = 0.0f32;
        let mut x = -6.0f32;
        while x < 6.0 {
            worst = worst.max((erf(x) - libm::erff(x)).abs());
            x += 0.001;
        }
        assert!(worst < 1e-6, "max absolute error {worst}");
    }

    fn naive(m: usize, n: usize, k: usize, a: &[f32], lda: usize, bt: &[f32], c0: f32) -> Vec<f32> {
        let mut out = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let s: f64 = (0..k)
                    .map(|p| a[i * lda + p] as f64 * bt[j * k + p] as f64)
                    .sum();
                out[i * n + j] = c0 + s as f32;
            }
        }
        out
    }

    #[test]
    fn matmul_kernels_match_naive() {
        // Row counts cover every tail of the 12-row tile; n spans several panels.
        for &(m, n, k) in &[(1, 32, 5), (13, 64, 33), (29, 96, 384), (12, 32, 1)] {
            let lda = k + 3;
            let a = pseudo(m * lda, 1);
            let w = pseudo(n * k, 2);
            let b = PackedB::from_linear(&w, n, k);
            let want = naive(m, n, k, &a, lda, &w, 0.5);
            for fast in [false, true] {
                let mut c = vec![0.5f32; m * n];
                if fast {
                    matmul(m, &a, lda, &b, &mut c, n, true);
                } else {
                    matmul_portable(m, &a, lda, &b, &mut c, n, true);
                }
                for (g, e) in c.iter().zip(&want) {
                    assert!(
                        (g - e).abs() < 1e-4 * (1.0 + e.abs()),
                        "{m}x{n}x{k}: {g} vs {e}"
                    );
                }
            }
        }
    }

    #[test]
    fn pack_pads_columns() {
        let mut b = PackedB::default();
        b.pack_into(3, 40, |kk, j| (kk * 100 + j) as f32);
        assert_eq!((b.k, b.n), (3, 64));
        let d = b.data.as_slice();
        assert_eq!(d[NR + 5], 105.0); // panel 0, kk = 1, j = 5
        assert_eq!(d[3 * NR + 2 * NR + 7], 239.0); // panel 1, kk = 2, j = 39
        assert_eq!(d[3 * NR + 2 * NR + 8], 0.0); // j = 40 is padding
        assert_eq!(d.as_ptr() as usize % 64, 0);
    }

    #[test]
    fn dispatched_elementwise_match_portable() {
        let mut a = pseudo(1000, 3).iter().map(|x| x * 5.0).collect::<Vec<_>>();
        let mut b = a.clone();
        gelu(&mut a);
        gelu_portable(&mut b);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-6 * (1.0 + y.abs()));
        }
        let mut a = pseudo(517, 4).iter().map(|x| x * 20.0).collect::<Vec<_>>();
        let mut b = a.clone();
        let (ia, ib) = (
            softmax_unnormalized(&mut a),
            softmax_unnormalized_portable(&mut b),
        );
        assert!((ia - ib).abs() <= 1e-5 * ib);
        let mut a = pseudo(384, 5);
        let mut b = a.clone();
        let (bias, w, bb) = (pseudo(384, 6), pseudo(384, 7), pseudo(384, 8));
        add_bias_layer_norm(&mut a, &bias, &w, &bb, 1e-12);
        add_bias_layer_norm_portable(&mut b, &bias, &w, &bb, 1e-12);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-5);
        }
    }

    #[test]
    fn softmax_and_layer_norm_are_right() {
        let mut row = vec![1.0f32, 2.0, 3.0];
        let inv = softmax_unnormalized(&mut row);
        let p: Vec<f32> = row.iter().map(|x| x * inv).collect();
        let z: f32 = [1.0f32, 2.0, 3.0].iter().map(|x| x.exp()).sum();
        for (got, x) in p.iter().zip([1.0f32, 2.0, 3.0]) {
            assert!((got - x.exp() / z).abs() < 1e-6);
        }
        let mut row: Vec<f32> = (0..384).map(|i| i as f32).collect();
        let ones = vec![1.0f32; 384];
        let zeros = vec![0.0f32; 384];
        add_bias_layer_norm(&mut row, &zeros, &ones, &zeros, 1e-12);
        let mean: f32 = row.iter().sum::<f32>() / 384.0;
        let var: f32 = row.iter().map(|x| x * x).sum::<f32>() / 384.0;
        assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4);
    }
}
