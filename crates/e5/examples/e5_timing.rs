//! Prints model load time and articles/s for ~300-word texts from
//! shared/reference/encoders.jsonl (texts of 400-600 tokens), threads = 1 and 2.
//! Run: cargo run --release -p storyweave-e5 --example e5_timing

use std::time::Instant;
use storyweave_e5::{E5Model, Prefix};

fn main() {
    let model_path = storyweave_core::paths::model_dir().join("e5-small-q4.bin");
    let Some(shared) = storyweave_core::paths::shared_dir() else {
        println!("skipped: shared/ evaluation folder is missing");
        return;
    };
    let t0 = Instant::now();
    let model = match E5Model::load(&model_path) {
        Ok(m) => m,
        Err(e) => {
            println!("skipped: {e}");
            return;
        }
    };
    println!("load: {:.3} s", t0.elapsed().as_secs_f64());
    let raw = std::fs::read_to_string(shared.join("reference/encoders.jsonl")).expect("reference");
    let texts: Vec<String> = raw
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .filter(|t| (400..=600).contains(&model.tokenize(&format!("query: {t}")).len()))
        .collect();
    let tokens: usize = texts
        .iter()
        .map(|t| model.tokenize(&format!("query: {t}")).len())
        .sum();
    println!(
        "{} texts, mean {} tokens",
        texts.len(),
        tokens / texts.len().max(1)
    );
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    for threads in [1, 2] {
        let batch: Vec<&str> = refs
            .iter()
            .cycle()
            .take(refs.len() * rounds)
            .copied()
            .collect();
        let t = Instant::now();
        let out = model.embed_batch(&batch, Prefix::Query, None, threads);
        let secs = t.elapsed().as_secs_f64();
        assert!(out.iter().flatten().all(|v| v.is_finite()));
        println!(
            "threads={threads}: {} articles in {secs:.2} s = {:.2} articles/s",
            batch.len(),
            batch.len() as f64 / secs
        );
    }
}
