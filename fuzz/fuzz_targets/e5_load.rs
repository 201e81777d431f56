//! E5S1 model loader: arbitrary bytes as a model file must load or give an
//! `E5Error`, never panic, abort or allocate without bound. When a mutated
//! file still loads, the tokenizer and one short forward pass run on it.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use storyweave_e5::{E5Model, Prefix};

fuzz_target!(|data: &[u8]| {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(data).expect("write temp file");
    f.flush().expect("flush temp file");
    if let Ok(model) = E5Model::load(f.path()) {
        let text = "Ab\tc \u{200b}ÄÖ b a";
        let _ = model.tokenize(text);
        let _ = model.tokenize(&String::from_utf8_lossy(
            &data[data.len().saturating_sub(64)..],
        ));
        let v = model.embed(text, Prefix::Query, Some(8));
        assert!(!v.is_empty());
    }
});
