//! USE-m SentencePiece model parser and tokenizer: arbitrary bytes as an
//! `sp.model` (protobuf pieces plus the precompiled-charsmap double-array
//! trie) must parse or give a `UseError`; a model that parses must tokenize
//! any text into `<s> … </s>` with every id inside the vocabulary.
//!
//! Input layout: byte 0 = length n of the text, bytes 1..=n = the text
//! (lossy UTF-8), the rest = the sp.model bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = (n as usize).min(rest.len());
    let (text, model) = rest.split_at(n);
    let text = String::from_utf8_lossy(text);
    for t in [text.as_ref(), "Hello  wörld \u{3000}ＡＢＣ ①", ""] {
        if let Ok((vocab, ids)) = storyweave_usem::fuzz_tokenize(model, t) {
            assert!(ids.len() >= 3, "{ids:?}");
            assert_eq!(ids[0], 1);
            assert_eq!(ids[ids.len() - 1], 2);
            assert!(
                ids.iter().all(|&id| (id as usize) < vocab),
                "{ids:?} vs {vocab}"
            );
        } else {
            break;
        }
    }
});
