//! RSS and Atom feeds: one article per entry.
//!
//! Parsing is `feed-rs` (RSS 0.x, 1.0 and 2.0, Atom, JSON Feed). Per entry:
//!
//! | field          | from (first present wins)                              |
//! |----------------|--------------------------------------------------------|
//! | `id`           | `<guid>` / `<id>`, else derived from the link          |
//! | `url`          | the entry's `alternate` link, else its first link      |
//! | `title`        | `<title>`                                              |
//! | `text`         | `<content>` / `content:encoded`, else the summary / `<description>`, HTML stripped; the title alone for headline-only items |
//! | `published_at` | `<published>` / `<pubDate>`, else `<updated>`          |
//! | `source`       | the feed's title                                       |
//! | `lang`         | the entry's or feed's language, else detected          |
//!
//! A feed that cannot be parsed gives one [`RecordError`] for the file; an
//! entry with no text at all gives one naming the entry (1-based), and the
//! other entries still come through.

use feed_rs::model::{Entry, Feed, Text};
use feed_rs::parser::{self, ParseErrorKind, ParseFeedError};
use storyweave_core::Article;

use crate::html::html_to_text;
use crate::normalise::normalise;
use crate::read::{Flow, Record};
use crate::{RecordError, RecordLocation, MAX_TEXT_BYTES};

/// Largest feed read. Busy news feeds with full content run to a few MB.
pub const MAX_FEED_BYTES: usize = 16 << 20;

/// Reads every entry of one feed into `sink`.
pub fn read_feed(
    bytes: &[u8],
    name: &str,
    sink: &mut dyn FnMut(Result<Record, RecordError>) -> Flow,
) -> Flow {
    let at = RecordLocation::whole(name);
    let feed = match parse_feed(bytes, &at) {
        Ok(f) => f,
        Err(e) => return sink(Err(e)),
    };
    let source = feed.title.as_ref().map(text_of).filter(|t| !t.is_empty());
    for (i, entry) in feed.entries.iter().enumerate() {
        let result =
            entry_article(entry, &feed, source.as_deref(), i + 1, &at).map(|article| Record {
                article,
                label: None,
                location: at.clone(),
            });
        sink(result)?;
    }
    Flow::Continue(())
}

fn parse_feed(bytes: &[u8], at: &RecordLocation) -> Result<Feed, RecordError> {
    let err = |msg: String| RecordError::new(at.clone(), None, msg);
    if bytes.len() > MAX_FEED_BYTES {
        return Err(err(format!(
            "feed is {} bytes; the limit is {MAX_FEED_BYTES} bytes",
            bytes.len()
        )));
    }
    // No generated ids: an entry without one gets storyweave's own derived
    // id (url hash), the same id a JSON Lines copy of it would get.
    let parser = parser::Builder::new()
        .id_generator(|_, _, _| String::new())
        .build();
    parser.parse(bytes).map_err(|e| {
        err(match e {
            ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) => {
                "not an RSS or Atom feed: no <rss>, <feed> or <rdf:RDF> root element".into()
            }
            other => format!("malformed feed: {other}"),
        })
    })
}

fn entry_article(
    entry: &Entry,
    feed: &Feed,
    source: Option<&str>,
    index: usize,
    at: &RecordLocation,
) -> Result<Article, RecordError> {
    let title = entry.title.as_ref().map(text_of).filter(|t| !t.is_empty());
    let body = entry
        .content
        .as_ref()
        .and_then(|c| {
            let body = c.body.as_deref()?;
            Some(if c.content_type.essence().to_string() == "text/plain" {
                body.to_string()
            } else {
                html_to_text(body)
            })
        })
        .filter(|t| !t.trim().is_empty())
        .or_else(|| {
            entry
                .summary
                .as_ref()
                .map(text_of)
                .filter(|t| !t.is_empty())
        });
    let err = |msg: String| {
        let what = match entry.id.trim() {
            "" => format!("entry {index}"),
            id => format!("entry {index} ({id})"),
        };
        RecordError::new(at.clone(), Some("text"), format!("{what}: {msg}"))
    };
    let (title, text) = match (title, body) {
        (t, Some(b)) => (t, b),
        // Headline-only items (wire flashes): the headline is the text.
        (Some(t), None) => (None, t),
        (None, None) => return Err(err("no content, summary or title".into())),
    };
    if text.len() > MAX_TEXT_BYTES {
        return Err(err(format!(
            "body is {} bytes; the limit is {MAX_TEXT_BYTES} bytes",
            text.len()
        )));
    }
    let mut article = Article::new(title, text);
    article.url = entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or(entry.links.first())
        .map(|l| l.href.trim().to_string())
        .filter(|u| !u.is_empty());
    article.source = source.map(str::to_string);
    article.published_at = entry.published.or(entry.updated);
    article.lang = entry
        .language
        .as_deref()
        .or(feed.language.as_deref())
        .and_then(|l| storyweave_lang::normalise_tag(l).ok());
    normalise(&mut article);
    if article.text.is_empty() {
        return Err(err(
            "empty text (only markup, whitespace or control characters)".into(),
        ));
    }
    article.id = match entry.id.trim() {
        "" => article.derived_id(),
        id => id.to_string(),
    };
    Ok(article)
}

/// A feed text construct as plain text: HTML stripped unless it is plain.
fn text_of(t: &Text) -> String {
    if t.content_type.essence().to_string() == "text/plain" {
        t.content.trim().to_string()
    } else {
        html_to_text(&t.content).trim().to_string()
    }
}

/// True when the start of an input is an XML document whose root element is
/// a feed (`<rss>`, `<feed>`, `<rdf:RDF>`), after any XML declaration,
/// comments, processing instructions and doctype.
pub fn looks_like_feed(head: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&head[..head.len().min(8192)]);
    let mut s = head.trim_start_matches('\u{feff}').trim_start();
    loop {
        let skip_to = if s.starts_with("<?") {
            "?>"
        } else if s.starts_with("<!--") {
            "-->"
        } else if s.starts_with("<!") {
            ">"
        } else {
            break;
        };
        match s.find(skip_to) {
            Some(i) => s = s[i + skip_to.len()..].trim_start(),
            None => return false,
        }
    }
    let Some(rest) = s.strip_prefix('<') else {
        return false;
    };
    let root: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
        .collect();
    let local = root.rsplit(':').next().unwrap_or("");
    matches!(local, "rss" | "feed" | "RDF")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_feed_roots() {
        assert!(looks_like_feed(
            b"<?xml version=\"1.0\"?>\n<rss version=\"2.0\">"
        ));
        assert!(looks_like_feed(
            b"\xef\xbb\xbf<?xml version=\"1.0\"?><!-- hi --><?xml-stylesheet href=\"a\"?><feed xmlns=\"http://www.w3.org/2005/Atom\">"
        ));
        assert!(looks_like_feed(b"<rdf:RDF xmlns:rdf=\"x\">"));
        assert!(!looks_like_feed(b"<?xml version=\"1.0\"?><urlset>"));
        assert!(!looks_like_feed(b"<!DOCTYPE html><html>"));
        assert!(!looks_like_feed(b"rss is great"));
        assert!(!looks_like_feed(b"<?xml version=\"1.0\""));
    }
}
