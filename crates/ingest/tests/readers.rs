//! Every reader and every kind of bad input, on files the test writes itself.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;

use storyweave_ingest::{read, read_bytes, Record, RecordError, Source};

fn collect(source: &Source) -> (Vec<Record>, Vec<RecordError>) {
    let (mut good, mut bad) = (vec![], vec![]);
    let _ = read(source, &mut |r| {
        match r {
            Ok(rec) => good.push(rec),
            Err(e) => bad.push(e),
        }
        ControlFlow::Continue(())
    });
    (good, bad)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
    p
}

const PT: &str = "O ministro das Relações Exteriores afirmou nesta quinta-feira que o governo vai enviar ajuda humanitária às vítimas do terremoto no sul do país.";
const EN: &str = "The foreign minister said on Thursday that the government will send humanitarian aid to the victims of the earthquake in the south of the country.";

#[test]
fn plain_text_forms() {
    let dir = tempfile::tempdir().unwrap();
    let outlet = write(dir.path(), "a1.txt", format!("Gazeta\n{PT}\n").as_bytes());
    let headline = write(
        dir.path(),
        "a2.txt",
        format!("Terremoto deixa dezenas de mortos no sul\n{PT}\n").as_bytes(),
    );
    let dated = write(
        dir.path(),
        "a3.txt",
        format!(" date 2020-10-02 {EN}\n\nSecond paragraph.").as_bytes(),
    );
    let (g, b) = collect(&Source::Path(outlet));
    assert!(b.is_empty());
    assert_eq!(g[0].article.source.as_deref(), Some("Gazeta"));
    assert_eq!(g[0].article.lang.as_deref(), Some("pt"));
    assert_eq!(g[0].article.id, "a1");
    let (g, _) = collect(&Source::Path(headline));
    assert_eq!(
        g[0].article.title.as_deref(),
        Some("Terremoto deixa dezenas de mortos no sul")
    );
    let (g, _) = collect(&Source::Path(dated));
    let a = &g[0].article;
    assert_eq!(
        a.published_at.unwrap().date_naive().to_string(),
        "2020-10-02"
    );
    assert_eq!(a.lang.as_deref(), Some("en"));
    assert!(a.text.starts_with("The foreign minister"));
}

#[test]
fn jsonl_aliases_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        serde_json::json!({"id": "x1", "text": PT, "published_at": "2020-10-02T10:00:00Z", "story": "s1", "lang": "pt"}),
        serde_json::json!({"body": EN, "date": "2020-10-03", "headline": "Aid", "outlet": "Wire", "link": "https://e.org/a"}),
        serde_json::json!({"content": EN, "publish_date": "Fri, 02 Oct 2020 14:30:00 GMT", "id": 7}),
    ];
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let p = write(dir.path(), "a.jsonl", body.as_bytes());
    let (g, b) = collect(&Source::Path(p));
    assert!(b.is_empty(), "{b:?}");
    assert_eq!(g.len(), 3);
    assert_eq!(g[0].label.as_deref(), Some("s1"));
    assert_eq!(g[1].article.title.as_deref(), Some("Aid"));
    assert_eq!(g[1].article.source.as_deref(), Some("Wire"));
    assert_eq!(g[1].article.url.as_deref(), Some("https://e.org/a"));
    assert_eq!(g[1].article.lang.as_deref(), Some("en"));
    assert_eq!(g[1].article.id.len(), 16, "id derived from the url");
    assert_eq!(g[2].article.id, "7");
    assert_eq!(
        g[2].article.published_at.unwrap().to_rfc3339(),
        "2020-10-02T14:30:00+00:00"
    );
    assert_eq!(g[1].location.line, Some(2));
}

#[test]
fn directory_is_read_recursively_in_order() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "b/2.txt", PT.as_bytes());
    write(dir.path(), "a/1.txt", EN.as_bytes());
    write(
        dir.path(),
        "a/deeper/3.jsonl",
        format!("{}\n", serde_json::json!({"id": "j", "text": EN})).as_bytes(),
    );
    write(dir.path(), "SOURCE.txt", b"Where this came from.");
    write(dir.path(), "notes.csv", b"a,b");
    write(dir.path(), ".hidden/x.txt", EN.as_bytes());
    let (g, b) = collect(&Source::Path(dir.path().to_path_buf()));
    assert!(b.is_empty(), "{b:?}");
    let ids: Vec<_> = g.iter().map(|r| r.article.id.as_str()).collect();
    assert_eq!(ids, ["1", "j", "2"]);
}

#[test]
fn stdin_style_input_is_sniffed() {
    let mut got = vec![];
    let jsonl = format!("{}\n", serde_json::json!({"text": EN}));
    let _ = read_bytes(jsonl.as_bytes(), "", &mut |r| {
        got.push(r.unwrap());
        ControlFlow::Continue(())
    });
    let _ = read_bytes(
        format!("Headline of the day here\n{PT}").as_bytes(),
        "",
        &mut |r| {
            got.push(r.unwrap());
            ControlFlow::Continue(())
        },
    );
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].article.lang.as_deref(), Some("en"));
    assert_eq!(
        got[1].article.title.as_deref(),
        Some("Headline of the day here")
    );
}

/// Good records around each bad one still come through; each bad one names file, line and field.
#[test]
fn bad_records_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let good = |id: &str| format!("{}\n", serde_json::json!({"id": id, "text": EN}));
    let mut body = Vec::new();
    body.extend(good("g1").as_bytes());
    body.extend(b"{\"id\": \"u\", \"text\": \"caf\xff\xfe\"}\n"); // line 2: invalid UTF-8
    body.extend(format!("{}\n", serde_json::json!({"id": "e", "text": "   "})).as_bytes()); // 3: empty
    body.extend(
        format!(
            "{}\n",
            serde_json::json!({"id": "d", "text": EN, "date": "31/31/2020"})
        )
        .as_bytes(),
    ); // 4
    body.extend(
        format!(
            "{}\n",
            serde_json::json!({"id": "l", "text": EN, "lang": "xx"})
        )
        .as_bytes(),
    ); // 5
    body.extend(
        format!(
            "{}\n",
            serde_json::json!({"id": "n", "source": "no text or title"})
        )
        .as_bytes(),
    ); // 6
    body.extend(
        format!(
            "{}\n",
            serde_json::json!({"id": "big", "text": "a ".repeat(600_000)})
        )
        .as_bytes(),
    ); // 7: giant body
    body.extend(good("g2").as_bytes()); // 8
    body.extend(b"{\"id\": \"t\", \"text\": \"cut off"); // 9: truncated, no newline
    let p = write(dir.path(), "mixed.jsonl", &body);
    let (g, b) = collect(&Source::Path(p));
    let ids: Vec<_> = g.iter().map(|r| r.article.id.as_str()).collect();
    assert_eq!(ids, ["g1", "g2"]);
    // A headline-only item is fine: the headline becomes the text.
    let (h, hb) = collect(&Source::Path(write(
        dir.path(),
        "h.jsonl",
        format!("{}\n", serde_json::json!({"title": EN, "text": ""})).as_bytes(),
    )));
    assert!(hb.is_empty());
    assert_eq!(h[0].article.text, EN);
    assert_eq!(h[0].article.title, None);
    let by_line: Vec<(usize, Option<&str>, &str)> = b
        .iter()
        .map(|e| {
            (
                e.location.line.unwrap(),
                e.field.as_deref(),
                e.message.as_str(),
            )
        })
        .collect();
    assert_eq!(by_line.len(), 7, "{by_line:?}");
    assert!(by_line[0].0 == 2 && by_line[0].2.contains("invalid UTF-8"));
    assert!(by_line[1].0 == 3 && by_line[1].1 == Some("text") && by_line[1].2.contains("empty"));
    assert!(by_line[2].0 == 4 && by_line[2].1 == Some("date"));
    assert!(by_line[3].0 == 5 && by_line[3].1 == Some("lang"));
    assert!(by_line[4].0 == 6 && by_line[4].1 == Some("text") && by_line[4].2.contains("missing"));
    assert!(by_line[5].0 == 7 && by_line[5].1 == Some("text") && by_line[5].2.contains("limit"));
    assert!(by_line[6].0 == 9 && by_line[6].2.contains("truncated"));
    assert!(b[0]
        .to_string()
        .starts_with(&format!("{}:2: ", dir.path().join("mixed.jsonl").display())));
}

#[test]
fn fifty_megabyte_line_is_skipped_without_buffering_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = Vec::with_capacity(51 << 20);
    body.extend(b"{\"text\": \"");
    body.resize(50 << 20, b'a');
    body.extend(b"\"}\n");
    body.extend(format!("{}\n", serde_json::json!({"id": "after", "text": EN})).as_bytes());
    let p = write(dir.path(), "huge.jsonl", &body);
    let (g, b) = collect(&Source::Path(p));
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].article.id, "after");
    assert_eq!(b.len(), 1);
    assert!(b[0].message.contains("limit"), "{}", b[0]);
    assert_eq!(b[0].location.line, Some(1));
}

#[test]
fn binary_invalid_and_empty_plain_files() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "bin.txt",
        &[0x7f, b'E', b'L', b'F', 0, 0, 1, 2, 3],
    );
    write(
        dir.path(),
        "bad.txt",
        b"Title line here ok\nfine\nbroken \xc3\x28 here",
    );
    write(dir.path(), "empty.txt", b"  \n\t\n");
    write(dir.path(), "ok.txt", EN.as_bytes());
    let (g, b) = collect(&Source::Path(dir.path().to_path_buf()));
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].article.id, "ok");
    let msgs: Vec<String> = b.iter().map(|e| e.to_string()).collect();
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    assert!(
        msgs[0].contains("bad.txt:3") && msgs[0].contains("invalid UTF-8"),
        "{msgs:?}"
    );
    assert!(
        msgs[1].contains("bin.txt") && msgs[1].contains("binary"),
        "{msgs:?}"
    );
    assert!(
        msgs[2].contains("empty.txt") && msgs[2].contains("empty text"),
        "{msgs:?}"
    );
}

#[test]
fn missing_path_is_an_error_not_a_panic() {
    let (g, b) = collect(&Source::Path("/definitely/not/here.jsonl".into()));
    assert!(g.is_empty());
    assert!(b[0].message.contains("cannot open"));
}

#[test]
fn strict_mode_stops_at_first_error() {
    let body = format!(
        "{}\nnot json\n{}\n",
        serde_json::json!({"text": EN}),
        serde_json::json!({"text": PT})
    );
    let mut seen = 0;
    let flow = read_bytes(body.as_bytes(), "s.jsonl", &mut |r| {
        seen += 1;
        if r.is_err() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    assert!(flow.is_break());
    assert_eq!(seen, 2);
}

/// The seeds read as the product expects, when ../shared is present.
#[test]
fn shared_seeds_read_as_expected() {
    let Some(shared) = storyweave_core::paths::shared_dir() else {
        println!("skipped: ../shared is absent");
        return;
    };
    let (g, b) = collect(&Source::Path(shared.join("data/seeds")));
    assert!(b.is_empty(), "{b:?}");
    let find = |id: &str| {
        g.iter()
            .find(|r| r.article.id == id && r.location.line.is_none())
            .unwrap()
    };
    let pt = &find("000_4767b6bb549759c7").article;
    assert_eq!(
        (
            pt.lang.as_deref(),
            pt.source.as_deref(),
            pt.title.as_deref()
        ),
        (Some("pt"), Some("Sputnik"), None)
    );
    let id = &find("001_db488694fdfe07f0").article;
    assert_eq!(id.lang.as_deref(), Some("id"));
    assert!(id
        .title
        .as_deref()
        .unwrap()
        .starts_with("Turki Janji Bela Azerbaijan"));
    let en = &find("004_ae739b3bf20cdff9").article;
    assert_eq!(en.lang.as_deref(), Some("en"));
    assert_eq!(
        en.published_at.unwrap().date_naive().to_string(),
        "2020-10-02"
    );
    // The canonical stories.jsonl carries the same three articles, same ids.
    let from_jsonl: Vec<_> = g.iter().filter(|r| r.location.line.is_some()).collect();
    assert_eq!(from_jsonl.len(), 3);
    for r in from_jsonl {
        assert_eq!(r.label.as_deref(), Some("karabakh-2020-10-01"));
        assert_eq!(
            r.article.text,
            find(&r.article.id).article.text,
            "{}",
            r.article.id
        );
    }
}
