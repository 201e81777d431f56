//! The binary end to end: readers, bad input, the seeds, the embed command.
//! Tests that need the encoder weights or ../shared say so and skip.

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

mod common;
use common::{assert_ok, bin, models_ready, shared, stories_json};

fn run(db: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = bin();
    cmd.arg("--db")
        .arg(db)
        .args(args)
        .current_dir(storyweave_core::paths::workspace_root());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn storyweave");
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    child.wait_with_output().unwrap()
}

const EN: &str = "The central bank of the fictional republic of Veldoria raised its main interest rate by half a point on Tuesday, citing stubborn inflation in food and energy prices.";

#[test]
fn every_command_has_help() {
    for cmd in [
        "ingest", "stories", "story", "demo", "model", "embed", "eval", "train",
    ] {
        let out = bin().args([cmd, "--help"]).output().unwrap();
        assert!(out.status.success(), "{cmd} --help");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{cmd}"
        );
    }
}

#[test]
fn stories_without_a_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&dir.path().join("none.db"), &["stories"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no database"));
}

#[test]
fn bad_records_are_reported_and_good_ones_kept() {
    if !models_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    let good = dir.path().join("good.jsonl");
    std::fs::write(
        &good,
        format!(
            "{}\n",
            serde_json::json!({"id": "first", "text": EN, "lang": "en"})
        ),
    )
    .unwrap();
    let out = run(&db, &["ingest", good.to_str().unwrap()], None);
    assert_ok(&out);

    let mixed = dir.path().join("mixed.jsonl");
    let mut body = format!(
        "{}\n",
        serde_json::json!({"id": "second", "text": EN.replace("half a point", "a quarter point")})
    );
    body.push_str("{\"id\": \"broken\", \"text\": \n");
    body.push_str(&format!(
        "{}\n",
        serde_json::json!({"id": "bad-date", "text": EN, "date": "yesterday"})
    ));
    std::fs::write(&mixed, body).unwrap();
    let out = run(&db, &["ingest", mixed.to_str().unwrap()], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("mixed.jsonl:2"), "{err}");
    assert!(err.contains("mixed.jsonl:3: field `date`"), "{err}");
    assert!(err.contains("2 bad records"), "{err}");
    let ids: Vec<String> = stories_json(&db)
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["articles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_string())
        })
        .collect();
    assert!(
        ids.contains(&"first".to_string()) && ids.contains(&"second".to_string()),
        "{ids:?}"
    );

    // --strict stores nothing from a file with a bad record.
    let out = run(&db, &["ingest", "--strict", mixed.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    // Re-ingesting is idempotent; standard input works too.
    let out = run(
        &db,
        &["ingest", "-"],
        Some(format!("{}\n", serde_json::json!({"id": "first", "text": EN})).as_bytes()),
    );
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ingested 0 new articles (1 duplicates"));
}

#[test]
fn seeds_read_as_one_story_with_their_fields() {
    let Some(shared) = shared() else { return };
    if !models_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("seeds.db");
    let out = run(
        &db,
        &["ingest", shared.join("data/seeds").to_str().unwrap()],
        None,
    );
    assert_ok(&out);
    let stories = stories_json(&db);
    let arts: Vec<&serde_json::Value> = stories
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["articles"].as_array().unwrap())
        .collect();
    assert_eq!(arts.len(), 3);
    let by_id = |id: &str| arts.iter().find(|a| a["id"] == id).copied().unwrap();
    let pt = by_id("000_4767b6bb549759c7");
    assert_eq!(
        (pt["lang"].as_str(), pt["source"].as_str()),
        (Some("pt"), Some("Sputnik"))
    );
    let id = by_id("001_db488694fdfe07f0");
    assert_eq!(id["lang"], "id");
    assert!(id["title"]
        .as_str()
        .unwrap()
        .starts_with("Turki Janji Bela Azerbaijan"));
    let en = by_id("004_ae739b3bf20cdff9");
    assert_eq!(en["lang"], "en");
    assert!(en["published_at"]
        .as_str()
        .unwrap()
        .starts_with("2020-10-02"));
    assert_eq!(
        stories.as_array().unwrap().len(),
        1,
        "the three seeds form one story"
    );
}

/// The seeds end up in one story, and nothing else with them, with the
/// whole demo corpus (its Karabakh and Lavrov distractors included) around.
#[test]
fn seeds_stay_together_among_the_demo_corpus() {
    let Some(shared) = shared() else { return };
    if !models_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let out = run(
        &db,
        &[
            "ingest",
            "corpus",
            shared.join("data/seeds").to_str().unwrap(),
        ],
        None,
    );
    assert_ok(&out);
    let stories = stories_json(&db);
    let seeds = [
        "000_4767b6bb549759c7",
        "001_db488694fdfe07f0",
        "004_ae739b3bf20cdff9",
    ];
    let story = stories
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["articles"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["id"] == seeds[0])
        })
        .unwrap();
    let mut ids: Vec<&str> = story["articles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, seeds, "the seeds' story holds exactly the seeds");
    // The card names the actors and places.
    let id = story["id"].as_i64().unwrap().to_string();
    let card = run(&db, &["story", &id, "--json"], None);
    let card: serde_json::Value = serde_json::from_slice(&card.stdout).unwrap();
    let keys: Vec<&str> = card["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    for k in ["lavrov", "armenia", "azerbaijan", "turkey"] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
    let angles: Vec<&str> = card["angles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["line"].as_str().unwrap())
        .collect();
    assert_eq!(angles.len(), 3);
    assert!(angles[0] != angles[1] && angles[1] != angles[2] && angles[0] != angles[2]);
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>()
        / (a.iter().map(|x| x * x).sum::<f64>().sqrt()
            * b.iter().map(|x| x * x).sum::<f64>().sqrt())
}

/// `embed` on the raw seed files gives the reference engines' seed-to-seed cosines to 3 decimals.
#[test]
fn embed_matches_the_reference_cosines_between_the_seeds() {
    let Some(shared) = shared() else { return };
    if !models_ready() {
        return;
    }
    let refs: Vec<serde_json::Value> =
        std::fs::read_to_string(shared.join("reference/encoders.jsonl"))
            .unwrap()
            .lines()
            .take(3)
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    let input: String = refs
        .iter()
        .map(|r| format!("{}\n", serde_json::json!({"text": r["text"]})))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    for (model, field) in [("e5", "e5_query"), ("use", "use_m")] {
        let out = run(
            &dir.path().join("unused.db"),
            &["embed", "--model", model, "--jsonl"],
            Some(input.as_bytes()),
        );
        assert_ok(&out);
        let ours: Vec<Vec<f64>> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["vector"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect()
            })
            .collect();
        let theirs: Vec<Vec<f64>> = refs
            .iter()
            .map(|r| {
                r[field]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect()
            })
            .collect();
        for (i, j) in [(0, 1), (0, 2), (1, 2)] {
            let (a, b) = (cosine(&ours[i], &ours[j]), cosine(&theirs[i], &theirs[j]));
            assert!(
                (a - b).abs() < 5e-4,
                "{model} seeds {i}-{j}: {a:.4} vs reference {b:.4}"
            );
        }
    }
}
