//! Loads the real gold sets from the shared folder (skipped when absent).
//! Expected counts are those of the shared data README, checked there with
//! an independent script.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use storyweave_eval::{discover, load, split_of, stream_order, DataSet, Kind, Split};

#[test]
fn discovers_and_loads_every_canonical_set() {
    let Some(shared) = storyweave_core::paths::shared_dir() else {
        println!("skipped: no shared evaluation folder");
        return;
    };
    let data = shared.join("data");
    if !data.is_dir() {
        println!("skipped: {} is absent", data.display());
        return;
    }
    let files = discover(std::slice::from_ref(&data)).unwrap();
    let found: HashMap<(&str, Kind, bool), _> = files
        .iter()
        .map(|f| ((f.name.as_str(), f.kind, f.augmented), f))
        .collect();
    // Every canonical file of the README, and nothing else (articles.jsonl,
    // News.jsonl, pairs_with_text.jsonl have other shapes).
    let expected = [
        ("seeds", Kind::Stories, false),
        ("cstnews_pt", Kind::Stories, false),
        ("wikinewssum_en_sample", Kind::Stories, false),
        ("20min_xd_val", Kind::Stories, false),
        ("mstream_news_en", Kind::Stories, false),
        ("semeval2022_task8/hfl_sample", Kind::Pairs, false),
        ("semeval2022_task8/hfl_sample/augmented", Kind::Pairs, true),
        ("semeval2022_task8/bl_research_fulltext", Kind::Pairs, false),
    ];
    for key in expected {
        assert!(found.contains_key(&key), "not found: {key:?} in {files:#?}");
    }
    assert_eq!(files.len(), expected.len(), "{files:#?}");

    let start = Instant::now();
    let sets: Vec<DataSet> = files.iter().map(|f| load(f).unwrap()).collect();
    let took = start.elapsed();
    println!("loaded {} sets in {took:?}", sets.len());

    // (articles or pairs, gold stories, skipped)
    let counts: HashMap<&str, (usize, usize, usize)> = [
        ("seeds", (3, 1, 0)),
        ("cstnews_pt", (140, 50, 0)),
        ("wikinewssum_en_sample", (234, 90, 0)),
        ("20min_xd_val", (28, 14, 0)),
        ("mstream_news_en", (11_109, 152, 0)),
        ("semeval2022_task8/hfl_sample", (1594, 0, 0)),
        ("semeval2022_task8/hfl_sample/augmented", (972, 0, 0)),
        // 12 pairs have a side with neither title nor text.
        ("semeval2022_task8/bl_research_fulltext", (767, 0, 12)),
    ]
    .into_iter()
    .collect();
    for set in &sets {
        let (len, stories, skipped) = counts[set.name()];
        assert_eq!(set.len(), len, "{}", set.name());
        assert_eq!(set.skipped().len(), skipped, "{}", set.name());
        match set {
            DataSet::Stories { records, .. } => {
                let labels: HashSet<&str> = records.iter().map(|(_, s)| s.as_str()).collect();
                assert_eq!(labels.len(), stories, "{}", set.name());
                let ids: HashSet<&str> = records.iter().map(|(a, _)| a.id.as_str()).collect();
                assert_eq!(ids.len(), records.len(), "duplicate ids in {}", set.name());
                assert!(records
                    .iter()
                    .all(|(a, _)| !a.text.is_empty() && a.lang.is_some()));
                let order = stream_order(records);
                let mut sorted = order.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, (0..records.len()).collect::<Vec<_>>());
            }
            DataSet::Pairs { pairs, skipped, .. } => {
                assert!(pairs.iter().all(|p| (1.0..=4.0).contains(&p.overall)));
                assert!(
                    skipped
                        .iter()
                        .all(|e| e.location.file.ends_with("pairs.jsonl")
                            && e.location.line.is_some())
                );
            }
        }
    }

    // Numbers checked with a script over the raw lines: Overall <= 1.5 / >= 3.5.
    let hfl = sets
        .iter()
        .find(|s| s.name() == "semeval2022_task8/hfl_sample");
    if let Some(DataSet::Pairs { pairs, .. }) = hfl {
        let same = pairs
            .iter()
            .filter(|p| p.same_story() == Some(true))
            .count();
        let diff = pairs
            .iter()
            .filter(|p| p.same_story() == Some(false))
            .count();
        assert_eq!((same, diff), (341, 621));
    } else {
        panic!("hfl_sample is not a pairs set");
    }

    // mstream is headlines only: the headline became the text.
    if let Some(DataSet::Stories { records, .. }) =
        sets.iter().find(|s| s.name() == "mstream_news_en")
    {
        assert!(records.iter().all(|(a, _)| a.title.is_none()));
        assert_eq!(records[0].0.id, "000001");
    }

    // 20min is fully dated: the stream is in date order.
    if let Some(DataSet::Stories { records, .. }) = sets.iter().find(|s| s.name() == "20min_xd_val")
    {
        let order = stream_order(records);
        let dates: Vec<_> = order
            .iter()
            .map(|&i| records[i].0.published_at.unwrap())
            .collect();
        assert!(dates.windows(2).all(|w| w[0] <= w[1]));
    }

    // Whole stories go to one side, and both sides are used.
    for set in &sets {
        if let DataSet::Stories { records, .. } = set {
            let labels: HashSet<&str> = records.iter().map(|(_, s)| s.as_str()).collect();
            if labels.len() >= 50 {
                let dev = labels.iter().filter(|l| split_of(l) == Split::Dev).count();
                let share = dev as f64 / labels.len() as f64;
                assert!(
                    (0.3..0.7).contains(&share),
                    "{}: dev share {share}",
                    set.name()
                );
            }
        }
    }
}
