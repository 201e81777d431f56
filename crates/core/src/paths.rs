//! Where storyweave keeps things on disk, and where the evaluation data lives.

use std::path::PathBuf;

/// The encoder weights directory: `$STORYWEAVE_MODELS`, else the platform
/// cache directory (`~/.cache/storyweave/models` on Linux).
pub fn model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("STORYWEAVE_MODELS").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("storyweave")
        .join("models")
}

/// The default database: `$STORYWEAVE_DB`, else `storyweave.db` in the
/// platform data directory (`~/.local/share/storyweave` on Linux).
pub fn default_db() -> PathBuf {
    if let Some(p) = std::env::var_os("STORYWEAVE_DB").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    dirs::data_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("storyweave")
        .join("storyweave.db")
}

/// The repository root, for tests and benchmarks run through cargo.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(|p| p.parent())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The shared evaluation folder (`../shared` beside the checkout), or
/// `$STORYWEAVE_SHARED`. `None` when it is absent: callers that need it skip.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("STORYWEAVE_SHARED")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("..").join("shared"));
    dir.is_dir().then_some(dir)
}
