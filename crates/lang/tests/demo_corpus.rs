//! The detector on the team's demo corpus: every article's detected
//! language must equal its labelled one (14 languages, 264 articles).

#[test]
fn detects_every_demo_corpus_article() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus/stories.jsonl");
    let corpus = std::fs::read_to_string(&path).expect("the demo corpus is part of the repository");
    let mut wrong = Vec::new();
    let mut n = 0;
    for line in corpus.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = format!(
            "{}\n{}",
            v["title"].as_str().unwrap(),
            v["text"].as_str().unwrap()
        );
        let got = storyweave_lang::detect(&text).map(|d| d.lang);
        if got.as_deref() != v["lang"].as_str() {
            wrong.push((v["id"].as_str().unwrap().to_string(), got));
        }
        n += 1;
    }
    assert_eq!(n, 264);
    assert!(wrong.is_empty(), "{wrong:?}");
}
