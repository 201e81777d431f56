//! Fetching a source over HTTP(S): a feed or an article page by URL.
//!
//! `ureq` is a small blocking client (rustls for TLS, no system libraries):
//! the readers are synchronous and one request at a time is all a feed poll
//! needs. Every request has a timeout and a body size limit so that a slow
//! or huge response cannot hang or exhaust a long-running `watch`.

use std::time::Duration;

use crate::read::{read_sniffed, Flow, Record};
use crate::{RecordError, RecordLocation};

/// Limits for one request.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Whole request, connect to last byte.
    pub timeout: Duration,
    /// Largest body read; a bigger response is an error, not truncated.
    pub max_bytes: u64,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            timeout: Duration::from_secs(30),
            max_bytes: crate::feed::MAX_FEED_BYTES as u64,
        }
    }
}

/// A fetched body and what the server said it is.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
}

/// Why a fetch failed, worded for a `url: message` line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("not an http:// or https:// URL")]
    Scheme,
    #[error("HTTP {0}")]
    Status(u16),
    #[error("response is over the {0}-byte limit")]
    TooBig(u64),
    #[error("{0}")]
    Transport(String),
}

/// True for the strings read as URLs rather than paths.
pub fn is_url(s: &str) -> bool {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Fetches one URL with the given limits.
pub fn fetch(url: &str, opts: &FetchOptions) -> Result<Fetched, FetchError> {
    if !is_url(url) {
        return Err(FetchError::Scheme);
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(opts.timeout))
        .http_status_as_error(false)
        .user_agent(concat!("storyweave/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut resp = agent
        .get(url)
        .header(
            "Accept",
            "application/rss+xml, application/atom+xml, application/xml, text/xml, text/html;q=0.9, */*;q=0.5",
        )
        .call()
        .map_err(|e| FetchError::Transport(e.to_string()))?;
    let status = resp.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(FetchError::Status(status));
    }
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(opts.max_bytes)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => FetchError::TooBig(opts.max_bytes),
            other => FetchError::Transport(other.to_string()),
        })?;
    Ok(Fetched {
        bytes,
        content_type,
    })
}

/// Fetches `url` and reads it as its content says: a feed, an HTML page,
/// JSON Lines or plain text. A failed fetch is one record error naming the URL.
pub fn read_url(
    url: &str,
    opts: &FetchOptions,
    sink: &mut dyn FnMut(Result<Record, RecordError>) -> Flow,
) -> Flow {
    match fetch(url, opts) {
        Ok(f) => read_sniffed(&f.bytes, url, f.content_type.as_deref(), sink),
        Err(e) => sink(Err(RecordError::new(
            RecordLocation::whole(url),
            None,
            e.to_string(),
        ))),
    }
}
