use std::io::Write;
use std::path::Path;

use anyhow::bail;
use clap::Args as ClapArgs;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use storyweave_pipeline::view::{self, StoryView};
use storyweave_store::Store;

#[derive(ClapArgs)]
pub struct ListArgs {
    /// Print JSON (a list of story objects) instead of a table.
    #[arg(long)]
    json: bool,
    /// Show at most this many stories in the table.
    #[arg(long, default_value_t = 50)]
    limit: usize,
}

#[derive(ClapArgs)]
pub struct ShowArgs {
    /// The story id (as `storyweave stories` lists it).
    id: i64,
    #[arg(long)]
    json: bool,
}

fn open(db: &Path) -> anyhow::Result<Store> {
    if !db.exists() {
        bail!(
            "no database at {} yet: run `storyweave ingest PATH` or `storyweave demo` first",
            db.display()
        );
    }
    Ok(Store::open(db)?)
}

pub fn span(s: &StoryView) -> String {
    let fmt = "%Y-%m-%d %H:%M";
    if s.first_seen == s.last_updated {
        s.first_seen.format(fmt).to_string()
    } else {
        format!(
            "{} → {}",
            s.first_seen.format(fmt),
            s.last_updated.format(fmt)
        )
    }
}

pub fn table(stories: &[StoryView], limit: usize) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(vec![
        "id",
        "headline",
        "languages",
        "articles",
        "time span (UTC)",
    ]);
    for s in stories.iter().take(limit) {
        let headline: String = s.headline.chars().take(70).collect();
        t.add_row(vec![
            s.id.to_string(),
            headline,
            s.languages.join(" "),
            s.article_count.to_string(),
            span(s),
        ]);
    }
    t
}

pub fn list(args: ListArgs, db: &Path) -> anyhow::Result<i32> {
    let store = open(db)?;
    let stories = view::stories(&store)?;
    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &stories)?;
        writeln!(out)?;
    } else {
        println!("{}", table(&stories, args.limit));
        if stories.len() > args.limit {
            println!("… and {} more (use --limit)", stories.len() - args.limit);
        }
    }
    Ok(0)
}

pub fn show(args: ShowArgs, db: &Path) -> anyhow::Result<i32> {
    let store = open(db)?;
    let Some(s) = view::story(&store, args.id)? else {
        bail!("no story {} in {}", args.id, db.display());
    };
    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &s)?;
        writeln!(out)?;
        return Ok(0);
    }
    println!("Story {}: {}", s.id, s.headline);
    println!(
        "{} articles, {} · {}",
        s.article_count,
        s.languages.join(" "),
        span(&s)
    );
    let cov: Vec<String> = s
        .coverage
        .iter()
        .map(|c| format!("{} {}", c.key, c.count))
        .collect();
    println!("coverage: {}", cov.join(", "));
    let src: Vec<String> = s
        .sources
        .iter()
        .map(|c| format!("{} ({})", c.key, c.count))
        .collect();
    if !src.is_empty() {
        println!("sources:  {}", src.join(", "));
    }
    for kind in ["person", "place", "organisation"] {
        let names: Vec<String> = s
            .entities
            .iter()
            .filter(|e| e.kind == kind)
            .take(10)
            .map(|e| format!("{} ({})", e.name, e.count))
            .collect();
        if !names.is_empty() {
            println!(
                "{:<9} {}",
                format!("{kind}s:").replace("persons", "people"),
                names.join(", ")
            );
        }
    }
    if !s.keywords.is_empty() {
        println!("keywords: {}", s.keywords.join(", "));
    }
    println!("\ntimeline (per {}):", s.timeline_bucket);
    let max = s.timeline.iter().map(|p| p.count).max().unwrap_or(1);
    let fmt = if s.timeline_bucket == "hour" {
        "%Y-%m-%d %H:00"
    } else {
        "%Y-%m-%d"
    };
    for p in &s.timeline {
        let bar = "█".repeat((p.count * 30).div_ceil(max));
        println!("  {}  {bar} {}", p.at.format(fmt), p.count);
    }
    println!("\nangles:");
    for a in &s.angles {
        println!("  {}", a.line);
    }
    println!("\nheadlines by language:");
    for (lang, h) in &s.headlines {
        println!("  {lang}: {h}");
    }
    println!("\narticles:");
    for a in &s.articles {
        let when = a
            .published_at
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|| "undated".into());
        let title = a
            .title
            .clone()
            .unwrap_or_else(|| a.snippet.chars().take(80).collect());
        println!(
            "  [{}] {} · {} · {}",
            a.lang,
            when,
            a.source.as_deref().unwrap_or("-"),
            title
        );
        println!("       id {} — {}", a.id, a.why_line);
    }
    Ok(0)
}
