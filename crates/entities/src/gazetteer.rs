//! The built-in gazetteer (data/*.tsv) and cue lists (data/cues.tsv),
//! compiled once per process into lookup maps and an Aho-Corasick automaton.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind};

use crate::normalize::{normalize_caseless, script_of, tokenize, Folder, Script};
use crate::EntityKind;

const SOURCES: &[(&str, &str)] = &[
    ("countries.tsv", include_str!("../data/countries.tsv")),
    ("places.tsv", include_str!("../data/places.tsv")),
    (
        "organisations.tsv",
        include_str!("../data/organisations.tsv"),
    ),
    ("people.tsv", include_str!("../data/people.tsv")),
];
const CUES: &str = include_str!("../data/cues.tsv");

#[derive(Debug)]
pub(crate) struct Entry {
    pub key: String,
    pub kind: EntityKind,
    pub display: String,
    pub variants: usize,
}

/// A variant's lookup target; `caps_only` marks short acronyms (EU, UN, AS)
/// that must be written in capitals to count, so "Eu"/"Un"/"as" do not.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Target {
    pub entry: u32,
    pub caps_only: bool,
}

#[derive(Default)]
pub(crate) struct Cues {
    pub stop: HashSet<String>,
    pub title: HashSet<String>,
    pub org: HashSet<String>,
    /// Matched as substrings of a folded token (compounds: Außenministerium).
    pub org_part: Vec<String>,
    pub place: HashSet<String>,
    /// Lower-case words inside names, by language ("*" = any language).
    pub connector: HashMap<String, HashSet<String>>,
    /// Place prepositions by language; "*" holds those safe in any language.
    pub prep: HashMap<String, HashSet<String>>,
    pub tr_locative: HashSet<String>,
    /// German articles before nouns.
    pub det: HashSet<String>,
    /// Parts of German compound nouns that announce a place or a person.
    pub place_part: Vec<String>,
    pub title_part: Vec<String>,
}

pub(crate) struct Gazetteer {
    pub entries: Vec<Entry>,
    /// Folded variant (tokens joined by ' ') -> entry.
    pub exact: HashMap<String, Target>,
    /// Same, with Polish case stemming; consulted for Polish text only.
    pub pl_stem: HashMap<String, Target>,
    /// Normalised caseless-script variant (CJK, Arabic, kana) -> entry.
    pub caseless: HashMap<String, u32>,
    pub automaton: AhoCorasick,
    pub pattern_entry: Vec<u32>,
    pub max_tokens: usize,
    pub cues: Cues,
    /// Variants that folded onto another entry's variant; the first wins.
    /// Read by the data tests.
    #[cfg_attr(not(test), allow(dead_code))]
    pub conflicts: Vec<String>,
    /// Data lines that could not be parsed (the data is compiled in, so a
    /// test asserts this stays empty).
    #[cfg_attr(not(test), allow(dead_code))]
    pub malformed: Vec<String>,
}

static GAZETTEER: OnceLock<Gazetteer> = OnceLock::new();

pub(crate) fn global() -> &'static Gazetteer {
    GAZETTEER.get_or_init(Gazetteer::build)
}

fn parse_kind(s: &str) -> Option<EntityKind> {
    match s {
        "person" => Some(EntityKind::Person),
        "place" => Some(EntityKind::Place),
        "organisation" => Some(EntityKind::Organisation),
        _ => None,
    }
}

/// Folds a phrase token by token; `None` if it has caseless-script letters.
pub(crate) fn fold_phrase(folder: &mut Folder, s: &str, polish: bool) -> Option<String> {
    let mut out = String::new();
    for t in tokenize(s) {
        if !t.script.is_cased() && t.script != Script::Other {
            return None;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        folder.fold_word(&s[t.start..t.end], t.script, polish, &mut out);
    }
    Some(out)
}

fn is_acronym(s: &str) -> bool {
    let letters: Vec<char> = s.chars().filter(|c| c.is_alphabetic()).collect();
    !letters.is_empty() && letters.len() <= 3 && letters.iter().all(|c| c.is_uppercase())
}

fn insert(
    map: &mut HashMap<String, Target>,
    conflicts: &mut Vec<String>,
    entries: &[Entry],
    key: String,
    t: Target,
) {
    match map.get_mut(&key) {
        None => {
            map.insert(key, t);
        }
        Some(old) if old.entry == t.entry => old.caps_only &= t.caps_only,
        Some(old) => conflicts.push(format!(
            "{key:?}: {} vs {}",
            entries[old.entry as usize].key, entries[t.entry as usize].key
        )),
    }
}

impl Gazetteer {
    fn build() -> Gazetteer {
        let mut folder = Folder::default();
        let mut entries = Vec::new();
        let mut exact = HashMap::new();
        let mut pl_stem = HashMap::new();
        let mut caseless: HashMap<String, u32> = HashMap::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut pattern_entry = Vec::new();
        let mut conflicts = Vec::new();
        let mut max_tokens = 1;
        let mut malformed = Vec::new();
        for (file, data) in SOURCES {
            for (lineno, line) in data.lines().enumerate() {
                let line = line.trim_end();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let cols: Vec<&str> = line.split('\t').collect();
                // The data is compiled in, so a malformed line is a bug caught by tests.
                let (Some(kind), true) = (cols.get(1).and_then(|k| parse_kind(k)), cols.len() >= 3)
                else {
                    malformed.push(format!("{file}:{}", lineno + 1));
                    continue;
                };
                let id = entries.len() as u32;
                let mut variants: Vec<&str> = vec![cols[2]];
                if let Some(v) = cols.get(3) {
                    variants.extend(v.split('|').map(str::trim).filter(|v| !v.is_empty()));
                }
                entries.push(Entry {
                    key: cols[0].to_string(),
                    kind,
                    display: cols[2].to_string(),
                    variants: variants.len(),
                });
                for v in variants {
                    let cased = v.chars().find(|c| c.is_alphabetic()).map(script_of);
                    if matches!(cased, Some(s) if s.is_cased()) {
                        let Some(f) = fold_phrase(&mut folder, v, false) else {
                            continue;
                        };
                        if f.is_empty() {
                            continue;
                        }
                        max_tokens = max_tokens.max(f.split(' ').count());
                        let t = Target {
                            entry: id,
                            caps_only: is_acronym(v),
                        };
                        if let Some(p) = fold_phrase(&mut folder, v, true) {
                            insert(&mut pl_stem, &mut Vec::new(), &entries, p, t);
                        }
                        insert(&mut exact, &mut conflicts, &entries, f, t);
                    } else {
                        let n = normalize_caseless(v);
                        if n.chars().count() < 2 {
                            continue;
                        }
                        let mut forms = vec![n.clone()];
                        // Arabic: li- + al- is written "لل" ("للسعودية").
                        if let Some(rest) = n.strip_prefix("ال") {
                            forms.push(format!("لل{rest}"));
                        }
                        for form in forms {
                            if let Some(&old) = caseless.get(&form) {
                                if old != id {
                                    conflicts.push(format!(
                                        "{form:?}: {} vs {}",
                                        entries[old as usize].key, entries[id as usize].key
                                    ));
                                }
                                continue;
                            }
                            caseless.insert(form.clone(), id);
                            patterns.push(form);
                            pattern_entry.push(id);
                        }
                    }
                }
            }
        }
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&patterns)
            .expect("gazetteer automaton builds from compiled-in patterns");
        Gazetteer {
            entries,
            exact,
            pl_stem,
            caseless,
            automaton,
            pattern_entry,
            max_tokens,
            cues: build_cues(&mut folder, &mut malformed),
            conflicts,
            malformed,
        }
    }

    /// Looks a whole name up (any script); returns the entry index.
    pub(crate) fn lookup_name(&self, folder: &mut Folder, name: &str) -> Option<u32> {
        if let Some(f) = fold_phrase(folder, name, false) {
            return self.exact.get(&f).map(|t| t.entry);
        }
        self.caseless.get(&normalize_caseless(name.trim())).copied()
    }
}

fn build_cues(folder: &mut Folder, malformed: &mut Vec<String>) -> Cues {
    let mut cues = Cues::default();
    for (lineno, line) in CUES.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != 3 {
            malformed.push(format!("cues.tsv:{}", lineno + 1));
            continue;
        }
        for w in cols[2].split('|').map(str::trim).filter(|w| !w.is_empty()) {
            let mut f = String::new();
            let script = w.chars().next().map(script_of).unwrap_or(Script::Other);
            folder.cue_word(w, script, &mut f);
            if f.is_empty() {
                continue;
            }
            match cols[0] {
                "stop" => {
                    cues.stop.insert(f);
                }
                "title" => {
                    cues.title.insert(f);
                }
                "org" => {
                    cues.org.insert(f);
                }
                "org_part" => cues.org_part.push(f),
                "place" => {
                    cues.place.insert(f);
                }
                "connector" => {
                    cues.connector
                        .entry(cols[1].to_string())
                        .or_default()
                        .insert(f);
                }
                "prep" => {
                    cues.prep.entry(cols[1].to_string()).or_default().insert(f);
                }
                "det" => {
                    cues.det.insert(f);
                }
                "place_part" => cues.place_part.push(f),
                "title_part" => cues.title_part.push(f),
                "tr_locative" => {
                    cues.tr_locative.insert(f);
                }
                _ => malformed.push(format!("cues.tsv:{}", lineno + 1)),
            }
        }
    }
    cues
}
