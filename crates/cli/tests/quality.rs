//! Quality gates: `storyweave eval corpus ../shared/data --json` on every
//! labelled set, checked against floors set a little under the measured
//! scores (see the closing notes), so that a change that makes stories worse
//! fails CI. Sets the scorer was fitted on are scored on their test half.

mod common;
use common::{bin, models_ready, shared};

#[test]
fn eval_on_all_labelled_sets_clears_the_floors() {
    let Some(shared) = shared() else { return };
    if !models_ready() {
        return;
    }
    let root = storyweave_core::paths::workspace_root();
    let out = bin()
        .args(["eval", "--json", "corpus"])
        .arg(shared.join("data"))
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    let sets = report["sets"].as_array().unwrap();
    let get = |name: &str, field: &str| -> f64 {
        let set = sets
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("set {name} missing"));
        set[field]
            .as_f64()
            .unwrap_or_else(|| panic!("{name}.{field} is null"))
    };
    let floors: &[(&str, &str, f64)] = &[
        ("seeds", "bcubed_f1", 1.0),
        ("corpus", "bcubed_f1", 0.97),
        ("cstnews_pt", "bcubed_f1", 0.94),
        ("wikinewssum_en_sample", "bcubed_f1", 0.76),
        ("20min_xd_val", "bcubed_f1", 0.92),
        ("mstream_news_en", "bcubed_f1", 0.74),
        ("semeval2022_task8/hfl_sample", "auc", 0.93),
        ("semeval2022_task8/hfl_sample", "pearson", 0.70),
        ("semeval2022_task8/bl_research_fulltext", "auc", 0.95),
    ];
    let mut failed = Vec::new();
    for (set, field, floor) in floors {
        let v = get(set, field);
        if v < *floor {
            failed.push(format!("{set} {field} = {v:.3} < {floor}"));
        }
    }
    assert_eq!(
        get("corpus", "wrong_merges"),
        0.0,
        "hard negatives of the demo corpus were merged"
    );
    assert!(failed.is_empty(), "{failed:?}");
}
