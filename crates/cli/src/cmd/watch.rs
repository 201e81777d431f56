//! `storyweave watch`: keeps a database up to date from a folder that files
//! land in and from feed URLs.
//!
//! Polling, not filesystem events: one `stat` per file per interval is
//! cheap at the sizes a news folder reaches, works the same on every
//! platform and network filesystem, and gives the "still being written"
//! check (same size and mtime on two polls in a row) for free.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use clap::Args as ClapArgs;
use storyweave_ingest::fetch::is_url;
use storyweave_ingest::{is_article_file, Source};

use super::ingest::{gather, open_weaver, summary, weave};

#[derive(ClapArgs)]
pub struct Args {
    /// Folder to watch, recursively: files already there are ingested at
    /// start, then new or changed ones as they appear.
    dir: Option<PathBuf>,
    /// Seconds between polls of the folder and the feeds.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    interval: u64,
    /// An RSS or Atom feed URL to poll every interval (repeatable).
    #[arg(long = "feed", value_name = "URL")]
    feeds: Vec<String>,
    /// Process what is there now, then exit.
    #[arg(long)]
    once: bool,
    /// Stop after this many polls (the one at start counts).
    #[arg(long, value_name = "N")]
    max_polls: Option<u64>,
}

/// What a file looked like when last seen: a change in either means new content.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

/// Files already ingested, and files seen once that wait for a second look.
#[derive(Default)]
struct FolderState {
    done: HashMap<PathBuf, Stamp>,
    waiting: HashMap<PathBuf, Stamp>,
}

impl FolderState {
    /// The files to read now. At start everything present is ready; later a
    /// new or changed file is ready once two polls in a row saw it the same,
    /// so a file still being copied in is not read half-written.
    fn ready(&mut self, files: Vec<(PathBuf, Stamp)>, first: bool) -> Vec<PathBuf> {
        let mut ready = Vec::new();
        let mut waiting = HashMap::new();
        let present: std::collections::HashSet<&PathBuf> = files.iter().map(|(p, _)| p).collect();
        self.done.retain(|p, _| present.contains(p));
        for (path, stamp) in files {
            if self.done.get(&path) == Some(&stamp) {
                continue;
            }
            if first || self.waiting.get(&path) == Some(&stamp) {
                self.done.insert(path.clone(), stamp);
                ready.push(path);
            } else {
                waiting.insert(path, stamp);
            }
        }
        self.waiting = waiting;
        ready
    }
}

/// Article files under `dir` (hidden entries skipped), in name order.
fn scan(dir: &Path) -> Vec<(PathBuf, Stamp)> {
    walkdir_files(dir)
        .into_iter()
        .filter(|p| is_article_file(p))
        .filter_map(|p| {
            let m = std::fs::metadata(&p).ok()?;
            let stamp = Stamp {
                modified: m.modified().ok(),
                len: m.len(),
            };
            Some((p, stamp))
        })
        .collect()
}

fn walkdir_files(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

pub fn run(args: Args, db: &Path, threads: usize) -> anyhow::Result<i32> {
    if args.dir.is_none() && args.feeds.is_empty() {
        bail!("nothing to watch: give a folder, one or more --feed URLs, or both");
    }
    if let Some(dir) = &args.dir {
        if !dir.is_dir() {
            bail!("{} is not a folder", dir.display());
        }
    }
    if let Some(bad) = args.feeds.iter().find(|u| !is_url(u)) {
        bail!("--feed {bad}: not an http:// or https:// URL");
    }
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .context("installing the Ctrl-C handler")?;
    }
    let mut weaver = open_weaver(db, threads)?;
    let feeds: Vec<Source> = args.feeds.iter().map(|u| Source::Url(u.clone())).collect();
    let mut state = FolderState::default();
    let mut any_bad = false;
    let mut poll = 0u64;
    let interval = Duration::from_secs(args.interval.max(1));
    loop {
        poll += 1;
        let t = Instant::now();
        let files = args.dir.as_deref().map(scan).unwrap_or_default();
        let ready = state.ready(files, poll == 1);
        let mut sources: Vec<Source> = ready.iter().cloned().map(Source::Path).collect();
        sources.extend(feeds.iter().cloned());
        // Every source is read even when one fails: gather reports per record.
        let g = gather(&sources, None, false);
        let bad = g.bad;
        any_bad |= bad > 0;
        let report = weave(&mut weaver, g.records)?;
        // A feed re-poll that brought only known entries is not news.
        if !ready.is_empty() || report.added > 0 || bad > 0 {
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "poll {poll}: {}",
                summary(&report, bad, t.elapsed().as_secs_f64(), db)
            )?;
            out.flush()?;
        }
        if args.once || args.max_polls.is_some_and(|m| poll >= m) {
            break;
        }
        // Sleep in short steps so Ctrl-C stops within a moment, between batches.
        let wake = Instant::now() + interval;
        while Instant::now() < wake && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(100).min(wake - Instant::now()));
        }
        if stop.load(Ordering::SeqCst) {
            eprintln!("stopped after {poll} polls");
            break;
        }
    }
    Ok(if any_bad { 2 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(len: u64) -> Stamp {
        Stamp {
            modified: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(len)),
            len,
        }
    }

    #[test]
    fn new_files_wait_until_they_stop_changing() {
        let mut s = FolderState::default();
        let a = PathBuf::from("a.txt");
        let b = PathBuf::from("b.txt");
        // At start everything present is read.
        assert_eq!(s.ready(vec![(a.clone(), stamp(1))], true), vec![a.clone()]);
        // Unchanged: nothing to do.
        assert!(s.ready(vec![(a.clone(), stamp(1))], false).is_empty());
        // A new file is seen, still growing, then stable.
        assert!(s
            .ready(vec![(a.clone(), stamp(1)), (b.clone(), stamp(5))], false)
            .is_empty());
        assert!(s
            .ready(vec![(a.clone(), stamp(1)), (b.clone(), stamp(9))], false)
            .is_empty());
        assert_eq!(
            s.ready(vec![(a.clone(), stamp(1)), (b.clone(), stamp(9))], false),
            vec![b.clone()]
        );
        // A change to a done file is read again once stable.
        assert!(s
            .ready(vec![(a.clone(), stamp(2)), (b.clone(), stamp(9))], false)
            .is_empty());
        assert_eq!(
            s.ready(vec![(a.clone(), stamp(2)), (b.clone(), stamp(9))], false),
            vec![a.clone()]
        );
        // A deleted then re-created file counts as new.
        assert!(s.ready(vec![(b.clone(), stamp(9))], false).is_empty());
        assert!(s
            .ready(vec![(a.clone(), stamp(2)), (b.clone(), stamp(9))], false)
            .is_empty());
        assert_eq!(
            s.ready(vec![(a.clone(), stamp(2)), (b.clone(), stamp(9))], false),
            vec![a]
        );
    }
}
