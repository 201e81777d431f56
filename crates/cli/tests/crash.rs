//! Crash safety of `storyweave ingest`: the process is SIGKILLed three times
//! (while the database is created, early and late in a large ingest), then run again to completion. Nothing a
//! committed batch acknowledged may be lost, nothing may be stored twice,
//! and stories, assignments and embeddings must stay consistent.
//! Needs the encoder weights; skips without them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

mod common;
use common::{bin, models_ready, stories_json};

const ARTICLES: usize = 3000;
const EVENTS: usize = 40;

/// One language's wording: topic phrases (indexed like `TOPICS_EN`),
/// weekdays, the agency's name and three article templates.
struct Lang {
    tag: &'static str,
    topics: [&'static str; 10],
    weekdays: [&'static str; 7],
    agency: &'static str,
    title: &'static str,
    templates: [&'static str; 3],
}

const LANGS: [Lang; 4] = [
    Lang {
        tag: "en",
        topics: [
            "severe flooding",
            "a general strike",
            "an interest rate rise",
            "an earthquake",
            "a new trade agreement",
            "a music festival",
            "a wildfire",
            "a bridge collapse",
            "a vaccination campaign",
            "a disputed election",
        ],
        weekdays: [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        ],
        agency: "regional civil protection agency",
        title: "{place}: {topic}",
        templates: [
            "The city of {place} has been dealing with {topic} since {weekday}. {person}, a spokesperson for the {agency}, said that {n} people were affected and that teams would stay in the area until further notice. Officials promised a full report next week.",
            "Authorities in {place} are responding to {topic}. According to {person} of the {agency}, at least {n} residents have been affected so far, and schools in the district remained closed on {weekday}. Further updates are expected in the evening.",
            "On {weekday}, {topic} dominated the news in {place}. The {agency} said {n} households were affected. {person} told reporters that the situation was under control, but warned that a return to normal could take several weeks.",
        ],
    },
    Lang {
        tag: "de",
        topics: [
            "schweres Hochwasser",
            "ein Generalstreik",
            "eine Zinserhöhung",
            "ein Erdbeben",
            "ein neues Handelsabkommen",
            "ein Musikfestival",
            "ein Waldbrand",
            "ein Brückeneinsturz",
            "eine Impfkampagne",
            "eine umstrittene Wahl",
        ],
        weekdays: [
            "Montag",
            "Dienstag",
            "Mittwoch",
            "Donnerstag",
            "Freitag",
            "Samstag",
            "Sonntag",
        ],
        agency: "regionalen Katastrophenschutzbehörde",
        title: "{place}: {topic}",
        templates: [
            "In der Stadt {place} sorgt {topic} seit {weekday} für Unruhe. {person}, Sprecherin der {agency}, sagte, {n} Menschen seien betroffen und die Einsatzkräfte blieben bis auf Weiteres vor Ort. Die Behörden kündigten für die kommende Woche einen ausführlichen Bericht an.",
            "Die Behörden in {place} reagieren, denn {topic} hält die Region in Atem. Nach Angaben von {person} von der {agency} sind bisher mindestens {n} Einwohner betroffen, und die Schulen des Bezirks blieben am {weekday} geschlossen. Weitere Informationen werden am Abend erwartet.",
            "Am {weekday} beherrschte {topic} die Nachrichten in {place}. Laut der {agency} sind {n} Haushalte betroffen. {person} sagte vor Journalisten, die Lage sei unter Kontrolle, warnte aber, dass die Rückkehr zur Normalität mehrere Wochen dauern könne.",
        ],
    },
    Lang {
        tag: "fr",
        topics: [
            "de graves inondations",
            "une grève générale",
            "une hausse des taux d'intérêt",
            "un tremblement de terre",
            "un nouvel accord commercial",
            "un festival de musique",
            "un incendie de forêt",
            "l'effondrement d'un pont",
            "une campagne de vaccination",
            "une élection contestée",
        ],
        weekdays: [
            "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
        ],
        agency: "l'agence régionale de protection civile",
        title: "{place} : {topic}",
        templates: [
            "La ville de {place} fait face à {topic} depuis {weekday}. {person}, porte-parole de {agency}, a indiqué que {n} personnes étaient touchées et que les équipes resteraient sur place jusqu'à nouvel ordre. Les autorités ont promis un rapport complet la semaine prochaine.",
            "Les autorités de {place} réagissent à {topic}. Selon {person}, de {agency}, au moins {n} habitants ont été touchés jusqu'à présent, et les écoles du district sont restées fermées {weekday}. De nouvelles informations sont attendues dans la soirée.",
            "Ce {weekday}, l'actualité de {place} a été dominée par {topic}. Selon {agency}, {n} foyers sont touchés. {person} a déclaré aux journalistes que la situation était maîtrisée, tout en prévenant que le retour à la normale pourrait prendre plusieurs semaines.",
        ],
    },
    Lang {
        tag: "es",
        topics: [
            "unas graves inundaciones",
            "una huelga general",
            "una subida de los tipos de interés",
            "un terremoto",
            "un nuevo acuerdo comercial",
            "un festival de música",
            "un incendio forestal",
            "el derrumbe de un puente",
            "una campaña de vacunación",
            "unas elecciones disputadas",
        ],
        weekdays: [
            "lunes",
            "martes",
            "miércoles",
            "jueves",
            "viernes",
            "sábado",
            "domingo",
        ],
        agency: "la agencia regional de protección civil",
        title: "{place}: {topic}",
        templates: [
            "La ciudad de {place} afronta {topic} desde el {weekday}. {person}, portavoz de {agency}, afirmó que {n} personas se han visto afectadas y que los equipos permanecerán en la zona hasta nuevo aviso. Las autoridades prometieron un informe completo la próxima semana.",
            "Las autoridades de {place} responden a {topic}. Según {person}, de {agency}, al menos {n} vecinos se han visto afectados hasta ahora, y las escuelas del distrito permanecieron cerradas el {weekday}. Se esperan nuevas informaciones por la noche.",
            "El {weekday}, {topic} dominó la actualidad en {place}. Según {agency}, {n} hogares están afectados. {person} dijo a los periodistas que la situación está bajo control, pero advirtió de que la vuelta a la normalidad podría tardar varias semanas.",
        ],
    },
];

/// Fictional places and people, so no real text is copied.
const PLACES: [&str; 13] = [
    "Veldoria",
    "Marskavo",
    "Quintara",
    "Ostrelin",
    "Barandu",
    "Tessaly Nova",
    "Korvenna",
    "Ilmaport",
    "Zadrovec",
    "Parnessa",
    "Helvik Bay",
    "Orunmor",
    "Catalesti",
];
const PEOPLE: [&str; 8] = [
    "Ilse Marnow",
    "Tomas Ferreiro",
    "Adaeze Okonkwo",
    "Pieter Vandenbos",
    "Lucia Brenneri",
    "Kenji Arakawa",
    "Mirela Dragan",
    "Oskar Lindqvist",
];

/// Article `k`: event `k % 40` (a topic in a place), a language, a template
/// and a count that is unique to it, so no two texts are the same.
fn article(k: usize) -> serde_json::Value {
    let event = k % EVENTS;
    let round = k / EVENTS;
    let lang = &LANGS[round % LANGS.len()];
    let (topic, place) = (lang.topics[event % 10], PLACES[(event * 3) % PLACES.len()]);
    let person = PEOPLE[(event + round / 4) % PEOPLE.len()];
    let weekday = lang.weekdays[(event + round) % 7];
    let n = (100 + 3 * k).to_string();
    let fill = |t: &str| {
        t.replace("{place}", place)
            .replace("{topic}", topic)
            .replace("{person}", person)
            .replace("{weekday}", weekday)
            .replace("{agency}", lang.agency)
            .replace("{n}", &n)
    };
    // Events spread over three weeks; each event's reports over a day or so.
    let minutes = event * 11 * 60 + round * 17;
    let date = chrono::DateTime::parse_from_rfc3339("2024-03-01T06:00:00Z").unwrap()
        + chrono::Duration::minutes(minutes as i64);
    serde_json::json!({
        "id": format!("crash-{k:05}"),
        "lang": lang.tag,
        "source": format!("Wire {}", round % 5),
        "title": fill(lang.title),
        "text": fill(lang.templates[(round / 4) % 3]),
        "date": date.to_rfc3339(),
    })
}

fn write_corpus(path: &Path) -> Vec<String> {
    let mut body = String::new();
    let mut ids = Vec::new();
    for k in 0..ARTICLES {
        let a = article(k);
        ids.push(a["id"].as_str().unwrap().to_string());
        body.push_str(&a.to_string());
        body.push('\n');
    }
    std::fs::write(path, body).unwrap();
    ids
}

fn storyweave(db: &Path, args: &[&str], log: &Path) -> Command {
    let mut cmd = bin();
    cmd.arg("--db")
        .arg(db)
        .args(args)
        .current_dir(storyweave_core::paths::workspace_root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // A file, not a pipe: a full pipe nobody reads could stall the child.
        .stderr(std::fs::File::create(log).unwrap());
    cmd
}

/// A second connection, as another process would see the database.
fn reader(db: &Path) -> Option<Connection> {
    if !db.exists() {
        return None;
    }
    let c = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    c.busy_timeout(Duration::from_secs(10)).ok()?;
    Some(c)
}

fn column(c: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = c.prepare(sql).unwrap();
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
    rows.collect::<rusqlite::Result<_>>().unwrap()
}

fn count(c: &Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Ids committed so far, or `None` before the schema exists.
fn committed_ids(db: &Path) -> Option<BTreeSet<String>> {
    let c = reader(db)?;
    let mut stmt = c.prepare("SELECT id FROM articles").ok()?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).ok()?;
    rows.collect::<rusqlite::Result<_>>().ok()
}

/// Where each story went: `Some(into)` for a merged-away story.
fn merged_into(c: &Connection) -> HashMap<i64, Option<i64>> {
    let mut stmt = c.prepare("SELECT id, merged_into FROM stories").unwrap();
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    rows.collect::<rusqlite::Result<_>>().unwrap()
}

/// Follows recorded merges from `story` to the live story it ended in.
fn follow(merged: &HashMap<i64, Option<i64>>, mut story: i64) -> i64 {
    let mut hops = 0;
    while let Some(Some(next)) = merged.get(&story) {
        story = *next;
        hops += 1;
        assert!(hops < 100_000, "merge cycle at story {story}");
    }
    story
}

/// Each article's story as the assignments table records it.
fn story_of(c: &Connection) -> BTreeMap<String, i64> {
    let mut stmt = c
        .prepare("SELECT article_id, story_id FROM assignments")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .unwrap();
    rows.collect::<rusqlite::Result<_>>().unwrap()
}

/// The invariants that must hold in the database at any moment a reader
/// can see it: complete articles only, each in exactly one live story.
fn check_consistent(db: &Path, input: &BTreeSet<String>, when: &str) -> BTreeMap<String, i64> {
    let c = reader(db).unwrap_or_else(|| panic!("{when}: database missing"));
    let ic: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ic, "ok", "{when}: integrity_check");
    let fk = count(&c, "SELECT COUNT(*) FROM pragma_foreign_key_check");
    assert_eq!(fk, 0, "{when}: foreign key violations");

    let ids = column(&c, "SELECT id FROM articles");
    let distinct: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), distinct.len(), "{when}: an id stored twice");
    assert!(distinct.is_subset(input), "{when}: unknown ids stored");
    let hashes = count(&c, "SELECT COUNT(DISTINCT content_hash) FROM articles");
    assert_eq!(hashes as usize, ids.len(), "{when}: a text stored twice");

    // Batches are all or nothing: no article without its assignment and embeddings.
    let unassigned = column(
        &c,
        "SELECT id FROM articles WHERE id NOT IN (SELECT article_id FROM assignments)",
    );
    assert!(unassigned.is_empty(), "{when}: unassigned {unassigned:?}");
    let n_asg = count(&c, "SELECT COUNT(*) FROM assignments");
    assert_eq!(n_asg as usize, ids.len(), "{when}: assignments vs articles");
    for model in ["e5", "use"] {
        let missing = column(
            &c,
            &format!(
                "SELECT id FROM articles WHERE id NOT IN \
                 (SELECT article_id FROM embeddings WHERE model = '{model}' AND dim > 0 \
                  AND length(vector) = 4 * dim)"
            ),
        );
        assert!(
            missing.is_empty(),
            "{when}: no {model} embedding for {missing:?}"
        );
    }
    let dims = column(
        &c,
        "SELECT DISTINCT CAST(dim AS TEXT) || model FROM embeddings",
    );
    let models = if ids.is_empty() { 0 } else { 2 };
    assert_eq!(
        dims.len(),
        models,
        "{when}: one dimension per model, got {dims:?}"
    );

    // Assignments point at live stories: merges move their articles along.
    let dangling = column(
        &c,
        "SELECT s.article_id FROM assignments s LEFT JOIN stories t ON t.id = s.story_id \
         WHERE t.id IS NULL OR t.merged_into IS NOT NULL",
    );
    assert!(
        dangling.is_empty(),
        "{when}: assigned to dead stories: {dangling:?}"
    );
    let empty_live = count(
        &c,
        "SELECT COUNT(*) FROM stories WHERE merged_into IS NULL \
         AND id NOT IN (SELECT story_id FROM assignments)",
    );
    assert_eq!(empty_live, 0, "{when}: live stories with no article");
    let merges = count(&c, "SELECT COUNT(*) FROM merges");
    let merged = count(
        &c,
        "SELECT COUNT(*) FROM stories WHERE merged_into IS NOT NULL",
    );
    assert_eq!(merges, merged, "{when}: merge history vs merged stories");
    story_of(&c)
}

/// When to SIGKILL a running ingest.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// As soon as the database file appears: while it is created and migrated,
    /// or while the live stories are restored from it.
    Opening,
    /// Once at least this many articles are committed: during the encoding
    /// or the storing of a later batch.
    Committed(usize),
}

/// Starts an ingest and SIGKILLs it at `at`. Returns the ids acknowledged
/// (committed, visible to another connection) just before the kill.
fn ingest_and_kill(db: &Path, input: &Path, log: &Path, at: KillAt) -> BTreeSet<String> {
    let limit = Duration::from_secs(600);
    let mut child: Child = storyweave(db, &["ingest", input.to_str().unwrap()], log)
        .spawn()
        .expect("spawn storyweave");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "ingest ended ({status}) before the kill at {at:?}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            start.elapsed() < limit,
            "no kill point {at:?} after {limit:?}"
        );
        let acked = match at {
            KillAt::Opening if db.exists() => Some(committed_ids(db).unwrap_or_default()),
            KillAt::Opening => None,
            KillAt::Committed(n) => committed_ids(db).filter(|ids| ids.len() >= n),
        };
        if let Some(ids) = acked {
            child.kill().unwrap();
            let status = child.wait().unwrap();
            assert!(!status.success(), "the kill did not stop it: {status}");
            println!(
                "killed at {at:?} after {:.1}s with {} articles acknowledged",
                start.elapsed().as_secs_f64(),
                ids.len()
            );
            return ids;
        }
        std::thread::sleep(Duration::from_millis(if matches!(at, KillAt::Opening) {
            1
        } else {
            5
        }));
    }
}

fn after_kill(
    db: &Path,
    input: &BTreeSet<String>,
    acked: &BTreeSet<String>,
    before: &BTreeMap<String, i64>,
    when: &str,
) -> BTreeMap<String, i64> {
    let stories = check_consistent(db, input, when);
    let now: BTreeSet<String> = stories.keys().cloned().collect();
    let lost: Vec<&String> = acked.difference(&now).collect();
    assert!(lost.is_empty(), "{when}: acknowledged then lost: {lost:?}");
    // A committed assignment only ever moves through a recorded merge.
    let merged = merged_into(&reader(db).unwrap());
    for (id, s) in before {
        assert_eq!(
            stories[id],
            follow(&merged, *s),
            "{when}: {id} changed story outside a merge"
        );
    }
    println!(
        "{when}: {} articles in {} live stories, consistent",
        stories.len(),
        stories.values().collect::<BTreeSet<_>>().len()
    );
    stories
}

#[test]
fn killed_ingest_loses_nothing_and_resumes() {
    if !models_ready() {
        return;
    }
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (db, input, log) = (
        dir.path().join("crash.db"),
        dir.path().join("big.jsonl"),
        dir.path().join("stderr.log"),
    );
    let ids = write_corpus(&input);
    let input_ids: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(input_ids.len(), ARTICLES);

    // Kill while the database is being created, then early in the ingest,
    // then late, then let it finish.
    let acked = ingest_and_kill(&db, &input, &log, KillAt::Opening);
    // The schema may or may not exist yet; whatever is there is complete.
    if committed_ids(&db).is_some() {
        after_kill(
            &db,
            &input_ids,
            &acked,
            &BTreeMap::new(),
            "after killing the opening",
        );
    }
    let acked = ingest_and_kill(&db, &input, &log, KillAt::Committed(300));
    let first = after_kill(
        &db,
        &input_ids,
        &acked,
        &BTreeMap::new(),
        "after the first kill",
    );
    let acked2 = ingest_and_kill(&db, &input, &log, KillAt::Committed(ARTICLES * 2 / 3));
    assert!(acked.is_subset(&acked2), "the second run dropped articles");
    let second = after_kill(&db, &input_ids, &acked2, &first, "after the second kill");

    let t = Instant::now();
    let status = storyweave(&db, &["ingest", input.to_str().unwrap()], &log)
        .status()
        .unwrap();
    let err = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{err}");
    println!(
        "final run: {:.1}s: {}",
        t.elapsed().as_secs_f64(),
        err.trim()
    );
    // The third run skipped exactly what the killed runs had stored.
    let expected = format!(
        "ingested {} new articles ({} duplicates skipped",
        ARTICLES - second.len(),
        second.len()
    );
    assert!(err.contains(&expected), "expected `{expected}` in {err}");
    let last = after_kill(&db, &input_ids, &acked2, &second, "after the final run");
    let stored: BTreeSet<String> = last.keys().cloned().collect();
    assert_eq!(stored, input_ids, "every input article stored once");

    // What readers see: every article in exactly one story.
    let stories = stories_json(&db);
    let mut listed: Vec<String> = Vec::new();
    for s in stories.as_array().unwrap() {
        let story_id = s["id"].as_i64().unwrap();
        for a in s["articles"].as_array().unwrap() {
            let id = a["id"].as_str().unwrap().to_string();
            assert_eq!(last[&id], story_id, "{id} listed under another story");
            listed.push(id);
        }
    }
    listed.sort();
    assert_eq!(
        listed, ids,
        "stories --json lists each input id exactly once"
    );
    // For information only (clustering quality is not this test's subject):
    // how many stories hold articles of more than one synthetic event.
    let mut events: BTreeMap<i64, BTreeSet<usize>> = BTreeMap::new();
    for (id, story) in &last {
        let k: usize = id.trim_start_matches("crash-").parse().unwrap();
        events.entry(*story).or_default().insert(k % EVENTS);
    }
    println!(
        "{} stories over {} articles ({} mix events); whole test {:.1}s",
        stories.as_array().unwrap().len(),
        listed.len(),
        events.values().filter(|e| e.len() > 1).count(),
        t0.elapsed().as_secs_f64()
    );
}
