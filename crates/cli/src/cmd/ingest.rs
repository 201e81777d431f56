use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

use clap::Args as ClapArgs;
use storyweave_engine::{EngineConfig, Scorer, Signals};
use storyweave_ingest::{read, read_bytes, Record, Source};
use storyweave_pipeline::{IngestReport, Weaver};

use crate::progress;

#[derive(ClapArgs)]
pub struct Args {
    /// Files, folders or http(s) URLs to read; `-` reads standard input.
    #[arg(required = true)]
    paths: Vec<String>,
    /// Stop at the first bad record, before storing anything.
    #[arg(long)]
    strict: bool,
}

/// Articles read from all inputs, and how many records were bad.
pub struct Gathered {
    pub records: Vec<Record>,
    pub bad: usize,
}

/// Reads every source, printing each bad record as it is met.
/// With `strict`, stops at the first one.
pub fn gather(sources: &[Source], extra: Option<(&[u8], &str)>, strict: bool) -> Gathered {
    let mut g = Gathered {
        records: Vec::new(),
        bad: 0,
    };
    let mut sink = |r: Result<Record, storyweave_ingest::RecordError>| match r {
        Ok(rec) => {
            g.records.push(rec);
            ControlFlow::Continue(())
        }
        Err(e) => {
            eprintln!("bad record: {e}");
            g.bad += 1;
            if strict {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
    };
    if let Some((bytes, name)) = extra {
        if read_bytes(bytes, name, &mut sink).is_break() {
            return g;
        }
    }
    for s in sources {
        if read(s, &mut sink).is_break() {
            break;
        }
    }
    g
}

/// Feeds articles to the weaver in batches, in input order (the arrival
/// order: the same input gives the same stories), with a progress bar.
pub fn weave(weaver: &mut Weaver, records: Vec<Record>) -> anyhow::Result<IngestReport> {
    let pb = progress::bar(records.len() as u64, "weaving");
    let mut total = IngestReport::default();
    let batch = (weaver.threads * 8).max(16);
    let mut records = records.into_iter().peekable();
    while records.peek().is_some() {
        let chunk: Vec<_> = records.by_ref().take(batch).map(|r| r.article).collect();
        let n = chunk.len() as u64;
        let (report, _) = weaver.ingest(chunk)?;
        total.added += report.added;
        total.duplicates += report.duplicates;
        total.opened += report.opened;
        total.joined += report.joined;
        total.merges += report.merges;
        pb.inc(n);
    }
    pb.finish_and_clear();
    Ok(total)
}

pub fn open_weaver(db: &Path, threads: usize) -> anyhow::Result<Weaver> {
    let encoders = super::encoders()?;
    let mut w = Weaver::open(
        db,
        encoders,
        Scorer::default_for(Signals::All),
        EngineConfig::default(),
    )?;
    w.threads = threads;
    Ok(w)
}

pub fn summary(report: &IngestReport, bad: usize, secs: f64, db: &Path) -> String {
    format!(
        "ingested {} new articles ({} duplicates skipped, {} bad records) in {:.1}s: {} opened a story, {} joined one, {} merges; stored in {}",
        report.added,
        report.duplicates,
        bad,
        secs,
        report.opened,
        report.joined,
        report.merges,
        db.display()
    )
}

pub fn run(args: Args, db: &Path, threads: usize) -> anyhow::Result<i32> {
    let t = Instant::now();
    let sources: Vec<Source> = args.paths.iter().map(|p| Source::parse(p)).collect();
    let g = gather(&sources, None, args.strict);
    if args.strict && g.bad > 0 {
        eprintln!("--strict: stopped at the first bad record; nothing was stored");
        return Ok(2);
    }
    let mut weaver = open_weaver(db, threads)?;
    let report = weave(&mut weaver, g.records)?;
    eprintln!("{}", summary(&report, g.bad, t.elapsed().as_secs_f64(), db));
    Ok(if g.bad > 0 { 2 } else { 0 })
}
