//! Plain-text reader: arbitrary bytes as one `.txt` article. At most one
//! record comes out; errors name the file; a good record is clean and tagged.
#![no_main]

use std::ops::ControlFlow;

use libfuzzer_sys::fuzz_target;
use storyweave_ingest::normalise::clean_text;
use storyweave_ingest::read_bytes;

fuzz_target!(|data: &[u8]| {
    let mut n = 0;
    let _ = read_bytes(data, "x.txt", &mut |r| {
        n += 1;
        match r {
            Ok(rec) => {
                let a = &rec.article;
                assert!(!a.text.is_empty(), "empty text in a good record");
                assert!(a.lang.as_deref().is_some_and(|l| !l.is_empty()));
                assert_eq!(a.id, "x");
                assert_eq!(clean_text(&a.text), a.text, "text is not clean");
                if let Some(t) = &a.title {
                    assert!(!t.is_empty());
                }
            }
            Err(e) => {
                assert_eq!(e.location.file, "x.txt");
                assert!(e.to_string().starts_with("x.txt"), "{e}");
            }
        }
        ControlFlow::Continue(())
    });
    assert_eq!(n, 1, "a plain-text file is exactly one record");
});
