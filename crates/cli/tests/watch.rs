//! `storyweave watch` and URL sources end to end: a folder with every kind
//! of input, a file that lands after start, and feeds served on loopback
//! (one of them a 404). Needs the encoder weights; skips without them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{bin, models_ready, stories_json};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ingest/tests/data")
        .join(rel)
}

fn run(db: &Path, args: &[&str]) -> Output {
    bin()
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run storyweave")
}

/// (id, url) of every stored article.
fn stored(db: &Path) -> Vec<(String, Option<String>)> {
    let v = stories_json(db);
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["articles"].as_array().unwrap().clone())
        .map(|a| {
            (
                a["id"].as_str().unwrap().to_string(),
                a["url"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

const EN: &str = "Firefighters in the fictional port town of Brask contained a warehouse blaze on Sunday night after six hours, and no one was hurt, the fire service said.";
const EN2: &str = "The regional parliament of the fictional province of Ostvale voted on Monday to lower the voting age for local elections to sixteen.";
const EN3: &str = "A rare white humpback whale was spotted off the coast of the fictional island of Merrow, delighting tourists on an early morning boat tour.";

fn folder_with_every_kind(dir: &Path) {
    std::fs::write(
        dir.join("wire.jsonl"),
        format!(
            "{}\n{}\n",
            serde_json::json!({"id": "j-fire", "text": EN, "lang": "en"}),
            serde_json::json!({"id": "j-vote", "text": EN2}),
        ),
    )
    .unwrap();
    std::fs::write(dir.join("whale.txt"), EN3).unwrap();
    std::fs::copy(fixture("feeds/wire-rss2.xml"), dir.join("world.rss")).unwrap();
    std::fs::copy(
        fixture("pages/harbour-bridge-en.html"),
        dir.join("bridge.html"),
    )
    .unwrap();
    // Not articles: skipped unread.
    std::fs::write(dir.join("README.txt"), "notes").unwrap();
    std::fs::copy(fixture("feeds/sitemap.xml"), dir.join("sitemap.xml")).unwrap();
}

#[test]
fn watch_once_ingests_every_kind_of_file() {
    if !models_ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    std::fs::create_dir(&dir).unwrap();
    folder_with_every_kind(&dir);
    let db = tmp.path().join("w.db");
    let out = run(&db, &["watch", dir.to_str().unwrap(), "--once"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // 2 JSON Lines + 1 text + 3 feed entries + 1 page.
    assert!(
        stdout.contains("poll 1: ingested 7 new articles"),
        "{stdout}\n{stderr}"
    );
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let got = stored(&db);
    let ids: Vec<&str> = got.iter().map(|(i, _)| i.as_str()).collect();
    for id in ["j-fire", "j-vote", "whale", "wire-2024-07-0001"] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert!(
        got.iter().any(|(_, u)| u.as_deref()
            == Some("https://coastal-courier.example/news/2024/03/harbour-bridge-reopens")),
        "{got:?}"
    );
    assert_eq!(got.len(), 7, "{got:?}");

    // Running again over the same folder stores nothing new.
    let out = run(&db, &["watch", dir.to_str().unwrap(), "--once"]);
    assert!(
        text(&out.stdout).contains("ingested 0 new articles (7 duplicates"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn watch_picks_up_a_file_added_after_start() {
    if !models_ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("first.txt"), EN).unwrap();
    let db = tmp.path().join("w.db");
    let mut child = bin()
        .arg("--db")
        .arg(&db)
        .args(["watch", dir.to_str().unwrap(), "--interval", "1"])
        .args(["--max-polls", "3"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a first summary line").unwrap();
    assert!(first.starts_with("poll 1: ingested 1 new"), "{first}");
    // After the first poll: seen on poll 2, unchanged on poll 3, so read then.
    std::fs::write(dir.join("later.txt"), EN2).unwrap();
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{rest:?}\n{err}");
    assert_eq!(rest.len(), 1, "{rest:?}\n{err}");
    assert!(rest[0].starts_with("poll 3: ingested 1 new"), "{rest:?}");
    let ids: Vec<String> = stored(&db).into_iter().map(|(i, _)| i).collect();
    assert!(
        ids.contains(&"first".to_string()) && ids.contains(&"later".to_string()),
        "{ids:?}"
    );
}

/// Serves `n` requests on 127.0.0.1: the RSS fixture at `/feed.xml`, 404
/// elsewhere. The thread is not joined: if the binary never connects it
/// dies with the test process instead of hanging it.
fn serve(n: usize) -> String {
    let body = std::fs::read(fixture("feeds/wire-rss2.xml")).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(n) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => req.extend_from_slice(&buf[..k]),
                }
            }
            let ok = req.starts_with(b"GET /feed.xml ");
            let (status, payload): (&str, &[u8]) = if ok {
                ("200 OK", &body)
            } else {
                ("404 Not Found", b"not here")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/rss+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                payload.len()
            );
            let _ = stream.write_all(payload);
        }
    });
    base
}

#[test]
fn feeds_by_url_with_a_404_beside_a_good_one() {
    if !models_ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let base = serve(4);
    let (good, missing) = (format!("{base}/feed.xml"), format!("{base}/gone.xml"));

    // `watch` with feeds only: the 404 is reported, the other feed is read.
    let db = tmp.path().join("w.db");
    let t = Instant::now();
    let out = run(
        &db,
        &["watch", "--feed", &missing, "--feed", &good, "--once"],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(t.elapsed() < Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains(&format!("{missing}: HTTP 404")), "{stderr}");
    assert!(
        stdout.contains("ingested 3 new articles (0 duplicates skipped, 1 bad records)"),
        "{stdout}\n{stderr}"
    );
    let ids: Vec<String> = stored(&db).into_iter().map(|(i, _)| i).collect();
    assert!(ids.contains(&"wire-2024-07-0001".to_string()), "{ids:?}");

    // `ingest URL` reads the same way.
    let db2 = tmp.path().join("i.db");
    let out = run(&db2, &["ingest", &missing, &good]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{missing}: HTTP 404")), "{stderr}");
    assert!(stderr.contains("ingested 3 new articles"), "{stderr}");
}

#[test]
fn watch_needs_something_to_watch() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("w.db");
    let out = run(&db, &["watch"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("nothing to watch"));
    let out = run(
        &db,
        &["watch", "--feed", "ftp://example.org/feed", "--once"],
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("not an http:// or https:// URL"));
}
