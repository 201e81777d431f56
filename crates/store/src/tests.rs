use super::*;

fn art(id: &str, text: &str) -> Article {
    let mut a = Article::new(Some("T".into()), text.into());
    a.id = id.into();
    a.lang = Some("en".into());
    a
}

#[test]
fn dedup_by_id_url_and_content() {
    let s = Store::in_memory().unwrap();
    let mut a = art("a", "one");
    a.url = Some("https://x/1".into());
    assert_eq!(s.insert_article(&a).unwrap(), Inserted::New);
    assert!(matches!(
        s.insert_article(&a).unwrap(),
        Inserted::Duplicate {
            by: DuplicateBy::Id,
            ..
        }
    ));
    let mut b = art("b", "two");
    b.url = a.url.clone();
    assert_eq!(
        s.insert_article(&b).unwrap(),
        Inserted::Duplicate {
            existing_id: "a".into(),
            by: DuplicateBy::Url
        }
    );
    let c = art("c", "one");
    assert_eq!(
        s.insert_article(&c).unwrap(),
        Inserted::Duplicate {
            existing_id: "a".into(),
            by: DuplicateBy::Content
        }
    );
    assert_eq!(s.article_count().unwrap(), 1);
    assert_eq!(s.article("a").unwrap().unwrap(), a);
}

#[test]
fn survives_reopen_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/x.db");
    {
        let mut s = Store::open(&path).unwrap();
        s.transaction(|s| {
            s.insert_article(&art("a", "one"))?;
            s.insert_article(&art("b", "two"))?;
            s.put_embedding("a", "e5", &[0.5, -1.25])?;
            let st = 1;
            s.new_story(st, Utc::now())?;
            s.assign(
                &Assignment {
                    article_id: "a".into(),
                    story_id: st,
                    opened: true,
                    score: 1.0,
                    why: serde_json::json!({"x": 1}),
                },
                Utc::now(),
            )?;
            let st2 = 2;
            s.new_story(st2, Utc::now())?;
            s.assign(
                &Assignment {
                    article_id: "b".into(),
                    story_id: st2,
                    opened: true,
                    score: 1.0,
                    why: serde_json::json!({}),
                },
                Utc::now(),
            )?;
            s.merge(st2, st, 0.9, Utc::now())
        })
        .unwrap();
    }
    let s = Store::open(&path).unwrap();
    assert_eq!(
        s.articles()
            .unwrap()
            .iter()
            .map(|a| a.id.as_str())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(s.embedding("a", "e5").unwrap().unwrap(), vec![0.5, -1.25]);
    assert_eq!(s.embedding("b", "e5").unwrap(), None);
    let asg = s.assignments().unwrap();
    assert_eq!(asg.len(), 2);
    assert!(
        asg.iter().all(|a| a.story_id == asg[0].story_id),
        "merge moved b"
    );
    assert_eq!(asg[0].why["x"], 1);
    assert_eq!(s.merges().unwrap().len(), 1);
    assert!(s.unassigned().unwrap().is_empty());
}

#[test]
fn failed_transaction_stores_nothing() {
    let mut s = Store::in_memory().unwrap();
    s.insert_article(&art("keep", "kept")).unwrap();
    let r: Result<()> = s.transaction(|s| {
        s.insert_article(&art("x", "lost"))?;
        Err(StoreError::Corrupt {
            table: "t",
            message: "boom".into(),
        })
    });
    assert!(r.is_err());
    assert_eq!(s.article_count().unwrap(), 1);
    assert!(s.article("x").unwrap().is_none());
}

#[test]
fn refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    Store::open(&path).unwrap();
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let e = Store::open(&path).err().unwrap();
    assert!(e.to_string().contains("newer"), "{e}");
}
