//! Plain-text articles: one article a file.
//!
//! The first line is read as one of:
//! - a header field `date 2020-10-02` (optionally with more text after the
//!   date on the same line, which belongs to the body), or `title: …`,
//!   `source: …`, `url: …`, `lang: …` fields, one a line, until a line that
//!   is not a field;
//! - a bare outlet name ("Sputnik"): at most three words, at most 40
//!   characters, no sentence punctuation, and followed by more text;
//! - otherwise a headline, when it is followed by a body and has no final
//!   full stop.
//!
//! The article id is the file name without its extension.

use storyweave_core::{parse_date, Article};

use crate::{RecordError, RecordLocation, MAX_TEXT_BYTES};

/// Parses one plain-text article. `stem` is the file name without extension.
pub fn parse_plain(content: &str, stem: &str, at: &RecordLocation) -> Result<Article, RecordError> {
    let err = |field: Option<&str>, msg: String| RecordError::new(at.clone(), field, msg);
    if content.len() > MAX_TEXT_BYTES {
        return Err(err(
            Some("text"),
            format!(
                "body is {} bytes; the limit is {} bytes",
                content.len(),
                MAX_TEXT_BYTES
            ),
        ));
    }
    let mut lines: Vec<&str> = content.lines().collect();
    while lines.first().is_some_and(|l| l.trim().is_empty()) {
        lines.remove(0);
    }
    let mut title = None;
    let mut source = None;
    let mut url = None;
    let mut lang = None;
    let mut published_at = None;

    // Header fields, one a line.
    while let Some(first) = lines.first().copied() {
        let t = first.trim_start();
        if let Some(rest) = strip_key(t, "date") {
            let mut parts = rest.trim_start().splitn(2, char::is_whitespace);
            let date = parts.next().unwrap_or("");
            published_at = Some(parse_date(date).map_err(|e| err(Some("date"), e.to_string()))?);
            let remainder = parts.next().unwrap_or("").trim();
            if remainder.is_empty() {
                lines.remove(0);
            } else {
                lines[0] = remainder;
                break;
            }
        } else if let Some(v) = strip_field(t, "title") {
            title = Some(v.to_string());
            lines.remove(0);
        } else if let Some(v) = strip_field(t, "source") {
            source = Some(v.to_string());
            lines.remove(0);
        } else if let Some(v) = strip_field(t, "url") {
            url = Some(v.to_string());
            lines.remove(0);
        } else if let Some(v) = strip_field(t, "lang") {
            lang = Some(
                storyweave_lang::normalise_tag(v).map_err(|e| err(Some("lang"), e.to_string()))?,
            );
            lines.remove(0);
        } else {
            break;
        }
    }

    // A first line that is not a field: outlet name, headline, or body.
    if title.is_none() && source.is_none() && published_at.is_none() && lines.len() > 1 {
        let first = lines[0].trim();
        if looks_like_outlet(first) {
            source = Some(first.to_string());
            lines.remove(0);
        } else if looks_like_headline(first) {
            title = Some(first.to_string());
            lines.remove(0);
        }
    }

    let text = lines.join("\n").trim().to_string();
    if text.is_empty() {
        return Err(err(Some("text"), "empty text".into()));
    }
    let mut article = Article::new(title, text);
    article.id = stem.to_string();
    article.source = source;
    article.url = url;
    article.lang = lang;
    article.published_at = published_at;
    Ok(article)
}

/// `date 2020-10-02` or `date: 2020-10-02`.
fn strip_key<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(key)?;
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    rest.starts_with(char::is_whitespace).then_some(rest)
}

/// `title: …` (the colon is required for fields other than date).
fn strip_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(key)?.strip_prefix(':')?;
    Some(rest.trim()).filter(|v| !v.is_empty())
}

fn looks_like_outlet(line: &str) -> bool {
    let words = line.split_whitespace().count();
    (1..=3).contains(&words)
        && line.chars().count() <= 40
        && !line
            .chars()
            .any(|c| matches!(c, '.' | ',' | ':' | ';' | '!' | '?' | '"' | '“' | '«'))
        && line.chars().next().is_some_and(|c| !c.is_lowercase())
}

fn looks_like_headline(line: &str) -> bool {
    let n = line.chars().count();
    (4..=300).contains(&n) && !line.ends_with('.') && line.split_whitespace().count() >= 3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> RecordLocation {
        RecordLocation::whole("x.txt")
    }

    #[test]
    fn outlet_first_line() {
        let a = parse_plain(
            "Sputnik\nApós o encontro, Lavrov falou.\nMais texto.",
            "000",
            &at(),
        )
        .unwrap();
        assert_eq!(a.source.as_deref(), Some("Sputnik"));
        assert_eq!(a.title, None);
        assert!(a.text.starts_with("Após"));
        assert_eq!(a.id, "000");
    }

    #[test]
    fn headline_first_line() {
        let a = parse_plain(
            "Turki Janji Bela Azerbaijan: Kami Pasti Bantu\nSituasi memanas.\n",
            "001",
            &at(),
        )
        .unwrap();
        assert_eq!(
            a.title.as_deref(),
            Some("Turki Janji Bela Azerbaijan: Kami Pasti Bantu")
        );
        assert_eq!(a.text, "Situasi memanas.");
    }

    #[test]
    fn date_field_with_text_on_the_same_line() {
        let a = parse_plain(
            " date 2020-10-02 “We think outsiders ought to stay out,” he said.\n\nMore.",
            "004",
            &at(),
        )
        .unwrap();
        assert_eq!(
            a.published_at.unwrap().to_rfc3339(),
            "2020-10-02T00:00:00+00:00"
        );
        assert!(a.text.starts_with("“We think"));
        assert_eq!(a.title, None);
        assert_eq!(a.source, None);
    }

    #[test]
    fn header_fields_and_errors() {
        let a = parse_plain(
            "title: Big news\nsource: Daily\nlang: pt-br\nBody here.",
            "n",
            &at(),
        )
        .unwrap();
        assert_eq!(a.title.as_deref(), Some("Big news"));
        assert_eq!(a.source.as_deref(), Some("Daily"));
        assert_eq!(a.lang.as_deref(), Some("pt-BR"));
        let e = parse_plain("date 2020-99-99\nBody", "n", &at()).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("date"));
        let e = parse_plain("lang: klingon\nBody", "n", &at()).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("lang"));
        let e = parse_plain("  \n\n ", "n", &at()).unwrap_err();
        assert!(e.to_string().contains("empty text"));
    }

    #[test]
    fn single_line_is_body() {
        let a = parse_plain("Only one line of text here.", "n", &at()).unwrap();
        assert_eq!(a.text, "Only one line of text here.");
        assert_eq!(a.title, None);
    }
}
