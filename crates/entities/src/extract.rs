//! Mention extraction: gazetteer matching on folded tokens and on caseless
//! scripts, then typing of unknown capitalised spans by cues.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use crate::gazetteer::{self, Gazetteer};
use crate::normalize::{normalize_caseless_char, script_of, tokenize, Folder, Script, Token};
use crate::{EntityKind, Mention};

/// Finds entity mentions; cheap to share across threads.
#[derive(Clone, Copy)]
pub struct EntityExtractor {
    gaz: &'static Gazetteer,
}

impl Default for EntityExtractor {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for EntityExtractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntityExtractor")
            .field("entries", &self.gaz.entries.len())
            .finish()
    }
}

/// Per-token facts for cased-script tokens.
struct Tok {
    span: Range<usize>,
    cased: bool,
    cap: bool,
    all_caps: bool,
    letters: usize,
    /// First token of a sentence (or of a quoted clause).
    sent_start: bool,
    /// Joined to the previous token by a space, hyphen or apostrophe.
    joined: bool,
    /// In a line where most words are capitalised (a title-case headline).
    headline: bool,
    /// Joined to the previous token by an apostrophe (Turkish suffixes).
    apostrophe: bool,
    fold: Range<usize>,
    pl: Range<usize>,
    /// Light fold used to look up cue words.
    cue: Range<usize>,
}

impl EntityExtractor {
    /// Builds (once per process) and returns the extractor.
    pub fn new() -> Self {
        EntityExtractor {
            gaz: gazetteer::global(),
        }
    }

    /// Finds people, places and organisations in `text`. `lang` is an
    /// ISO 639-1 code when known ("pt", "pt-BR"); it selects place
    /// prepositions and Polish case stemming.
    pub fn extract(&self, text: &str, lang: Option<&str>) -> Vec<Mention> {
        let lang: String = lang
            .and_then(|l| l.split(['-', '_']).next())
            .unwrap_or("")
            .to_ascii_lowercase();
        let mut mentions = Vec::new();
        if text
            .chars()
            .any(|c| !c.is_ascii() && needs_automaton(script_of(c)))
        {
            self.scan_caseless(text, &mut mentions);
        }
        self.scan_cased(text, &lang, &mut mentions);
        mentions.sort_by_key(|m| (m.start, m.end));
        mentions
    }

    fn mention_from_entry(&self, text: &str, entry: u32, span: Range<usize>) -> Mention {
        let e = &self.gaz.entries[entry as usize];
        Mention {
            key: e.key.clone(),
            name: text[span.clone()].to_string(),
            kind: e.kind,
            start: span.start,
            end: span.end,
        }
    }

    /// Gazetteer names in scripts without case or spaces, found with the
    /// automaton on an orthographically normalised copy of the text.
    fn scan_caseless(&self, text: &str, out: &mut Vec<Mention>) {
        let mut norm = String::with_capacity(text.len());
        // Original byte offset of each normalised byte.
        let mut orig: Vec<u32> = Vec::with_capacity(text.len() + 1);
        for (i, c) in text.char_indices() {
            if let Some(n) = normalize_caseless_char(c) {
                norm.push(n);
                orig.extend(std::iter::repeat_n(i as u32, n.len_utf8()));
            }
        }
        let mut found: Vec<(usize, usize, u32)> = Vec::new();
        for m in self.gaz.automaton.find_overlapping_iter(&norm) {
            let (s, e) = (m.start(), m.end());
            if caseless_boundaries_ok(&norm, s, e) {
                found.push((s, e, self.gaz.pattern_entry[m.pattern().as_usize()]));
            }
        }
        // Leftmost, then longest, non-overlapping.
        found.sort_by_key(|&(s, e, _)| (s, std::cmp::Reverse(e)));
        let mut last_end = 0;
        for (s, e, entry) in found {
            if s < last_end {
                continue;
            }
            last_end = e;
            let os = orig[s] as usize;
            let last = orig[e - 1] as usize;
            let oe = last + text[last..].chars().next().map_or(0, char::len_utf8);
            out.push(self.mention_from_entry(text, entry, os..oe));
        }
    }

    fn scan_cased(&self, text: &str, lang: &str, out: &mut Vec<Mention>) {
        let g = self.gaz;
        let cues = &g.cues;
        let polish = lang == "pl";
        let raw = tokenize(text);
        let mut toks = annotate(text, &raw);
        mark_headlines(text, &mut toks);
        if !toks.iter().any(|t| t.cased && t.cap) {
            return;
        }
        let mut folds = String::new();
        let toks = fold_all(text, toks, polish, &mut folds);
        let f = |i: usize| &folds[toks[i].fold.clone()];
        let c = |i: usize| &folds[toks[i].cue.clone()];
        let n = toks.len();
        let mut consumed = vec![false; n];

        // 1. Gazetteer: longest run of joined tokens starting at a capital.
        let mut key = String::new();
        let mut i = 0;
        while i < n {
            let t = &toks[i];
            if !(t.cased && t.cap) {
                i += 1;
                continue;
            }
            let mut maxn = 1;
            while maxn < g.max_tokens
                && i + maxn < n
                && toks[i + maxn].joined
                && toks[i + maxn].cased
            {
                maxn += 1;
            }
            let mut hit = None;
            for len in (1..=maxn).rev() {
                for (map, field) in [(&g.exact, false), (&g.pl_stem, true)] {
                    if field && !polish {
                        continue;
                    }
                    key.clear();
                    for (j, t) in toks[i..i + len].iter().enumerate() {
                        if j > 0 {
                            key.push(' ');
                        }
                        let r = if field { t.pl.clone() } else { t.fold.clone() };
                        key.push_str(&folds[r]);
                    }
                    if let Some(target) = map.get(key.as_str()) {
                        if !target.caps_only || (i..i + len).all(|j| toks[j].all_caps) {
                            hit = Some((target.entry, len));
                            break;
                        }
                    }
                }
                if hit.is_some() {
                    break;
                }
            }
            if let Some((entry, len)) = hit {
                let span = toks[i].span.start..toks[i + len - 1].span.end;
                out.push(self.mention_from_entry(text, entry, span));
                consumed[i..i + len].iter_mut().for_each(|c| *c = true);
                i += len;
            } else {
                i += 1;
            }
        }

        // 2. Unknown capitalised spans.
        let is_title = |i: usize| cues.title.contains(c(i));
        let is_stop = |i: usize| cues.stop.contains(c(i));
        let startable = |i: usize| {
            let t = &toks[i];
            !consumed[i] && t.cased && t.cap && t.letters > 1 && !is_stop(i) && !is_title(i)
        };
        let lower_words: HashSet<&str> = (0..n)
            .filter(|&j| toks[j].cased && !toks[j].cap && toks[j].letters > 1)
            .map(c)
            .collect();
        let preps_lang = cues.prep.get(lang);
        let preps_any = cues.prep.get("*");
        let conn_lang = cues.connector.get(lang);
        let conn_any = cues.connector.get("*");
        let mut last_title: Option<usize> = None;
        let mut singles: Vec<(usize, usize)> = Vec::new();
        let mut unknown: Vec<Mention> = Vec::new();
        let mut i = 0;
        while i < n {
            if toks[i].sent_start {
                last_title = None;
            }
            if toks[i].cased && is_title(i) {
                last_title = Some(i);
                i += 1;
                continue;
            }
            if !startable(i) {
                i += 1;
                continue;
            }
            let mut s = i;
            let mut e = i + 1;
            let is_org_word = |j: usize| {
                cues.org.contains(c(j)) || cues.org_part.iter().any(|p| c(j).contains(p.as_str()))
            };
            let mut has_org = is_org_word(i);
            // Inside an organisation name, portfolio words that are otherwise
            // titles continue it ("Ministério das Relações Exteriores").
            let extends = |j: usize, has_org: bool| {
                startable(j)
                    || has_org && !consumed[j] && toks[j].cased && toks[j].cap && is_title(j)
            };
            loop {
                if e < n && toks[e].joined && extends(e, has_org) && !toks[e].sent_start {
                    has_org |= is_org_word(e);
                    e += 1;
                    continue;
                }
                // Connectors between capitals: "Lula da Silva", "bin Salman", "van der".
                let mut k = e;
                while k < n
                    && k < e + 2
                    && toks[k].joined
                    && toks[k].cased
                    && !toks[k].cap
                    && (conn_any.is_some_and(|set| set.contains(c(k)))
                        || conn_lang.is_some_and(|set| set.contains(c(k))))
                {
                    k += 1;
                }
                if k > e && k < n && toks[k].joined && extends(k, has_org) {
                    has_org |= is_org_word(k);
                    e = k + 1;
                    continue;
                }
                break;
            }
            i = e;
            // Drop a sentence-initial word that is not part of a name: one
            // the text also uses in lower case ("Geçmişte Fenerbahçe"), or
            // Indonesian "-nya" ("Pernyataannya ..." = "his statement").
            if toks[s].sent_start
                && e - s > 1
                && (lower_words.contains(c(s))
                    || matches!(lang, "id" | "ms" | "")
                        && text[toks[s].span.clone()].ends_with("nya"))
            {
                s += 1;
            }
            // German capitalises nouns: after an article the first word is
            // a noun ("der Kleinstadt Orzysz"), which may still say what
            // follows is a place or a person.
            let mut noun_cue = None;
            if lang == "de"
                && e - s > 1
                && s > 0
                && toks[s].joined
                && !toks[s - 1].cap
                && cues.det.contains(c(s - 1))
            {
                let w = c(s);
                if cues.place_part.iter().any(|p| w.contains(p.as_str())) {
                    noun_cue = Some(EntityKind::Place);
                } else if cues.title_part.iter().any(|p| w.contains(p.as_str())) {
                    noun_cue = Some(EntityKind::Person);
                }
                s += 1;
            }
            // Title-case headlines give no signal for unknown names.
            if toks[s].headline {
                continue;
            }
            let span_toks = s..e;
            let caps = span_toks.clone().filter(|&j| toks[j].cap).count();
            let all_caps = span_toks.clone().all(|j| toks[j].all_caps);
            let title_cue = last_title.is_some_and(|t| s > t && s - t <= 4);
            let prev_prep = s > 0
                && toks[s].joined
                && toks[s - 1].cased
                && !toks[s - 1].cap
                && (preps_lang.is_some_and(|p| p.contains(c(s - 1)))
                    || preps_any.is_some_and(|p| p.contains(c(s - 1))));
            let tr_loc = e < n && toks[e].apostrophe && cues.tr_locative.contains(c(e));
            let words = || span_toks.clone().map(f);
            // A lone cue word ("Group", "Times", "Consiglio") left over
            // beside a gazetteer name is not a name.
            let bare_cue = e - s == 1 && (has_org || cues.place.contains(c(s)));
            let kind = if bare_cue && !all_caps {
                None
            } else if caps == 1 && all_caps && (2..=6).contains(&toks[s].letters) {
                (!is_roman_numeral(&text[toks[s].span.clone()])).then_some(EntityKind::Organisation)
            } else if all_caps && caps > 1 {
                None // headline in capitals
            } else if has_org {
                Some(EntityKind::Organisation)
            } else if noun_cue.is_some() {
                noun_cue
            } else if title_cue {
                Some(EntityKind::Person)
            } else if span_toks.clone().any(|j| cues.place.contains(c(j)))
                // German capitalises every noun, so "in Zukunft" is no place cue.
                || (prev_prep || tr_loc) && !(caps == 1 && lang == "de")
            {
                Some(EntityKind::Place)
            } else if caps == 1 {
                None
            } else if caps <= 4 {
                Some(EntityKind::Person)
            } else {
                Some(EntityKind::Organisation)
            };
            // A lone capitalised word opening a sentence is usually not a name.
            let lone_initial = caps == 1 && toks[s].sent_start && !title_cue;
            match kind {
                Some(kind) if !lone_initial => {
                    if kind == EntityKind::Person {
                        last_title = None;
                    }
                    let span = toks[s].span.start..toks[e - 1].span.end;
                    let key = words().collect::<Vec<_>>().join(" ");
                    unknown.push(Mention {
                        key,
                        name: text[span.clone()].to_string(),
                        kind,
                        start: span.start,
                        end: span.end,
                    });
                }
                _ => {
                    if e - s == 1 {
                        singles.push((s, e));
                    }
                }
            }
        }

        // 3. A lone surname refers to a person named in full elsewhere.
        let mut surnames: HashMap<&str, (String, EntityKind)> = HashMap::new();
        for m in out.iter().chain(unknown.iter()) {
            if m.kind == EntityKind::Person {
                if let Some(last) = m.key.rsplit(' ').next().filter(|_| m.key.contains(' ')) {
                    surnames.entry(last).or_insert((m.key.clone(), m.kind));
                }
            }
        }
        let mut extra = Vec::new();
        for (s, _) in singles {
            if let Some((key, kind)) = surnames.get(f(s)) {
                let span = toks[s].span.clone();
                extra.push(Mention {
                    key: key.clone(),
                    name: text[span.clone()].to_string(),
                    kind: *kind,
                    start: span.start,
                    end: span.end,
                });
            }
        }
        out.extend(unknown);
        out.extend(extra);
    }
}

fn needs_automaton(s: Script) -> bool {
    matches!(
        s,
        Script::Arabic | Script::Han | Script::Kana | Script::Hangul | Script::Thai
    )
}

fn is_roman_numeral(s: &str) -> bool {
    s.chars()
        .all(|c| matches!(c, 'I' | 'V' | 'X' | 'L' | 'C' | 'D' | 'M'))
}

fn is_katakana(c: char) -> bool {
    matches!(c, '\u{30A1}'..='\u{30FA}' | 'ー' | '\u{31F0}'..='\u{31FF}' | '\u{FF66}'..='\u{FF9F}')
}

fn is_arabic_letter(c: char) -> bool {
    script_of(c) == Script::Arabic && c.is_alphabetic()
}

/// Word boundaries for caseless-script matches: Arabic names may carry
/// one or two clitics (wa-, fa-, bi-, li-, ka-) and the article al-; kana
/// names must not run into more kana (マリ in マリオ).
fn caseless_boundaries_ok(norm: &str, s: usize, e: usize) -> bool {
    let first = norm[s..].chars().next();
    let last = norm[..e].chars().next_back();
    let prev: Vec<char> = norm[..s].chars().rev().take(4).collect();
    let next = norm[e..].chars().next();
    match first.map(script_of) {
        Some(Script::Arabic) => {
            if next.is_some_and(is_arabic_letter) {
                return false;
            }
            // Strip "ال" then up to two clitic letters before the match.
            let mut k = 0;
            if prev.len() >= 2 && prev[0] == 'ل' && prev[1] == 'ا' {
                k = 2;
            }
            let mut clitics = 0;
            while k < prev.len() && clitics < 2 && matches!(prev[k], 'و' | 'ف' | 'ب' | 'ل' | 'ك')
            {
                k += 1;
                clitics += 1;
            }
            // The character before the prefixes must end a word; when the
            // four-char window is full of prefixes, accept.
            match prev.get(k) {
                None => true,
                Some(&c) => !is_arabic_letter(c),
            }
        }
        Some(Script::Kana) | Some(Script::Han) => {
            // Katakana words run on without spaces; hiragana particles (の, は)
            // and kanji may touch a name.
            let katakana = |c: Option<char>| c.is_some_and(is_katakana);
            let starts = katakana(first);
            let ends = katakana(last);
            !(starts && katakana(prev.first().copied()) || ends && katakana(next))
        }
        _ => true,
    }
}

fn gap_breaks_sentence(gap: &str) -> bool {
    gap.contains([
        '.', '!', '?', '…', ':', ';', '\n', '。', '！', '？', '"', '“', '”', '«', '»', '„',
    ])
}

fn annotate(text: &str, raw: &[Token]) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::with_capacity(raw.len());
    for (i, t) in raw.iter().enumerate() {
        let word = &text[t.start..t.end];
        let mut letters = 0;
        let mut upper = 0;
        for c in word.chars() {
            if c.is_alphabetic() {
                letters += 1;
                if c.is_uppercase() {
                    upper += 1;
                }
            }
        }
        let cap = word.chars().next().is_some_and(char::is_uppercase);
        let (sent_start, joined, apostrophe) = if i == 0 {
            (true, false, false)
        } else {
            let prev = &raw[i - 1];
            let gap = &text[prev.end..t.start];
            let prev_initial = out[i - 1].letters == 1 && out[i - 1].cap;
            let space = !gap.is_empty() && gap.chars().all(|c| c.is_whitespace() && c != '\n');
            let apostrophe = matches!(gap, "'" | "’" | "ʼ" | "`");
            let joined = space
                || apostrophe
                || matches!(gap, "-" | "‐")
                || prev_initial && matches!(gap, "." | ". ");
            let sent = !prev_initial && gap_breaks_sentence(gap);
            (sent, joined, apostrophe)
        };
        out.push(Tok {
            span: t.start..t.end,
            cased: t.script.is_cased(),
            cap,
            all_caps: letters > 0 && upper == letters,
            letters,
            sent_start,
            joined,
            headline: false,
            apostrophe,
            fold: 0..0,
            pl: 0..0,
            cue: 0..0,
        });
    }
    out
}

/// Marks tokens of short one-sentence lines in which at least 60% of the
/// words are capitalised.
fn mark_headlines(text: &str, toks: &mut [Tok]) {
    let mut start = 0;
    while start < toks.len() {
        let line_end = text[toks[start].span.start..]
            .find('\n')
            .map_or(text.len(), |k| toks[start].span.start + k);
        let end = start
            + toks[start..]
                .iter()
                .take_while(|t| t.span.start < line_end)
                .count();
        let words = toks[start..end].iter().filter(|t| t.cased && t.letters > 1);
        let (total, caps) = words.fold((0, 0), |(a, b), t| (a + 1, b + t.cap as usize));
        // A headline is one short line holding a single sentence.
        let one_sentence = !toks[start + 1..end].iter().any(|t| t.sent_start);
        if (3..=20).contains(&total) && one_sentence && caps * 5 >= total * 3 {
            toks[start..end].iter_mut().for_each(|t| t.headline = true);
        }
        start = end.max(start + 1);
    }
}

fn fold_all(text: &str, mut toks: Vec<Tok>, polish: bool, buf: &mut String) -> Vec<Tok> {
    let mut folder = Folder::default();
    for t in toks.iter_mut().filter(|t| t.cased) {
        let word = &text[t.span.clone()];
        let script = word.chars().next().map_or(Script::Other, script_of);
        let s = buf.len();
        folder.fold_word(word, script, false, buf);
        t.fold = s..buf.len();
        let s = buf.len();
        folder.cue_word(word, script, buf);
        t.cue = s..buf.len();
        if polish {
            let s = buf.len();
            folder.fold_word(word, script, true, buf);
            t.pl = s..buf.len();
        }
    }
    toks
}
