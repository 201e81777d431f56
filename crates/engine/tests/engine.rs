//! The story engine on synthetic articles: separation, time window,
//! determinism, merges and explanations.

use chrono::{DateTime, Duration, TimeZone, Utc};
use storyweave_engine::scorer::Model;
use storyweave_engine::{ArticleInput, EngineConfig, Scorer, Signals, StoryIndex, FEATURE_NAMES};

/// A deterministic pseudo-random unit vector near `topic`.
fn vector(topic: u64, noise_seed: u64, noise: f32, dim: usize) -> Vec<f32> {
    let mut s = topic
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut n = noise_seed
        .wrapping_mul(2862933555777941757)
        .wrapping_add(3037000493);
    let mut v: Vec<f32> = (0..dim)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            n = n.wrapping_mul(2862933555777941757).wrapping_add(3037000493);
            let a = ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5;
            let b = ((n >> 33) as f32 / (1u64 << 31) as f32) - 0.5;
            a + noise * b
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
}

fn article(
    id: &str,
    topic: u64,
    seed: u64,
    hours: i64,
    entities: &[&str],
    text: &str,
) -> ArticleInput {
    ArticleInput {
        id: id.into(),
        lang: "en".into(),
        time: Some(t0() + Duration::hours(hours)),
        e5: vector(topic, seed, 0.3, 384),
        use_vec: Some(vector(topic + 1000, seed, 0.3, 512)),
        entities: entities.iter().map(|s| s.to_string()).collect(),
        text: text.into(),
    }
}

fn stream() -> Vec<ArticleInput> {
    let mut v = Vec::new();
    for i in 0..6 {
        v.push(article(
            &format!("quake-{i}"),
            1,
            i,
            i as i64,
            &["peru", "arequipa"],
            "earthquake magnitude arequipa peru dead mines",
        ));
        v.push(article(
            &format!("fed-{i}"),
            2,
            100 + i,
            i as i64,
            &["fed", "powell"],
            "federal reserve rates powell inflation hold",
        ));
    }
    v
}

#[test]
fn separates_two_events_and_is_deterministic() {
    let run = || {
        let mut idx = StoryIndex::new(Scorer::default_for(Signals::All), EngineConfig::default());
        stream()
            .iter()
            .map(|a| idx.assign(a).story)
            .collect::<Vec<_>>()
    };
    let a = run();
    assert_eq!(a, run(), "same input order, same stories");
    let quakes: Vec<i64> = a.iter().step_by(2).copied().collect();
    let feds: Vec<i64> = a.iter().skip(1).step_by(2).copied().collect();
    assert!(quakes.iter().all(|s| *s == quakes[0]), "{a:?}");
    assert!(feds.iter().all(|s| *s == feds[0]), "{a:?}");
    assert_ne!(quakes[0], feds[0]);
}

#[test]
fn an_article_outside_the_time_window_opens_a_story() {
    let mut idx = StoryIndex::new(Scorer::default_for(Signals::All), EngineConfig::default());
    let text = "earthquake magnitude arequipa peru dead mines";
    let first = idx.assign(&article("a", 1, 1, 0, &["peru", "arequipa"], text));
    let same = idx.assign(&article("b", 1, 2, 5, &["peru", "arequipa"], text));
    assert_eq!(first.story, same.story);
    let months_later = idx.assign(&article("c", 1, 3, 24 * 60, &["peru", "arequipa"], text));
    assert!(months_later.opened);
    assert_eq!(
        months_later.candidates, 0,
        "the old story is outside the window"
    );
}

#[test]
fn every_decision_explains_itself() {
    let mut idx = StoryIndex::new(Scorer::default_for(Signals::All), EngineConfig::default());
    let s = stream();
    idx.assign(&s[0]);
    let d = idx.assign(&s[2]);
    assert!(!d.opened);
    let why = d.why();
    assert_eq!(why["decision"], "joined");
    let signals = why["best"]["signals"].as_array().unwrap();
    assert_eq!(signals.len(), FEATURE_NAMES.len());
    // The contributions and the bias add up to the logit of p.
    let z: f64 = signals
        .iter()
        .map(|x| x["contribution"].as_f64().unwrap())
        .sum::<f64>()
        + why["best"]["bias"].as_f64().unwrap();
    let p = 1.0 / (1.0 + (-z).exp());
    assert!((p - d.p as f64).abs() < 1e-4, "{p} vs {}", d.p);
}

/// A scorer that only looks at the e5 centroid, with thresholds set by hand.
fn centroid_scorer(join: f32, merge: f32) -> Scorer {
    let n = FEATURE_NAMES.len();
    let mut weights = vec![0.0; n];
    weights[0] = 3.0;
    Scorer {
        model: Model {
            features: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
            mean: vec![0.0; n],
            scale: vec![0.25; n],
            weights,
            bias: -6.0,
            join_threshold: join,
            merge_threshold: merge,
            trees: Vec::new(),
        },
        signals: Signals::Dense,
    }
}

#[test]
fn converging_stories_merge_and_the_merge_is_reported() {
    // p = sigmoid(12·cos − 6): cos 0.5 stays below the 0.6 join threshold.
    let mut idx = StoryIndex::new(centroid_scorer(0.6, 0.6), EngineConfig::default());
    let dim = 384;
    let unit = |v: Vec<f32>| {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / n).collect::<Vec<f32>>()
    };
    // Two directions 60 degrees apart: each opens its own story.
    let mut a = vec![0.0; dim];
    a[0] = 1.0;
    let mut b = vec![0.0; dim];
    b[0] = 0.5;
    b[1] = 0.866;
    let mk = |id: &str, v: Vec<f32>| ArticleInput {
        id: id.into(),
        lang: "en".into(),
        time: None,
        e5: v,
        use_vec: None,
        entities: vec![],
        text: String::new(),
    };
    let s1 = idx.assign(&mk("a", a.clone()));
    let s2 = idx.assign(&mk("b", b.clone()));
    assert!(s1.opened && s2.opened && s1.story != s2.story);
    // An article between them fits both; the stories then fit each other.
    let mid = unit(a.iter().zip(&b).map(|(x, y)| x + y).collect());
    let d = idx.assign(&mk("m", mid));
    assert!(!d.opened);
    assert_eq!(d.merged.len(), 1, "{:?}", d.merged);
    let (from, into, _) = d.merged[0];
    assert_eq!(
        (from, into),
        (s2.story, s1.story),
        "the newer story folds into the older"
    );
    assert_eq!(d.story, s1.story);
    assert_eq!(idx.story_articles(s1.story).unwrap().len(), 3);
    assert!(idx.story_articles(s2.story).is_none());
    assert_eq!(idx.live_stories(), 1);
}

#[test]
fn force_rebuilds_the_same_state() {
    let s = stream();
    let mut live = StoryIndex::new(Scorer::default_for(Signals::All), EngineConfig::default());
    let stories: Vec<i64> = s.iter().map(|a| live.assign(a).story).collect();
    let mut restored = StoryIndex::new(Scorer::default_for(Signals::All), EngineConfig::default());
    for (a, st) in s.iter().zip(&stories) {
        restored.force(a, Some(*st));
    }
    let next = article("next", 1, 77, 7, &["peru"], "earthquake peru arequipa");
    assert_eq!(live.assign(&next).story, restored.assign(&next).story);
}
