//! Publication dates in the formats news feeds and datasets actually use.
//!
//! Hand-written over chrono because the accepted set must be explicit and
//! documented (a crate that guesses would silently read 03/04 both ways).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Why a date string was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unrecognised date {input:?}: expected ISO 8601 (2020-10-02, 2020-10-02T14:30:00Z), RFC 2822, DD.MM.YYYY or a Unix timestamp")]
pub struct DateError {
    pub input: String,
}

const NAIVE_DATETIME: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%d.%m.%Y %H:%M",
];
const NAIVE_DATE: &[&str] = &["%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%Y%m%d"];

/// Parses a publication date. Times without a zone are taken as UTC.
///
/// Accepted: RFC 3339 / ISO 8601 with or without zone or time, RFC 2822
/// (RSS), `YYYY/MM/DD`, `DD.MM.YYYY`, `YYYYMMDD`, and Unix seconds or
/// milliseconds. Ambiguous slash dates like `03/04/2020` are rejected.
pub fn parse_date(input: &str) -> Result<DateTime<Utc>, DateError> {
    let s = input.trim();
    let err = || DateError {
        input: input.chars().take(80).collect(),
    };
    if s.is_empty() {
        return Err(err());
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Ok(d.with_timezone(&Utc));
    }
    // ISO with a zone but a space instead of 'T', or a zone like +0200.
    for f in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(s, f) {
            return Ok(d.with_timezone(&Utc));
        }
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Ok(d.with_timezone(&Utc));
    }
    for f in NAIVE_DATETIME {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(Utc.from_utc_datetime(&d));
        }
    }
    if s.chars().all(|c| c.is_ascii_digit()) && s.len() != 8 {
        let n: i64 = s.parse().map_err(|_| err())?;
        let secs = if s.len() >= 13 { n / 1000 } else { n };
        // Only plausible news times: 1990..2100.
        if (631_152_000..4_102_444_800).contains(&secs) {
            return Utc.timestamp_opt(secs, 0).single().ok_or_else(err);
        }
        return Err(err());
    }
    for f in NAIVE_DATE {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Ok(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).ok_or_else(err)?));
        }
    }
    Err(err())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(s: &str) -> String {
        parse_date(s).unwrap().to_rfc3339()
    }

    #[test]
    fn common_formats() {
        assert_eq!(iso("2020-10-02"), "2020-10-02T00:00:00+00:00");
        assert_eq!(iso("2020-10-02T14:30:00Z"), "2020-10-02T14:30:00+00:00");
        assert_eq!(
            iso("2020-10-02T14:30:00+02:00"),
            "2020-10-02T12:30:00+00:00"
        );
        assert_eq!(iso("2020-10-02 14:30:00"), "2020-10-02T14:30:00+00:00");
        assert_eq!(
            iso("Fri, 02 Oct 2020 14:30:00 GMT"),
            "2020-10-02T14:30:00+00:00"
        );
        assert_eq!(iso("02.10.2020"), "2020-10-02T00:00:00+00:00");
        assert_eq!(iso("20201002"), "2020-10-02T00:00:00+00:00");
        assert_eq!(iso("1601649000"), "2020-10-02T14:30:00+00:00");
        assert_eq!(iso("1601649000000"), "2020-10-02T14:30:00+00:00");
    }

    #[test]
    fn rejects_garbage_and_ambiguity() {
        for bad in [
            "",
            "yesterday",
            "2020-13-45",
            "03/04/2020",
            "12",
            "99999999999999999999",
        ] {
            let e = parse_date(bad).unwrap_err();
            assert!(e.to_string().contains("unrecognised date"), "{bad}");
        }
    }
}
