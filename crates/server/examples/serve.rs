//! Serves a database: `cargo run -p storyweave-server --example serve -- DB [ADDR]`.
//! The same as `storyweave serve`, for trying the server without the CLI.

use std::net::SocketAddr;
use std::path::PathBuf;

use storyweave_engine::{EngineConfig, Scorer, Signals};
use storyweave_pipeline::{Encoders, Weaver};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let Some(db) = args.next().map(PathBuf::from) else {
        eprintln!("usage: serve DB [ADDR]   (ADDR default 127.0.0.1:8080)");
        std::process::exit(2);
    };
    let addr: SocketAddr = match args
        .next()
        .unwrap_or_else(|| "127.0.0.1:8080".into())
        .parse()
    {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bad address: {e}");
            std::process::exit(2);
        }
    };
    let dir = storyweave_core::paths::model_dir();
    let run = async {
        let files = storyweave_embed::ensure_models(&dir, &mut |m| eprintln!("{m}"))
            .map_err(|e| e.to_string())?;
        let encoders = Encoders::load(&files).map_err(|e| e.to_string())?;
        let weaver = Weaver::open(
            &db,
            encoders.clone(),
            Scorer::default_for(Signals::All),
            EngineConfig::default(),
        )
        .map_err(|e| e.to_string())?;
        storyweave_server::serve(addr, &db, weaver, encoders)
            .await
            .map_err(|e| e.to_string())
    };
    if let Err(e) = run.await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
