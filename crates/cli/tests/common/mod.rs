//! Helpers shared by the binary's integration tests (each test file uses
//! its own subset of them).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The `storyweave` binary built for these tests.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_storyweave"))
}

/// Whether the encoder weights are installed and verified; says why a test skips when not.
pub fn models_ready() -> bool {
    let ok = storyweave_embed::fetch::models_present(&storyweave_core::paths::model_dir());
    if !ok {
        println!("skipped: encoder weights absent (run `storyweave model fetch`)");
    }
    ok
}

/// The shared evaluation folder; says why a test skips when it is absent.
pub fn shared() -> Option<PathBuf> {
    let s = storyweave_core::paths::shared_dir();
    if s.is_none() {
        println!("skipped: ../shared is absent");
    }
    s
}
