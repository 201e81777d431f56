//! Language identification for article text, and validation of the language
//! tags that inputs carry.
//!
//! Detection is whatlang (69 languages, trigram model, microseconds per
//! article), refined by lingua for the pairs whatlang cannot tell apart:
//! Indonesian vs Malay (whatlang has no Malay) and Portuguese vs Spanish vs
//! Catalan. The choice was made by measurement: see `examples/langid_eval.rs`
//! and the numbers in ARCHITECTURE.md.

use std::sync::OnceLock;

use lingua::{Language as Lingua, LanguageDetector, LanguageDetectorBuilder};

/// An input language tag that is not a known language.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unknown language {tag:?}: expected a BCP-47 tag with an ISO 639 language (e.g. \"pt\", \"pt-BR\", \"zh-Hant\")")]
pub struct UnknownLanguage {
    pub tag: String,
}

/// A detected language.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// ISO 639-1 code where one exists (`pt`), else ISO 639-3 (`ceb`).
    pub lang: String,
    /// 0..1, how sure the detector is.
    pub confidence: f64,
}

/// Normalises an input tag to BCP-47 casing (`PT-br` -> `pt-BR`) and checks
/// that its primary subtag is a real ISO 639 language. Three-letter codes
/// with a two-letter equivalent are shortened (`por` -> `pt`).
pub fn normalise_tag(tag: &str) -> Result<String, UnknownLanguage> {
    let err = || UnknownLanguage {
        tag: tag.chars().take(40).collect(),
    };
    let tag = tag.trim().replace('_', "-");
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or("").to_ascii_lowercase();
    let primary = match primary.len() {
        2 => isolang::Language::from_639_1(&primary).map(|_| primary.clone()),
        3 => isolang::Language::from_639_3(&primary)
            .map(|l| l.to_639_1().map(str::to_string).unwrap_or(primary.clone())),
        _ => None,
    }
    .ok_or_else(err)?;
    let mut out = primary;
    for sub in parts {
        if sub.is_empty() || sub.len() > 8 || !sub.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(err());
        }
        out.push('-');
        out.push_str(&match sub.len() {
            2 => sub.to_ascii_uppercase(),
            4 => {
                let mut s = sub.to_ascii_lowercase();
                s[..1].make_ascii_uppercase();
                s
            }
            _ => sub.to_ascii_lowercase(),
        });
    }
    Ok(out)
}

/// Detects the language of `text`. `None` when the text has too little
/// language in it to say (empty, digits, symbols).
pub fn detect(text: &str) -> Option<Detection> {
    let info = whatlang::detect(text)?;
    // whatlang names individual languages; news tags use the macrolanguage.
    let code3 = match info.lang().code() {
        "cmn" => "zho",
        "pes" => "fas",
        other => other,
    };
    let mut lang = isolang::Language::from_639_3(code3)
        .and_then(|l| l.to_639_1())
        .map(str::to_string)
        .unwrap_or_else(|| code3.to_string());
    let mut confidence = info.confidence();
    if matches!(lang.as_str(), "id" | "ms" | "pt" | "es" | "ca" | "gl") {
        let group: &[Lingua] = if matches!(lang.as_str(), "id" | "ms") {
            &[Lingua::Indonesian, Lingua::Malay]
        } else {
            &[Lingua::Portuguese, Lingua::Spanish, Lingua::Catalan]
        };
        let det = refiner();
        let scores = det.compute_language_confidence_values(text);
        if let Some((best, c)) = scores
            .into_iter()
            .filter(|(l, _)| group.contains(l))
            .max_by(|a, b| a.1.total_cmp(&b.1))
        {
            lang = best.iso_code_639_1().to_string();
            confidence = confidence.min(c.max(0.5));
        }
    }
    Some(Detection { lang, confidence })
}

fn refiner() -> &'static LanguageDetector {
    static DET: OnceLock<LanguageDetector> = OnceLock::new();
    DET.get_or_init(|| {
        LanguageDetectorBuilder::from_languages(&[
            Lingua::Indonesian,
            Lingua::Malay,
            Lingua::Portuguese,
            Lingua::Spanish,
            Lingua::Catalan,
        ])
        .build()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(text: &str) -> String {
        detect(text).unwrap().lang
    }

    #[test]
    fn tags_are_normalised_or_rejected() {
        assert_eq!(normalise_tag("pt").unwrap(), "pt");
        assert_eq!(normalise_tag("PT_br").unwrap(), "pt-BR");
        assert_eq!(normalise_tag("zh-hant").unwrap(), "zh-Hant");
        assert_eq!(normalise_tag("por").unwrap(), "pt");
        assert_eq!(normalise_tag("ceb").unwrap(), "ceb");
        for bad in ["", "xx", "klingon", "p", "pt--BR", "en-???"] {
            assert!(normalise_tag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn indonesian_vs_malay() {
        let id = "Pemerintah Indonesia mengumumkan bahwa harga bahan bakar minyak akan naik mulai bulan depan. \
                  Menteri Keuangan mengatakan kebijakan ini diperlukan untuk menjaga anggaran negara tetap sehat, \
                  sementara sejumlah mahasiswa berencana menggelar unjuk rasa di depan gedung DPR pada hari Senin.";
        let ms = "Kerajaan Malaysia mengumumkan bahawa harga minyak petrol akan dinaikkan mulai bulan hadapan. \
                  Menteri Kewangan berkata dasar ini perlu bagi memastikan bajet negara kekal kukuh, \
                  manakala beberapa kumpulan pelajar bercadang mengadakan perhimpunan di hadapan bangunan Parlimen pada hari Isnin.";
        assert_eq!(lang(id), "id");
        assert_eq!(lang(ms), "ms");
    }

    #[test]
    fn portuguese_vs_spanish() {
        let pt = "O governo anunciou nesta terça-feira que vai aumentar o salário mínimo a partir de janeiro. \
                  Segundo o ministro, a medida não terá impacto nas contas públicas, mas os sindicatos dizem que o reajuste ainda é insuficiente.";
        let es = "El gobierno anunció este martes que aumentará el salario mínimo a partir de enero. \
                  Según el ministro, la medida no tendrá impacto en las cuentas públicas, pero los sindicatos dicen que el ajuste sigue siendo insuficiente.";
        assert_eq!(lang(pt), "pt");
        assert_eq!(lang(es), "es");
    }

    #[test]
    fn scripts_and_nothing() {
        assert_eq!(lang("Министр иностранных дел заявил журналистам, что переговоры продолжатся на следующей неделе."), "ru");
        assert_eq!(lang("Міністр закордонних справ заявив журналістам, що переговори триватимуть наступного тижня."), "uk");
        assert_eq!(
            lang("外交部长周二表示，双方将在下周继续举行谈判，以寻求和平解决方案。"),
            "zh"
        );
        assert_eq!(
            lang("外務大臣は火曜日、交渉は来週も続けられると記者団に語った。"),
            "ja"
        );
        assert!(detect("").is_none());
        assert!(detect("12345 !!! ...").is_none());
    }
}
