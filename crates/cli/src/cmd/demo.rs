use std::path::Path;
use std::time::Instant;

use clap::Args as ClapArgs;
use storyweave_ingest::Source;
use storyweave_pipeline::view;

use super::ingest::{gather, open_weaver, summary, weave};

/// The team's own demo corpus, built into the binary so `demo` runs anywhere.
pub const DEMO_CORPUS: &str = include_str!("../../../../corpus/stories.jsonl");

#[derive(ClapArgs)]
pub struct Args {
    /// More files or folders to weave in with the corpus (e.g. ../shared/data/seeds).
    paths: Vec<String>,
    /// Show at most this many stories.
    #[arg(long, default_value_t = 60)]
    limit: usize,
}

pub fn run(args: Args, db: Option<&Path>, threads: usize) -> anyhow::Result<i32> {
    let t = Instant::now();
    // A fresh demo database each run, unless --db says otherwise.
    let db = match db {
        Some(p) => p.to_path_buf(),
        None => {
            let p = storyweave_core::paths::default_db().with_file_name("demo.db");
            for ext in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{ext}", p.display()));
            }
            p
        }
    };
    let sources: Vec<Source> = args.paths.iter().map(|p| Source::parse(p)).collect();
    let g = gather(
        &sources,
        Some((DEMO_CORPUS.as_bytes(), "corpus/stories.jsonl")),
        false,
    );
    let mut weaver = open_weaver(&db, threads)?;
    let report = weave(&mut weaver, g.records)?;
    let stories = view::stories(weaver.store())?;
    println!("{}", super::stories::table(&stories, args.limit));
    if stories.len() > args.limit {
        println!("… and {} more", stories.len() - args.limit);
    }
    eprintln!(
        "{}",
        summary(&report, g.bad, t.elapsed().as_secs_f64(), &db)
    );
    eprintln!("next: storyweave --db {} story <id>", db.display());
    Ok(if g.bad > 0 { 2 } else { 0 })
}
