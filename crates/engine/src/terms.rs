//! Lexical terms for the within-language TF-IDF signal.
//!
//! Words are lower-cased, stripped of diacritics and cut to their first six
//! characters: a crude stemmer that works across the Romance, Germanic and
//! Slavic languages without a per-language model ("presidente",
//! "presidential" and "presidência" share `presid`). Runs of Han, kana and
//! Hangul have no spaces, so they give overlapping character bigrams.

use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

/// Stems shorter than this are mostly function words and carry no event.
const MIN_CHARS: usize = 3;
const STEM_CHARS: usize = 6;

/// A term id: FNV-1a of the term folded to 32 bits (stable across runs
/// and platforms). Half the size of the 64-bit hash in every story's
/// profile; two stems of one window share an id about once in 4,000
/// (1M distinct stems), which merges their weights.
pub type Term = u32;

fn term_id(bytes: &[u8]) -> Term {
    let h = fnv1a(bytes);
    (h ^ (h >> 32)) as u32
}

pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xAC00..=0xD7AF | 0x20000..=0x2FFFF)
}

/// The article's terms with their counts, sorted by term id.
pub fn term_counts(text: &str) -> Vec<(Term, f32)> {
    let mut terms: Vec<Term> = Vec::new();
    // CJK runs first (word segmentation would split them into single
    // characters), then words of every other script.
    let mut rest = String::with_capacity(text.len());
    let mut run: Vec<char> = Vec::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if is_cjk(c) {
            run.push(c);
            continue;
        }
        for w in run.windows(2) {
            let s: String = w.iter().collect();
            terms.push(term_id(s.as_bytes()));
        }
        if !run.is_empty() {
            rest.push(' ');
        }
        run.clear();
        rest.push(c);
    }
    for word in rest.unicode_words() {
        let lower = word.to_lowercase();
        let folded: String = lower.nfd().filter(|c| !is_mark(*c)).collect();
        if folded.chars().all(|c| c.is_numeric()) {
            // Numbers (tolls, magnitudes, scores) are event-specific: keep whole.
            if folded.len() >= 2 {
                terms.push(term_id(folded.as_bytes()));
            }
            continue;
        }
        if folded.chars().count() < MIN_CHARS {
            continue;
        }
        let stem: String = folded.chars().take(STEM_CHARS).collect();
        terms.push(term_id(stem.as_bytes()));
    }
    terms.sort_unstable();
    let mut out: Vec<(Term, f32)> = Vec::new();
    for t in terms {
        match out.last_mut() {
            Some((last, n)) if *last == t => *n += 1.0,
            _ => out.push((t, 1.0)),
        }
    }
    out
}

fn is_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_fold_and_bigrams() {
        let a = term_counts("Presidente presidência PRESIDENTIAL a de 2025");
        // three words share one stem; "a", "de" are dropped; the number stays.
        assert_eq!(a.len(), 2);
        assert!(a.iter().any(|(_, n)| *n == 3.0));
        let zh = term_counts("地震发生");
        assert_eq!(zh.len(), 3, "three overlapping bigrams");
    }
}
