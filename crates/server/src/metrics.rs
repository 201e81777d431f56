//! `GET /metrics` in the Prometheus text format. Written by hand: a few
//! counters and one histogram do not need a metrics registry.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::state::AppState;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    ingest_requests: Mutex<BTreeMap<&'static str, u64>>,
    ingested: AtomicU64,
    snapshot_builds: AtomicU64,
    /// Last build time, in microseconds.
    snapshot_us: AtomicU64,
}

impl Metrics {
    fn record(&self, method: &str, route: &str, status: u16, secs: f64) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((method.to_string(), route.to_string(), status))
                .or_insert(0) += 1;
        }
        if let Ok(mut m) = self.latency.lock() {
            let h = m.entry(route.to_string()).or_default();
            if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
                h.counts[i] += 1;
            }
            h.sum += secs;
            h.count += 1;
        }
    }

    pub fn ingest_request(&self, outcome: &'static str) {
        if let Ok(mut m) = self.ingest_requests.lock() {
            *m.entry(outcome).or_insert(0) += 1;
        }
    }

    pub fn ingested(&self, n: usize) {
        self.ingested.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn snapshot_built(&self, ms: f64) {
        self.snapshot_builds.fetch_add(1, Ordering::Relaxed);
        self.snapshot_us.store((ms * 1e3) as u64, Ordering::Relaxed);
    }

    /// The exposition text; `articles`/`stories` are the store's totals.
    pub fn render(&self, articles: usize, stories: usize) -> String {
        let mut o = String::new();
        let gauge = |o: &mut String, name: &str, help: &str, kind: &str, v: String| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        };
        gauge(
            &mut o,
            "storyweave_articles_total",
            "Articles in the store.",
            "gauge",
            articles.to_string(),
        );
        gauge(
            &mut o,
            "storyweave_stories_total",
            "Live stories.",
            "gauge",
            stories.to_string(),
        );
        gauge(
            &mut o,
            "storyweave_ingested_articles_total",
            "Articles added through this server.",
            "counter",
            self.ingested.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut o,
            "storyweave_snapshot_builds_total",
            "Rebuilds of the in-memory story views.",
            "counter",
            self.snapshot_builds.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut o,
            "storyweave_snapshot_build_seconds",
            "Duration of the last rebuild of the story views.",
            "gauge",
            format!("{}", self.snapshot_us.load(Ordering::Relaxed) as f64 / 1e6),
        );

        let _ = writeln!(
            o,
            "# HELP storyweave_ingest_requests_total POST /api/articles requests by outcome.\n# TYPE storyweave_ingest_requests_total counter"
        );
        if let Ok(m) = self.ingest_requests.lock() {
            for outcome in ["ok", "rejected", "error"] {
                let n = m.get(outcome).copied().unwrap_or(0);
                let _ = writeln!(
                    o,
                    "storyweave_ingest_requests_total{{outcome=\"{outcome}\"}} {n}"
                );
            }
        }

        let _ = writeln!(
            o,
            "# HELP storyweave_http_requests_total HTTP requests by method, route and status.\n# TYPE storyweave_http_requests_total counter"
        );
        if let Ok(m) = self.requests.lock() {
            for ((method, route, status), n) in m.iter() {
                let _ = writeln!(
                    o,
                    "storyweave_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                    label(route)
                );
            }
        }

        let _ = writeln!(
            o,
            "# HELP storyweave_http_request_duration_seconds Time to answer a request (to the headers), by route.\n# TYPE storyweave_http_request_duration_seconds histogram"
        );
        if let Ok(m) = self.latency.lock() {
            for (route, h) in m.iter() {
                let route = label(route);
                let mut cum = 0;
                for (b, c) in BUCKETS.iter().zip(h.counts) {
                    cum += c;
                    let _ = writeln!(
                        o,
                        "storyweave_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {cum}"
                    );
                }
                let _ = writeln!(
                    o,
                    "storyweave_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\nstoryweave_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\nstoryweave_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    h.count, h.sum, h.count
                );
            }
        }
        o
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

async fn track(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let t = Instant::now();
    // The route pattern, not the path: ids would make the label set unbounded.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_string();
    let method = req.method().as_str().to_string();
    let res = next.run(req).await;
    state.metrics.record(
        &method,
        &route,
        res.status().as_u16(),
        t.elapsed().as_secs_f64(),
    );
    res
}

pub fn layer(app: Router<Arc<AppState>>, state: Arc<AppState>) -> Router<Arc<AppState>> {
    app.route_layer(axum::middleware::from_fn_with_state(state, track))
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let (articles, stories) = match state.snapshot().await {
        Ok(s) => (s.article_total, s.stories.len()),
        Err(e) => return e.into_response(),
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(articles, stories),
    )
        .into_response()
}
