//! Matrix products `lhs @ weight` for the CNN layers.
//!
//! The `gemm` crate does the work portably, but on stable Rust it stops at
//! AVX2 kernels, and profiling put 79% of the time in them. On CPUs with
//! AVX-512 a small hand kernel over pre-packed weights makes the whole
//! encoder about 1.9x faster (release build, one thread: 105 vs 55 texts/s);
//! `gemm` remains the fallback and the test reference. Setting the
//! environment variable `USEM_NO_AVX512` (any value) forces the fallback.

/// A k×n weight matrix, row-major or packed in 32-column strips (each strip
/// k rows of 32 contiguous floats) for the AVX-512 kernel.
pub(crate) struct Weight {
    k: usize,
    n: usize,
    data: Vec<f32>,
    packed: bool,
}

impl Weight {
    /// Takes a row-major k×n matrix, packing it when the AVX-512 kernel can run.
    pub fn new(data: Vec<f32>, k: usize, n: usize) -> Self {
        Self::with_layout(data, k, n, avx512::available())
    }

    pub fn with_layout(data: Vec<f32>, k: usize, n: usize, pack: bool) -> Self {
        assert_eq!(data.len(), k * n, "weight shape");
        if !pack || !n.is_multiple_of(avx512::NR) {
            return Weight {
                k,
                n,
                data,
                packed: false,
            };
        }
        let mut packed = Vec::with_capacity(data.len());
        for j in (0..n).step_by(avx512::NR) {
            for row in data.chunks_exact(n) {
                packed.extend_from_slice(&row[j..j + avx512::NR]);
            }
        }
        Weight {
            k,
            n,
            data: packed,
            packed: true,
        }
    }

    pub fn bytes(&self) -> usize {
        self.data.len() * 4
    }
}

/// `dst = lhs @ w` for `m` rows: `lhs` has row stride `lhs_rs` (rows may
/// overlap, which is how the n-gram windows are read without an im2col
/// copy), `dst` row stride `dst_rs`.
pub(crate) fn matmul(
    dst: &mut [f32],
    dst_rs: usize,
    lhs: &[f32],
    lhs_rs: usize,
    w: &Weight,
    m: usize,
) {
    if m == 0 {
        return;
    }
    let (k, n) = (w.k, w.n);
    assert!(lhs.len() >= (m - 1) * lhs_rs + k, "lhs out of bounds");
    assert!(dst.len() >= (m - 1) * dst_rs + n, "dst out of bounds");
    assert!(dst_rs >= n, "dst rows overlap");
    if w.packed {
        avx512::matmul(dst, dst_rs, lhs, lhs_rs, w, m);
        return;
    }
    // SAFETY: the asserts above keep every element gemm reads or writes
    // inside the slices (w.data is k×n by construction), and dst, a unique
    // borrow, aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            false,
            lhs.as_ptr(),
            1,
            lhs_rs as isize,
            w.data.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::Weight;

    /// Rows and columns of one register tile: 12×32 floats = 24 zmm
    /// accumulators, leaving room for two weight vectors and a broadcast.
    pub const MR: usize = 12;
    pub const NR: usize = 32;

    pub fn available() -> bool {
        std::env::var_os("USEM_NO_AVX512").is_none() && is_x86_feature_detected!("avx512f")
    }

    /// Callers checked the bounds; `w` is packed only when `available()`.
    pub fn matmul(
        dst: &mut [f32],
        dst_rs: usize,
        lhs: &[f32],
        lhs_rs: usize,
        w: &Weight,
        m: usize,
    ) {
        let k = w.k;
        let full = m / MR * MR;
        // The last partial tile runs on a zero-padded copy.
        let rest = m - full;
        let mut pad_lhs = Vec::new();
        let mut pad_dst = Vec::new();
        if rest > 0 {
            pad_lhs = vec![0f32; MR * k];
            for r in 0..rest {
                let src = &lhs[(full + r) * lhs_rs..(full + r) * lhs_rs + k];
                pad_lhs[r * k..(r + 1) * k].copy_from_slice(src);
            }
            pad_dst = vec![0f32; MR * NR];
        }
        for (s, strip) in w.data.chunks_exact(k * NR).enumerate() {
            let col = s * NR;
            for i in (0..full).step_by(MR) {
                // SAFETY: rows i..i+MR of lhs (k floats each at stride
                // lhs_rs) and of dst (columns col..col+NR at stride dst_rs)
                // are in bounds per the caller's asserts, since i + MR <= m;
                // the strip holds k×NR floats; avx512f was detected.
                unsafe {
                    tile(
                        k,
                        lhs.as_ptr().add(i * lhs_rs),
                        lhs_rs,
                        strip.as_ptr(),
                        dst.as_mut_ptr().add(i * dst_rs + col),
                        dst_rs,
                    );
                }
            }
            if rest > 0 {
                // SAFETY: pad_lhs is MR×k, pad_dst MR×NR; avx512f was detected.
                unsafe {
                    tile(
                        k,
                        pad_lhs.as_ptr(),
                        k,
                        strip.as_ptr(),
                        pad_dst.as_mut_ptr(),
                        NR,
                    );
                }
                for r in 0..rest {
                    let out = &mut dst[(full + r) * dst_rs + col..][..NR];
                    out.copy_from_slice(&pad_dst[r * NR..(r + 1) * NR]);
                }
            }
        }
    }

    /// One MR×NR tile of `lhs @ strip`, written to `dst`.
    ///
    /// Pointers advance with `wrapping_add` and no index arithmetic, which
    /// keeps debug-assertion builds (tests) from spilling the accumulators.
    #[target_feature(enable = "avx512f")]
    unsafe fn tile(
        k: usize,
        lhs: *const f32,
        lhs_rs: usize,
        strip: *const f32,
        dst: *mut f32,
        dst_rs: usize,
    ) {
        let mut rows = [lhs; MR];
        for (r, row) in rows.iter_mut().enumerate() {
            *row = lhs.wrapping_add(r * lhs_rs);
        }
        let mut acc = [[_mm512_setzero_ps(); 2]; MR];
        let mut b = strip;
        for _ in 0..k {
            let b0 = _mm512_loadu_ps(b);
            let b1 = _mm512_loadu_ps(b.wrapping_add(16));
            b = b.wrapping_add(NR);
            for (a, row) in acc.iter_mut().zip(rows.iter_mut()) {
                let x = _mm512_set1_ps(row.read_unaligned());
                *row = row.wrapping_add(1);
                a[0] = _mm512_fmadd_ps(x, b0, a[0]);
                a[1] = _mm512_fmadd_ps(x, b1, a[1]);
            }
        }
        let mut out = dst;
        for a in &acc {
            _mm512_storeu_ps(out, a[0]);
            _mm512_storeu_ps(out.wrapping_add(16), a[1]);
            out = out.wrapping_add(dst_rs);
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod avx512 {
    use super::Weight;

    pub const NR: usize = 32;

    pub fn available() -> bool {
        false
    }

    pub fn matmul(_: &mut [f32], _: usize, _: &[f32], _: usize, _: &Weight, _: usize) {
        unreachable!("weights are never packed without AVX-512")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(lhs: &[f32], lhs_rs: usize, rhs: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut out = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| lhs[i * lhs_rs + p] * rhs[p * n + j]).sum();
            }
        }
        out
    }

    /// Both paths (gemm and, where the CPU has it, the AVX-512 kernel)
    /// against a naive product, with overlapping lhs rows (the n-gram window
    /// trick), a partial last tile and a dst wider than the product.
    #[test]
    fn both_kernels_match_naive() {
        let (k, n, rs, pad) = (5 * 16, 64, 16, 3);
        if !avx512::available() {
            println!("note: no AVX-512 here, only the gemm path is checked");
        }
        for (m, pack) in [1, 12, 29]
            .into_iter()
            .flat_map(|m| [(m, false), (m, true)])
        {
            let lhs: Vec<f32> = (0..(m - 1) * rs + k)
                .map(|i| ((i * 7 % 13) as f32) - 6.0)
                .collect();
            let rhs: Vec<f32> = (0..k * n)
                .map(|i| ((i * 5 % 11) as f32) * 0.25 - 1.0)
                .collect();
            let want = naive(&lhs, rs, &rhs, m, k, n);
            let w = Weight::with_layout(rhs, k, n, pack && avx512::available());
            assert_eq!(w.packed, pack && avx512::available());
            let mut dst = vec![f32::NAN; m * (n + pad)];
            matmul(&mut dst, n + pad, &lhs, rs, &w, m);
            for i in 0..m {
                for j in 0..n {
                    let (g, e) = (dst[i * (n + pad) + j], want[i * n + j]);
                    assert!(
                        (g - e).abs() <= 1e-3 * e.abs().max(1.0),
                        "{i},{j}: {g} vs {e}"
                    );
                }
                // Columns past n are left alone.
                assert!(dst[i * (n + pad) + n].is_nan());
            }
        }
    }
}
