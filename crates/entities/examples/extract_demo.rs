//! Prints the mentions found in a few sentences: `cargo run -p storyweave-entities --example extract_demo`.
use storyweave_entities::EntityExtractor;

fn main() {
    let x = EntityExtractor::new();
    let samples = [
        ("pt", "Após a reunião em Moscou, o ministro das Relações Exteriores da Rússia, Serguei Lavrov, disse que o Azerbaijão e a Armênia devem negociar. O presidente Lula falou com João Carlos Pereira."),
        ("id", "Pernyataannya disampaikan di Jakarta. Menteri Luar Negeri Rusia Sergei Lavrov bertemu Presiden Prabowo Subianto dan Budi Santoso di Istana."),
        ("en", "The United Nations said on Monday that Foreign Minister Mevlut Cavusoglu met NATO officials in Brussels. Cavusoglu later flew to Baku with Ilham Aliyev. The Red Crescent Society sent aid."),
        ("ru", "Министр иностранных дел России Сергей Лавров встретился с Джейхуном Байрамовым в Баку. Лавров заявил, что Армения и Азербайджан близки к миру. Президент Ильхам Алиев поблагодарил Москву."),
        ("ar", "التقى وزير الخارجية الروسي سيرغي لافروف بنظيره التركي في أنقرة، وبحثا الوضع في أرمينيا وأذربيجان والأمم المتحدة."),
        ("zh", "俄罗斯外长拉夫罗夫在莫斯科会见了亚美尼亚总理帕希尼扬，双方讨论了联合国和北约的问题。"),
        ("ja", "ロシアのラブロフ外相はモスクワでアルメニアのパシニャン首相と会談し、国連の役割について話し合った。"),
        ("tr", "Dışişleri Bakanı Mevlüt Çavuşoğlu, Azerbaycan'ın başkenti Bakü'de Ermenistan ile ilgili açıklama yaptı. Cumhurbaşkanı Erdoğan ise Ankara'da Ahmet Yılmaz ile görüştü."),
        ("pl", "Minister spraw zagranicznych Rosji Siergiej Ławrow spotkał się w Warszawie z przedstawicielami Unii Europejskiej. Rozmawiano o Armenii i Turcji. Jan Kowalski skomentował wizytę Ławrowa."),
        ("de", "Die Bundesregierung in Berlin hat am Montag die Gespräche zwischen Armenien und Aserbaidschan begrüßt. Bundeskanzler Olaf Scholz telefonierte mit Präsident Emmanuel Macron. Die Deutsche Bank äußerte sich nicht."),
        ("uk", "Президент України Володимир Зеленський зустрівся з Кая Каллас у Києві. Зеленського підтримали в Брюсселі."),
        ("es", "El presidente del Gobierno, Pedro Sánchez, viajó a Bruselas para reunirse con Ursula von der Leyen y con el Banco Central Europeo."),
        ("en", "Foreign Minister Sergei Lavrov met his Armenian counterpart Ararat Mirzoyan in Moscow on Tuesday, the Russian Foreign Ministry said. The talks in the Kremlin covered the situation in Nagorno-Karabakh, the Lachin corridor and the role of the OSCE Minsk Group, according to a statement. Azerbaijani President Ilham Aliyev said in Baku that peace with Armenia was within reach, while Turkish Foreign Minister Mevlut Cavusoglu called for new talks in Ankara. European Union officials and NATO Secretary General Jens Stoltenberg welcomed the meeting. Meanwhile, Apple and the Bank of England reported results; Wall Street rose and New York Times reporters in Hong Kong said Xi Jinping spoke with Kamala Harris."),
        ("it", "Il presidente del Consiglio Giorgia Meloni ha incontrato a Roma il segretario generale della Nato Mark Rutte e il ministro Antonio Tajani."),
        ("fr", "Le ministre des Affaires étrangères Jean-Noël Barrot s'est rendu à Bakou avant de rencontrer l'OSCE à Vienne."),
    ];
    for (lang, text) in samples {
        println!("--- {lang}: {text}");
        for m in x.extract(text, Some(lang)) {
            println!("  {:?} {:>14} <- {:?}", m.kind, m.key, m.name);
        }
    }
}
