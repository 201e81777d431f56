//! Feeds (RSS 2.0, Atom), HTML article pages and URLs, on samples written
//! for these tests (tests/data/feeds, tests/data/pages) and a loopback HTTP
//! server started inside the test.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::thread;

use storyweave_ingest::feed::read_feed;
use storyweave_ingest::html::read_html;
use storyweave_ingest::{is_article_file, read, read_bytes, Record, RecordError, Source};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

fn collect_with(
    f: impl FnOnce(&mut dyn FnMut(Result<Record, RecordError>) -> ControlFlow<()>),
) -> (Vec<Record>, Vec<RecordError>) {
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    f(&mut |r| {
        match r {
            Ok(rec) => good.push(rec),
            Err(e) => bad.push(e),
        }
        ControlFlow::Continue(())
    });
    (good, bad)
}

fn collect(source: &Source) -> (Vec<Record>, Vec<RecordError>) {
    collect_with(|sink| {
        let _ = read(source, sink);
    })
}

#[test]
fn rss2_entries_become_articles() {
    let (good, bad) = collect(&Source::Path(data("feeds/wire-rss2.xml")));
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(good.len(), 3);

    let a = &good[0].article;
    assert_eq!(a.id, "wire-2024-07-0001");
    assert_eq!(
        a.title.as_deref(),
        Some("Volcano on remote island erupts, flights diverted")
    );
    assert_eq!(
        a.url.as_deref(),
        Some("https://wire.example/world/2024/07/volcano-erupts")
    );
    assert_eq!(a.source.as_deref(), Some("Example Wire: World"));
    assert_eq!(a.lang.as_deref(), Some("en-US"));
    assert_eq!(
        a.published_at.map(|d| d.to_rfc3339()),
        Some("2024-07-02T06:45:00+00:00".into())
    );
    // content:encoded wins over the description; markup and scripts are gone.
    assert!(
        a.text.starts_with("A volcano on a remote island erupted"),
        "{}",
        a.text
    );
    assert!(a.text.contains("No injuries were reported."));
    assert!(
        !a.text.contains('<') && !a.text.contains("alert("),
        "{}",
        a.text
    );

    // No guid: id derived from the link; description HTML stripped.
    let b = &good[1].article;
    assert!(!b.id.is_empty() && b.id != "wire-2024-07-0001");
    assert_eq!(b.id, b.derived_id());
    assert_eq!(
        b.text,
        "The central bank kept its main interest rate unchanged at 4.25% on Tuesday, citing sticky services inflation."
    );
    assert_eq!(
        b.published_at.map(|d| d.to_rfc3339()),
        Some("2024-07-02T07:00:00+00:00".into())
    );

    // Headline-only item: the headline is the text.
    let c = &good[2].article;
    assert_eq!(c.text, "Flash: ceasefire talks resume in capital");
    assert_eq!(c.title, None);
}

#[test]
fn atom_entries_and_an_entry_without_text() {
    let (good, bad) = collect(&Source::Path(data("feeds/noticias-atom.xml")));
    assert_eq!(good.len(), 2, "{good:?}");
    assert_eq!(bad.len(), 1, "{bad:?}");
    let a = &good[0].article;
    assert_eq!(a.id, "tag:diario.example,2024:vivienda-1");
    assert_eq!(
        a.url.as_deref(),
        Some("https://diario.example/politica/plan-vivienda")
    );
    assert_eq!(a.source.as_deref(), Some("Diario Ejemplo — Portada"));
    assert_eq!(a.lang.as_deref(), Some("es"));
    // <content> wins over <summary>; <published> over <updated>.
    assert!(a.text.contains("cien mil viviendas"), "{}", a.text);
    assert!(a.text.contains("\n"), "paragraphs kept apart: {:?}", a.text);
    assert!(!a.text.contains("Resumen breve"));
    assert_eq!(
        a.published_at.map(|d| d.to_rfc3339()),
        Some("2024-08-01T08:30:00+00:00".into())
    );
    // Only <updated>: it is the date.
    let b = &good[1].article;
    assert!(b.text.starts_with("Las temperaturas superarán"));
    assert_eq!(
        b.published_at.map(|d| d.to_rfc3339()),
        Some("2024-08-01T08:00:00+00:00".into())
    );

    let e = &bad[0];
    assert!(e.location.file.ends_with("noticias-atom.xml"));
    assert_eq!(e.field.as_deref(), Some("text"));
    assert!(e.message.contains("entry 3"), "{e}");
    assert!(e.message.contains("vacia-3"), "{e}");
}

#[test]
fn malformed_feed_is_one_error_naming_the_file() {
    let (good, bad) = collect(&Source::Path(data("feeds/truncated.rss")));
    assert!(good.is_empty());
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(bad[0].location.file.ends_with("truncated.rss"));
    assert!(bad[0].message.contains("feed"), "{}", bad[0]);

    let (good, bad) = collect_with(|s| {
        let _ = read_feed(b"<html><body>not a feed</body></html>", "page.rss", s);
    });
    assert!(good.is_empty());
    assert_eq!(bad.len(), 1);
    assert!(bad[0].to_string().starts_with("page.rss: "), "{}", bad[0]);
    assert!(
        bad[0].message.contains("not an RSS or Atom feed"),
        "{}",
        bad[0]
    );

    let (_, bad) = collect_with(|s| {
        let _ = read_feed(b"\x00\x01\x02garbage", "x.xml", s);
    });
    assert_eq!(bad.len(), 1);
}

#[test]
fn directories_pick_up_feeds_and_pages_but_not_other_xml() {
    assert!(!is_article_file(&data("feeds/sitemap.xml")));
    assert!(is_article_file(&data("feeds/wire-rss2.xml")));
    assert!(is_article_file(&data("feeds/truncated.rss")));
    assert!(is_article_file(&data("pages/metro-pt.html")));
    let (good, bad) = collect(&Source::Path(data("feeds")));
    // 3 RSS + 2 Atom; the sitemap is skipped unread, the broken feed and the
    // text-less Atom entry are errors.
    assert_eq!(good.len(), 5, "{good:?}");
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(!bad.iter().any(|e| e.location.file.contains("sitemap")));
}

#[test]
fn sniffs_feeds_and_pages_without_an_extension() {
    let rss = std::fs::read(data("feeds/wire-rss2.xml")).unwrap();
    let (good, bad) = collect_with(|s| {
        let _ = read_bytes(&rss, "upload", s);
    });
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(good.len(), 3);
    let page = std::fs::read(data("pages/metro-pt.html")).unwrap();
    let (good, bad) = collect_with(|s| {
        let _ = read_bytes(&page, "upload", s);
    });
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(good.len(), 1);
    assert!(good[0].article.text.contains("aeroporto"));
}

struct Page {
    file: &'static str,
    lang: &'static str,
    title: &'static str,
    source: &'static str,
    url: &'static str,
    published: &'static str,
    body: &'static [&'static str],
    boilerplate: &'static [&'static str],
}

const PAGES: &[Page] = &[
    Page {
        file: "harbour-bridge-en.html",
        // Tags keep their region, as everywhere in storyweave.
        lang: "en-GB",
        title: "Harbour bridge reopens to traffic after six-month repair",
        source: "The Coastal Courier",
        url: "https://coastal-courier.example/news/2024/03/harbour-bridge-reopens",
        published: "2024-03-14T07:30:00+00:00",
        body: &[
            "The harbour bridge reopened to cars and buses at dawn on Thursday",
            "It has been a long winter for everyone who crosses the water",
            "A weight limit of eighteen tonnes will stay in place",
            "The council said it would consider the request at its April meeting.",
        ],
        boilerplate: &[
            "Subscribe for just one pound",
            "ADVERTISEMENT",
            "Holiday homes",
            "Seagull steals chips",
            "SPONSORED",
            "RoadWarrior77",
            "Someone is getting rich",
            "Copyright 2024",
            "Cookie settings",
            "dataLayer",
            "Local bakery wins",
        ],
    },
    Page {
        file: "wasserwerk-de.html",
        lang: "de",
        title: "Neues Wasserwerk versorgt ab Sommer 40.000 Haushalte",
        source: "Tagesblatt Mittelland",
        url: "https://tagesblatt-mittelland.example/region/wasserwerk-eroeffnung-123456.html",
        published: "2024-05-02T07:15:00+00:00",
        body: &[
            "Nach knapp drei Jahren Bauzeit ist das neue Wasserwerk",
            "bis zu zwölf Millionen Liter Wasser am Tag",
            "Wir haben das Werk für die Sommer der Zukunft gebaut",
            "Naturlehrpfad",
        ],
        boilerplate: &[
            "Cookies",
            "Jetzt Abo",
            "ANZEIGE",
            "Kredite",
            "Sommerreifen",
            "Freibad öffnet",
            "völlig marode",
            "Impressum",
            "font-family",
        ],
    },
    Page {
        file: "metro-pt.html",
        lang: "pt-BR",
        title: "Nova linha de metrô liga centro ao aeroporto em 25 minutos",
        source: "Jornal do Planalto",
        url: "https://jornaldoplanalto.example/cidades/2024/06/nova-linha-metro-aeroporto",
        published: "2024-06-20T17:00:00+00:00",
        body: &[
            "A nova linha do metrô que liga o centro da cidade ao aeroporto",
            "os trens vão circular a cada seis minutos",
            "120 mil passageiros por dia",
            "6,2 bilhões de reais",
        ],
        boilerplate: &[
            "Assine já",
            "PUBLICIDADE",
            "apartamento na planta",
            "Frente fria",
            "Curso de inglês",
            "Leitora indignada",
            "Vou usar todo dia",
            "Todos os direitos reservados",
            "schema.org",
        ],
    },
];

#[test]
fn html_pages_give_the_article_body_without_boilerplate() {
    for p in PAGES {
        let (good, bad) = collect(&Source::Path(data(&format!("pages/{}", p.file))));
        assert!(bad.is_empty(), "{}: {bad:?}", p.file);
        assert_eq!(good.len(), 1, "{}", p.file);
        let a = &good[0].article;
        for b in p.body {
            assert!(
                a.text.contains(b),
                "{}: body misses {b:?}:\n{}",
                p.file,
                a.text
            );
        }
        for b in p.boilerplate {
            assert!(
                !a.text.contains(b),
                "{}: boilerplate {b:?} leaked into:\n{}",
                p.file,
                a.text
            );
        }
        // Paragraphs stay apart.
        assert!(
            a.text.matches('\n').count() >= 3,
            "{}: {:?}",
            p.file,
            a.text
        );
        assert_eq!(a.title.as_deref(), Some(p.title), "{}", p.file);
        assert_eq!(a.source.as_deref(), Some(p.source), "{}", p.file);
        assert_eq!(a.url.as_deref(), Some(p.url), "{}", p.file);
        assert_eq!(a.lang.as_deref(), Some(p.lang), "{}", p.file);
        assert_eq!(
            a.published_at.map(|d| d.to_rfc3339()).as_deref(),
            Some(p.published),
            "{}",
            p.file
        );
        assert_eq!(a.id, a.derived_id());
    }
}

#[test]
fn html_page_without_metadata_falls_back_to_h1_and_detected_language() {
    let html = format!(
        "<html><head></head><body><nav><a href='/'>Home</a> <a href='/x'>Sections</a></nav>\
         <div id='main'><h1>Ferry strike ends after three days</h1>{}</div>\
         <footer>All rights reserved</footer></body></html>",
        "<p>The ferry workers' union called off its strike on Friday evening after the operator agreed to raise wages by six per cent and hire more crew for the summer season, ending three days of cancelled crossings.</p>"
            .repeat(3)
    );
    let (good, bad) = collect_with(|s| {
        let _ = read_html(html.as_bytes(), "ferry.htm", s);
    });
    assert!(bad.is_empty(), "{bad:?}");
    let a = &good[0].article;
    assert_eq!(
        a.title.as_deref(),
        Some("Ferry strike ends after three days")
    );
    assert_eq!(a.lang.as_deref(), Some("en"));
    assert!(a.text.contains("ferry workers' union"));
    assert!(!a.text.contains("Sections") && !a.text.contains("All rights reserved"));
    assert_eq!(a.published_at, None);
    assert_eq!(a.url, None);
}

#[test]
fn html_page_without_text_is_an_error() {
    let (good, bad) = collect_with(|s| {
        let _ = read_html(
            b"<html><body><nav><a href='/'>Home</a></nav></body></html>",
            "empty.html",
            s,
        );
    });
    assert!(good.is_empty(), "{good:?}");
    assert_eq!(bad.len(), 1);
    assert!(bad[0].to_string().starts_with("empty.html: "), "{}", bad[0]);
}

/// Serves fixed responses on 127.0.0.1 for `n` requests: a feed at
/// `/feed.xml`, 404 elsewhere. Returns the base URL.
fn serve(n: usize, body: Vec<u8>) -> (String, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handle = thread::spawn(move || {
        for stream in listener.incoming().take(n) {
            let mut stream = stream.unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => req.extend_from_slice(&buf[..k]),
                }
            }
            let line = String::from_utf8_lossy(&req)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            let (status, ctype, payload) = if line.starts_with("GET /feed.xml ") {
                ("200 OK", "application/rss+xml", body.clone())
            } else {
                ("404 Not Found", "text/plain", b"not here".to_vec())
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                payload.len()
            );
            let _ = stream.write_all(&payload);
        }
    });
    (base, handle)
}

#[test]
fn urls_are_fetched_and_a_404_is_reported_per_source() {
    let rss = std::fs::read(data("feeds/wire-rss2.xml")).unwrap();
    let (base, server) = serve(2, rss);
    let missing = Source::parse(&format!("{base}/gone.xml"));
    let feed = Source::parse(&format!("{base}/feed.xml"));
    assert!(matches!(feed, Source::Url(_)));
    let (good, bad) = collect_with(|s| {
        let _ = read(&missing, s);
        let _ = read(&feed, s);
    });
    server.join().unwrap();
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(bad[0].to_string(), format!("{base}/gone.xml: HTTP 404"));
    assert_eq!(good.len(), 3);
    assert_eq!(good[0].article.id, "wire-2024-07-0001");
    assert_eq!(good[0].location.file, format!("{base}/feed.xml"));
}

#[test]
fn unreachable_url_is_an_error_not_a_hang() {
    // Bind then drop: the port is (almost certainly) closed now.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (good, bad) = collect(&Source::parse(&format!("http://127.0.0.1:{port}/feed.xml")));
    assert!(good.is_empty());
    assert_eq!(bad.len(), 1);
    assert!(bad[0].location.file.starts_with("http://127.0.0.1:"));
}
