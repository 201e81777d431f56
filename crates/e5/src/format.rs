//! Parsing and validation of the E5S1 container (E5_FORMAT.md sections 1 and 2).
//!
//! Everything here works on a byte slice and returns an error on any
//! inconsistency, so a truncated or corrupt file never panics.

use crate::error::E5Error;
use std::collections::HashMap;

/// Fixed header, section 1.1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Header {
    pub h: usize,
    pub nl: usize,
    pub nh: usize,
    pub ff: usize,
    pub voc: usize,
    pub maxp: usize,
    pub tvs: usize,
    pub eps: f32,
}

/// Vocabulary and normalisation table, sections 1.2 and 1.3 (copied out of the file).
pub(crate) struct VocabSection {
    pub bos: u32,
    pub eos: u32,
    pub unk: u32,
    /// `offs[i]..offs[i+1]` is piece `i` in `blob`.
    pub offs: Vec<u32>,
    pub scores: Vec<f32>,
    pub blob: Vec<u8>,
    /// Sorted by code point: (cp, start in `norm_out`, count).
    pub norm: Vec<(u32, u32, u8)>,
    pub norm_out: Vec<char>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DType {
    F32,
    Q4_0,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct TensorEntry {
    pub dtype: DType,
    pub n: usize,
    pub offset: usize,
    pub nbytes: usize,
}

pub(crate) struct Parsed {
    pub header: Header,
    pub vocab: VocabSection,
    pub tensors: HashMap<String, TensorEntry>,
}

const QK: usize = 32;
/// Bytes of one Q4_0 block: f16 scale + 16 nibble pairs.
pub(crate) const Q4_BLOCK: usize = 18;

/// Little-endian reader over the packed header sections.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], E5Error> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(end) => {
                let s = &self.data[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(E5Error::Truncated {
                what: what.to_string(),
                start: self.pos as u64,
                end: self.pos as u64 + n as u64,
                len: self.data.len() as u64,
            }),
        }
    }
    fn u8(&mut self, what: &str) -> Result<u8, E5Error> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16, E5Error> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &str) -> Result<u32, E5Error> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i32(&mut self, what: &str) -> Result<i32, E5Error> {
        Ok(self.u32(what)? as i32)
    }
    fn f32(&mut self, what: &str) -> Result<f32, E5Error> {
        Ok(f32::from_bits(self.u32(what)?))
    }
    fn u64(&mut self, what: &str) -> Result<u64, E5Error> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

/// Reads a positive header integer no larger than `max`.
fn dim(c: &mut Cursor, what: &str, max: i32) -> Result<usize, E5Error> {
    let v = c.i32(what)?;
    if v <= 0 || v > max {
        return Err(E5Error::BadHeader(format!(
            "{what} = {v} is out of range 1..={max}"
        )));
    }
    Ok(v as usize)
}

fn parse_header(c: &mut Cursor) -> Result<Header, E5Error> {
    let magic = c.take(4, "magic")?;
    if magic != b"E5S1" {
        return Err(E5Error::BadMagic(magic.to_vec()));
    }
    let version = c.u32("version")?;
    if version != 1 {
        return Err(E5Error::BadVersion(version));
    }
    let h = dim(c, "hidden size", 8192)?;
    let nl = dim(c, "layer count", 256)?;
    let nh = dim(c, "head count", 256)?;
    let ff = dim(c, "intermediate size", 65536)?;
    let voc = dim(c, "embedding rows", 1 << 24)?;
    let maxp = dim(c, "max positions", 1 << 16)?;
    let tvs = dim(c, "token-type vocab", 1 << 16)?;
    let eps = c.f32("layer-norm eps")?;
    let qk = c.i32("quant block size")?;
    if qk as usize != QK {
        return Err(E5Error::BadHeader(format!(
            "quant block size {qk}, expected {QK}"
        )));
    }
    if h != crate::DIM {
        return Err(E5Error::BadHeader(format!(
            "hidden size {h}, this engine is built for {}",
            crate::DIM
        )));
    }
    if h % nh != 0 || h / nh != 32 || ff % QK != 0 {
        return Err(E5Error::BadHeader(format!(
            "hidden {h} / heads {nh} / intermediate {ff}: expected 32-wide heads and ff a multiple of {QK}"
        )));
    }
    if maxp < 3 {
        return Err(E5Error::BadHeader(format!("max positions {maxp} < 3")));
    }
    if !(eps.is_finite() && eps > 0.0 && eps < 1.0) {
        return Err(E5Error::BadHeader(format!(
            "layer-norm eps {eps} is not a small positive number"
        )));
    }
    Ok(Header {
        h,
        nl,
        nh,
        ff,
        voc,
        maxp,
        tvs,
        eps,
    })
}

fn parse_vocab(c: &mut Cursor, header: &Header) -> Result<VocabSection, E5Error> {
    let n = c.i32("piece count")?;
    if n < 4 || n as usize > header.voc {
        return Err(E5Error::BadVocab(format!(
            "piece count {n} is not in 4..={} (embedding rows)",
            header.voc
        )));
    }
    let n = n as usize;
    let mut special = |what: &str| -> Result<u32, E5Error> {
        let v = c.i32(what)?;
        if v < 0 || v as usize >= n {
            return Err(E5Error::BadVocab(format!("{what} {v} is not a piece id")));
        }
        Ok(v as u32)
    };
    let bos = special("bos id")?;
    let eos = special("eos id")?;
    let _pad = special("pad id")?;
    let unk = special("unk id")?;
    let bloblen = c.u64("blob length")?;
    if bloblen > u32::MAX as u64 {
        return Err(E5Error::BadVocab(format!(
            "blob length {bloblen} is too large"
        )));
    }
    let raw = c.take((n + 1) * 4, "piece offsets")?;
    let offs: Vec<u32> = raw
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if offs[0] != 0 || offs[n] as u64 != bloblen || offs.windows(2).any(|w| w[0] > w[1]) {
        return Err(E5Error::BadVocab(
            "piece offsets are not increasing from 0 to the blob length".into(),
        ));
    }
    let raw = c.take(n * 4, "piece scores")?;
    let scores: Vec<f32> = raw
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
        return Err(E5Error::BadVocab(format!(
            "score of piece {i} is not finite"
        )));
    }
    let blob = c.take(bloblen as usize, "piece strings")?.to_vec();

    let n_norm = c.i32("normalisation record count")?;
    let nm_bytes = c.u32("normalisation table size")? as usize;
    if n_norm < 0 {
        return Err(E5Error::BadVocab(format!(
            "normalisation record count {n_norm}"
        )));
    }
    let table = c.take(nm_bytes, "normalisation table")?;
    let mut t = Cursor {
        data: table,
        pos: 0,
    };
    // Each record takes at least 5 bytes: a corrupt count must not reserve gigabytes.
    let mut norm = Vec::with_capacity((n_norm as usize).min(nm_bytes / 5));
    let mut norm_out = Vec::new();
    for _ in 0..n_norm {
        let cp = t.u32("normalisation record")?;
        let nout = t.u8("normalisation record")?;
        let start = norm_out.len() as u32;
        for _ in 0..nout {
            let o = t.u32("normalisation record")?;
            let ch = char::from_u32(o).ok_or_else(|| {
                E5Error::BadVocab(format!(
                    "normalisation of U+{cp:04X} gives invalid code point {o:#x}"
                ))
            })?;
            norm_out.push(ch);
        }
        if norm.last().is_some_and(|&(prev, _, _)| prev >= cp) {
            return Err(E5Error::BadVocab(
                "normalisation records are not sorted".into(),
            ));
        }
        norm.push((cp, start, nout));
    }
    if t.pos != table.len() {
        return Err(E5Error::BadVocab(format!(
            "normalisation table has {} bytes, records use {}",
            table.len(),
            t.pos
        )));
    }
    Ok(VocabSection {
        bos,
        eos,
        unk,
        offs,
        scores,
        blob,
        norm,
        norm_out,
    })
}

fn parse_directory(
    c: &mut Cursor,
    file_len: usize,
) -> Result<HashMap<String, TensorEntry>, E5Error> {
    let ndir = c.i32("tensor count")?;
    if !(0..=100_000).contains(&ndir) {
        return Err(E5Error::BadTensor(format!("tensor count {ndir}")));
    }
    let mut entries = Vec::with_capacity(ndir as usize);
    for _ in 0..ndir {
        let name_len = c.u16("tensor name length")? as usize;
        let name = c.take(name_len, "tensor name")?;
        let name = std::str::from_utf8(name)
            .ok()
            .filter(|s| s.is_ascii())
            .ok_or_else(|| E5Error::BadTensor(format!("tensor name {name:02x?} is not ASCII")))?
            .to_string();
        let dtype = match c.u8("tensor dtype")? {
            0 => DType::F32,
            1 => DType::Q4_0,
            d => {
                return Err(E5Error::BadTensor(format!(
                    "tensor {name}: unknown dtype {d}"
                )))
            }
        };
        let n = c.u32("tensor size")? as usize;
        let offset = c.u64("tensor offset")?;
        let nbytes = c.u64("tensor byte size")?;
        entries.push((name, dtype, n, offset, nbytes));
    }
    let dir_end = c.pos as u64;
    let mut map = HashMap::with_capacity(entries.len());
    for (name, dtype, n, offset, nbytes) in entries {
        let want = match dtype {
            DType::F32 => n as u64 * 4,
            DType::Q4_0 => {
                if n % QK != 0 {
                    return Err(E5Error::BadTensor(format!(
                        "Q4_0 tensor {name} has {n} elements, not a multiple of {QK}"
                    )));
                }
                (n / QK * Q4_BLOCK) as u64
            }
        };
        if nbytes != want {
            return Err(E5Error::BadTensor(format!(
                "tensor {name}: {nbytes} bytes stored, {want} expected for {n} elements"
            )));
        }
        if offset < dir_end {
            return Err(E5Error::BadTensor(format!(
                "tensor {name} starts at {offset}, inside the header (ends at {dir_end})"
            )));
        }
        let end = offset.saturating_add(nbytes);
        if end > file_len as u64 {
            return Err(E5Error::Truncated {
                what: format!("tensor {name}"),
                start: offset,
                end,
                len: file_len as u64,
            });
        }
        let entry = TensorEntry {
            dtype,
            n,
            offset: offset as usize,
            nbytes: nbytes as usize,
        };
        if map.insert(name.clone(), entry).is_some() {
            return Err(E5Error::BadTensor(format!("tensor {name} listed twice")));
        }
    }
    Ok(map)
}

/// The tensors the forward pass needs, with dtype and element count (section 1.5).
fn expected_tensors(h: &Header) -> Vec<(String, DType, usize)> {
    let (hh, ff) = (h.h, h.ff);
    let mut v = vec![
        ("emb.word".to_string(), DType::Q4_0, h.voc * hh),
        ("emb.pos".to_string(), DType::F32, h.maxp * hh),
        ("emb.type".to_string(), DType::F32, h.tvs * hh),
        ("emb.ln.w".to_string(), DType::F32, hh),
        ("emb.ln.b".to_string(), DType::F32, hh),
    ];
    for l in 0..h.nl {
        for (suffix, dtype, n) in [
            ("q.w", DType::Q4_0, hh * hh),
            ("q.b", DType::F32, hh),
            ("k.w", DType::Q4_0, hh * hh),
            ("k.b", DType::F32, hh),
            ("v.w", DType::Q4_0, hh * hh),
            ("v.b", DType::F32, hh),
            ("ao.w", DType::Q4_0, hh * hh),
            ("ao.b", DType::F32, hh),
            ("aln.w", DType::F32, hh),
            ("aln.b", DType::F32, hh),
            ("fi.w", DType::Q4_0, ff * hh),
            ("fi.b", DType::F32, ff),
            ("fo.w", DType::Q4_0, hh * ff),
            ("fo.b", DType::F32, hh),
            ("oln.w", DType::F32, hh),
            ("oln.b", DType::F32, hh),
        ] {
            v.push((format!("l{l}.{suffix}"), dtype, n));
        }
    }
    v
}

/// Parses and validates the whole file (header, vocabulary, directory, tensor bounds).
pub(crate) fn parse(data: &[u8]) -> Result<Parsed, E5Error> {
    let mut c = Cursor { data, pos: 0 };
    let header = parse_header(&mut c)?;
    let vocab = parse_vocab(&mut c, &header)?;
    let tensors = parse_directory(&mut c, data.len())?;
    for (name, dtype, n) in expected_tensors(&header) {
        let t = tensors
            .get(&name)
            .ok_or_else(|| E5Error::BadTensor(format!("tensor {name} is missing")))?;
        if t.dtype != dtype || t.n != n {
            return Err(E5Error::BadTensor(format!(
                "tensor {name} is {:?} with {} elements, expected {dtype:?} with {n}",
                t.dtype, t.n
            )));
        }
    }
    Ok(Parsed {
        header,
        vocab,
        tensors,
    })
}

/// Dequantises Q4_0 blocks (section 2); `out.len()` must be `raw.len() / 18 * 32`.
pub(crate) fn dequant_q4_0(raw: &[u8], out: &mut [f32]) {
    for (blk, o) in raw.chunks_exact(Q4_BLOCK).zip(out.chunks_exact_mut(QK)) {
        let d = half::f16::from_bits(u16::from_le_bytes([blk[0], blk[1]])).to_f32();
        let (lo, hi) = o.split_at_mut(QK / 2);
        for ((&q, l), h) in blk[2..].iter().zip(lo.iter_mut()).zip(hi.iter_mut()) {
            *l = ((q & 0x0F) as i32 - 8) as f32 * d;
            *h = ((q >> 4) as i32 - 8) as f32 * d;
        }
    }
}

/// Decodes a little-endian f32 tensor.
pub(crate) fn read_f32(raw: &[u8]) -> Vec<f32> {
    raw.chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Builds small E5S1 files for tests: a 1-layer model with the real widths
/// (H = 384, 12 heads) but a 6-piece vocabulary and 8 positions.
#[cfg(test)]
pub(crate) mod testfile {
    pub(crate) const PIECES: [&str; 6] = ["<s>", "<pad>", "</s>", "<unk>", "\u{2581}a", "b"];

    fn align(buf: &mut Vec<u8>) {
        while !buf.len().is_multiple_of(64) {
            buf.push(0);
        }
    }

    /// Deterministic filler bytes.
    fn filler(n: usize, seed: u32) -> impl Iterator<Item = u8> {
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n).map(move |_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s as u8
        })
    }

    pub(crate) fn build() -> Vec<u8> {
        let (h, nl, nh, ff, voc, maxp, tvs) = (384usize, 1usize, 12, 64usize, 8usize, 8usize, 2);
        let mut b = Vec::new();
        b.extend_from_slice(b"E5S1");
        b.extend_from_slice(&1u32.to_le_bytes());
        for v in [h, nl, nh, ff, voc, maxp, tvs] {
            b.extend_from_slice(&(v as i32).to_le_bytes());
        }
        b.extend_from_slice(&1e-12f32.to_le_bytes());
        b.extend_from_slice(&32i32.to_le_bytes());
        // Vocabulary.
        b.extend_from_slice(&(PIECES.len() as i32).to_le_bytes());
        for id in [0i32, 2, 1, 3] {
            b.extend_from_slice(&id.to_le_bytes());
        }
        let blob: Vec<u8> = PIECES.concat().into_bytes();
        b.extend_from_slice(&(blob.len() as u64).to_le_bytes());
        let mut off = 0u32;
        b.extend_from_slice(&off.to_le_bytes());
        for p in PIECES {
            off += p.len() as u32;
            b.extend_from_slice(&off.to_le_bytes());
        }
        for s in [0.0f32, 0.0, 0.0, 0.0, -1.0, -2.0] {
            b.extend_from_slice(&s.to_le_bytes());
        }
        b.extend_from_slice(&blob);
        // Normalisation: 'A' -> "a", tab -> space, U+200B deleted.
        let mut nm = Vec::new();
        for (cp, out) in [(9u32, vec![32u32]), (65, vec![97]), (0x200B, vec![])] {
            nm.extend_from_slice(&cp.to_le_bytes());
            nm.push(out.len() as u8);
            for o in out {
                nm.extend_from_slice(&o.to_le_bytes());
            }
        }
        b.extend_from_slice(&3i32.to_le_bytes());
        b.extend_from_slice(&(nm.len() as u32).to_le_bytes());
        b.extend_from_slice(&nm);
        // Tensor list: (name, dtype, n).
        let mut list: Vec<(String, u8, usize)> = vec![
            ("emb.word".into(), 1, voc * h),
            ("emb.pos".into(), 0, maxp * h),
            ("emb.type".into(), 0, tvs * h),
            ("emb.ln.w".into(), 0, h),
            ("emb.ln.b".into(), 0, h),
        ];
        for l in 0..nl {
            for (s, dt, n) in [
                ("q.w", 1, h * h),
                ("q.b", 0, h),
                ("k.w", 1, h * h),
                ("k.b", 0, h),
                ("v.w", 1, h * h),
                ("v.b", 0, h),
                ("ao.w", 1, h * h),
                ("ao.b", 0, h),
                ("aln.w", 0, h),
                ("aln.b", 0, h),
                ("fi.w", 1, ff * h),
                ("fi.b", 0, ff),
                ("fo.w", 1, h * ff),
                ("fo.b", 0, h),
                ("oln.w", 0, h),
                ("oln.b", 0, h),
            ] {
                list.push((format!("l{l}.{s}"), dt, n));
            }
        }
        let nbytes = |dt: u8, n: usize| if dt == 0 { 4 * n } else { n / 32 * 18 };
        let dir_len: usize = 4 + list
            .iter()
            .map(|(name, _, _)| 2 + name.len() + 1 + 4 + 8 + 8)
            .sum::<usize>();
        let mut pos = (b.len() + dir_len).div_ceil(64) * 64;
        b.extend_from_slice(&(list.len() as i32).to_le_bytes());
        for (name, dt, n) in &list {
            b.extend_from_slice(&(name.len() as u16).to_le_bytes());
            b.extend_from_slice(name.as_bytes());
            b.push(*dt);
            b.extend_from_slice(&(*n as u32).to_le_bytes());
            b.extend_from_slice(&(pos as u64).to_le_bytes());
            b.extend_from_slice(&(nbytes(*dt, *n) as u64).to_le_bytes());
            pos = (pos + nbytes(*dt, *n)).div_ceil(64) * 64;
        }
        for (i, (name, dt, n)) in list.iter().enumerate() {
            align(&mut b);
            if *dt == 1 {
                let mut raw: Vec<u8> = filler(nbytes(1, *n), i as u32).collect();
                for blk in raw.chunks_exact_mut(18) {
                    // Scale 0.01 as f16.
                    blk[..2].copy_from_slice(&half::f16::from_f32(0.01).to_bits().to_le_bytes());
                }
                b.extend_from_slice(&raw);
            } else {
                let ln_weight = name.ends_with("ln.w");
                for (j, r) in filler(*n, i as u32).enumerate() {
                    let v = if ln_weight {
                        1.0
                    } else {
                        (r as f32 - 128.0) / 1280.0 + (j % 3) as f32 * 0.001
                    };
                    b.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_file_parses() {
        let data = testfile::build();
        let p = parse(&data).expect("valid synthetic file");
        assert_eq!(p.header.h, 384);
        assert_eq!(p.header.nl, 1);
        assert_eq!(p.vocab.scores.len(), testfile::PIECES.len());
        assert_eq!(p.vocab.norm.len(), 3);
        assert_eq!(p.tensors.len(), 5 + 16);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let data = testfile::build();
        // Every cut inside the packed header, then a stride through the tensor data.
        let header_end = parse(&data).unwrap().tensors["emb.word"].offset;
        let cuts = (0..header_end).chain((header_end..data.len()).step_by(4099));
        for cut in cuts {
            assert!(
                parse(&data[..cut]).is_err(),
                "cut at {cut} of {} parsed",
                data.len()
            );
        }
        let err = parse(&data[..data.len() - 1])
            .err()
            .expect("last byte missing");
        assert!(matches!(err, E5Error::Truncated { .. }), "{err}");
    }

    #[test]
    fn bad_magic_version_and_garbage() {
        let mut data = testfile::build();
        data[0] = b'X';
        assert!(matches!(parse(&data), Err(E5Error::BadMagic(_))));
        let mut data = testfile::build();
        data[4] = 2;
        assert!(matches!(parse(&data), Err(E5Error::BadVersion(2))));
        let garbage: Vec<u8> = (0..100_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert!(parse(&garbage).is_err());
        // Correct magic and version followed by garbage.
        let mut g = b"E5S1\x01\0\0\0".to_vec();
        g.extend_from_slice(&garbage);
        assert!(parse(&g).is_err());
        assert!(parse(&[]).is_err());
    }

    #[test]
    fn corrupt_fields_are_errors() {
        let clean = testfile::build();
        // Hidden size other than 384.
        let mut d = clean.clone();
        d[8..12].copy_from_slice(&256i32.to_le_bytes());
        assert!(matches!(parse(&d), Err(E5Error::BadHeader(_))));
        // Negative piece count.
        let mut d = clean.clone();
        d[44..48].copy_from_slice(&(-5i32).to_le_bytes());
        assert!(matches!(parse(&d), Err(E5Error::BadVocab(_))));
        // Huge blob length.
        let mut d = clean.clone();
        d[64..72].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(parse(&d).is_err());
        // A tensor offset past the end of the file: find emb.word's offset field.
        let p = parse(&clean).unwrap();
        let off = p.tensors["emb.word"].offset as u64;
        let at = clean
            .windows(8)
            .position(|w| w == off.to_le_bytes())
            .expect("offset field");
        let mut d = clean.clone();
        d[at..at + 8].copy_from_slice(&(u64::MAX - 4).to_le_bytes());
        assert!(parse(&d).is_err());
        let mut d = clean.clone();
        d[at..at + 8].copy_from_slice(&(clean.len() as u64).to_le_bytes());
        assert!(matches!(parse(&d), Err(E5Error::Truncated { .. })));
    }

    #[test]
    fn dequant_matches_spec_example() {
        // First block of l0.q.w in e5-small-q4.bin (E5_FORMAT.md section 5).
        let raw = [
            0x29, 0x29, 0x4a, 0xe6, 0x86, 0x70, 0xaa, 0x63, 0x8b, 0x4a, 0x55, 0x7c, 0x8c, 0x77,
            0xa6, 0x9c, 0x79, 0x7a,
        ];
        let mut out = [0.0f32; 32];
        dequant_q4_0(&raw, &mut out);
        let want = [0.0806274f32, -0.0806274, -0.0806274, -0.3225098];
        for (g, w) in out.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
    }
}
