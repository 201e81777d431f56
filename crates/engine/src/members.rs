//! Member vectors of a story, stored compactly: e5 as 7-bit codes (eight
//! in seven bytes), USE-m as 4-bit codes (two per byte), each with one f32
//! scale (`max |x| / 63`, `max |x| / 7`). At 1M live articles they are the
//! engine's largest part.
//!
//! They are the story's only copy of its vectors: the centroid is the sum
//! of the members plus, once more than `nearest_members` have joined, the
//! f32 sum of those that left (see `index.rs`). A unit vector comes back
//! with a cosine to any unit query off by about 3e-4 (rms, under 2e-3 at
//! worst) with i8 codes, 7e-4 (3e-3) with 7-bit codes on the tests'
//! vectors; with 4-bit codes, 3.5e-3 (1.4e-2) on real USE-m vectors and
//! 7e-3 (3e-2) on the tests' vectors with an outlying dimension.
//!
//! A lone member's e5 codes need not be stored: the centroid index holds
//! the i8 codes of its centroid, which is the decoded member, and those
//! map back to the member's 7-bit codes exactly (see
//! [`e5_from_index_codes`]).

/// Codes are packed by blocks of 32: byte `j` of a block holds element `j`
/// (low nibble) and element `j + 16` (high nibble), so that a kernel reads
/// the query in two contiguous runs. A last, shorter block of `n` elements
/// splits at `n.div_ceil(2)` the same way.
const BLOCK: usize = 32;
/// Largest code magnitude: codes are -7..=7 (the nibble -8 is never made).
const LEVELS: f32 = 7.0;

/// Bytes of the 4-bit codes of `dim` elements.
pub(crate) const fn packed_len(dim: usize) -> usize {
    dim.div_ceil(2)
}

fn lo(b: u8) -> i8 {
    ((b << 4) as i8) >> 4
}

fn hi(b: u8) -> i8 {
    (b as i8) >> 4
}

/// The code of element `i` of a `dim`-element vector.
fn code_at(codes: &[u8], dim: usize, i: usize) -> i8 {
    let start = i / BLOCK * BLOCK;
    let half = (dim - start).min(BLOCK).div_ceil(2);
    let r = i - start;
    if r < half {
        lo(codes[start / 2 + r])
    } else {
        hi(codes[start / 2 + r - half])
    }
}

use crate::edit_exact;

/// Code width of a quantised vector.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Width {
    /// i8 codes, one byte each, scale `max |x| / 127`.
    I8,
    /// 7-bit codes (-63..=63, scale `max |x| / 63`), bit-packed: eight
    /// codes in seven bytes (see [`Packed`]).
    I7,
    /// 4-bit codes packed as described at [`BLOCK`], scale `max |x| / 7`.
    I4,
}

impl Width {
    /// Bytes of the codes of `dim` elements.
    pub const fn bytes(self, dim: usize) -> usize {
        match self {
            Width::I8 => dim,
            Width::I7 => Packed::<7>::bytes(dim),
            Width::I4 => packed_len(dim),
        }
    }
}

/// e5's cosines crowd together (unrelated texts at ~0.75, the same story
/// at ~0.9): 4-bit codes moved story quality on the labelled sets
/// (B-cubed F1 -0.009 on MStream), 6-bit codes too (MStream -0.008,
/// WikiNewsSum -0.020); 7-bit codes left every set within ±0.003
/// (MStream +0.002). USE-m's spread is wider: 4-bit codes left every set
/// within ±0.002, 3-bit codes cost MStream 0.07 pairwise F1.
pub(crate) const E5_WIDTH: Width = Width::I7;
pub(crate) const USE_WIDTH: Width = Width::I4;

/// Bit-packed codes of `BITS` bits (3 to 8): code `c` is stored as the
/// unsigned `c + LEVELS` in a little-endian bit stream, element `i` at bit
/// `i * BITS`, so that each group of eight codes fills exactly `BITS`
/// bytes and a kernel reads a group with one 8-byte load.
pub(crate) struct Packed<const BITS: usize>;

impl<const BITS: usize> Packed<BITS> {
    /// Largest code magnitude.
    const LEVELS: i32 = (1 << (BITS - 1)) - 1;
    const MASK: u64 = (1 << BITS) - 1;

    pub const fn bytes(dim: usize) -> usize {
        (dim * BITS).div_ceil(8)
    }

    /// The bits of group `g` (codes `8g..8g + 8`), zero past the end.
    fn group(codes: &[u8], g: usize) -> u64 {
        let at = g * BITS;
        match codes.get(at..at + 8) {
            Some(b) => u64::from_le_bytes(b.try_into().unwrap_or([0; 8])),
            None => {
                let mut b = [0u8; 8];
                let end = codes.len().min(at + 8);
                if at < end {
                    b[..end - at].copy_from_slice(&codes[at..end]);
                }
                u64::from_le_bytes(b)
            }
        }
    }

    /// Writes code `c` (within ±`LEVELS`) of element `i` into zeroed bits.
    fn put(packed: &mut [u8], i: usize, c: i32) {
        let bit = i * BITS;
        let word = ((c + Self::LEVELS) as u32) << (bit % 8);
        packed[bit / 8] |= word as u8;
        if bit % 8 + BITS > 8 {
            packed[bit / 8 + 1] |= (word >> 8) as u8;
        }
    }

    /// Code `k` (0..8) of a group.
    fn code(w: u64, k: usize) -> i32 {
        ((w >> (BITS * k)) & Self::MASK) as i32 - Self::LEVELS
    }

    /// The code of element `i`.
    pub fn code_at(codes: &[u8], i: usize) -> i32 {
        Self::code(Self::group(codes, i / 8), i % 8)
    }

    /// `q · codes` over the first `min(q.len(), dim)` elements, in eight
    /// lanes summed in a fixed order (the same result on every machine).
    fn dot(q: &[f32], codes: &[u8], dim: usize) -> f32 {
        let n = q.len().min(dim);
        let mut lanes = [0f32; 8];
        for (g, qa) in q[..n].chunks_exact(8).enumerate() {
            let w = Self::group(codes, g);
            for k in 0..8 {
                lanes[k] += qa[k] * Self::code(w, k) as f32;
            }
        }
        let mut tail = 0f32;
        for (i, x) in q.iter().enumerate().take(n).skip(n / 8 * 8) {
            tail += x * Self::code_at(codes, i) as f32;
        }
        ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
            + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
            + tail
    }

    /// Adds `scale * code` into the first `min(acc.len(), dim)` elements.
    fn add_into(acc: &mut [f32], codes: &[u8], dim: usize, scale: f32) {
        let n = acc.len().min(dim);
        for (g, a) in acc[..n].chunks_exact_mut(8).enumerate() {
            let w = Self::group(codes, g);
            for (k, x) in a.iter_mut().enumerate() {
                *x += scale * Self::code(w, k) as f32;
            }
        }
        for (i, x) in acc.iter_mut().enumerate().take(n).skip(n / 8 * 8) {
            *x += scale * Self::code_at(codes, i) as f32;
        }
    }

    /// Appends the codes of `v` to `out` and returns their scale.
    fn quantise(v: &[f32], out: &mut Vec<u8>) -> f32 {
        let at = out.len();
        out.resize(at + Self::bytes(v.len()), 0);
        let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
        let levels = Self::LEVELS as f32;
        let inv = if max > 0.0 && max.is_finite() {
            levels / max
        } else {
            // Zero (or broken) vectors score 0 against everything.
            0.0
        };
        let packed = &mut out[at..];
        for (i, x) in v.iter().enumerate() {
            Self::put(packed, i, (x * inv).round().clamp(-levels, levels) as i32);
        }
        if inv == 0.0 {
            0.0
        } else {
            max / levels
        }
    }
}

/// The member codes of a lone member's e5 from the i8 codes the centroid
/// index made of its centroid. That centroid is the decoded member, whose
/// largest element is `±L · scale` (`L` = 63 at 7 bits); the index codes
/// are then `round(c · 127/L)` for each code `c`, which `round(· L/127)`
/// maps back exactly for 6 bits or more (the rounding moves a code by at
/// most 0.5 · L/127). Callers check the round trip before handing codes
/// over.
pub(crate) fn e5_from_index_codes(index_codes: &[u8]) -> Vec<u8> {
    match E5_WIDTH {
        Width::I8 => index_codes.to_vec(),
        Width::I7 => Packed::<7>::from_i8(index_codes),
        Width::I4 => unreachable!("e5 codes are 7 bits or more"),
    }
}

impl<const BITS: usize> Packed<BITS> {
    /// Codes of `BITS` bits from the i8 codes of the decoded vector (see
    /// [`e5_from_index_codes`]): exact for 6 and 7 bits.
    fn from_i8(index_codes: &[u8]) -> Vec<u8> {
        const { assert!(BITS >= 6 && BITS <= 8) };
        let mut out = vec![0u8; Self::bytes(index_codes.len())];
        let back = Self::LEVELS as f32 / 127.0;
        for (i, c) in index_codes.iter().enumerate() {
            Self::put(&mut out, i, ((*c as i8) as f32 * back).round() as i32);
        }
        out
    }
}

/// One quantised vector: `x[i] ≈ scale * code(i)`.
#[derive(Clone, Copy)]
pub(crate) struct QVec<'a> {
    pub scale: f32,
    pub dim: usize,
    pub width: Width,
    pub codes: &'a [u8],
}

impl QVec<'_> {
    /// Inner product with an f32 vector (the shorter length counts, as
    /// `zip` does for f32 vectors).
    pub fn dot(&self, q: &[f32]) -> f32 {
        self.scale
            * match self.width {
                Width::I8 => dot_i8(q, self.codes),
                Width::I7 => Packed::<7>::dot(q, self.codes, self.dim),
                Width::I4 => dot_i4(q, self.codes, self.dim),
            }
    }

    /// Adds the decoded vector into `acc`, growing it from empty.
    pub fn add_into(&self, acc: &mut Vec<f32>) {
        if acc.is_empty() {
            acc.resize(self.dim, 0.0);
        }
        match self.width {
            Width::I8 => {
                for (a, c) in acc.iter_mut().zip(self.codes) {
                    *a += self.scale * (*c as i8) as f32;
                }
                return;
            }
            Width::I7 => return Packed::<7>::add_into(acc, self.codes, self.dim, self.scale),
            Width::I4 => {}
        }
        let n = acc.len().min(self.dim);
        let full = n / BLOCK;
        for (a, c) in acc
            .chunks_exact_mut(BLOCK)
            .zip(self.codes.chunks_exact(BLOCK / 2))
            .take(full)
        {
            let (a0, a1) = a.split_at_mut(BLOCK / 2);
            for j in 0..BLOCK / 2 {
                a0[j] += self.scale * lo(c[j]) as f32;
                a1[j] += self.scale * hi(c[j]) as f32;
            }
        }
        for (i, a) in acc.iter_mut().enumerate().take(n).skip(full * BLOCK) {
            *a += self.scale * code_at(self.codes, self.dim, i) as f32;
        }
    }
}

/// `q · c` in eight lanes, so that the loop vectorises (a single float
/// accumulator cannot be reassociated); the lane order is fixed, so the
/// result is the same on every machine.
fn dot_i8(q: &[f32], c: &[u8]) -> f32 {
    let n = q.len().min(c.len());
    let (q, c) = (&q[..n], &c[..n]);
    let mut lanes = [0f32; 8];
    let (qc, cc) = (q.chunks_exact(8), c.chunks_exact(8));
    let (qr, cr) = (qc.remainder(), cc.remainder());
    for (qa, ca) in qc.zip(cc) {
        for i in 0..8 {
            lanes[i] += qa[i] * (ca[i] as i8) as f32;
        }
    }
    let mut tail = 0f32;
    for (x, y) in qr.iter().zip(cr) {
        tail += x * (*y as i8) as f32;
    }
    ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
        + tail
}

/// `q · codes` in sixteen lanes, so that the loop vectorises (a single
/// float accumulator cannot be reassociated); the lane order is fixed, so
/// the result is the same on every machine.
fn dot_i4(q: &[f32], codes: &[u8], dim: usize) -> f32 {
    let n = q.len().min(dim);
    let full = n / BLOCK;
    let mut lanes = [0f32; BLOCK / 2];
    for (qb, c) in q
        .chunks_exact(BLOCK)
        .zip(codes.chunks_exact(BLOCK / 2))
        .take(full)
    {
        let (q0, q1) = qb.split_at(BLOCK / 2);
        for j in 0..BLOCK / 2 {
            lanes[j] += q0[j] * lo(c[j]) as f32 + q1[j] * hi(c[j]) as f32;
        }
    }
    let mut tail = 0f32;
    for (i, x) in q.iter().enumerate().take(n).skip(full * BLOCK) {
        tail += x * code_at(codes, dim, i) as f32;
    }
    let mut w = BLOCK / 2;
    while w > 1 {
        w /= 2;
        for j in 0..w {
            lanes[j] += lanes[j + w];
        }
    }
    lanes[0] + tail
}

/// Appends the codes of `v` at `width` to `out` and returns their scale.
pub(crate) fn quantise(v: &[f32], width: Width, out: &mut Vec<u8>) -> f32 {
    match width {
        Width::I8 => quantise_i8(v, out),
        Width::I7 => Packed::<7>::quantise(v, out),
        Width::I4 => quantise_i4(v, out),
    }
}

/// Appends the i8 codes of `v` (as bytes) to `out` and returns their scale.
fn quantise_i8(v: &[f32], out: &mut Vec<u8>) -> f32 {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    if !(max > 0.0 && max.is_finite()) {
        // Zero (or broken) vectors score 0 against everything.
        out.extend(std::iter::repeat_n(0u8, v.len()));
        return 0.0;
    }
    let inv = 127.0 / max;
    out.extend(
        v.iter()
            .map(|x| (x * inv).round().clamp(-127.0, 127.0) as i8 as u8),
    );
    max / 127.0
}

/// Appends the 4-bit codes of `v` to `out` and returns their scale.
fn quantise_i4(v: &[f32], out: &mut Vec<u8>) -> f32 {
    let at = out.len();
    out.resize(at + packed_len(v.len()), 0);
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    if !(max > 0.0 && max.is_finite()) {
        // Zero (or broken) vectors score 0 against everything.
        return 0.0;
    }
    let inv = LEVELS / max;
    let packed = &mut out[at..];
    for (b, block) in v.chunks(BLOCK).enumerate() {
        let half = block.len().div_ceil(2);
        for (r, x) in block.iter().enumerate() {
            let c = (x * inv).round().clamp(-LEVELS, LEVELS) as i8 as u8 & 0x0f;
            let (byte, shift) = if r < half { (r, 0) } else { (r - half, 4) };
            packed[b * BLOCK / 2 + byte] |= c << shift;
        }
    }
    max / LEVELS
}

/// Record header: e5 scale, USE scale, e5 length, USE length.
const HEAD: usize = 12;
/// USE length of a member without a USE vector.
const NO_USE: u16 = u16::MAX;
/// Flag on the e5 length: the codes are held by the centroid index.
const ELSEWHERE: u16 = 0x8000;
/// Longest vector kept (longer ones are cut; the encoders give 384 and 512).
pub(crate) const MAX_DIM: usize = 0x7fff;

struct Head {
    e5_scale: f32,
    use_scale: f32,
    e5_len: u16,
    use_len: u16,
}

impl Head {
    fn read(b: &[u8]) -> Head {
        let f = |i: usize| f32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        Head {
            e5_scale: f(0),
            use_scale: f(4),
            e5_len: u(8),
            use_len: u(10),
        }
    }

    fn write(&self, b: &mut [u8]) {
        b[0..4].copy_from_slice(&self.e5_scale.to_le_bytes());
        b[4..8].copy_from_slice(&self.use_scale.to_le_bytes());
        b[8..10].copy_from_slice(&self.e5_len.to_le_bytes());
        b[10..12].copy_from_slice(&self.use_len.to_le_bytes());
    }

    fn e5_stored(&self) -> usize {
        if self.e5_len & ELSEWHERE != 0 {
            0
        } else {
            E5_WIDTH.bytes(self.e5_len as usize)
        }
    }

    fn use_stored(&self) -> usize {
        if self.use_len == NO_USE {
            0
        } else {
            USE_WIDTH.bytes(self.use_len as usize)
        }
    }

    fn e5_dim(&self) -> usize {
        (self.e5_len & !ELSEWHERE) as usize
    }

    fn width(&self) -> usize {
        HEAD + self.e5_stored() + self.use_stored()
    }
}

/// A story's most recent members, oldest first, in one exactly sized
/// allocation (most stories are small and never grow again): per member
/// a 12-byte header, the e5 codes, then the USE codes when it has them.
///
/// A story of one member may hand its e5 codes to the centroid index,
/// which holds the same codes as the story's centroid; they come back
/// before a second member joins.
#[derive(Default)]
pub(crate) struct Members {
    bytes: Box<[u8]>,
    count: u32,
}

/// A member as [`Members::iter`] yields it.
pub(crate) struct MemberRef<'a> {
    /// `None` while the codes are held by the centroid index (the scale is
    /// `e5_scale`).
    pub e5: Option<QVec<'a>>,
    pub e5_scale: f32,
    pub e5_dim: usize,
    pub use_vec: Option<QVec<'a>>,
}

impl Members {
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn push(&mut self, e5: &[f32], use_vec: Option<&[f32]>) {
        let e5 = &e5[..e5.len().min(MAX_DIM)];
        let use_vec = use_vec.map(|u| &u[..u.len().min(MAX_DIM)]);
        let at = self.bytes.len();
        let extra =
            HEAD + E5_WIDTH.bytes(e5.len()) + use_vec.map_or(0, |u| USE_WIDTH.bytes(u.len()));
        let (mut e5_scale, mut use_scale, mut use_len) = (0.0, 0.0, NO_USE);
        edit_exact(&mut self.bytes, extra, |bytes| {
            bytes.extend_from_slice(&[0; HEAD]);
            e5_scale = quantise(e5, E5_WIDTH, bytes);
            if let Some(u) = use_vec {
                (use_scale, use_len) = (quantise(u, USE_WIDTH, bytes), u.len() as u16);
            }
        });
        Head {
            e5_scale,
            use_scale,
            e5_len: e5.len() as u16,
            use_len,
        }
        .write(&mut self.bytes[at..at + HEAD]);
        self.count += 1;
    }

    /// Whether the only member's e5 codes are held by the centroid index.
    pub fn e5_elsewhere(&self) -> bool {
        self.count == 1 && Head::read(&self.bytes).e5_len & ELSEWHERE != 0
    }

    /// The only member's e5 codes, to hand to the centroid index; they
    /// leave this store. `None` unless there is exactly one member holding
    /// its codes.
    pub fn solo_e5(&self) -> Option<QVec<'_>> {
        if self.count != 1 || self.e5_elsewhere() {
            return None;
        }
        let h = Head::read(&self.bytes);
        Some(QVec {
            scale: h.e5_scale,
            dim: h.e5_dim(),
            width: E5_WIDTH,
            codes: &self.bytes[HEAD..HEAD + h.e5_stored()],
        })
    }

    /// Drops the only member's e5 codes (the centroid index holds them).
    pub fn release_solo_e5(&mut self) {
        if self.solo_e5().is_none() {
            return;
        }
        let mut h = Head::read(&self.bytes);
        let n = h.e5_stored();
        edit_exact(&mut self.bytes, 0, |bytes| {
            bytes.drain(HEAD..HEAD + n);
        });
        h.e5_len |= ELSEWHERE;
        h.write(&mut self.bytes[..HEAD]);
    }

    /// Puts back the only member's e5 codes taken from the centroid index.
    /// Codes of the wrong length are ignored, leaving the member's e5 at zero.
    pub fn restore_solo_e5(&mut self, codes: Option<&[u8]>) {
        if !self.e5_elsewhere() {
            return;
        }
        let mut h = Head::read(&self.bytes);
        h.e5_len &= !ELSEWHERE;
        let n = h.e5_stored();
        let fill: Vec<u8> = match codes {
            Some(c) if c.len() == n => c.to_vec(),
            _ => vec![0; n],
        };
        edit_exact(&mut self.bytes, n, |bytes| {
            bytes.splice(HEAD..HEAD, fill);
        });
        h.write(&mut self.bytes[..HEAD]);
    }

    /// Removes the oldest member, adding its vectors into the two sums.
    /// (Never called on a member whose codes are elsewhere: a store of one
    /// member gets them back before it grows.)
    pub fn pop_front_into(&mut self, e5_sum: &mut Vec<f32>, use_sum: &mut Vec<f32>) {
        let Some(first) = self.iter().next() else {
            return;
        };
        if let Some(e) = first.e5 {
            e.add_into(e5_sum);
        }
        if let Some(u) = first.use_vec {
            u.add_into(use_sum);
        }
        let width = Head::read(&self.bytes).width();
        edit_exact(&mut self.bytes, 0, |bytes| {
            bytes.drain(..width);
        });
        self.count -= 1;
    }

    /// Appends another story's members after these (a merge).
    pub fn append(&mut self, other: Members) {
        edit_exact(&mut self.bytes, other.bytes.len(), |bytes| {
            bytes.extend_from_slice(&other.bytes)
        });
        self.count += other.count;
    }

    pub fn iter(&self) -> impl Iterator<Item = MemberRef<'_>> + '_ {
        let mut at = 0usize;
        (0..self.count).map(move |_| {
            let h = Head::read(&self.bytes[at..]);
            at += HEAD;
            let e5_end = at + h.e5_stored();
            let e5 = (h.e5_len & ELSEWHERE == 0).then(|| QVec {
                scale: h.e5_scale,
                dim: h.e5_dim(),
                width: E5_WIDTH,
                codes: &self.bytes[at..e5_end],
            });
            at = e5_end;
            let use_vec = (h.use_len != NO_USE).then(|| {
                let end = at + h.use_stored();
                let q = QVec {
                    scale: h.use_scale,
                    dim: h.use_len as usize,
                    width: USE_WIDTH,
                    codes: &self.bytes[at..end],
                };
                at = end;
                q
            });
            MemberRef {
                e5,
                e5_scale: h.e5_scale,
                e5_dim: h.e5_dim(),
                use_vec,
            }
        })
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.len()
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

    fn qvec(codes: &[u8], scale: f32, dim: usize, width: Width) -> QVec<'_> {
        QVec {
            scale,
            dim,
            width,
            codes,
        }
    }

    #[test]
    fn cosines_survive_quantisation() {
        // The outlying dimension is harsher on 4-bit codes than real USE-m
        // vectors (3.5e-3 rms, 1.4e-2 worst over 20k pairs).
        for (width, rms_max, worst_max) in [
            (Width::I8, 8e-4, 2e-3),
            (Width::I7, 1.5e-3, 5e-3),
            (Width::I4, 1e-2, 4e-2),
        ] {
            for dim in [384usize, 512] {
                let mut s = 42u64;
                let common: Vec<f32> = (0..dim).map(|_| rng(&mut s)).collect();
                let vs: Vec<Vec<f32>> = (0..200).map(|_| unit(&mut s, &common, dim)).collect();
                let (mut worst, mut sq, mut n) = (0f32, 0f64, 0usize);
                for (i, v) in vs.iter().enumerate() {
                    let mut codes = Vec::new();
                    let scale = quantise(v, width, &mut codes);
                    assert_eq!(codes.len(), width.bytes(dim));
                    let q = qvec(&codes, scale, dim, width);
                    for w in vs.iter().skip(i % 7).step_by(7) {
                        let err = q.dot(w) - dot(v, w);
                        worst = worst.max(err.abs());
                        sq += (err as f64).powi(2);
                        n += 1;
                    }
                }
                let rms = (sq / n as f64).sqrt();
                eprintln!("{width:?} {dim}-d: cosine error rms {rms:.2e}, worst {worst:.2e}");
                assert!(rms < rms_max, "{width:?} {dim}-d rms {rms}");
                assert!(worst < worst_max, "{width:?} {dim}-d worst {worst}");
            }
        }
    }

    /// The 4-bit kernels against a plain decode, at lengths that end in a
    /// short block (and a query shorter than the vector).
    #[test]
    fn four_bit_codes_round_trip_at_any_length() {
        let mut s = 7u64;
        for dim in [1usize, 2, 5, 16, 31, 32, 33, 47, 64, 100, 384, 512] {
            let v: Vec<f32> = (0..dim).map(|_| rng(&mut s)).collect();
            let mut codes = vec![0xAA];
            let scale = quantise(&v, Width::I4, &mut codes);
            assert_eq!(codes[0], 0xAA, "appends");
            let codes = &codes[1..];
            assert_eq!(codes.len(), dim.div_ceil(2));
            let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
            assert_eq!(scale, max / 7.0);
            let decoded: Vec<f32> = (0..dim)
                .map(|i| {
                    let c = code_at(codes, dim, i);
                    assert!((-7..=7).contains(&c));
                    scale * c as f32
                })
                .collect();
            for (x, y) in v.iter().zip(&decoded) {
                assert!((x - y).abs() <= scale * 0.5 + 1e-6, "{dim}: {x} vs {y}");
            }
            let q = qvec(codes, scale, dim, Width::I4);
            let mut acc = Vec::new();
            q.add_into(&mut acc);
            assert_eq!(acc, decoded, "{dim}");
            let w: Vec<f32> = (0..dim).map(|_| rng(&mut s)).collect();
            for n in [dim, dim / 2, dim.saturating_sub(1)] {
                let exact = dot(&w[..n], &decoded[..n]);
                let got = q.dot(&w[..n]);
                assert!(
                    (got - exact).abs() <= 1e-5 * (1.0 + exact.abs()),
                    "{dim}/{n}"
                );
            }
        }
    }

    /// The bit-packed kernels against a plain decode, at lengths that end
    /// in a short group (and a query shorter than the vector), at the
    /// shipped width and two others.
    fn packed_round_trip<const BITS: usize>(s: &mut u64) {
        let levels = (1i32 << (BITS - 1)) - 1;
        for dim in [1usize, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100, 384, 512] {
            let v: Vec<f32> = (0..dim).map(|_| rng(s)).collect();
            let mut codes = vec![0xAA];
            let scale = Packed::<BITS>::quantise(&v, &mut codes);
            assert_eq!(codes[0], 0xAA, "appends");
            let codes = &codes[1..];
            assert_eq!(codes.len(), (dim * BITS).div_ceil(8));
            let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
            assert_eq!(scale, max / levels as f32);
            let decoded: Vec<f32> = (0..dim)
                .map(|i| {
                    let c = Packed::<BITS>::code_at(codes, i);
                    assert!((-levels..=levels).contains(&c));
                    scale * c as f32
                })
                .collect();
            for (x, y) in v.iter().zip(&decoded) {
                assert!((x - y).abs() <= scale * 0.5 + 1e-6, "{dim}: {x} vs {y}");
            }
            let mut acc = vec![0.0; dim];
            Packed::<BITS>::add_into(&mut acc, codes, dim, scale);
            assert_eq!(acc, decoded, "{BITS} bits, {dim}");
            let w: Vec<f32> = (0..dim).map(|_| rng(s)).collect();
            for n in [dim, dim / 2, dim.saturating_sub(1)] {
                let exact = dot(&w[..n], &decoded[..n]);
                let got = scale * Packed::<BITS>::dot(&w[..n], codes, dim);
                assert!(
                    (got - exact).abs() <= 1e-5 * (1.0 + exact.abs()),
                    "{BITS} bits, {dim}/{n}"
                );
            }
        }
    }

    #[test]
    fn packed_codes_round_trip_at_any_length() {
        let mut s = 9u64;
        packed_round_trip::<7>(&mut s);
        packed_round_trip::<6>(&mut s);
        packed_round_trip::<3>(&mut s);
        // Through `QVec`, as the engine reads them.
        let v: Vec<f32> = (0..13).map(|_| rng(&mut s)).collect();
        let mut codes = Vec::new();
        let scale = quantise(&v, Width::I7, &mut codes);
        let mut acc = Vec::new();
        let q = qvec(&codes, scale, 13, Width::I7);
        q.add_into(&mut acc);
        assert_eq!(q.dot(&acc), Packed::<7>::dot(&acc, &codes, 13) * scale);
    }

    /// A lone member's e5 codes come back exactly from the i8 codes of the
    /// decoded member (what the centroid index holds).
    #[test]
    fn e5_codes_survive_the_index_round_trip() {
        let mut s = 3u64;
        for dim in [1usize, 5, 8, 13, 384] {
            for _ in 0..50 {
                let v: Vec<f32> = (0..dim).map(|_| rng(&mut s)).collect();
                let mut mine = Vec::new();
                let scale = quantise(&v, E5_WIDTH, &mut mine);
                let mut decoded = Vec::new();
                qvec(&mine, scale, dim, E5_WIDTH).add_into(&mut decoded);
                let mut index = Vec::new();
                quantise(&decoded, Width::I8, &mut index);
                assert_eq!(e5_from_index_codes(&index), mine, "{dim}");
                // And at 6 bits, the narrowest width it holds for.
                let mut six = Vec::new();
                let scale = Packed::<6>::quantise(&v, &mut six);
                let mut decoded = vec![0.0; dim];
                Packed::<6>::add_into(&mut decoded, &six, dim, scale);
                let mut index = Vec::new();
                quantise(&decoded, Width::I8, &mut index);
                assert_eq!(Packed::<6>::from_i8(&index), six, "{dim}");
            }
        }
    }

    #[test]
    fn zero_and_odd_lengths() {
        let mut codes = Vec::new();
        assert_eq!(quantise(&[0.0; 5], Width::I8, &mut codes), 0.0);
        assert_eq!(codes, vec![0u8; 5]);
        let mut codes = Vec::new();
        assert_eq!(quantise(&[0.0; 5], Width::I4, &mut codes), 0.0);
        assert_eq!(codes, vec![0u8; 3]);
        let mut codes = Vec::new();
        assert_eq!(quantise(&[0.0; 5], Width::I7, &mut codes), 0.0);
        // Zero is stored as 63 (offset codes): 35 bits of 0111111.
        assert_eq!(codes, vec![0xbf, 0xdf, 0xef, 0xf7, 0x03]);
        assert_eq!(qvec(&codes, 0.0, 5, Width::I7).dot(&[1.0; 5]), 0.0);
        let v = [
            0.5f32, -1.0, 0.25, 0.125, 1.0, -0.75, 0.0, 0.3, -0.2, 0.9, 0.1,
        ];
        for (width, tol) in [(Width::I8, 1e-2), (Width::I7, 2e-2), (Width::I4, 6e-2)] {
            let mut codes = Vec::new();
            let scale = quantise(&v, width, &mut codes);
            let q = qvec(&codes, scale, v.len(), width);
            let exact = dot(&v, &v);
            assert!((q.dot(&v) - exact).abs() < tol * exact, "{width:?}");
            // A shorter query counts only its own dimensions.
            assert!(
                (q.dot(&v[..3]) - dot(&v[..3], &v[..3])).abs() < tol,
                "{width:?}"
            );
        }
    }

    #[test]
    fn ring_keeps_order_and_spills_the_oldest() {
        let mut m = Members::default();
        let e = |k: f32| vec![k, 1.0, 0.0];
        m.push(&e(0.1), Some(&[1.0, 0.0]));
        m.push(&e(0.2), None);
        m.push(&e(0.3), Some(&[0.0, 1.0]));
        assert_eq!(m.len(), 3);
        let firsts: Vec<f32> = m
            .iter()
            .map(|r| r.e5.unwrap().dot(&[1.0, 0.0, 0.0]))
            .collect();
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
        let second = m.iter().nth(1).unwrap().e5.unwrap();
        assert!((second.dot(&[1.0, 0.0, 0.0]) - 0.4).abs() < 2e-2);
    }

    #[test]
    fn a_solo_member_lends_its_e5_codes_and_gets_them_back() {
        let mut m = Members::default();
        m.push(&[0.6, -0.8, 0.0], Some(&[0.0, 1.0]));
        let lent = m.solo_e5().unwrap().codes.to_vec();
        let scale = m.solo_e5().unwrap().scale;
        let before = m.heap_bytes();
        m.release_solo_e5();
        assert!(m.e5_elsewhere() && m.solo_e5().is_none());
        assert_eq!(m.heap_bytes(), before - 3);
        let r = m.iter().next().unwrap();
        assert!(r.e5.is_none() && r.e5_scale == scale);
        assert!((r.use_vec.unwrap().dot(&[0.0, 1.0]) - 1.0).abs() < 1e-2);
        m.restore_solo_e5(Some(&lent));
        assert!(!m.e5_elsewhere());
        assert_eq!(m.solo_e5().unwrap().codes, &lent[..]);
        m.push(&[1.0, 0.0, 0.0], None);
        assert!(m.solo_e5().is_none());
        let dots: Vec<f32> = m
            .iter()
            .map(|r| r.e5.unwrap().dot(&[0.6, -0.8, 0.0]))
            .collect();
        assert!((dots[0] - 1.0).abs() < 1e-2 && (dots[1] - 0.6).abs() < 1e-2);
        // Codes of the wrong length leave zeros rather than a torn record.
        let mut z = Members::default();
        z.push(&[0.6, -0.8, 0.0], None);
        z.release_solo_e5();
        z.restore_solo_e5(Some(&[1, 2]));
        assert_eq!(z.solo_e5().unwrap().codes, &[0, 0, 0]);
    }
}
