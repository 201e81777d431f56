pub mod bench_cluster;
pub mod bench_encode;
pub mod demo;
pub mod embed;
pub mod eval;
pub mod ingest;
pub mod model;
pub mod serve;
pub mod stories;
pub mod watch;

use anyhow::Context;
use storyweave_embed::{ensure_models, ModelFiles};

/// The model files, fetched on first use with a message on standard error.
pub fn models() -> anyhow::Result<ModelFiles> {
    let dir = storyweave_core::paths::model_dir();
    ensure_models(&dir, &mut |msg| eprintln!("{msg}"))
        .with_context(|| format!("setting up the encoders in {}", dir.display()))
}

/// Both encoders, loaded.
pub fn encoders() -> anyhow::Result<storyweave_pipeline::Encoders> {
    let files = models()?;
    Ok(storyweave_pipeline::Encoders::load(&files)?)
}
