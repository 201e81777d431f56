use super::*;
use std::collections::HashSet;
use EntityKind::{Organisation as Org, Person, Place};

fn keys(found: &[Mention]) -> HashSet<(String, EntityKind)> {
    found.iter().map(|m| (m.key.clone(), m.kind)).collect()
}

/// Runs the extractor and checks offsets, expected entities and junk.
fn check(lang: &str, text: &str, expected: &[(&str, EntityKind)], junk: &[&str]) {
    let found = EntityExtractor::new().extract(text, Some(lang));
    for m in &found {
        assert_eq!(&text[m.start..m.end], m.name, "offsets of {m:?}");
        assert!(m.key.is_ascii() && !m.key.is_empty(), "key of {m:?}");
    }
    let got = keys(&found);
    for (k, kind) in expected {
        assert!(
            got.contains(&(k.to_string(), *kind)),
            "{lang}: missing {k} ({kind:?}) in {found:#?}"
        );
    }
    for j in junk {
        assert!(
            !found.iter().any(|m| m.name.contains(j)),
            "{lang}: junk {j:?} extracted: {found:#?}"
        );
    }
}

#[test]
fn gazetteer_data_is_well_formed() {
    let g = gazetteer::global();
    assert!(g.malformed.is_empty(), "malformed lines: {:?}", g.malformed);
    // Spellings of different entities that fold together are listed here;
    // Turkish "İngiltere" (UK) vs Italian "Inghilterra" (England) is the only
    // one accepted.
    let unexpected: Vec<_> = g
        .conflicts
        .iter()
        .filter(|c| !c.starts_with("\"ingilter\""))
        .collect();
    assert!(unexpected.is_empty(), "variant conflicts: {unexpected:#?}");
    let (entries, variants, forms) = gazetteer_stats();
    assert!(
        entries >= 600 && variants >= 6000 && forms >= 5000,
        "{entries} {variants} {forms}"
    );
    let mut seen = HashSet::new();
    for e in &g.entries {
        assert!(seen.insert(e.key.as_str()), "duplicate key {}", e.key);
        assert!(e.key.is_ascii(), "non-ASCII key {}", e.key);
        assert!(!e.display.is_empty());
    }
    for k in [
        "lavrov",
        "cavusoglu",
        "aliyev",
        "pashinyan",
        "macron",
        "erdogan",
        "pompeo",
        "putin",
        "zelensky",
        "xi_jinping",
        "lula",
        "kallas",
        "lagarde",
        "powell",
        "fidan",
        "ronaldo",
        "un",
        "nato",
        "eu",
        "osce",
        "who",
        "imf",
        "ecb",
        "fed",
        "opec",
        "asean",
        "african_union",
        "icc",
        "iaea",
        "unesco",
        "nagorno_karabakh",
        "gaza",
        "darfur",
        "crimea",
        "donbas",
        "kashmir",
    ] {
        assert!(seen.contains(k), "gazetteer lacks {k}");
    }
}

#[test]
fn name_key_is_script_independent() {
    let groups: &[&[&str]] = &[
        &[
            "Çavuşoğlu",
            "Cavusoglu",
            "Чавушоглу",
            "Mevlüt Çavuşoğlu",
            "جاويش أوغلو",
        ],
        &[
            "Azerbaijão",
            "Azerbaijan",
            "Азербайджан",
            "Aserbaidschan",
            "أذربيجان",
            "阿塞拜疆",
            "アゼルバイジャン",
        ],
        &["Erdoğan", "Erdogan", "أردوغان", "Эрдоган", "埃尔多安"],
        &[
            "Armenia",
            "Армения",
            "أرمينيا",
            "亚美尼亚",
            "アルメニア",
            "Armenii",
            "Ermenistan",
        ],
        &[
            "Lavrov",
            "Лавров",
            "Лаврова",
            "Ławrow",
            "拉夫罗夫",
            "ラブロフ",
        ],
    ];
    for g in groups {
        let k0 = name_key(g[0]);
        assert!(k0.is_ascii() && !k0.is_empty());
        for n in &g[1..] {
            assert_eq!(name_key(n), k0, "{n} vs {}", g[0]);
        }
    }
    assert_eq!(name_key("Azerbaijão"), "azerbaijan");
    assert_eq!(display_name("azerbaijan"), Some("Azerbaijan"));
    assert_eq!(display_name("no such key"), None);
    assert_ne!(name_key("Armenia"), name_key("Azerbaijan"));
    assert_ne!(name_key("Niger"), name_key("Nigeria"));
    assert_ne!(name_key("Austria"), name_key("Australia"));
}

#[test]
fn name_key_folds_unknown_names() {
    // Not in the gazetteer: transliteration and folding alone.
    assert_eq!(name_key("Mehmet Yılmazoğlu"), name_key("Mehmet Yilmazoglu"));
    assert_eq!(
        name_key("Oleksandr Kovalenko"),
        name_key("Олександр Коваленко")
    );
    assert_eq!(
        name_key("Jarosław Nowakowski"),
        name_key("Jaroslaw Nowakowski")
    );
    assert_eq!(name_key("Петрова"), name_key("Petrova"));
    assert_eq!(name_key("Josef Schmidt"), name_key("josef  SCHMIDT"));
    assert!(name_key("Αλέξης Παπαδόπουλος").is_ascii());
    assert!(name_key("عبد الله الخطيب").is_ascii());
    assert_eq!(name_key(""), "");
}

#[test]
fn same_entity_matches_spelling_variants() {
    // Gazetteer names.
    assert!(same_entity(
        &name_key("Mevlut Cavusoglu"),
        &name_key("Mevlüt Çavuşoğlu")
    ));
    // Unknown names, one letter apart after folding.
    let a = name_key("Wolodymyr Hryzenko");
    let b = name_key("Volodymyr Hrytsenko");
    assert!(same_entity(&a, &b), "{a} / {b}");
    assert!(same_entity(
        &name_key("Mehmet Yilmazoglu"),
        &name_key("Mehmet Yılmazoğlu")
    ));
    // A bare surname and the full name.
    assert!(same_entity(
        &name_key("Hrytsenko"),
        &name_key("Volodymyr Hrytsenko")
    ));
    // Different people and places stay apart.
    assert!(!same_entity(
        &name_key("Ivan Petrov"),
        &name_key("Ivan Popov")
    ));
    assert!(!same_entity("mali", "malta"));
    assert!(!same_entity(
        &name_key("Anna Kowalska"),
        &name_key("Maria Kowalska")
    ));
    assert!(!same_entity("", "x"));
}

#[test]
fn extracts_portuguese() {
    check(
        "pt",
        "Após a reunião em Moscou, o ministro das Relações Exteriores da Rússia, Serguei Lavrov, \
         disse que o Azerbaijão e a Armênia devem negociar. O presidente Lula falou com João Carlos \
         Pereira no Palácio do Planalto.",
        &[
            ("moscow", Place),
            ("russia", Place),
            ("lavrov", Person),
            ("azerbaijan", Place),
            ("armenia", Place),
            ("lula", Person),
            (&name_key("João Carlos Pereira"), Person),
        ],
        &["Após", "Relações"],
    );
}

#[test]
fn extracts_indonesian() {
    check(
        "id",
        "Pernyataannya disampaikan di Jakarta. Menteri Luar Negeri Rusia Sergei Lavrov bertemu \
         Presiden Prabowo Subianto dan Budi Santoso.",
        &[
            ("jakarta", Place),
            ("russia", Place),
            ("lavrov", Person),
            ("prabowo", Person),
            (&name_key("Budi Santoso"), Person),
        ],
        &["Pernyataannya", "Menteri", "Luar", "Presiden"],
    );
}

#[test]
fn extracts_english() {
    check(
        "en",
        "The United Nations said on Monday that Foreign Minister Mevlut Cavusoglu met NATO officials \
         in Brussels. Cavusoglu later flew to Baku, where Jonathan Whitfield of the Red Crescent \
         Society and the IMF joined talks on Nagorno-Karabakh.",
        &[
            ("un", Org),
            ("cavusoglu", Person),
            ("nato", Org),
            ("brussels", Place),
            ("baku", Place),
            (&name_key("Jonathan Whitfield"), Person),
            (&name_key("Red Crescent Society"), Org),
            ("imf", Org),
            ("nagorno_karabakh", Place),
        ],
        &["The", "Monday", "Foreign"],
    );
}

#[test]
fn extracts_russian_with_case_endings() {
    check(
        "ru",
        "Министр иностранных дел России Сергей Лавров встретился с Джейхуном Байрамовым в Баку. \
         Лавров заявил, что Армения и Азербайджан близки к миру. Президент Ильхам Алиев поблагодарил \
         Москву и Евросоюз.",
        &[
            ("russia", Place),
            ("lavrov", Person),
            ("bayramov", Person),
            ("baku", Place),
            ("armenia", Place),
            ("azerbaijan", Place),
            ("aliyev", Person),
            ("moscow", Place),
            ("eu", Org),
        ],
        &["Министр", "Президент"],
    );
}

#[test]
fn extracts_arabic() {
    check(
        "ar",
        "التقى وزير الخارجية الروسي سيرغي لافروف بنظيره التركي في أنقرة، وبحثا الوضع في أرمينيا \
         وأذربيجان مع الأمم المتحدة وحلف الناتو.",
        &[
            ("lavrov", Person),
            ("ankara", Place),
            ("armenia", Place),
            ("azerbaijan", Place),
            ("un", Org),
            ("nato", Org),
        ],
        &[],
    );
}

#[test]
fn extracts_chinese() {
    check(
        "zh",
        "俄罗斯外长拉夫罗夫在莫斯科会见了亚美尼亚总理帕希尼扬，双方讨论了联合国和北约的问题。印度尼西亚也派了代表。",
        &[
            ("russia", Place),
            ("lavrov", Person),
            ("moscow", Place),
            ("armenia", Place),
            ("pashinyan", Person),
            ("un", Org),
            ("nato", Org),
            ("indonesia", Place),
        ],
        &[],
    );
    // 印度 (India) inside 印度尼西亚 (Indonesia) is not a separate mention.
    let found = EntityExtractor::new().extract("印度尼西亚", Some("zh"));
    assert_eq!(found.len(), 1);
}

#[test]
fn extracts_japanese() {
    check(
        "ja",
        "ロシアのラブロフ外相はモスクワでアルメニアのパシニャン首相と会談し、国連の役割について話し合った。",
        &[
            ("russia", Place),
            ("lavrov", Person),
            ("moscow", Place),
            ("armenia", Place),
            ("pashinyan", Person),
            ("un", Org),
        ],
        &[],
    );
    // マリ (Mali) must not match inside マリオ (Mario).
    let found = EntityExtractor::new().extract("マリオが来た", Some("ja"));
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn extracts_turkish() {
    check(
        "tr",
        "Dışişleri Bakanı Mevlüt Çavuşoğlu, Azerbaycan'ın başkenti Bakü'de Ermenistan ile ilgili \
         açıklama yaptı. Cumhurbaşkanı Erdoğan ise Ankara'da Ahmet Yılmaz ile görüştü.",
        &[
            ("cavusoglu", Person),
            ("azerbaijan", Place),
            ("baku", Place),
            ("armenia", Place),
            ("erdogan", Person),
            ("ankara", Place),
            (&name_key("Ahmet Yılmaz"), Person),
        ],
        &["Dışişleri", "Bakanı", "Cumhurbaşkanı"],
    );
}

#[test]
fn extracts_polish_with_case_endings() {
    check(
        "pl",
        "Minister spraw zagranicznych Rosji Siergiej Ławrow spotkał się w Warszawie z \
         przedstawicielami Unii Europejskiej. Rozmawiano o Armenii i Turcji. Jan Kowalski \
         skomentował wizytę Ławrowa.",
        &[
            ("russia", Place),
            ("lavrov", Person),
            ("warsaw", Place),
            ("eu", Org),
            ("armenia", Place),
            ("turkey", Place),
            (&name_key("Jan Kowalski"), Person),
        ],
        &["Minister", "Rozmawiano"],
    );
}

#[test]
fn extracts_german() {
    check(
        "de",
        "Die Bundesregierung in Berlin hat am Montag die Gespräche zwischen Armenien und \
         Aserbaidschan begrüßt. Bundeskanzler Olaf Scholz telefonierte mit Präsident Emmanuel \
         Macron. Die Deutsche Bank äußerte sich nicht.",
        &[
            ("berlin", Place),
            ("armenia", Place),
            ("azerbaijan", Place),
            ("scholz", Person),
            ("macron", Person),
            (&name_key("Deutsche Bank"), Org),
        ],
        &[
            "Bundesregierung",
            "Montag",
            "Gespräche",
            "Bundeskanzler",
            "Die ",
        ],
    );
}

#[test]
fn extracts_acronyms_and_unknown_place_cues() {
    let x = EntityExtractor::new();
    let found = x.extract(
        "Officials from the NRC travelled to Kharkiv and then to Novo Selo.",
        Some("en"),
    );
    let got = keys(&found);
    assert!(got.contains(&("nrc".to_string(), Org)), "{found:?}");
    assert!(got.contains(&("kharkiv".to_string(), Place)));
    // Lower-case "eu" in Portuguese ("Eu") is not the EU.
    let found = x.extract("Eu acho que sim. O EU não.", Some("pt"));
    assert_eq!(
        found.iter().filter(|m| m.key == "eu").count(),
        1,
        "{found:?}"
    );
    // Roman numerals are not acronyms.
    assert!(x
        .extract("Chapter II begins.", Some("en"))
        .iter()
        .all(|m| m.name != "II"));
}

#[test]
fn lone_surname_links_to_full_name() {
    let text = "Reporter Hanna Vertlieb spoke to officials. Vertlieb said more talks were planned.";
    let found = EntityExtractor::new().extract(text, Some("en"));
    let full = name_key("Hanna Vertlieb");
    let n = found
        .iter()
        .filter(|m| m.key == full && m.kind == Person)
        .count();
    assert_eq!(n, 2, "{found:#?}");
}

#[test]
fn empty_and_odd_input() {
    let x = EntityExtractor::new();
    assert!(x.extract("", None).is_empty());
    assert!(x.extract("   \n\t ", Some("xx")).is_empty());
    assert!(x.extract("1234 5678 !!!", None).is_empty());
    // Mixed scripts without a language hint.
    let found = x.extract("Putin 和 Macron 在 巴黎 见面", None);
    let got = keys(&found);
    assert!(got.contains(&("putin".into(), Person)) && got.contains(&("paris".into(), Place)));
}

#[test]
fn kinds_serialise_lowercase() {
    assert_eq!(
        serde_json::to_string(&EntityKind::Organisation).unwrap(),
        "\"organisation\""
    );
    assert_eq!(
        serde_json::to_string(&EntityKind::Person).unwrap(),
        "\"person\""
    );
    let k: EntityKind = serde_json::from_str("\"place\"").unwrap();
    assert_eq!(k, Place);
}

#[test]
fn score_counts_keys_and_kinds() {
    let found = EntityExtractor::new().extract("Lavrov met Pashinyan in Yerevan.", Some("en"));
    let gold = vec![
        ("Лавров".to_string(), Person),
        ("pashinyan".to_string(), Person),
        ("Yerevan".to_string(), Place),
        ("Armenia".to_string(), Place),
    ];
    let (p, r) = score(&gold, &found);
    assert!((p - 1.0).abs() < 1e-9, "precision {p}");
    assert!((r - 0.75).abs() < 1e-9, "recall {r}");
    // A wrong kind counts as a miss.
    let gold = vec![("Yerevan".to_string(), Person)];
    assert_eq!(score(&gold, &found).1, 0.0);
    assert_eq!(score(&[], &[]), (1.0, 1.0));
}

#[test]
fn extractor_is_send_sync_and_shared() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<EntityExtractor>();
    let x = EntityExtractor::new();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || x.extract("Erdoğan ve Aliyev Bakü'de.", Some("tr")).len())
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 3);
    }
}

/// A ~300-word article built from sentences above; prints the time per call.
pub(crate) fn sample_article() -> String {
    let s =
        "Foreign Minister Sergei Lavrov met his Armenian counterpart Ararat Mirzoyan in Moscow on \
             Tuesday, the Russian Foreign Ministry said. The talks in the Kremlin covered the \
             situation in Nagorno-Karabakh, the Lachin corridor and the role of the OSCE Minsk \
             Group, according to a statement. Azerbaijani President Ilham Aliyev said in Baku that \
             peace with Armenia was within reach, while Turkish Foreign Minister Mevlut Cavusoglu \
             called for new talks in Ankara. European Union officials and NATO Secretary General \
             Jens Stoltenberg welcomed the meeting. ";
    let mut text = String::new();
    while text.split_whitespace().count() < 300 {
        text.push_str(s);
    }
    text
}

#[test]
fn extraction_speed() {
    let x = EntityExtractor::new();
    let text = sample_article();
    let words = text.split_whitespace().count();
    let n = 50;
    let t = std::time::Instant::now();
    let mut found = 0;
    for _ in 0..n {
        found += x.extract(&text, Some("en")).len();
    }
    let per = t.elapsed() / n;
    println!(
        "{words} words: {per:?} per extraction, {} mentions",
        found / n as usize
    );
    assert!(found > 0);
    // Generous bound for unoptimised test builds; the release example
    // (examples/bench.rs) measures the real figure.
    assert!(per.as_millis() < 50, "{per:?}");
}

/// Scores the extractor on the project's hand-labelled gold set
/// (tests/gold/corpus_entities.jsonl: 42 articles of corpus/stories.jsonl,
/// 3 per language). Prints per-language precision and recall.
#[test]
fn gold_corpus_precision_recall() {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let gold = std::fs::read_to_string(manifest.join("tests/gold/corpus_entities.jsonl"))
        .expect("the gold set is part of the repository");
    let stories = std::fs::read_to_string(manifest.join("../../corpus/stories.jsonl"))
        .expect("the demo corpus is part of the repository");
    let mut texts = std::collections::HashMap::new();
    for line in stories.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("stories.jsonl line");
        let text = format!(
            "{}\n{}",
            v["title"].as_str().unwrap_or(""),
            v["text"].as_str().unwrap_or("")
        );
        texts.insert(v["id"].as_str().unwrap_or("").to_string(), text);
    }
    let x = EntityExtractor::new();
    let (mut hit_p, mut n_found, mut hit_r, mut n_gold) = (0.0, 0usize, 0.0, 0usize);
    let mut by_lang: std::collections::BTreeMap<String, (f64, f64, usize)> = Default::default();
    for line in gold.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("gold line");
        let id = v["id"].as_str().unwrap_or("");
        let lang = v["lang"].as_str().unwrap_or("");
        let Some(text) = texts.get(id) else { continue };
        let gold: Vec<(String, EntityKind)> = v["entities"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let kind: EntityKind = serde_json::from_value(e["kind"].clone()).ok()?;
                Some((e["name"].as_str()?.to_string(), kind))
            })
            .collect();
        let found = x.extract(text, Some(lang));
        let (p, r) = score(&gold, &found);
        let nf = keys(&found).len();
        let ng: HashSet<_> = gold.iter().map(|(n, k)| (name_key(n), *k)).collect();
        hit_p += p * nf as f64;
        n_found += nf;
        hit_r += r * ng.len() as f64;
        n_gold += ng.len();
        let e = by_lang.entry(lang.to_string()).or_default();
        e.0 += p;
        e.1 += r;
        e.2 += 1;
        if std::env::var_os("ENTITIES_GOLD_VERBOSE").is_some() {
            let fk = keys(&found);
            let missed: Vec<_> = gold
                .iter()
                .filter(|(n, k)| !fk.contains(&(name_key(n), *k)))
                .collect();
            let extra: Vec<_> = found
                .iter()
                .filter(|m| !ng.contains(&(m.key.clone(), m.kind)))
                .map(|m| (&m.name, m.kind))
                .collect();
            println!("{id}: missed {missed:?}\n   extra {extra:?}");
        }
    }
    if n_gold == 0 {
        println!("skipped: no gold documents matched the corpus");
        return;
    }
    let (p, r) = (hit_p / n_found.max(1) as f64, hit_r / n_gold as f64);
    for (lang, (lp, lr, n)) in &by_lang {
        println!(
            "{lang}: precision {:.2} recall {:.2}",
            lp / *n as f64,
            lr / *n as f64
        );
    }
    println!("gold corpus: micro precision {p:.3}, recall {r:.3} ({n_found} found, {n_gold} gold)");
    // Floors well below the measured values, to catch regressions.
    assert!(p >= 0.5 && r >= 0.5, "precision {p:.3} recall {r:.3}");
}
