//! storyweave's HTTP API and web page, served by the one binary.
//!
//! - `GET /api/stories`, `/api/stories/{id}`, `/api/articles/{id}`,
//!   `/api/search`: reads, answered from an in-memory snapshot of the story
//!   views (rebuilt after each ingest) or from read-only SQLite connections,
//!   so that reads never wait for a write. The list keeps only the first
//!   `articles=` (default 3) articles of each story; `article_count` and
//!   `/api/stories/{id}` give them all;
//! - `POST /api/articles`: ingestion through the shared [`Weaver`], behind a
//!   bearer token (`$STORYWEAVE_API_TOKEN`);
//! - `GET /api/events`: server-sent events for created, updated and merged stories;
//! - `GET /metrics` (Prometheus text) and `GET /api/openapi.json`;
//! - `/` and `/story/{id}`: the web page, all assets embedded.
//!
//! [`serve`] runs it; [`router`] builds the app for tests. The weaver must
//! be the only writer of its database while the server runs: the live story
//! index lives in this process.

mod api;
mod error;
mod ingest;
mod json;
mod metrics;
mod search;
mod state;
mod web;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use storyweave_pipeline::{Encoders, Weaver};

pub use error::ApiError;
pub use ingest::{ArticleOutcome, IngestOutcome, Status};
pub use state::{AppState, StoryEvent};

/// Largest request body accepted by default (8 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 8 << 20;

/// Settings of the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Bearer token required by `POST /api/articles`; `None` disables it.
    pub api_token: Option<String>,
    /// Largest request body, in bytes.
    pub body_limit: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            api_token: None,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }
}

impl ServerConfig {
    /// The token from `$STORYWEAVE_API_TOKEN` (unset or blank: POST disabled).
    pub fn from_env() -> Self {
        ServerConfig {
            api_token: std::env::var("STORYWEAVE_API_TOKEN")
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
            ..ServerConfig::default()
        }
    }
}

/// What can stop the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
    #[error("reading the stories from the database: {0}")]
    Startup(String),
}

/// The whole app: API, metrics and web page over one shared state.
pub fn router(state: Arc<AppState>) -> axum::Router {
    let app = api::routes().merge(web::routes());
    metrics::layer(app, state.clone()).with_state(state)
}

/// Serves the API and web page on `addr` until Ctrl-C (or SIGTERM).
///
/// `db` is the database the `weaver` was opened on: reads use their own
/// read-only connections to it. `encoders` are the ones the weaver holds
/// (used to embed search queries). The POST token comes from
/// `$STORYWEAVE_API_TOKEN`.
pub async fn serve(
    addr: SocketAddr,
    db: &Path,
    weaver: Weaver,
    encoders: Encoders,
) -> Result<(), ServeError> {
    serve_with(addr, db, weaver, encoders, ServerConfig::from_env()).await
}

/// [`serve`] with explicit settings.
pub async fn serve_with(
    addr: SocketAddr,
    db: &Path,
    weaver: Weaver,
    encoders: Encoders,
    config: ServerConfig,
) -> Result<(), ServeError> {
    let token_set = config.api_token.is_some();
    let state = Arc::new(AppState::new(db, weaver, encoders, config));
    // Build the first snapshot before taking requests, so the first reader does not pay for it.
    state
        .snapshot()
        .await
        .map_err(|e| ServeError::Startup(e.message))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener.local_addr()?;
    eprintln!("storyweave: serving http://{local}/ (API under /api, metrics at /metrics)");
    if !token_set {
        eprintln!(
            "storyweave: POST /api/articles is disabled; set STORYWEAVE_API_TOKEN to enable it"
        );
    }
    if !local.ip().is_loopback() {
        eprintln!("storyweave: warning: listening on a non-loopback address ({local})");
    }
    let app = router(state.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown().await;
            eprintln!("storyweave: shutting down");
            state.stop_streams();
        })
        .await?;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
