//! Text hygiene before anything reads an article: Unicode NFC, no control
//! characters, tidy whitespace, and a language tag.

use storyweave_core::Article;
use unicode_normalization::UnicodeNormalization;

/// Cleans one text: NFC, control characters (other than newline and tab)
/// removed, runs of spaces collapsed, at most one blank line in a row,
/// trimmed. Zero-width characters and BOMs go too.
pub fn clean_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank_lines = 0usize;
    for line in s.nfc().collect::<String>().split('\n') {
        let mut l = String::with_capacity(line.len());
        let mut prev_space = false;
        for c in line.chars() {
            let c = if c == '\t' || c == '\u{a0}' { ' ' } else { c };
            if c.is_control()
                || matches!(
                    c,
                    '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{feff}' | '\u{2060}'
                )
            {
                continue;
            }
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
