//! The `storyweave` binary: a thin command line over the library crates.

mod cmd;
mod progress;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "storyweave", version, about = "Weaves news articles in any language into stories.", long_about = None)]
struct Cli {
    /// The database file. Default: $STORYWEAVE_DB, else storyweave.db in the platform data directory.
    #[arg(long, global = true, env = "STORYWEAVE_DB")]
    db: Option<PathBuf>,
    /// Worker threads for encoding (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest articles: plain-text files, JSON Lines, RSS/Atom feeds, HTML pages, folders (recursively), URLs, or `-` for standard input.
    Ingest(cmd::ingest::Args),
    /// List the stories.
    Stories(cmd::stories::ListArgs),
    /// Show one story: its card, timeline, angles and articles with the reason each is there.
    Story(cmd::stories::ShowArgs),
    /// The main job: weave the built-in demo corpus (plus any paths given) into stories and print them.
    Demo(cmd::demo::Args),
    /// Manage the encoder weights.
    #[command(subcommand)]
    Model(cmd::model::Command),
    /// Embed raw text from standard input with one encoder.
    Embed(cmd::embed::Args),
    /// Measure the engine on labelled sets: BCubed and pairwise F1 for stories, Pearson and ROC AUC for pairs.
    Eval(cmd::eval::EvalArgs),
    /// Fit the learned scorer on the dev split of labelled sets and write the scorer file.
    Train(cmd::eval::TrainArgs),
    /// Serve the HTTP API and the web page (ingest with POST /api/articles).
    Serve(cmd::serve::Args),
    /// Watch a folder (and feed URLs) and weave new articles in as they arrive.
    Watch(cmd::watch::Args),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Encoder speed, load time and memory, beside the Python reference engines.
    Encode(cmd::bench_encode::Args),
    /// Assignment cost per article (encoding excluded) at growing numbers of live articles.
    Cluster(cmd::bench_cluster::Args),
}

fn main() {
    let cli = Cli::parse();
    let db = cli
        .db
        .clone()
        .unwrap_or_else(storyweave_core::paths::default_db);
    let threads = cli
        .threads
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    let result = match cli.command {
        Command::Ingest(a) => cmd::ingest::run(a, &db, threads),
        Command::Stories(a) => cmd::stories::list(a, &db),
        Command::Story(a) => cmd::stories::show(a, &db),
        Command::Demo(a) => cmd::demo::run(a, cli.db.as_deref(), threads),
        Command::Model(c) => cmd::model::run(c),
        Command::Embed(a) => cmd::embed::run(a, threads),
        Command::Bench(BenchCommand::Encode(a)) => cmd::bench_encode::run(a, threads),
        Command::Bench(BenchCommand::Cluster(a)) => cmd::bench_cluster::run(a),
        Command::Eval(a) => cmd::eval::eval(a, threads),
        Command::Train(a) => cmd::eval::train(a, threads),
        Command::Serve(a) => cmd::serve::run(a, &db, threads),
        Command::Watch(a) => cmd::watch::run(a, &db, threads),
    };
    match result {
        Ok(code) => std::process::exit(code),
        // `storyweave stories --json | head` is not an error.
        Err(e) if is_broken_pipe(&e) => std::process::exit(0),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(|j| j.io_error_kind())
                == Some(std::io::ErrorKind::BrokenPipe)
    })
}
