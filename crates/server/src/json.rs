//! JSON responses with `<`, `>`, `&` and the JavaScript line separators
//! written as `\uXXXX` escapes: the same JSON value, but one that stays
//! inert even if a client pastes it into HTML or a script.

use std::io;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

struct HtmlSafe;

impl serde_json::ser::Formatter for HtmlSafe {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut last = 0;
        for (i, c) in fragment.char_indices() {
            let esc = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            w.write_all(&fragment.as_bytes()[last..i])?;
            w.write_all(esc.as_bytes())?;
            last = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[last..])
    }
}

/// Serialises `v` as compact, HTML-safe JSON.
pub fn to_vec<T: Serialize + ?Sized>(v: &T) -> serde_json::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, HtmlSafe);
    v.serialize(&mut ser)?;
    Ok(buf)
}

pub fn to_string<T: Serialize + ?Sized>(v: &T) -> serde_json::Result<String> {
    // The formatter writes only whole UTF-8 strings and ASCII escapes.
    to_vec(v).map(|b| String::from_utf8(b).unwrap_or_default())
}

/// A JSON response body written with [`to_vec`].
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match to_vec(&self.0) {
            Ok(body) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            Err(e) => crate::error::ApiError::internal(e).into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped_and_round_trips() {
        let s = "<script>alert(1)</script> & \u{2028} é";
        let out = to_string(&serde_json::json!({ "t": s })).unwrap();
        assert!(
            !out.contains('<') && !out.contains('>') && !out.contains('&'),
            "{out}"
        );
        assert!(out.contains("\\u003cscript\\u003e"), "{out}");
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back["t"], s);
    }
}
