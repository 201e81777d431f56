//! Helpers shared by the binary's integration tests (each test file uses
//! its own subset of them).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

/// Fails the test with the command's stderr unless it exited 0.
pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The JSON a successful command printed.
pub fn json_of(out: &Output) -> serde_json::Value {
    assert_ok(out);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `storyweave --db DB stories --json`, from the workspace root.
pub fn stories_json(db: &Path) -> serde_json::Value {
    let out = bin()
        .arg("--db")
        .arg(db)
        .args(["stories", "--json"])
        .current_dir(storyweave_core::paths::workspace_root())
        .output()
        .unwrap();
    json_of(&out)
}
