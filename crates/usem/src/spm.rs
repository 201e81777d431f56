//! The SentencePiece unigram tokenizer of `sp.model`, matching the
//! package's pure-Python port (which is what the reference vectors use).
//!
//! Only four protobuf fields are needed (pieces with their text and score,
//! and the normaliser's precompiled charsmap), so a small hand-written wire
//! reader replaces a protobuf crate and its code generation.

use rustc_hash::FxHashMap;

use crate::UseError;

pub(crate) const UNK: u32 = 0;
pub(crate) const BOS: u32 = 1;
pub(crate) const EOS: u32 = 2;

/// One field of a protobuf message.
enum Value<'a> {
    Varint,
    Fixed32([u8; 4]),
    Fixed64,
    Bytes(&'a [u8]),
}

/// Iterates over the fields of one protobuf message.
struct Fields<'a> {
    data: &'a [u8],
    pos: usize,
}

fn err(detail: impl Into<String>) -> UseError {
    UseError::Tokenizer {
        detail: detail.into(),
    }
}

impl<'a> Fields<'a> {
    fn new(data: &'a [u8]) -> Self {
        Fields { data, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, UseError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self
                .data
                .get(self.pos)
                .ok_or_else(|| err("truncated varint"))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(err("varint longer than 10 bytes"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], UseError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| err("field runs past the end of its message"))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn next_field(&mut self) -> Result<Option<(u64, Value<'a>)>, UseError> {
        if self.pos >= self.data.len() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let value = match tag & 7 {
            0 => {
                self.varint()?;
                Value::Varint
            }
            1 => {
                self.take(8)?;
                Value::Fixed64
            }
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| err("huge length"))?;
                Value::Bytes(self.take(len)?)
            }
            5 => Value::Fixed32(self.take(4)?.try_into().expect("4 bytes")),
            w => return Err(err(format!("unsupported protobuf wire type {w}"))),
        };
        Ok(Some((tag >> 3, value)))
    }
}

/// First length-delimited value of field `want` in `msg`.
fn first_bytes(msg: &[u8], want: u64) -> Result<Option<&[u8]>, UseError> {
    let mut f = Fields::new(msg);
    while let Some((field, v)) = f.next_field()? {
        if let (true, Value::Bytes(b)) = (field == want, v) {
            return Ok(Some(b));
        }
    }
    Ok(None)
}

/// The `nmt_nfkc`-style normaliser over the precompiled charsmap: a
/// darts-clone double-array trie whose leaves index NUL-terminated
/// replacement strings.
#[derive(Debug)]
struct Normalizer {
    units: Vec<u32>,
    replacements: Vec<u8>,
}

const SPACE: &[u8] = "\u{2581}".as_bytes();

#[inline]
fn offset(unit: u32) -> usize {
    ((unit >> 10) << ((unit & 0x200) >> 6)) as usize
}

impl Normalizer {
    fn new(charsmap: &[u8]) -> Result<Option<Self>, UseError> {
        if charsmap.is_empty() {
            return Ok(None);
        }
        let size = charsmap
            .get(..4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
            .ok_or_else(|| err("charsmap shorter than its length field"))?;
        let trie = charsmap
            .get(4..4usize.saturating_add(size))
            .ok_or_else(|| err("charsmap trie runs past the end"))?;
        if size == 0 || !size.is_multiple_of(4) {
            return Err(err(format!(
                "charsmap trie size {size} is not a multiple of 4"
            )));
        }
        let units = trie
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        Ok(Some(Normalizer {
            units,
            replacements: charsmap[4 + size..].to_vec(),
        }))
    }

    /// The normalised form of the longest charsmap key at `data[pos..]` and
    /// the number of input bytes it covers; without a match, the UTF-8
    /// character at `pos` unchanged.
    fn prefix<'a>(&'a self, data: &'a [u8], pos: usize) -> (&'a [u8], usize) {
        let units = &self.units;
        let (mut best_len, mut best_value) = (0, 0);
        let mut node = offset(units[0]);
        for (i, &c) in data[pos..].iter().enumerate() {
            node ^= c as usize;
            let Some(&unit) = units.get(node) else { break };
            if unit & 0x8000_00ff != u32::from(c) {
                break;
            }
            node ^= offset(unit);
            if unit & 0x100 != 0 {
                let Some(&leaf) = units.get(node) else { break };
                best_len = i + 1;
                best_value = (leaf & 0x7fff_ffff) as usize;
            }
        }
        if best_len == 0 || best_value >= self.replacements.len() {
            let len = utf8_len(data, pos);
            return (&data[pos..pos + len], len);
        }
        let tail = &self.replacements[best_value..];
        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        (&tail[..end], best_len)
    }
}

/// Length of the UTF-8 sequence starting at `pos`, 1 if it is malformed.
fn utf8_len(data: &[u8], pos: usize) -> usize {
    let first = data[pos];
    let len = match first {
        b if b < 0x80 => 1,
        b if b >> 5 == 0x6 => 2,
        b if b >> 4 == 0xe => 3,
        b if b >> 3 == 0x1e => 4,
        _ => 1,
    };
    let ok = (1..len).all(|k| data.get(pos + k).is_some_and(|&b| b & 0xc0 == 0x80));
    if ok {
        len
    } else {
        1
    }
}

/// Unigram vocabulary as a character trie (node 0 is the root).
#[derive(Debug)]
pub(crate) struct Tokenizer {
    normalizer: Option<Normalizer>,
    /// (node << 32 | char) -> child node.
    children: FxHashMap<u64, u32>,
    /// Piece id ending at each node, `NONE` for inner nodes.
    piece_at: Vec<u32>,
    scores: Vec<f32>,
    unk_score: f64,
}

const NONE: u32 = u32::MAX;

impl Tokenizer {
    pub fn from_bytes(data: &[u8]) -> Result<Self, UseError> {
        // ModelProto: 1 = repeated SentencePiece, 3 = NormalizerSpec.
        let mut pieces: Vec<&str> = Vec::new();
        let mut scores = Vec::new();
        let mut normalizer_spec = None;
        let mut top = Fields::new(data);
        while let Some((field, value)) = top.next_field()? {
            match (field, value) {
                (1, Value::Bytes(msg)) => {
                    let (mut text, mut score) = (None, None);
                    let mut f = Fields::new(msg);
                    while let Some((k, v)) = f.next_field()? {
                        match (k, v) {
                            (1, Value::Bytes(b)) if text.is_none() => text = Some(b),
                            (2, Value::Fixed32(b)) if score.is_none() => {
                                score = Some(f32::from_le_bytes(b))
                            }
                            _ => {}
                        }
                    }
                    // The reference skips pieces without text (ids shift).
                    if let Some(t) = text {
                        let t = std::str::from_utf8(t).map_err(|_| {
                            err(format!("piece {} is not valid UTF-8", pieces.len()))
                        })?;
                        pieces.push(t);
                        scores.push(score.unwrap_or(0.0));
                    }
                }
                (3, Value::Bytes(msg)) if normalizer_spec.is_none() => normalizer_spec = Some(msg),
                _ => {}
            }
        }
        if pieces.len() <= EOS as usize {
            return Err(err(format!(
                "only {} pieces; not a SentencePiece model",
                pieces.len()
            )));
        }
        if scores.iter().any(|s| !s.is_finite()) {
            return Err(err("a piece score is not finite"));
        }
        let charsmap = match normalizer_spec {
            Some(spec) => first_bytes(spec, 2)?.unwrap_or(&[]),
            None => &[],
        };
        let normalizer = Normalizer::new(charsmap)?;

        let min_score = scores.iter().copied().fold(f32::INFINITY, f32::min);
        let mut children = FxHashMap::default();
        children.reserve(pieces.len() * 3);
        let mut piece_at = vec![NONE];
        for (id, piece) in pieces.iter().enumerate() {
            let mut node = 0u32;
            for c in piece.chars() {
                let key = (u64::from(node) << 32) | u64::from(c);
                let next = piece_at.len() as u32;
                node = *children.entry(key).or_insert_with(|| {
                    piece_at.push(NONE);
                    next
                });
            }
            // A later duplicate of a piece wins, as in the reference.
            if node != 0 {
                piece_at[node as usize] = id as u32;
            }
        }
        Ok(Tokenizer {
            normalizer,
            children,
            piece_at,
            scores,
            unk_score: f64::from(min_score) - 10.0,
        })
    }

    pub fn vocab_size(&self) -> usize {
        self.scores.len()
    }

    /// Normalised text: charsmap replacements, runs of spaces collapsed,
    /// leading/trailing spaces dropped, a leading space added, and every
    /// space written as U+2581.
    pub fn normalize(&self, text: &str) -> String {
        let raw = text.as_bytes();
        let n = raw.len();
        let prefix = |pos: usize| -> (&[u8], usize) {
            match &self.normalizer {
                Some(norm) => norm.prefix(raw, pos),
                None => {
                    let len = utf8_len(raw, pos);
                    (&raw[pos..pos + len], len)
                }
            }
        };
        let mut pos = 0;
        while pos < n {
            let (p, adv) = prefix(pos);
            if p != b" " {
                break;
            }
            pos += adv;
        }
        if pos >= n {
            return String::new();
        }
        let mut out = Vec::with_capacity(n + 16);
        out.extend_from_slice(SPACE);
        let mut prev_space = true;
        while pos < n {
            let (mut p, adv) = prefix(pos);
            pos += adv;
            if prev_space {
                while let [b' ', rest @ ..] = p {
                    p = rest;
                }
            }
            if let Some(&last) = p.last() {
                for &b in p {
                    if b == b' ' {
                        out.extend_from_slice(SPACE);
                    } else {
                        out.push(b);
                    }
                }
                prev_space = last == b' ';
            }
        }
        while out.ends_with(SPACE) {
            out.truncate(out.len() - SPACE.len());
        }
        match String::from_utf8(out) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }

    /// Piece ids of `text`, wrapped in `<s>` … `</s>`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let normalized = self.normalize(text);
        let mut ids = vec![BOS];
        if normalized.is_empty() {
            ids.push(UNK);
        } else {
            ids.extend(self.viterbi(&normalized));
        }
        ids.push(EOS);
        ids
    }

    /// Best-scoring segmentation; ties go to the earliest-starting piece, and
    /// each character no piece covers becomes its own `<unk>`.
    fn viterbi(&self, text: &str) -> Vec<u32> {
        let chars: Vec<char> = text.chars().collect();
        let len = chars.len();
        let mut best = vec![-1e38f64; len + 1];
        best[0] = 0.0;
        let mut start_of = vec![0usize; len + 1];
        let mut piece_of = vec![UNK; len + 1];
        for i in 0..len {
            let base = best[i];
            let mut node = 0u32;
            let mut has_single = false;
            for (j, &c) in chars.iter().enumerate().skip(i) {
                let key = (u64::from(node) << 32) | u64::from(c);
                let Some(&next) = self.children.get(&key) else {
                    break;
                };
                node = next;
                let id = self.piece_at[node as usize];
                if id != NONE {
                    let score = base + f64::from(self.scores[id as usize]);
                    if score > best[j + 1] {
                        best[j + 1] = score;
                        start_of[j + 1] = i;
                        piece_of[j + 1] = id;
                    }
                    has_single |= j == i;
                }
            }
            if !has_single {
                let score = base + self.unk_score;
                if score > best[i + 1] {
                    best[i + 1] = score;
                    start_of[i + 1] = i;
                    piece_of[i + 1] = UNK;
                }
            }
        }
        let mut ids = Vec::new();
        let mut p = len;
        while p > 0 {
            ids.push(piece_of[p]);
            p = start_of[p];
        }
        ids.reverse();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn bytes_field(field: u64, payload: &[u8], out: &mut Vec<u8>) {
        varint(field << 3 | 2, out);
        varint(payload.len() as u64, out);
        out.extend_from_slice(payload);
    }

    fn piece(text: &str, score: f32) -> Vec<u8> {
        let mut p = Vec::new();
        bytes_field(1, text.as_bytes(), &mut p);
        varint(2 << 3 | 5, &mut p);
        p.extend_from_slice(&score.to_le_bytes());
        p
    }

    /// A model with no charsmap and a handful of pieces; the expected ids
    /// below are what the package's Python tokenizer gives for it.
    fn toy_model() -> Vec<u8> {
        let mut m = Vec::new();
        for (t, s) in [
            ("<unk>", 0.0),
            ("<s>", 0.0),
            ("</s>", 0.0),
            ("\u{2581}", -2.0),
            ("\u{2581}ab", -1.0),
            ("a", -3.0),
            ("b", -3.0),
            ("c", -3.0),
            ("\u{2581}a", -2.5),
            ("bc", -1.5),
        ] {
            bytes_field(1, &piece(t, s), &mut m);
        }
        m
    }

    #[test]
    fn segments_a_toy_model() {
        let tok = Tokenizer::from_bytes(&toy_model()).unwrap();
        assert_eq!(tok.vocab_size(), 10);
        assert_eq!(tok.normalize("  ab   c "), "\u{2581}ab\u{2581}c");
        // "▁ab" (-1) beats "▁a"+"b" (-5.5); "▁"+"c" = -5.
        assert_eq!(tok.encode("  ab   c "), vec![BOS, 4, 3, 7, EOS]);
        // "▁a"+"bc" and "▁ab"+"c" both score -4: the path whose last piece
        // starts earliest wins.
        assert_eq!(tok.encode("abc"), vec![BOS, 8, 9, EOS]);
        // 'z' has no piece: one <unk> per character.
        assert_eq!(tok.encode("zz"), vec![BOS, 3, UNK, UNK, EOS]);
        // Without a charsmap only ' ' counts as whitespace.
        assert_eq!(tok.encode(" \t\n "), vec![BOS, 3, UNK, UNK, EOS]);
        // Control pieces match literally, as in the package.
        assert_eq!(tok.encode("a<s>b"), vec![BOS, 8, BOS, 6, EOS]);
        assert_eq!(tok.encode("   "), vec![BOS, UNK, EOS]);
    }

    #[test]
    fn corrupt_models_are_errors() {
        let good = toy_model();
        for cut in [1, 7, 20, good.len() - 1] {
            let e = Tokenizer::from_bytes(&good[..cut]).unwrap_err();
            assert!(matches!(e, UseError::Tokenizer { .. }), "{cut}: {e}");
        }
        assert!(Tokenizer::from_bytes(&[0xff; 64]).is_err());
        assert!(Tokenizer::from_bytes(b"").is_err());
        // A charsmap whose trie length points past its end.
        let mut m = toy_model();
        let mut spec = Vec::new();
        bytes_field(2, &[100, 0, 0, 0, 1, 2], &mut spec);
        bytes_field(3, &spec, &mut m);
        let e = Tokenizer::from_bytes(&m).unwrap_err().to_string();
        assert!(e.contains("charsmap"), "{e}");
    }
}
