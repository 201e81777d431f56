//! JSON Lines articles: one JSON object a line.
//!
//! Field names and their aliases (first present wins):
//!
//! | field          | aliases                                               |
//! |----------------|-------------------------------------------------------|
//! | `id`           | (string or integer)                                   |
//! | `url`          | `link`                                                |
//! | `source`       | `outlet`, `site`, `publisher`                         |
//! | `title`        | `headline`                                            |
//! | `text`         | `body`, `content`                                     |
//! | `lang`         | `language`                                            |
//! | `published_at` | `date`, `publish_date`, `published`, `pubDate`        |
//! | `story`        | (gold story label, used by `storyweave eval`)         |
//!
//! Unknown fields are ignored. `title`, `source`, `url`, `lang` and
//! `published_at` may be null or empty.

use serde_json::{Map, Value};
use storyweave_core::{parse_date, Article};

use crate::normalise::normalise;
use crate::{RecordError, RecordLocation, MAX_TEXT_BYTES};

const TEXT: &[&str] = &["text", "body", "content"];
const DATE: &[&str] = &[
    "published_at",
    "date",
    "publish_date",
    "published",
    "pubDate",
];

/// An article read from JSON, with its gold label when the input has one.
pub struct ParsedArticle {
    pub article: Article,
    pub label: Option<String>,
    /// True when the input had no id and it was derived from url or content.
    pub id_derived: bool,
}

/// Why a record whose text was only whitespace or control characters is refused.
pub const EMPTY_AFTER_CLEANING: &str = "empty text (only whitespace or control characters)";

/// The one path every JSON article takes (files, the HTTP API, evaluation
/// data): parse and check the fields, clean the text and tag the language,
/// refuse text that cleaning emptied, and derive a missing id from the
/// cleaned text so that the same article gets the same id however spaced.
pub fn clean_article_value(
    value: &Value,
    at: &RecordLocation,
) -> Result<ParsedArticle, RecordError> {
    let mut parsed = parse_article_value(value, at)?;
    normalise(&mut parsed.article);
    if parsed.article.text.is_empty() {
        return Err(RecordError::new(
            at.clone(),
            Some("text"),
            EMPTY_AFTER_CLEANING,
        ));
    }
    if parsed.id_derived {
        parsed.article.id = parsed.article.derived_id();
    }
    Ok(parsed)
}

/// Builds an article from one JSON object, checking every field.
pub fn parse_article_value(
    value: &Value,
    at: &RecordLocation,
) -> Result<ParsedArticle, RecordError> {
    let err = |field: &str, msg: String| RecordError::new(at.clone(), Some(field), msg);
    let obj = value.as_object().ok_or_else(|| {
        RecordError::new(
            at.clone(),
            None,
            format!("expected a JSON object, found {}", kind(value)),
        )
    })?;

    let text_field = TEXT
        .iter()
        .find(|k| obj.get(**k).is_some_and(|v| !v.is_null()));
    let text_key = text_field.copied().unwrap_or("text");
    let mut text = match text_field {
        Some(k) => string_field(obj, k, at)?.unwrap_or_default(),
        None => String::new(),
    };
    let mut title = first_string(obj, &["title", "headline"], at)?;
    // Headline-only items (wire flashes, headline datasets): the headline is the text.
    if text.trim().is_empty() {
        match title.take() {
            Some(t) => text = t,
            None if text_field.is_none() => {
                return Err(err(
                    "text",
                    "missing: expected one of `text`, `body`, `content` (or at least a `title`)"
                        .into(),
                ))
            }
            None => return Err(err(text_key, "empty text".into())),
        }
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(err(
            text_key,
            format!(
                "body is {} bytes; the limit is {} bytes",
                text.len(),
                MAX_TEXT_BYTES
            ),
        ));
    }

    let mut article = Article::new(title, text);
    article.url = first_string(obj, &["url", "link"], at)?;
    article.source = first_string(obj, &["source", "outlet", "site", "publisher"], at)?;

    if let Some(lang) = first_string(obj, &["lang", "language"], at)? {
        let tag = storyweave_lang::normalise_tag(&lang).map_err(|e| err("lang", e.to_string()))?;
        article.lang = Some(tag);
    }
    for key in DATE {
        if let Some(d) = string_field(obj, key, at)?.filter(|s| !s.trim().is_empty()) {
            article.published_at = Some(parse_date(&d).map_err(|e| err(key, e.to_string()))?);
            break;
        }
    }
    let id_derived = matches!(obj.get("id"), None | Some(Value::Null));
    article.id = match obj.get("id") {
        None | Some(Value::Null) => article.derived_id(),
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            return Err(err(
                "id",
                format!(
                    "expected a non-empty string or integer, found {}",
                    kind(other)
                ),
            ))
        }
    };
    let label = match obj.get("story") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(other) => {
            return Err(err(
                "story",
                format!("expected a string or integer, found {}", kind(other)),
            ))
        }
    };
    Ok(ParsedArticle {
        article,
        label,
        id_derived,
    })
}

fn first_string(
    obj: &Map<String, Value>,
    keys: &[&str],
    at: &RecordLocation,
) -> Result<Option<String>, RecordError> {
    for k in keys {
        if let Some(s) = string_field(obj, k, at)? {
            if !s.trim().is_empty() {
                return Ok(Some(s.trim().to_string()));
            }
        }
    }
    Ok(None)
}

fn string_field(
    obj: &Map<String, Value>,
    key: &str,
    at: &RecordLocation,
) -> Result<Option<String>, RecordError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) if key != "text" => Ok(Some(n.to_string())),
        Some(other) => Err(RecordError::new(
            at.clone(),
            Some(key),
            format!("expected a string, found {}", kind(other)),
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
