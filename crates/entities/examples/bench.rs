//! Times extraction on a ~300-word English article and on short texts in
//! other scripts: `cargo run --release -p storyweave-entities --example bench`.
use std::time::Instant;
use storyweave_entities::{gazetteer_stats, EntityExtractor};

const ARTICLE: &str =
    "Foreign Minister Sergei Lavrov met his Armenian counterpart Ararat Mirzoyan in \
    Moscow on Tuesday, the Russian Foreign Ministry said. The talks in the Kremlin covered the \
    situation in Nagorno-Karabakh, the Lachin corridor and the role of the OSCE Minsk Group, \
    according to a statement. Azerbaijani President Ilham Aliyev said in Baku that peace with \
    Armenia was within reach, while Turkish Foreign Minister Mevlut Cavusoglu called for new talks \
    in Ankara. European Union officials and NATO Secretary General Jens Stoltenberg welcomed the \
    meeting. ";

fn time(label: &str, x: &EntityExtractor, text: &str, lang: &str) {
    let n = 2000;
    let mut found = 0;
    let t = Instant::now();
    for _ in 0..n {
        found += x.extract(text, Some(lang)).len();
    }
    let per = t.elapsed() / n;
    let words = text.split_whitespace().count();
    println!(
        "{label}: {words} words, {} chars: {per:?} per extraction, {} mentions",
        text.chars().count(),
        found / n as usize
    );
}

fn main() {
    let t = Instant::now();
    let x = EntityExtractor::new();
    println!("gazetteer build: {:?}", t.elapsed());
    let (entries, variants, forms) = gazetteer_stats();
    println!("gazetteer: {entries} entries, {variants} variants, {forms} lookup forms");
    let mut en = String::new();
    while en.split_whitespace().count() < 300 {
        en.push_str(ARTICLE);
    }
    time("en", &x, &en, "en");
    let ru =
        "Министр иностранных дел России Сергей Лавров встретился с Джейхуном Байрамовым в Баку. \
              Лавров заявил, что Армения и Азербайджан близки к миру. "
            .repeat(15);
    time("ru", &x, &ru, "ru");
    let zh = "俄罗斯外长拉夫罗夫在莫斯科会见了亚美尼亚总理帕希尼扬，双方讨论了联合国和北约的问题。"
        .repeat(15);
    time("zh", &x, &zh, "zh");
    let ar = "التقى وزير الخارجية الروسي سيرغي لافروف بنظيره التركي في أنقرة، وبحثا الوضع في أرمينيا وأذربيجان. ".repeat(15);
    time("ar", &x, &ar, "ar");
}
