//! Gold sets in the canonical JSON Lines formats (see the shared data
//! README): `stories.jsonl` (one article a line with its gold `story`) and
//! `pairs.jsonl` (one scored article pair a line).
//!
//! Records without any text (neither body nor title) cannot be scored; they
//! are left out and listed in the set's `skipped`, so the counts stay honest.
//! Every other problem (bad JSON, wrong field types, bad dates, a missing
//! `story` or `overall`) is an error naming the file and line.

use std::fs;
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use storyweave_core::Article;
use storyweave_ingest::{
    clean_article_value, RecordError, RecordLocation, EMPTY_AFTER_CLEANING, MAX_LINE_BYTES,
};

use crate::EvalError;

/// Which of the two canonical formats a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Stories,
    Pairs,
}

/// A data set file found by [`discover`], not yet read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSetFile {
    /// Folder-derived name, e.g. `cstnews_pt` or `semeval2022_task8/hfl_sample`.
    pub name: String,
    pub path: PathBuf,
    pub kind: Kind,
    /// Machine-translated pairs (`pairs.augmented.jsonl`): score them apart.
    pub augmented: bool,
}

/// One scored article pair.
#[derive(Debug, Clone)]
pub struct Pair {
    pub id: String,
    /// SemEval 2022 task 8 `Overall`: 1 same story .. 4 unrelated.
    pub overall: f64,
    pub a: Article,
    pub b: Article,
}

impl Pair {
    /// The binary task of the README: `Overall <= 1.5` is the same story,
    /// `>= 3.5` a different one, anything between is left out (`None`).
    pub fn same_story(&self) -> Option<bool> {
        if self.overall <= 1.5 {
            Some(true)
        } else if self.overall >= 3.5 {
            Some(false)
        } else {
            None
        }
    }
}

/// A loaded gold set.
#[derive(Debug, Clone)]
pub enum DataSet {
    Stories {
        name: String,
        path: PathBuf,
        /// Articles in file order with their gold story labels.
        records: Vec<(Article, String)>,
        /// Records left out for having no text at all.
        skipped: Vec<RecordError>,
    },
    Pairs {
        name: String,
        path: PathBuf,
        pairs: Vec<Pair>,
        augmented: bool,
        /// Pairs left out because a side has no text at all.
        skipped: Vec<RecordError>,
    },
}

impl DataSet {
    pub fn name(&self) -> &str {
        match self {
            DataSet::Stories { name, .. } | DataSet::Pairs { name, .. } => name,
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            DataSet::Stories { path, .. } | DataSet::Pairs { path, .. } => path,
        }
    }

    /// Articles for a stories set, pairs for a pairs set.
    pub fn len(&self) -> usize {
        match self {
            DataSet::Stories { records, .. } => records.len(),
            DataSet::Pairs { pairs, .. } => pairs.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn skipped(&self) -> &[RecordError] {
        match self {
            DataSet::Stories { skipped, .. } | DataSet::Pairs { skipped, .. } => skipped,
        }
    }
}

/// Half of a gold set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    Dev,
    Test,
}

/// The split a key belongs to: the low bit of the first byte of
/// SHA-256("storyweave-split-v1\0" + key). Fixed by the key alone, on every
/// platform and Rust version. Key by gold story label for a stories set (a
/// whole story lands on one side) and by `pair_id` for a pairs set.
pub fn split_of(key: &str) -> Split {
    let mut h = Sha256::new();
    h.update(b"storyweave-split-v1\0");
    h.update(key.as_bytes());
    if h.finalize()[0] & 1 == 0 {
        Split::Dev
    } else {
        Split::Test
    }
}

/// The order to feed a stories set to the engine, as indices into `records`:
/// publication order where dates exist, else file order.
///
/// An undated article keeps its place behind the dated article before it in
/// the file: it takes that article's date as its sort key (articles before
/// the first dated one take the first date). The sort is stable, so equal
/// keys keep file order. Hence: all dated → plain stable sort by date; none
/// dated → file order.
pub fn stream_order(records: &[(Article, String)]) -> Vec<usize> {
    let first = records.iter().find_map(|(a, _)| a.published_at);
    let mut last = first;
    let keys: Vec<_> = records
        .iter()
        .map(|(a, _)| {
            if a.published_at.is_some() {
                last = a.published_at;
            }
            last
        })
        .collect();
    let mut order: Vec<usize> = (0..records.len()).collect();
    order.sort_by_key(|&i| keys[i]);
    order
}

/// Finds the data set files under `paths` (files or folders, folders walked
/// recursively in name order, hidden entries skipped). Taken: files named
/// `stories.jsonl`, `pairs.jsonl` and `pairs.augmented.jsonl`, and any other
/// `.jsonl` file whose first line has the shape of a format (a `story` field:
/// stories; `a` and `b` objects: pairs). A file named directly is judged
/// the same way. Files found twice (a folder and a file in it) count once.
///
/// Names come from the file's folder: the part of its path after the last
/// `eval` (else `data`) folder, else the folder's own name, e.g.
/// `eval/semeval2022_task8/hfl_sample/pairs.jsonl` is
/// `semeval2022_task8/hfl_sample`. A file found by its shape adds its stem
/// (`…/hfl_sample/extra`), an augmented file adds `/augmented`.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<DataSetFile>, EvalError> {
    let mut found = Vec::new();
    for root in paths {
        let meta = fs::metadata(root).map_err(|source| EvalError::Io {
            path: root.clone(),
            source,
        })?;
        if !meta.is_dir() {
            if let Some(f) = classify(root)? {
                found.push(f);
            }
            continue;
        }
        let walk = walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
        for entry in walk {
            let entry = entry.map_err(|e| EvalError::Io {
                path: e.path().unwrap_or(root).to_path_buf(),
                source: e.into(),
            })?;
            if entry.file_type().is_file() {
                if let Some(f) = classify(entry.path())? {
                    found.push(f);
                }
            }
        }
    }
    // The same file named twice (a folder and a file in it) counts once.
    let mut seen = std::collections::HashSet::new();
    found.retain(|f| seen.insert(fs::canonicalize(&f.path).unwrap_or_else(|_| f.path.clone())));
    Ok(found)
}

fn classify(path: &Path) -> Result<Option<DataSetFile>, EvalError> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let (kind, augmented, canonical) = match file_name.as_str() {
        "stories.jsonl" => (Kind::Stories, false, true),
        "pairs.jsonl" => (Kind::Pairs, false, true),
        "pairs.augmented.jsonl" => (Kind::Pairs, true, true),
        n if n.to_ascii_lowercase().ends_with(".jsonl") => match sniff(path)? {
            Some(kind) => (kind, false, false),
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    let mut name = set_name(path);
    if !canonical {
        let stem = path.file_stem().map(|s| s.to_string_lossy().to_string());
        name = join_name(&name, stem.as_deref().unwrap_or("file"));
    } else if augmented {
        name = join_name(&name, "augmented");
    }
    Ok(Some(DataSetFile {
        name,
        path: path.to_path_buf(),
        kind,
        augmented,
    }))
}

fn join_name(base: &str, last: &str) -> String {
    if base.is_empty() {
        last.to_string()
    } else {
        format!("{base}/{last}")
    }
}

fn set_name(file: &Path) -> String {
    let folder = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let folder = fs::canonicalize(folder).unwrap_or_else(|_| folder.to_path_buf());
    let parts: Vec<String> = folder
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().to_string()),
            _ => None,
        })
        .collect();
    let after = |marker: &str| {
        parts
            .iter()
            .rposition(|p| p == marker)
            .map(|i| &parts[i + 1..])
    };
    match after("eval").or_else(|| after("data")) {
        Some(rest) if !rest.is_empty() => rest.join("/"),
        _ => parts.last().cloned().unwrap_or_default(),
    }
}

/// Reads the first non-blank line of a `.jsonl` file to guess its format.
/// Files that are not JSON objects there are simply not data sets.
fn sniff(path: &Path) -> Result<Option<Kind>, EvalError> {
    use std::io::{BufRead, BufReader, Read};
    let f = fs::File::open(path).map_err(|source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = BufReader::new(f).take(MAX_LINE_BYTES as u64);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| EvalError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        if n == 0 {
            return Ok(None);
        }
        if !line.iter().all(u8::is_ascii_whitespace) {
            break;
        }
    }
    let line = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&line);
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(line) else {
        return Ok(None);
    };
    Ok(shape(&obj))
}

fn shape(obj: &Map<String, Value>) -> Option<Kind> {
    if obj.contains_key("story") {
        Some(Kind::Stories)
    } else if obj.get("a").is_some_and(Value::is_object)
        && obj.get("b").is_some_and(Value::is_object)
    {
        Some(Kind::Pairs)
    } else {
        None
    }
}

/// Reads a discovered file. Errors name the file and line.
pub fn load(file: &DataSetFile) -> Result<DataSet, EvalError> {
    let bytes = fs::read(&file.path).map_err(|source| EvalError::Io {
        path: file.path.clone(),
        source,
    })?;
    let name = file.path.display().to_string();
    match file.kind {
        Kind::Stories => {
            let mut records = Vec::new();
            let mut skipped = Vec::new();
            for_each_object(&bytes, &name, |obj, at| {
                match story_record(obj, &at)? {
                    Ok(r) => records.push(r),
                    Err(why) => skipped.push(why),
                }
                Ok(())
            })?;
            Ok(DataSet::Stories {
                name: file.name.clone(),
                path: file.path.clone(),
                records,
                skipped,
            })
        }
        Kind::Pairs => {
            let mut pairs = Vec::new();
            let mut skipped = Vec::new();
            for_each_object(&bytes, &name, |obj, at| {
                match pair_record(obj, &at)? {
                    Ok(p) => pairs.push(p),
                    Err(why) => skipped.push(why),
                }
                Ok(())
            })?;
            Ok(DataSet::Pairs {
                name: file.name.clone(),
                path: file.path.clone(),
                pairs,
                augmented: file.augmented,
                skipped,
            })
        }
    }
}

/// Calls `f` with each line's JSON object and its location; blank lines are
/// skipped, anything that is not a JSON object is an error.
fn for_each_object(
    bytes: &[u8],
    file: &str,
    mut f: impl FnMut(Map<String, Value>, RecordLocation) -> Result<(), RecordError>,
) -> Result<(), EvalError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let at = RecordLocation::at_line(file, i + 1);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if line.len() > MAX_LINE_BYTES {
            return Err(RecordError::new(
                at,
                None,
                format!(
                    "line is {} bytes; the limit is {MAX_LINE_BYTES}",
                    line.len()
                ),
            )
            .into());
        }
        let value: Value = serde_json::from_slice(line).map_err(|e| {
            let what = if e.is_eof() {
                "truncated JSON"
            } else {
                "invalid JSON"
            };
            RecordError::new(at.clone(), None, format!("{what}: {e}"))
        })?;
        let Value::Object(obj) = value else {
            return Err(RecordError::new(at, None, "expected a JSON object").into());
        };
        f(obj, at)?;
    }
    Ok(())
}

/// Outer `Err`: a bad record (stops the load). Inner `Err`: no text, skipped.
type Parsed<T> = Result<Result<T, RecordError>, RecordError>;

fn story_record(obj: Map<String, Value>, at: &RecordLocation) -> Parsed<(Article, String)> {
    let label = match obj.get("story") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(RecordError::new(
                at.clone(),
                Some("story"),
                "missing or empty gold story label",
            ))
        }
    };
    Ok(article(obj, at, "")?.map(|a| (a, label)))
}

fn pair_record(mut obj: Map<String, Value>, at: &RecordLocation) -> Parsed<Pair> {
    let id = match obj.get("pair_id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(RecordError::new(
                at.clone(),
                Some("pair_id"),
                "missing or empty pair id",
            ))
        }
    };
    let overall = match obj.get("overall").and_then(Value::as_f64) {
        Some(v) if v.is_finite() => v,
        _ => {
            return Err(RecordError::new(
                at.clone(),
                Some("overall"),
                "missing or not a number",
            ))
        }
    };
    let mut side = |key: &str| match obj.remove(key) {
        Some(Value::Object(o)) => article(o, at, key),
        _ => Err(RecordError::new(
            at.clone(),
            Some(key),
            "missing or not a JSON object",
        )),
    };
    let a = side("a")?;
    let b = side("b")?;
    Ok(match (a, b) {
        (Ok(a), Ok(b)) => Ok(Pair { id, overall, a, b }),
        (Err(e), _) | (_, Err(e)) => Err(e),
    })
}

/// One article through the ingestion crate's parser and normaliser.
/// `prefix` names the pair side in error fields (`a.lang`).
fn article(obj: Map<String, Value>, at: &RecordLocation, prefix: &str) -> Parsed<Article> {
    let field = |f: &str| {
        if prefix.is_empty() {
            f.to_string()
        } else {
            format!("{prefix}.{f}")
        }
    };
    let blank = |v: Option<&Value>| match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        _ => false,
    };
    // Records with neither text nor title cannot be scored: skipped, not errors.
    // (A headline-only record is read with its title as text by the parser.)
    if ["text", "body", "content", "title", "headline"]
        .iter()
        .all(|k| blank(obj.get(*k)))
    {
        return Ok(Err(RecordError::new(
            at.clone(),
            Some(&field("text")),
            "no text and no title",
        )));
    }
    let parsed = match clean_article_value(&Value::Object(obj), at) {
        Ok(p) => p,
        Err(e) if e.message == EMPTY_AFTER_CLEANING => {
            return Ok(Err(RecordError::new(
                at.clone(),
                Some(&field("text")),
                "empty after cleaning",
            )))
        }
        Err(mut e) => {
            e.field = e.field.map(|f| field(&f));
            return Err(e);
        }
    };
    let a = parsed.article;
    Ok(Ok(a))
}
