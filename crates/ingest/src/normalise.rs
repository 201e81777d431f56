//! Text hygiene before anything reads an article: Unicode NFC, no control
//! characters, tidy whitespace, and a language tag.

use storyweave_core::Article;
use unicode_normalization::UnicodeNormalization;

/// Cleans one text: NFC, control characters (other than newline and tab)
/// removed, runs of spaces collapsed, at most one blank line in a row,
/// trimmed. Zero-width characters and BOMs go too.
pub fn clean_text(s: &str) -> String {
    // Characters go before NFC, not after: dropping one afterwards can leave
    // a letter and a combining mark side by side uncomposed (`e` ZWSP U+0301
    // became `e` U+0301), so the result was not NFC and a second clean
    // changed it (caught by the fuzz/ingest_plain idempotence check).
    let kept: String = s
        .chars()
        .filter_map(|c| match c {
            '\n' => Some('\n'),
            '\t' | '\u{a0}' => Some(' '),
            '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{feff}' | '\u{2060}' => None,
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect();
    let mut out = String::with_capacity(s.len());
    let mut blank_lines = 0usize;
    for line in kept.nfc().collect::<String>().split('\n') {
        let mut l = String::with_capacity(line.len());
        let mut prev_space = false;
        for c in line.chars() {
            if c == ' ' {
                if prev_space {
                    continue;
                }
                prev_space = true;
            } else {
                prev_space = false;
            }
            l.push(c);
        }
        let l = l.trim();
        if l.is_empty() {
            blank_lines += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_lines > 0 { "\n\n" } else { "\n" });
        }
        blank_lines = 0;
        out.push_str(l);
    }
    out
}

/// Normalises an article in place and detects its language when it has none
/// (`und` when the text holds no recognisable language).
pub fn normalise(article: &mut Article) {
    article.text = clean_text(&article.text);
    article.title = article
        .title
        .as_deref()
        .map(clean_text)
        .filter(|t| !t.is_empty());
    article.source = article
        .source
        .as_deref()
        .map(clean_text)
        .filter(|t| !t.is_empty());
    if article.lang.is_none() {
        let detected = storyweave_lang::detect(&article.full_text()).map(|d| d.lang);
        article.lang = Some(detected.unwrap_or_else(|| "und".to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_whitespace_and_controls() {
        assert_eq!(
            clean_text("  a\u{0}b  \t c \r\n\n\n\nd\u{200b}e "),
            "ab c\n\nde"
        );
        // NFC: e + combining acute becomes é.
        assert_eq!(clean_text("e\u{301}"), "é");
    }

    /// Regression (fuzz/ingest_plain): a dropped character between a letter
    /// and its combining mark left the pair uncomposed, so the output was not
    /// NFC and cleaning it again changed it.
    #[test]
    fn dropped_characters_do_not_block_composition() {
        for input in [
            "Some text e\u{200b}\u{301} here",
            "e\u{0}\u{301}",
            "A\u{feff}\u{30a}ngstr\u{7}o\u{308}m",
        ] {
            let once = clean_text(input);
            assert_eq!(clean_text(&once), once, "{input:?}");
            assert!(
                !once.contains('\u{301}') && !once.contains('\u{308}'),
                "{once:?}"
            );
        }
        assert_eq!(clean_text("caf e\u{200b}\u{301}"), "caf é");
    }

    #[test]
    fn detects_missing_language() {
        let mut a = Article::new(
            None,
            "O presidente anunciou hoje um novo pacote de medidas económicas para o país.".into(),
        );
        normalise(&mut a);
        assert_eq!(a.lang.as_deref(), Some("pt"));
        let mut b = Article::new(None, "12345 678".into());
        normalise(&mut b);
        assert_eq!(b.lang.as_deref(), Some("und"));
    }
}
