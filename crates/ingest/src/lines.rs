//! A line reader with a hard length cap. `BufRead::lines` would buffer a
//! 50 MB line whole; this one keeps at most `max` bytes and skips the rest.

use std::io::{self, BufRead};

pub(crate) enum Line {
    Bytes(Vec<u8>),
    /// The line was longer than the cap; holds its full length.
    TooLong(usize),
}

pub(crate) struct CappedLines<R> {
    inner: R,
    max: usize,
}

impl<R: BufRead> CappedLines<R> {
    pub(crate) fn new(inner: R, max: usize) -> Self {
        CappedLines { inner, max }
    }

    /// The next line without its `\n` (or `\r\n`); `None` at end of input.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<Line>> {
        let mut buf = Vec::new();
        let mut len = 0usize;
        let mut seen_any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            seen_any = true;
            let (take, done) = match memchr_newline(chunk) {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            if len + take <= self.max {
                buf.extend_from_slice(&chunk[..take]);
            }
            len += take;
            let consumed = if done { take + 1 } else { take };
            self.inner.consume(consumed);
            if done {
                break;
            }
        }
        if !seen_any {
            return Ok(None);
        }
        if len > self.max {
            return Ok(Some(Line::TooLong(len)));
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        Ok(Some(Line::Bytes(buf)))
    }
}

fn memchr_newline(s: &[u8]) -> Option<usize> {
    s.iter().position(|&b| b == b'\n')
}
