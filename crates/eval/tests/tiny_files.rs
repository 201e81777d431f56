//! Discovery and loading on small hand-written files.

use std::fs;
use std::path::{Path, PathBuf};

use storyweave_eval::{discover, load, split_of, stream_order, DataSet, EvalError, Kind, Split};

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

const STORIES: &str = r#"{"id": "s1", "lang": "en", "title": "Quake hits", "text": "A quake hit the city.", "published_at": "2024-01-02T10:00:00Z", "source": "X", "story": "quake"}
{"id": "s2", "lang": "en", "title": "", "text": "Rain   all week.", "published_at": null, "source": "", "story": 7}

{"id": "s3", "lang": "en", "title": "headline only", "text": "", "published_at": "2024-01-01", "source": null, "story": "quake"}
"#;

const PAIRS: &str = r#"{"pair_id": "p1", "overall": 1.0, "a": {"id": "1", "lang": "de", "title": "", "text": "Ein Beben.", "published_at": null}, "b": {"id": "2", "lang": "en", "title": "Quake", "text": "A quake.", "published_at": null}}
{"pair_id": "p2", "overall": 3.6666666666666665, "a": {"id": "3", "lang": "fr", "title": "", "text": "", "published_at": null}, "b": {"id": "4", "lang": "fr", "title": "T", "text": "Texte.", "published_at": null}}
"#;

fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("eval/mini/stories.jsonl"), STORIES);
    write(&root.join("eval/duo/pairs.jsonl"), PAIRS);
    write(&root.join("eval/duo/pairs.augmented.jsonl"), PAIRS);
    // Found by shape, not name.
    write(&root.join("eval/duo/extra.jsonl"), PAIRS);
    // Not data sets: other shapes, other extensions, hidden folders.
    write(
        &root.join("eval/mini/articles.jsonl"),
        r#"{"id": "x", "cluster_id": "c", "text": "t"}"#,
    );
    write(&root.join("eval/mini/notes.jsonl"), "not json\n");
    write(&root.join("eval/mini/SOURCE.txt"), "where it came from");
    write(&root.join("eval/.hidden/stories.jsonl"), STORIES);
    dir
}

#[test]
fn discovers_by_name_and_shape() {
    let dir = tree();
    let files = discover(&[dir.path().to_path_buf()]).unwrap();
    let got: Vec<(&str, Kind, bool, &str)> = files
        .iter()
        .map(|f| {
            let file = f.path.file_name().unwrap().to_str().unwrap();
            (f.name.as_str(), f.kind, f.augmented, file)
        })
        .collect();
    // Name order within each folder.
    assert_eq!(
        got,
        vec![
            ("duo/extra", Kind::Pairs, false, "extra.jsonl"),
            ("duo/augmented", Kind::Pairs, true, "pairs.augmented.jsonl"),
            ("duo", Kind::Pairs, false, "pairs.jsonl"),
            ("mini", Kind::Stories, false, "stories.jsonl"),
        ]
    );
    // A folder and a file in it name the same file once.
    let again = discover(&[
        dir.path().join("eval/mini"),
        dir.path().join("eval/mini/stories.jsonl"),
    ])
    .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].name, "mini");
    // A file of another shape named directly is not a data set.
    assert!(discover(&[dir.path().join("eval/mini/articles.jsonl")])
        .unwrap()
        .is_empty());
    assert!(matches!(
        discover(&[dir.path().join("nope")]),
        Err(EvalError::Io { .. })
    ));
}

#[test]
fn loads_stories_with_labels_and_order() {
    let dir = tree();
    let files = discover(&[dir.path().join("eval/mini")]).unwrap();
    let DataSet::Stories {
        records, skipped, ..
    } = load(&files[0]).unwrap()
    else {
        panic!("not a stories set");
    };
    assert!(skipped.is_empty());
    let got: Vec<(&str, &str)> = records
        .iter()
        .map(|(a, s)| (a.id.as_str(), s.as_str()))
        .collect();
    assert_eq!(got, vec![("s1", "quake"), ("s2", "7"), ("s3", "quake")]);
    // Normalised by the ingestion crate: spaces collapsed, empty title gone.
    assert_eq!(records[1].0.text, "Rain all week.");
    assert_eq!(records[1].0.title, None);
    // Headline-only record: the title is the text.
    assert_eq!(records[2].0.text, "headline only");
    // s2 is undated and follows s1 (2024-01-02); s3 (2024-01-01) goes first.
    assert_eq!(stream_order(&records), vec![2, 0, 1]);
}

#[test]
fn stream_order_rules() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stories.jsonl");
    let line = |id: &str, date: Option<&str>| {
        let d = date.map_or("null".to_string(), |d| format!("\"{d}\""));
        format!(
            r#"{{"id": "{id}", "lang": "en", "text": "t {id}", "published_at": {d}, "story": "s"}}"#
        )
    };
    let records = |lines: &[String]| {
        write(&path, &lines.join("\n"));
        let files = discover(std::slice::from_ref(&path)).unwrap();
        match load(&files[0]).unwrap() {
            DataSet::Stories { records, .. } => records,
            _ => panic!("not stories"),
        }
    };
    // No dates: file order.
    let r = records(&[line("a", None), line("b", None), line("c", None)]);
    assert_eq!(stream_order(&r), vec![0, 1, 2]);
    // All dated, with a tie: stable sort.
    let r = records(&[
        line("a", Some("2024-03-01")),
        line("b", Some("2024-01-01")),
        line("c", Some("2024-03-01")),
    ]);
    assert_eq!(stream_order(&r), vec![1, 0, 2]);
    // Leading undated items take the first date; later ones their predecessor's.
    let r = records(&[
        line("a", None),
        line("b", Some("2024-03-01")),
        line("c", None),
        line("d", Some("2024-02-01")),
    ]);
    assert_eq!(stream_order(&r), vec![3, 0, 1, 2]);
}

#[test]
fn loads_pairs_and_skips_textless_sides() {
    let dir = tree();
    let files = discover(&[dir.path().join("eval/duo/pairs.jsonl")]).unwrap();
    let DataSet::Pairs {
        pairs,
        skipped,
        augmented,
        ..
    } = load(&files[0]).unwrap()
    else {
        panic!("not a pairs set");
    };
    assert!(!augmented);
    assert_eq!(pairs.len(), 1);
    assert_eq!(pairs[0].id, "p1");
    assert_eq!(pairs[0].a.lang.as_deref(), Some("de"));
    assert_eq!(pairs[0].b.title.as_deref(), Some("Quake"));
    assert_eq!(pairs[0].same_story(), Some(true));
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].location.line, Some(2));
    assert_eq!(skipped[0].field.as_deref(), Some("a.text"));
}

#[test]
fn errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        // (file name, second line, expected words in the message)
        (
            "stories.jsonl",
            r#"{"id": "b", "text": "t", "story": "s""#,
            "truncated JSON",
        ),
        ("stories.jsonl", r#"{"id": "b", "text": "t"}"#, "story"),
        (
            "stories.jsonl",
            r#"{"id": "b", "text": "t", "story": "s", "published_at": "soon"}"#,
            "published_at",
        ),
        ("stories.jsonl", "[1, 2]", "JSON object"),
        (
            "pairs.jsonl",
            r#"{"pair_id": "q", "overall": "one", "a": {"text": "x"}, "b": {"text": "y"}}"#,
            "overall",
        ),
        (
            "pairs.jsonl",
            r#"{"pair_id": "q", "overall": 2, "a": {"text": "x"}, "b": {"text": "y", "lang": 5}}"#,
            "b.lang",
        ),
        (
            "pairs.jsonl",
            r#"{"pair_id": "q", "overall": 2, "a": {"text": "x"}}"#,
            "`b`",
        ),
    ];
    for (name, bad, words) in cases {
        let first = if *name == "stories.jsonl" {
            r#"{"id": "a", "text": "fine", "story": "s"}"#
        } else {
            r#"{"pair_id": "p", "overall": 1, "a": {"text": "x"}, "b": {"text": "y"}}"#
        };
        let path: PathBuf = dir.path().join(name);
        write(&path, &format!("{first}\n{bad}\n"));
        let files = discover(std::slice::from_ref(&path)).unwrap();
        let err = load(&files[0]).unwrap_err();
        let msg = err.to_string();
        let at = format!("{}:2:", path.display());
        assert!(msg.starts_with(&at), "{msg:?} does not start with {at:?}");
        assert!(msg.contains(words), "{msg:?} lacks {words:?}");
    }
}

#[test]
fn split_is_fixed_and_balanced() {
    // Golden values from Python: sha256(b"storyweave-split-v1\0" + key)[0] & 1
    // (0 = dev). A change of hash would move every set's split.
    let golden = [
        ("quake", Split::Test),
        ("d", Split::Dev),
        ("f", Split::Test),
        ("C10", Split::Dev),
        ("65", Split::Test),
    ];
    for (key, side) in golden {
        assert_eq!(split_of(key), side, "{key}");
    }
    let dev = (0..2000)
        .filter(|i| split_of(&format!("story-{i}")) == Split::Dev)
        .count();
    assert!((900..1100).contains(&dev), "{dev} of 2000 in dev");
}
