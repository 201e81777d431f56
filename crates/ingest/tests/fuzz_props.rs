//! Property tests: the stable, deterministic stand-in for the cargo-fuzz
//! targets in `/fuzz` (CI has no nightly). Random bytes, random JSON-ish
//! lines (every field type, truncated lines, NULs, invalid UTF-8, huge
//! numbers, deep nesting) and random plain-text headers go through
//! `read_bytes` in both formats, and the reader's contract is checked:
//! it never panics, each JSONL line that is not blank gives exactly one
//! record naming `file:line`, and good records are non-empty and tagged.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Number, Value};
use storyweave_ingest::{read_bytes, Record, RecordError};

/// Fixed seed and no regression files: the same cases on every run.
fn runner(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

fn collect(bytes: &[u8], name: &str) -> Vec<Result<Record, RecordError>> {
    let mut out = Vec::new();
    let _ = read_bytes(bytes, name, &mut |r| {
        out.push(r);
        ControlFlow::Continue(())
    });
    out
}

fn check_good(rec: &Record) -> Result<(), TestCaseError> {
    let a = &rec.article;
    prop_assert!(!a.text.trim().is_empty(), "empty text in {a:?}");
    prop_assert!(a.lang.as_deref().is_some_and(|l| !l.is_empty()), "{a:?}");
    prop_assert!(!a.id.is_empty(), "{a:?}");
    Ok(())
}

/// Checks the JSONL contract; returns the line numbers that gave good records.
fn check_jsonl(bytes: &[u8]) -> Result<Vec<usize>, TestCaseError> {
    let records = collect(bytes, "x.jsonl");
    let expected: Vec<usize> = bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
        .map(|(i, _)| i + 1)
        .collect();
    let mut seen = Vec::new();
    let mut good = Vec::new();
    for r in &records {
        let loc = match r {
            Ok(rec) => {
                check_good(rec)?;
                good.push(rec.location.line.unwrap_or(0));
                &rec.location
            }
            Err(e) => {
                let line = e.location.line;
                prop_assert!(line.is_some(), "JSONL error without a line: {e}");
                let want = format!("x.jsonl:{}: ", line.unwrap_or(0));
                prop_assert!(e.to_string().starts_with(&want), "{e}");
                &e.location
            }
        };
        prop_assert_eq!(&loc.file, "x.jsonl");
        seen.push(loc.line.unwrap_or(0));
    }
    prop_assert_eq!(seen, expected, "one record per non-blank line");
    Ok(good)
}

fn check_plain(bytes: &[u8]) -> Result<(), TestCaseError> {
    let records = collect(bytes, "x.txt");
    prop_assert_eq!(records.len(), 1, "a plain-text file is one record");
    match &records[0] {
        Ok(rec) => {
            check_good(rec)?;
            prop_assert_eq!(&rec.article.id, "x");
            prop_assert_eq!(&rec.location.file, "x.txt");
        }
        Err(e) => {
            prop_assert_eq!(&e.location.file, "x.txt");
            prop_assert!(e.to_string().starts_with("x.txt"), "{e}");
        }
    }
    Ok(())
}

// Synthetic sentences written for this test.
const SENTENCES: &[&str] = &[
    "The council voted on Tuesday to close the old bridge for repairs.",
    "O governo anunciou hoje novas medidas para o setor da energia.",
    "La ciudad abrirá un nuevo parque junto al río el próximo mes.",
    "Die Regierung hat am Montag ein neues Gesetz beschlossen.",
    "Pemerintah mengumumkan kebijakan baru untuk petani kecil.",
    "Москва объявила о новых мерах поддержки экономики.",
    "12345 678",
];

fn text() -> impl Strategy<Value = String> {
    let odd = select(vec![
        ' ', ' ', '\n', '\t', '\r', '\0', '\u{7}', '\u{200b}', '\u{feff}', '\u{a0}', 'a', 'e',
        '\u{301}', 'Ж', '中', '"', '\\', '{', '}',
    ]);
    prop_oneof![
        3 => select(SENTENCES).prop_map(str::to_string),
        2 => vec(prop_oneof![any::<char>(), odd], 0..40).prop_map(String::from_iter),
        1 => Just(String::new()),
    ]
}

/// Strings that mean something in some field: tags, dates, ids.
fn meaningful() -> impl Strategy<Value = String> {
    select(vec![
        "pt",
        "pt-BR",
        "PT_br",
        "por",
        "en",
        "zh-Hant",
        "xx",
        "und",
        "",
        "  ",
        "2020-10-02",
        "2020-10-02T14:30:00Z",
        "Fri, 02 Oct 2020 14:30:00 GMT",
        "02.10.2020",
        "1601649000",
        "99999999999999999999",
        "2020-13-45",
        "yesterday",
        "https://x.example/a",
    ])
    .prop_map(str::to_string)
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::String),
        meaningful().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(text(), inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const KEYS: &[&str] = &[
    "id",
    "url",
    "link",
    "source",
    "outlet",
    "site",
    "publisher",
    "title",
    "headline",
    "text",
    "body",
    "content",
    "lang",
    "language",
    "published_at",
    "date",
    "publish_date",
    "published",
    "pubDate",
    "story",
    "extra",
];

fn json_object() -> impl Strategy<Value = BTreeMap<String, Value>> {
    btree_map(
        prop_oneof![4 => select(KEYS).prop_map(str::to_string), 1 => text()],
        json_value(),
        0..8,
    )
}

/// What to do to a serialised line before it is written.
#[derive(Debug, Clone)]
enum Mutation {
    None,
    Truncate(usize),
    InsertNul(usize),
    InsertBytes(usize, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let invalid = select(vec![
        vec![0xff],
        vec![0xc3],
        vec![0xe2, 0x82],
        vec![0xed, 0xa0, 0x80],
        vec![0xf8, 0x88, 0x80, 0x80],
    ]);
    prop_oneof![
        6 => Just(Mutation::None),
        2 => any::<usize>().prop_map(Mutation::Truncate),
        1 => any::<usize>().prop_map(Mutation::InsertNul),
        1 => (any::<usize>(), invalid).prop_map(|(i, b)| Mutation::InsertBytes(i, b)),
    ]
}

fn apply(mut line: Vec<u8>, m: &Mutation) -> Vec<u8> {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match m {
        Mutation::None => {}
        Mutation::Truncate(i) => line.truncate(at(*i, line.len())),
        Mutation::InsertNul(i) => line.insert(at(*i, line.len()), 0),
        Mutation::InsertBytes(i, b) => {
            let i = at(*i, line.len());
            line.splice(i..i, b.iter().copied());
        }
    }
    line
}

/// One line of a JSONL file, and whether it must give a good record.
#[derive(Debug, Clone)]
enum JsonLine {
    Object(BTreeMap<String, Value>, Mutation),
    /// A well-formed article: must read as a good record.
    Good {
        text: String,
        lang: Option<String>,
    },
    DeepNesting(usize),
    HugeNumber(String),
    Blank(String),
}

fn json_line() -> impl Strategy<Value = JsonLine> {
    let huge = select(vec![
        "1e999",
        "-1e999",
        "123456789012345678901234567890123456789",
        "1.7976931348623157e309",
        "-0",
        "0.0000000000000000000000000000000000001e-400",
    ]);
    prop_oneof![
        8 => (json_object(), mutation()).prop_map(|(o, m)| JsonLine::Object(o, m)),
        3 => (
            select(SENTENCES),
            proptest::option::of(select(vec!["pt", "en", "pt-br", "por", "zh_hant"]))
        )
            .prop_map(|(t, l)| JsonLine::Good {
                text: t.to_string(),
                lang: l.map(str::to_string),
            }),
        1 => (1usize..5000).prop_map(JsonLine::DeepNesting),
        1 => huge.prop_map(|n| JsonLine::HugeNumber(n.to_string())),
        1 => select(vec!["", " ", "\t", "\r"]).prop_map(|s| JsonLine::Blank(s.to_string())),
    ]
}

fn render(line: &JsonLine) -> (Vec<u8>, bool) {
    match line {
        JsonLine::Object(o, m) => {
            let v = Value::Object(o.clone().into_iter().collect());
            (apply(v.to_string().into_bytes(), m), false)
        }
        JsonLine::Good { text, lang } => {
            let mut v = serde_json::json!({ "text": text });
            if let Some(l) = lang {
                v["lang"] = Value::from(l.as_str());
            }
            (v.to_string().into_bytes(), true)
        }
        JsonLine::DeepNesting(n) => {
            let s = format!(
                r#"{{"text": "deep", "x": {}{}}}"#,
                "[".repeat(*n),
                "]".repeat(*n)
            );
            (s.into_bytes(), false)
        }
        JsonLine::HugeNumber(n) => (
            format!(r#"{{"text": "big numbers", "id": {n}, "story": {n}}}"#).into_bytes(),
            false,
        ),
        JsonLine::Blank(s) => (s.clone().into_bytes(), false),
    }
}

#[test]
fn random_bytes_never_break_either_reader() {
    let jsonish = select(b"{}[]\":,\n\r\t\0\xff\xc3\x80 a1e-.\\u".to_vec());
    let bytes = prop_oneof![
        vec(any::<u8>(), 0..400),
        vec(jsonish, 0..300),
        (vec(any::<u8>(), 0..200)).prop_map(|mut b| {
            b.insert(0, b'{');
            b
        }),
    ];
    runner(384)
        .run(&bytes, |b| {
            check_jsonl(&b)?;
            check_plain(&b)
        })
        .unwrap();
}

#[test]
fn random_json_lines_give_one_record_each() {
    let file = (vec(json_line(), 0..8), any::<bool>(), any::<bool>());
    runner(256)
        .run(&file, |(lines, crlf, final_newline)| {
            let sep: &[u8] = if crlf { b"\r\n" } else { b"\n" };
            let mut bytes = Vec::new();
            let mut must_be_good = Vec::new();
            for (i, line) in lines.iter().enumerate() {
                let (b, good) = render(line);
                if good {
                    must_be_good.push(i + 1);
                }
                bytes.extend_from_slice(&b);
                if i + 1 < lines.len() || final_newline {
                    bytes.extend_from_slice(sep);
                }
            }
            let good = check_jsonl(&bytes)?;
            for l in must_be_good {
                prop_assert!(good.contains(&l), "line {l} should be a good record");
            }
            // The same lines read as one plain-text article must not panic either.
            check_plain(&bytes)
        })
        .unwrap();
}

#[test]
fn random_plain_text_headers() {
    let header = select(vec![
        "date 2020-10-02 ",
        "date: 2020-10-02\n",
        "date \n",
        "date",
        "title: ",
        "title: A headline here\n",
        "lang: pt\n",
        "lang: \n",
        "lang: x-y\n",
        "source: Daily\n",
        "url: https://x.example\n",
        "Sputnik\n",
        "\u{feff}",
        "\n\n",
        "",
    ]);
    let doc = (vec(header, 0..5), vec(text(), 0..4));
    runner(256)
        .run(&doc, |(headers, body)| {
            let s = format!("{}{}", headers.concat(), body.join("\n"));
            check_plain(s.as_bytes())
        })
        .unwrap();
}

/// Cleaning is idempotent and its output is NFC, whatever sits between a
/// letter and its combining mark (the bug the fuzzers caught).
#[test]
fn clean_text_is_idempotent() {
    use storyweave_ingest::normalise::clean_text;
    let ch = select(vec![
        'e', 'A', 'o', ' ', '\n', '\t', '\r', '\0', '\u{7}', '\u{a0}', '\u{200b}', '\u{200d}',
        '\u{feff}', '\u{2060}', '\u{301}', '\u{308}', '\u{30a}', '\u{327}', '\u{2003}', '\u{3000}',
        'ᄀ', '\u{1161}', '\u{11a8}',
    ]);
    let s = vec(prop_oneof![3 => ch, 1 => any::<char>()], 0..60).prop_map(String::from_iter);
    runner(512)
        .run(&s, |s| {
            let once = clean_text(&s);
            prop_assert_eq!(clean_text(&once), once.clone(), "input {:?}", s);
            prop_assert!(!once.starts_with(char::is_whitespace), "{:?}", once);
            prop_assert!(!once.ends_with(char::is_whitespace), "{:?}", once);
            Ok(())
        })
        .unwrap();
}
