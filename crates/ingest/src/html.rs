//! HTML article pages: the main text of a news page, without its menus,
//! sidebars, ads, footer and comments, plus the page's metadata.
//!
//! Main-text extraction is `dom_smoothie`, a close port of Mozilla's
//! Readability.js (the Firefox reader view) on the html5ever-based
//! `dom_query` DOM. It was picked over `readability` (last release years
//! ago, pulls in `reqwest` by default) and a hand-written `scraper` walker
//! (boilerplate scoring is exactly what Readability has years of fixes
//! for): it is actively maintained, pure Rust and builds from crates.io.
//! Metadata comes from the same DOM:
//!
//! | field          | from (first present wins)                                           |
//! |----------------|---------------------------------------------------------------------|
//! | `title`        | `og:title`, `<title>` (site suffix trimmed by Readability), `<h1>`  |
//! | `published_at` | `article:published_time` and kin, `<time datetime>`, JSON-LD        |
//! | `source`       | `og:site_name`, JSON-LD publisher                                   |
//! | `url`          | `<link rel=canonical>`, `og:url`                                    |
//! | `lang`         | `<html lang>`, `og:locale`, else detected from the text             |
//!
//! The id is derived from the canonical url when there is one, so the same
//! page saved twice is one article.

use dom_query::Document;
use dom_smoothie::{Config, Readability, TextMode};
use storyweave_core::{parse_date, Article};

use crate::normalise::normalise;
use crate::read::{Flow, Record};
use crate::{RecordError, RecordLocation, MAX_TEXT_BYTES};

/// Largest HTML page read. Real pages with inline scripts and styles run to
/// a few MB; the article text inside is still held to [`MAX_TEXT_BYTES`].
pub const MAX_PAGE_BYTES: usize = 16 << 20;

/// Fewer non-space characters than this in the extracted text means the
/// page holds no article (about one short sentence in alphabetic scripts).
const MIN_TEXT_CHARS: usize = 40;

/// Readability gives up on documents with more elements than this; it
/// bounds the time one pathological page can take.
const MAX_ELEMENTS: usize = 200_000;

/// Reads one HTML page as one article. A page with no readable article
/// text gives one [`RecordError`].
pub fn read_html(
    bytes: &[u8],
    name: &str,
    sink: &mut dyn FnMut(Result<Record, RecordError>) -> Flow,
) -> Flow {
    let at = RecordLocation::whole(name);
    sink(parse_html(bytes, &at).map(|article| Record {
        article,
        label: None,
        location: at.clone(),
    }))
}

/// Builds a normalised article from one HTML page.
pub fn parse_html(bytes: &[u8], at: &RecordLocation) -> Result<Article, RecordError> {
    let err = |field: Option<&str>, msg: String| RecordError::new(at.clone(), field, msg);
    if bytes.len() > MAX_PAGE_BYTES {
        return Err(err(
            None,
            format!(
                "page is {} bytes; the limit is {MAX_PAGE_BYTES} bytes",
                bytes.len()
            ),
        ));
    }
    // Pages in legacy encodings are rare in news today; lossy decoding keeps
    // the markup and most text rather than rejecting the page.
    let html = String::from_utf8_lossy(bytes);
    let html = html.strip_prefix('\u{feff}').unwrap_or(&html);
    let doc = Document::from(html);

    let meta = PageMeta::from_document(&doc);
    let cfg = Config {
        text_mode: TextMode::Formatted,
        max_elements_to_parse: MAX_ELEMENTS,
        ..Default::default()
    };
    // A relative or odd canonical url must not stop extraction: Readability
    // only uses the url to absolutise links, which we do not keep.
    let doc_url = meta
        .url
        .as_deref()
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"));
    let mut readability = Readability::with_document(doc, doc_url, Some(cfg.clone()))
        .or_else(|_| Readability::new(html, None, Some(cfg)))
        .map_err(|e| err(None, format!("cannot read the page: {e}")))?;
    let parsed = readability
        .parse()
        .map_err(|e| err(Some("text"), format!("no article text found: {e}")))?;

    let text = parsed.text_content.to_string();
    // With no article in the page Readability falls back to whatever text
    // is left (a menu, a cookie notice); that short a text is not news.
    let chars = text.chars().filter(|c| !c.is_whitespace()).count();
    if chars < MIN_TEXT_CHARS {
        return Err(err(
            Some("text"),
            format!("no article text found (only {chars} characters of text)"),
        ));
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(err(
            Some("text"),
            format!(
                "article text is {} bytes; the limit is {MAX_TEXT_BYTES} bytes",
                text.len()
            ),
        ));
    }
    let readability_title = Some(parsed.title.to_string()).filter(|t| !t.trim().is_empty());
    let title = meta.og_title.or(readability_title).or(meta.h1);
    let mut article = Article::new(title, text);
    article.url = meta.url;
    article.source = meta.site_name.or(parsed.site_name);
    article.published_at = meta
        .dates
        .iter()
        .map(String::as_str)
        .chain(parsed.published_time.as_deref())
        .find_map(|d| parse_date(d).ok());
    // An unknown `lang` attribute is not worth rejecting a page over: the
    // language is detected from the text instead.
    article.lang = meta
        .lang
        .iter()
        .chain(parsed.lang.iter())
        .find_map(|l| storyweave_lang::normalise_tag(l).ok());
    normalise(&mut article);
    if article.text.is_empty() {
        return Err(err(Some("text"), "no article text found".into()));
    }
    article.id = article.derived_id();
    Ok(article)
}

/// Metadata read straight from the page, before Readability changes the DOM.
struct PageMeta {
    og_title: Option<String>,
    h1: Option<String>,
    site_name: Option<String>,
    url: Option<String>,
    lang: Vec<String>,
    /// Candidate publication dates, best first.
    dates: Vec<String>,
}

impl PageMeta {
    fn from_document(doc: &Document) -> PageMeta {
        let meta = |keys: &[&str]| {
            keys.iter().find_map(|k| {
                attr(doc, &format!("meta[property=\"{k}\"]"), "content")
                    .or_else(|| attr(doc, &format!("meta[name=\"{k}\"]"), "content"))
                    .or_else(|| attr(doc, &format!("meta[itemprop=\"{k}\"]"), "content"))
            })
        };
        let mut dates: Vec<String> = [
            "article:published_time",
            "og:published_time",
            "datePublished",
            "pubdate",
            "publishdate",
            "publish-date",
            "date",
            "dc.date",
            "DC.date.issued",
        ]
        .iter()
        .filter_map(|k| meta(&[k]))
        .collect();
        // <time datetime> inside the article first, then anywhere.
        for sel in ["article time[datetime]", "time[datetime]"] {
            if let Some(d) = attr(doc, sel, "datetime") {
                dates.push(d);
            }
        }
        let mut lang: Vec<String> = attr(doc, "html", "lang").into_iter().collect();
        lang.extend(meta(&["og:locale"]));
        PageMeta {
            og_title: meta(&["og:title", "twitter:title"]),
            h1: doc
                .try_select("h1")
                .map(|s| s.first().text().trim().to_string())
                .filter(|t| !t.is_empty()),
            site_name: meta(&["og:site_name", "application-name"]),
            url: attr(doc, "link[rel=\"canonical\"]", "href").or_else(|| meta(&["og:url"])),
            lang,
            dates,
        }
    }
}

/// The trimmed, non-empty `name` attribute of the first element matching `sel`.
fn attr(doc: &Document, sel: &str, name: &str) -> Option<String> {
    doc.try_select(sel)?
        .iter()
        .filter_map(|s| s.attr(name))
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
}

/// Plain text of an HTML fragment (a feed entry's content): paragraphs and
/// line breaks kept as newlines, scripts and styles dropped, entities decoded.
pub fn html_to_text(fragment: &str) -> String {
    let doc = Document::from(fragment);
    if let Some(s) = doc.try_select("script, style, noscript, template") {
        s.remove();
    }
    doc.formatted_text().to_string()
}

/// True when the start of an input looks like an HTML page.
pub fn looks_like_html(head: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&head[..head.len().min(1024)]).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    head.starts_with("<!doctype html")
        || head.starts_with("<html")
        || (head.starts_with("<!--") && head.contains("<html"))
        || (head.starts_with('<') && (head.contains("<head") || head.contains("<body")))
}
