//! The HTTP API and web page.
