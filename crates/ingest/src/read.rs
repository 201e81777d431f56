//! Reading sources: a file, a directory (recursively), standard input or a URL.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use storyweave_core::Article;

use crate::fetch::{read_url, FetchOptions};
use crate::lines::{CappedLines, Line};
use crate::normalise::normalise;
use crate::plain::parse_plain;
use crate::{feed, html, jsonl, RecordError, RecordLocation, MAX_LINE_BYTES, MAX_TEXT_BYTES};

/// Where articles come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file or a directory, read recursively in name order.
    Path(PathBuf),
    /// Standard input: JSON Lines when it starts with `{`, else one plain-text article.
    Stdin,
    /// An `http://` or `https://` URL: a feed, an article page or JSON Lines.
    Url(String),
}

impl Source {
    /// `-` means standard input; `http://…` and `https://…` are URLs.
    pub fn parse(arg: &str) -> Source {
        if arg == "-" {
            Source::Stdin
        } else if crate::fetch::is_url(arg) {
            Source::Url(arg.to_string())
        } else {
            Source::Path(PathBuf::from(arg))
        }
    }
}

/// One good record: a normalised, language-tagged article.
#[derive(Debug, Clone)]
pub struct Record {
    pub article: Article,
    /// Gold story label, when the input carries one (`story` field).
    pub label: Option<String>,
    pub location: RecordLocation,
}

/// What a sink says after each record: go on or stop.
pub type Flow = ControlFlow<()>;

/// Reads every record of `source`, in order, into `sink`. A bad record is
/// passed as `Err` and reading goes on unless the sink breaks. An I/O error
/// on a path that cannot be opened at all is passed as a record error too,
/// so one unreadable file does not hide the others.
pub fn read(source: &Source, sink: &mut dyn FnMut(Result<Record, RecordError>) -> Flow) -> Flow {
    match source {
        Source::Stdin => {
            let stdin = io::stdin();
            let reader = stdin.lock();
            read_stream(reader, "<stdin>", None, sink)
        }
        Source::Url(u) => read_url(u, &FetchOptions::default(), sink),
        Source::Path(p) if p.is_dir() => read_dir(p, sink),
        Source::Path(p) => read_file(p, sink),
    }
}

/// Reads an in-memory input as if it were a file named `name` (the
/// extension picks the format). Used by the HTTP API and the fuzzers.
pub fn read_bytes(
    bytes: &[u8],
    name: &str,
    sink: &mut dyn FnMut(Result<Record, RecordError>) -> Flow,
) -> Flow {
    let path = Path::new(name);
    read_stream(bytes, name, Some(path), sink)
}

fn read_dir(dir: &Path, sink: &mut dyn FnMut(Result<Record, RecordError>) -> Flow) -> Flow {
    let walk = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walk {
        match entry {
            Ok(e) if e.file_type().is_file() && is_article_file(e.path()) => {
                read_file(e.path(), sink)?
            }
            Ok(_) => {}
            Err(e) => {
                let at = RecordLocation::whole(dir.display().to_string());
                sink(Err(RecordError::new(
                    at,
                    None,
                    format!("cannot walk directory: {e}"),
                )))?;
            }
        }
    }
    ControlFlow::Continue(())
}

/// In a directory, only these are articles; READMEs, CSVs and the like are
/// skipped. An `.xml` file counts only when its root element is a feed.
pub fn is_article_file(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let ext = p
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "jsonl" | "ndjson" => true,
        // Dataset folders carry provenance notes as SOURCE.txt / README.txt.
        "txt" => !matches!(name.as_str(), "source.txt" | "readme.txt" | "license.txt"),
        "rss" | "atom" | "html" | "htm" => true,
        // Sitemaps and other XML are not feeds; peek at the root element.
        "xml" => {
            let mut head = Vec::with_capacity(8192);
            File::open(p)
                .and_then(|f| f.take(8192).read_to_end(&mut head))
                .is_ok_and(|_| feed::looks_like_feed(&head))
        }
        _ => false,
    }
}

fn read_file(path: &Path, sink: &mut dyn FnMut(Result<Record, RecordError>) -> Flow) -> Flow {
    let name = path.display().to_string();
    match File::open(path) {
        Ok(f) => read_stream(
            BufReader::with_capacity(1 << 16, f),
            &name,
            Some(path),
            sink,
        ),
        Err(e) => sink(Err(RecordError::new(
            RecordLocation::whole(name),
            None,
            format!("cannot open: {e}"),
        ))),
    }
}

fn read_stream<R: BufRead>(
    mut reader: R,
    name: &str,
    path: Option<&Path>,
    sink: &mut dyn FnMut(Result<Record, RecordError>) -> Flow,
) -> Flow {
    let ext = path
        .and_then(|p| p.extension())
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let is_jsonl = match ext.as_str() {
        "jsonl" | "ndjson" | "json" => true,
        "xml" | "rss" | "atom" => {
            return read_whole(reader, name, feed::MAX_FEED_BYTES, sink, feed::read_feed)
        }
        "html" | "htm" | "xhtml" => {
            return read_whole(reader, name, html::MAX_PAGE_BYTES, sink, html::read_html)
        }
        "" => match reader.fill_buf() {
            // Sniff standard input: JSON Lines, markup (feed or page), else plain text.
            Ok(buf) => match buf
                .iter()
                .find(|b| !b.is_ascii_whitespace() && !matches!(b, 0xef | 0xbb | 0xbf))
            {
                Some(b'{') => true,
                Some(b'<') => {
                    return read_whole(reader, name, html::MAX_PAGE_BYTES, sink, |b, n, s| {
                        read_sniffed(b, n, None, s)
                    })
                }
                _ => false,
            },
            Err(_) => false,
        },
        _ => false,
    };
    if is_jsonl {
        read_jsonl(reader, name, sink)
    } else {
        let stem = path
            .and_then(|p| p.file_stem())
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        read_plain(reader, name, &stem, sink)
    }
}

/// Reads a whole input (at most `limit` bytes) and hands it to a reader of
/// whole documents (feeds, pages).
fn read_whole<R: Read>(
    reader: R,
    name: &str,
    limit: usize,
    sink: &mut dyn FnMut(Result<Record, RecordError>) -> Flow,
    parse: impl FnOnce(&[u8], &str, &mut dyn FnMut(Result<Record, RecordError>) -> Flow) -> Flow,
) -> Flow {
    let at = RecordLocation::whole(name);
    let mut bytes = Vec::new();
    if let Err(e) = reader.take(limit as u64 + 1).read_to_end(&mut bytes) {
        return sink(Err(RecordError::new(at, None, format!("read error: {e}"))));
    }
    if bytes.len() > limit {
        return sink(Err(RecordError::new(
            at,
            None,
            format!("file is over the {limit}-byte limit"),
        )));
    }
    parse(&bytes, name, sink)
}

/// Reads an input whose format is known only from its content (and, for a
/// URL, the server's content type): a feed, an HTML page, JSON Lines, or
/// one plain-text article.
pub(crate) fn read_sniffed(
    bytes: &[u8],
    name: &str,
    content_type: Option<&str>,
    sink: &mut dyn FnMut(Result<Record, RecordError>) -> Flow,
) -> Flow {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    if feed::looks_like_feed(bytes) || ct.contains("rss") || ct.contains("atom") {
        feed::read_feed(bytes, name, sink)
    } else if html::looks_like_html(bytes) || ct.contains("html") {
        html::read_html(bytes, name, sink)
    } else if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        read_jsonl(bytes, name, sink)
    } else {
        read_plain(bytes, name, "", sink)
    }
}

fn read_jsonl<R: BufRead>(
    reader: R,
    name: &str,
    sink: &mut dyn FnMut(Result<Record, RecordError>) -> Flow,
) -> Flow {
    let mut lines = CappedLines::new(reader, MAX_LINE_BYTES);
    let mut line_no = 0usize;
    loop {
        line_no += 1;
        let at = RecordLocation::at_line(name, line_no);
        let line = match lines.next_line() {
            Ok(Some(l)) => l,
            Ok(None) => return ControlFlow::Continue(()),
            Err(e) => return sink(Err(RecordError::new(at, None, format!("read error: {e}")))),
        };
        let bytes = match line {
            Line::TooLong(n) => {
                sink(Err(RecordError::new(
                    at,
                    None,
                    format!("line is {n} bytes; the limit is {MAX_LINE_BYTES} bytes"),
                )))?;
                continue;
            }
            Line::Bytes(b) => b,
        };
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let result = parse_json_line(&bytes, &at);
        sink(result)?;
    }
}

fn parse_json_line(bytes: &[u8], at: &RecordLocation) -> Result<Record, RecordError> {
    if bytes.contains(&0) {
        return Err(RecordError::new(
            at.clone(),
            None,
            "binary data (NUL byte) in a JSON Lines file",
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        RecordError::new(
            at.clone(),
            None,
            format!("invalid UTF-8 at byte {} of the line", e.valid_up_to()),
        )
    })?;
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        let what = if e.is_eof() {
            "truncated JSON"
        } else {
            "invalid JSON"
        };
        RecordError::new(at.clone(), None, format!("{what}: {e}"))
    })?;
    let parsed = jsonl::clean_article_value(&value, at)?;
    let article = parsed.article;
    Ok(Record {
        article,
        label: parsed.label,
        location: at.clone(),
    })
}

fn read_plain<R: Read>(
    reader: R,
    name: &str,
    stem: &str,
    sink: &mut dyn FnMut(Result<Record, RecordError>) -> Flow,
) -> Flow {
    let at = RecordLocation::whole(name);
    let mut bytes = Vec::new();
    // Read one byte past the limit to know the file is too big without reading it all.
    if let Err(e) = reader
        .take(MAX_TEXT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
    {
        return sink(Err(RecordError::new(at, None, format!("read error: {e}"))));
    }
    if bytes.len() > MAX_TEXT_BYTES {
        return sink(Err(RecordError::new(
            at,
            Some("text"),
            format!("file is over the {MAX_TEXT_BYTES}-byte limit for one article"),
        )));
    }
    if looks_binary(&bytes) {
        return sink(Err(RecordError::new(at, None, "binary file, not text")));
    }
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) => {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            let at = RecordLocation::at_line(name, line);
            return sink(Err(RecordError::new(
                at,
                None,
                format!("invalid UTF-8 at byte {}", e.valid_up_to()),
            )));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let result = parse_plain(text, stem, &at).and_then(|mut article| {
        normalise(&mut article);
        check_not_empty_after_cleaning(&article, &at)?;
        if article.id.is_empty() {
            // No file name to take the id from (standard input, a URL).
            article.id = article.derived_id();
        }
        Ok(Record {
            article,
            label: None,
            location: at.clone(),
        })
    });
    sink(result)
}

fn looks_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(8192).any(|&b| b == 0)
}

fn check_not_empty_after_cleaning(a: &Article, at: &RecordLocation) -> Result<(), RecordError> {
    if a.text.is_empty() {
        Err(RecordError::new(
            at.clone(),
            Some("text"),
            jsonl::EMPTY_AFTER_CLEANING,
        ))
    } else {
        Ok(())
    }
}
