//! JSON Lines reader: arbitrary bytes as a `.jsonl` file. Besides "never
//! panics", checks the reader's contract: every error names the file and a
//! line within the input, and every good record is clean and tagged.
#![no_main]

use std::ops::ControlFlow;

use libfuzzer_sys::fuzz_target;
use storyweave_ingest::normalise::clean_text;
use storyweave_ingest::read_bytes;

fuzz_target!(|data: &[u8]| {
    let lines = data.split(|&b| b == b'\n').count();
    let mut last_line = 0;
    let _ = read_bytes(data, "x.jsonl", &mut |r| {
        let line = match r {
            Ok(rec) => {
                let a = &rec.article;
                assert!(!a.text.is_empty(), "empty text in a good record");
                assert!(a.lang.as_deref().is_some_and(|l| !l.is_empty()));
                assert!(!a.id.is_empty());
                assert_eq!(clean_text(&a.text), a.text, "text is not clean");
                assert_eq!(rec.location.file, "x.jsonl");
                rec.location.line
            }
            Err(e) => {
                assert_eq!(e.location.file, "x.jsonl");
                assert!(e.to_string().starts_with("x.jsonl:"), "{e}");
                e.location.line
            }
        };
        let line = line.expect("a JSONL record names its line");
        assert!(line > last_line && line <= lines, "line {line} of {lines}");
        last_line = line;
        ControlFlow::Continue(())
    });
});
