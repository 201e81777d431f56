//! Entity extraction and cross-script name keys for people, places and organisations.
//!
//! [`EntityExtractor`] finds mentions in news text in any language without a
//! model: a built-in multilingual gazetteer (countries, cities, regions,
//! organisations, people; data/*.tsv) is matched on folded tokens for Latin,
//! Cyrillic and Greek text and with an Aho-Corasick automaton for scripts
//! without case or spaces (Chinese, Japanese, Arabic). Unknown capitalised
//! spans are typed by cue words (titles, organisation words, place
//! prepositions). Every mention carries a key that is the same for the entity
//! in every language: the gazetteer key, or [`name_key`] of the name.

mod extract;
mod gazetteer;
mod normalize;

use serde::{Deserialize, Serialize};

pub use extract::EntityExtractor;

/// What sort of thing a mention names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityKind {
    Person,
    Place,
    Organisation,
}

/// One mention of an entity in a text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mention {
    /// Language- and script-independent key ("azerbaijan", "lavrov").
    pub key: String,
    /// The name as written in the text.
    pub name: String,
    pub kind: EntityKind,
    /// Byte offsets of the name in the input text.
    pub start: usize,
    pub end: usize,
}

/// Maps a name in any script to a canonical ASCII key.
///
/// Names the gazetteer knows (in any of its spellings, including Chinese and
/// Japanese) give the gazetteer key. Other names are transliterated
/// (Cyrillic with Russian/Ukrainian case endings removed, Greek, Arabic
/// consonantal, anything else via `deunicode`), lower-cased and simplified so
/// romanisation variants collide: ç/ch/cz -> c, ş/sh/sz/sch -> s, kh -> h,
/// w -> v, y -> i, doubled letters collapsed, final vowels dropped. Words are
/// joined by single spaces.
pub fn name_key(name: &str) -> String {
    let g = gazetteer::global();
    let mut folder = normalize::Folder::default();
    if let Some(e) = g.lookup_name(&mut folder, name) {
        return g.entries[e as usize].key.clone();
    }
    let mut out = String::new();
    for t in normalize::tokenize(name) {
        let before = out.len();
        if before > 0 {
            out.push(' ');
        }
        folder.fold_word(&name[t.start..t.end], t.script, false, &mut out);
        if out.len() == before + 1 {
            out.truncate(before);
        }
    }
    out
}

/// Fuzzy equality of two keys from [`name_key`], for names the gazetteer does
/// not know: equal keys; an edit distance allowed by length (none up to 4
/// letters, 1 up to 8, 2 up to 14, then 3); equal consonant skeletons (Arabic
/// is written without vowels) of at least 4 letters within a third of the
/// length; or a one-word key that matches the surname of a longer key.
pub fn same_entity(a_key: &str, b_key: &str) -> bool {
    if a_key == b_key {
        return true;
    }
    if a_key.is_empty() || b_key.is_empty() {
        return false;
    }
    if close(a_key, b_key) {
        return true;
    }
    // "cavusogl" vs "mevlut cavusogl": a bare surname names the same person.
    let (aw, bw) = (a_key.split(' ').count(), b_key.split(' ').count());
    if (aw == 1) != (bw == 1) {
        let (single, multi) = if aw == 1 {
            (a_key, b_key)
        } else {
            (b_key, a_key)
        };
        let last = multi.rsplit(' ').next().unwrap_or(multi);
        return single.len() >= 4 && close(single, last);
    }
    false
}

fn close(a: &str, b: &str) -> bool {
    let len = a.chars().count().max(b.chars().count());
    let allowed = match len {
        0..=4 => 0,
        5..=8 => 1,
        9..=14 => 2,
        _ => 3,
    };
    let d = strsim::levenshtein(a, b);
    if d <= allowed {
        return true;
    }
    let skeleton = |s: &str| -> String {
        s.chars()
            .filter(|c| !matches!(c, 'a' | 'e' | 'i' | 'o' | 'u'))
            .collect()
    };
    let (sa, sb) = (skeleton(a), skeleton(b));
    sa == sb && sa.replace(' ', "").len() >= 4 && d * 3 <= len
}

/// Precision and recall of found mentions against a gold list of
/// (name or key, kind), compared as sets of (key, kind). Gold names go
/// through [`name_key`], so either names or keys may be given. An empty
/// `found` has precision 1; an empty `gold` has recall 1.
pub fn score(gold: &[(String, EntityKind)], found: &[Mention]) -> (f64, f64) {
    use std::collections::HashSet;
    let gold: HashSet<(String, EntityKind)> =
        gold.iter().map(|(k, kind)| (name_key(k), *kind)).collect();
    let found: HashSet<(String, EntityKind)> =
        found.iter().map(|m| (m.key.clone(), m.kind)).collect();
    let hit = found.intersection(&gold).count() as f64;
    let p = if found.is_empty() {
        1.0
    } else {
        hit / found.len() as f64
    };
    let r = if gold.is_empty() {
        1.0
    } else {
        hit / gold.len() as f64
    };
    (p, r)
}

/// The usual English name of a gazetteer key ("azerbaijan" -> "Azerbaijan"),
/// for labelling; `None` for keys the gazetteer does not know.
pub fn display_name(key: &str) -> Option<&'static str> {
    let g = gazetteer::global();
    g.entries
        .iter()
        .find(|e| e.key == key)
        .map(|e| e.display.as_str())
}

/// Sizes of the built-in gazetteer: (entries, variants as written, distinct
/// folded or normalised lookup forms).
pub fn gazetteer_stats() -> (usize, usize, usize) {
    let g = gazetteer::global();
    let variants = g.entries.iter().map(|e| e.variants).sum();
    (g.entries.len(), variants, g.exact.len() + g.caseless.len())
}

#[cfg(test)]
mod tests;
