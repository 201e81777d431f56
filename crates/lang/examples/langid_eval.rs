//! Per-language accuracy of the detector on labelled JSON Lines files
//! (canonical stories.jsonl / pairs.jsonl), beside whatlang alone: the
//! measurement behind the choice of detector.
//!
//! cargo run --release -p storyweave-lang --example langid_eval -- corpus/stories.jsonl ../shared/data/eval/*/stories.jsonl ../shared/data/eval/semeval2022_task8/*/pairs.jsonl

use std::collections::BTreeMap;
use std::io::BufRead;

fn main() {
    let mut stats: BTreeMap<String, (u32, u32, u32)> = BTreeMap::new();
    let mut confusions: BTreeMap<(String, String), u32> = BTreeMap::new();
    for path in std::env::args().skip(1) {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        for line in std::io::BufReader::new(file).lines() {
            let Ok(line) = line else { continue };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let items = if v.get("a").is_some() {
                vec![v["a"].clone(), v["b"].clone()]
            } else {
                vec![v]
            };
            for it in items {
                let gold = it["lang"].as_str().unwrap_or("").to_string();
                if gold.is_empty() {
                    continue;
                }
                let text = format!(
                    "{} {}",
                    it["title"].as_str().unwrap_or(""),
                    it["text"].as_str().unwrap_or("")
                );
                let ours = storyweave_lang::detect(&text)
                    .map(|d| d.lang)
                    .unwrap_or_default();
                let plain = whatlang::detect(&text)
                    .and_then(|i| {
                        isolang::Language::from_639_3(if i.lang().code() == "cmn" {
                            "zho"
                        } else {
                            i.lang().code()
                        })
                    })
                    .and_then(|l| l.to_639_1())
                    .unwrap_or("")
                    .to_string();
                let e = stats.entry(gold.clone()).or_default();
                e.0 += 1;
                e.1 += (ours == gold) as u32;
                e.2 += (plain == gold) as u32;
                if ours != gold {
                    *confusions.entry((gold, ours)).or_default() += 1;
                }
            }
        }
    }
    println!(
        "{:<6} {:>7} {:>12} {:>12}",
        "lang", "n", "storyweave", "whatlang"
    );
    let (mut n, mut a, mut b) = (0, 0, 0);
    for (lang, (t, ours, plain)) in &stats {
        println!(
            "{lang:<6} {t:>7} {:>12.3} {:>12.3}",
            *ours as f64 / *t as f64,
            *plain as f64 / *t as f64
        );
        n += t;
        a += ours;
        b += plain;
    }
    println!(
        "{:<6} {n:>7} {:>12.3} {:>12.3}",
        "all",
        a as f64 / n as f64,
        b as f64 / n as f64
    );
    let mut worst: Vec<_> = confusions.into_iter().collect();
    worst.sort_by_key(|x| std::cmp::Reverse(x.1));
    for ((gold, got), c) in worst.into_iter().take(8) {
        println!("confused: {gold} -> {got:?} x{c}");
    }
}
