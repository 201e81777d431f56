//! Language-tag normaliser: Ok tags are canonical (normalising them again
//! changes nothing) and ASCII.
#![no_main]

use libfuzzer_sys::fuzz_target;
use storyweave_lang::normalise_tag;

fuzz_target!(|s: &str| {
    if let Ok(t) = normalise_tag(s) {
        assert!(t.is_ascii() && !t.is_empty(), "{t:?}");
        assert_eq!(
            normalise_tag(&t).as_deref(),
            Ok(t.as_str()),
            "not idempotent"
        );
    }
});
