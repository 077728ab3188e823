//! CSVダウンロード in one walk: whom the file holds and whether CP932 can hold them are known
//! from the registrant directory (a `text_cp932` flag each registrant item carries for its own
//! cells and its dependents', copied into the directory), so the registrant partition is read
//! once; a row that does not fit, or one stored before the flag was kept, still gets the
//! refusal listing its cells. (Streaming and filters: `bulk_stream.rs`; password, purpose and
//! encodings: `bulk.rs`.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use myna::app::keys::TenantScope;
use myna::app::{dependents, groups};
use myna::ports::Condition;
use myna_tests::fixtures::{dependent, person};
use myna_tests::store_hook::HookedStore;
use myna_tests::{seed_sealed as seed, test_config, Browser, Page, TestApp};

const COMPANY: &str = "株式会社ワンウォーク";

/// The download form for a filter `query`, posted with the password, a purpose and
/// `encoding` ("cp932" or "utf8").
async fn download(b: &mut Browser, query: &str, encoding: &str) -> Page {
    let fields = b.csv_download_fields(query, encoding).await;
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    b.post("/registrants/csv", &refs).await
}

/// The rows of a refusal's list of cells: (name, column, characters).
fn refused_cells(page: &Page) -> Vec<(String, String, String)> {
    let Some(start) = page.body.find("id=\"unwritable\"") else {
        return Vec::new();
    };
    let end = page.body[start..].find("</table>").unwrap() + start;
    page.body[start..end]
        .split("<td class=\"num\">")
        .skip(1)
        .map(|row| {
            let cells: Vec<&str> = row
                .split("<td>")
                .skip(1)
                .map(|c| c.split("</td>").next().unwrap())
                .collect();
            (cells[0].into(), cells[1].into(), cells[2].into())
        })
        .collect()
}

/// A CP932 file as text.
fn cp932_text(page: &Page) -> String {
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&page.bytes);
    assert!(!bad, "not CP932");
    text.into_owned()
}

async fn add(b: &mut Browser, family: &str, given: &str, code: &str) {
    let saved = b
        .add_registrant(&person(family, given, code, ""), &[])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
}

async fn id_of(scope: &TenantScope, code: &str) -> String {
    let filter = myna::app::registrants::Filter {
        code: code.into(),
        ..Default::default()
    };
    let (mut found, _) = myna::app::registrants::select(scope, &filter)
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{code}");
    found.remove(0).id
}

async fn add_group(b: &mut Browser, scope: &TenantScope, name: &str) -> String {
    let path = "/registrants/groups/new";
    b.submit(path, path, &[("name", name), ("confirmed", "1")])
        .await;
    groups::list(scope)
        .await
        .unwrap()
        .into_iter()
        .find(|g| g.name == name)
        .expect("group saved")
        .id
}

#[tokio::test]
async fn cp932_download_is_refused_naming_the_cell_when_a_name_dependent_group_or_note_has_no_code()
{
    // GIVEN one registrant per place a character without a CP932 code can stand, and one
    // whose every cell fits
    let (t, mut b) = TestApp::with_owner(COMPANY, "cells@example.jp").await;
    let scope = t.scope_of("cells@example.jp").await;
    let group = add_group(&mut b, &scope, "𠮷祥寺店").await;
    add(&mut b, "𠮷田", "太郎", "W1").await;
    add(&mut b, "山田", "花子", "W2").await;
    let w2 = id_of(&scope, "W2").await;
    let saved = b
        .add_dependent(&w2, &dependent("𠮷子", "child", "dependent", ""), &[])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    add(&mut b, "佐藤", "一", "W3").await;
    let w3 = id_of(&scope, "W3").await;
    let members = format!("/registrants/groups/{group}/members");
    b.submit(&members, &members, &[("member", &w3)]).await;
    add(&mut b, "鈴木", "二", "W4").await;
    let w4 = id_of(&scope, "W4").await;
    let edit = format!("/registrants/{w4}/edit");
    let mut fields = person("鈴木", "二", "W4", "");
    fields.push(("note", "𠮷野家にて"));
    let confirm = b.submit(&edit, &edit, &fields).await;
    b.post_confirm(&confirm, &edit, &[]).await;
    add(&mut b, "田中", "三", "W5").await;

    for (code, name, column, text) in [
        ("W1", "𠮷田 太郎", "氏名（姓）", "𠮷田"),
        ("W2", "山田 𠮷子", "氏名（名）", "𠮷子"),
        ("W3", "佐藤 一", "グループ", "𠮷祥寺店"),
        ("W4", "鈴木 二", "備考", "𠮷野家にて"),
    ] {
        let query = format!("?code={code}");
        // WHEN that registrant is downloaded in CP932
        let refused = download(&mut b, &query, "cp932").await;
        // THEN it is refused, naming the cell and the character
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{code}");
        assert_eq!(
            refused_cells(&refused),
            [(name.to_string(), column.to_string(), "「𠮷」".to_string())],
            "{code}"
        );
        // WHEN in UTF-8 THEN the file comes with the text as stored
        let file = download(&mut b, &query, "utf8").await;
        assert_eq!(file.status, StatusCode::OK, "{code}: {}", file.body);
        assert!(file.body.contains(text), "{code}: {}", file.body);
    }
    // WHEN the registrant whose every cell fits is downloaded in CP932 THEN it comes
    let file = download(&mut b, "?code=W5", "cp932").await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.body);
    assert!(cp932_text(&file).contains("田中,三"));
}

#[tokio::test]
async fn cp932_download_works_again_when_the_name_without_a_code_is_fixed() {
    // GIVEN a registrant named 𠮷田 and another with a dependent named 𠮷子
    let (t, mut b) = TestApp::with_owner(COMPANY, "fix@example.jp").await;
    let scope = t.scope_of("fix@example.jp").await;
    add(&mut b, "𠮷田", "太郎", "F1").await;
    add(&mut b, "山田", "花子", "F2").await;
    let f1 = id_of(&scope, "F1").await;
    let f2 = id_of(&scope, "F2").await;
    b.add_dependent(&f2, &dependent("𠮷子", "child", "dependent", ""), &[])
        .await;
    assert_eq!(
        download(&mut b, "", "cp932").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // WHEN the registrant's name is corrected
    let edit = format!("/registrants/{f1}/edit");
    let confirm = b
        .submit(&edit, &edit, &person("吉田", "太郎", "F1", ""))
        .await;
    b.post_confirm(&confirm, &edit, &[]).await;
    // THEN only the dependent is still refused
    let refused = download(&mut b, "", "cp932").await;
    assert_eq!(
        refused_cells(&refused),
        [(
            "山田 𠮷子".to_string(),
            "氏名（名）".to_string(),
            "「𠮷」".to_string()
        )]
    );

    // WHEN the dependent's name is corrected too
    let child = dependents::list(&scope, &f2).await.unwrap().remove(0);
    let edit = format!("/registrants/{f2}/dependents/{}/edit", child.id);
    let confirm = b
        .submit(&edit, &edit, &dependent("吉子", "child", "dependent", ""))
        .await;
    b.post_confirm(&confirm, &edit, &[]).await;
    // THEN the CP932 download comes, with both names as corrected
    let file = download(&mut b, "", "cp932").await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.body);
    let text = cp932_text(&file);
    assert!(
        text.contains("吉田,太郎") && text.contains("山田,吉子"),
        "{text}"
    );
}

/// Rewrites a stored item as it was written before the CP932 flag was kept: the flags gone,
/// `family_name` replaced if given.
async fn store_as_old_data(scope: &TenantScope, sk: &str, family_name: Option<&str>) {
    let mut item = scope.get(&scope.key(sk)).await.unwrap().expect("stored");
    item.attrs.remove("text_cp932");
    item.attrs.remove("dependents_text_cp932");
    if let Some(name) = family_name {
        item.attrs.insert("family_name".into(), name.into());
    }
    scope.put(item, Condition::None).await.unwrap();
}

#[tokio::test]
async fn cp932_download_is_still_refused_when_rows_were_stored_before_the_flag_was_kept() {
    // GIVEN a registrant and a dependent renamed to 𠮷 in items without the flag (old data),
    // and an old registrant whose cells all fit
    let (t, mut b) = TestApp::with_owner(COMPANY, "old@example.jp").await;
    let scope = t.scope_of("old@example.jp").await;
    for code in ["O1", "O2", "O3"] {
        add(&mut b, "山田", "太郎", code).await;
    }
    let o1 = id_of(&scope, "O1").await;
    let o2 = id_of(&scope, "O2").await;
    let o3 = id_of(&scope, "O3").await;
    b.add_dependent(&o2, &dependent("花子", "child", "dependent", ""), &[])
        .await;
    let child = dependents::list(&scope, &o2).await.unwrap().remove(0);
    store_as_old_data(&scope, &format!("REG#{o1}"), Some("𠮷田")).await;
    store_as_old_data(&scope, &format!("REG#{o2}#DEP#{}", child.id), Some("𠮷川")).await;
    store_as_old_data(&scope, &format!("REG#{o2}"), None).await;
    store_as_old_data(&scope, &format!("REG#{o3}"), None).await;

    // WHEN each is downloaded in CP932 THEN the two are refused naming their cells
    for (code, name) in [("O1", "𠮷田 太郎"), ("O2", "𠮷川 花子")] {
        let refused = download(&mut b, &format!("?code={code}"), "cp932").await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{code}");
        assert_eq!(
            refused_cells(&refused),
            [(
                name.to_string(),
                "氏名（姓）".to_string(),
                "「𠮷」".to_string()
            )],
            "{code}"
        );
    }
    // THEN the one whose cells fit comes
    let file = download(&mut b, "?code=O3", "cp932").await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.body);
    let text = cp932_text(&file);
    assert!(
        text.contains(",O3,") && text.contains("山田,太郎"),
        "{text}"
    );
}

#[tokio::test]
async fn audited_counts_equal_the_rows_of_the_file_when_a_filter_selects_some() {
    // GIVEN 60 registrants with 0, 1 or 2 dependents
    let (t, mut b) = TestApp::with_owner(COMPANY, "counts@example.jp").await;
    let scope = t.scope_of("counts@example.jp").await;
    seed::registrants(&t.app, &scope, 60, 0, |i| i % 3).await;

    // (all, and 社員1… by name)
    for query in ["", "?name=%E7%A4%BE%E5%93%A11"] {
        // WHEN the download form is shown and the file downloaded in CP932
        let form = b.get(&format!("/registrants/csv{query}")).await;
        let file = download(&mut b, query, "cp932").await;
        assert_eq!(file.status, StatusCode::OK, "{}", file.body);
        let text = cp932_text(&file);
        let rows = |kind: &str| text.lines().filter(|l| l.starts_with(kind)).count();
        let (registrants, deps) = (rows("登録者,"), rows("扶養家族,"));
        assert!(registrants > 0 && deps > 0, "{query}");

        // THEN the form's count, and the audit entry's counts, are the file's rows
        assert!(
            form.body
                .contains(&format!("<strong>{registrants}人</strong>")),
            "{query}"
        );
        let audited = t
            .audit_of(&scope)
            .await
            .into_iter()
            .find(|e| e.action == "csv.export")
            .expect("audited");
        assert!(
            audited.detail.contains(&format!(
                "登録者{registrants}人・扶養家族{deps}人、計{}人",
                registrants + deps
            )),
            "{query}: {}",
            audited.detail
        );
    }
}

#[tokio::test]
async fn download_reads_the_registrant_partition_once_when_every_row_is_known_to_fit() {
    // GIVEN 40 registrants with dependents, on a store counting queries of the registrant
    // partition (`REG#…`)
    let walks = Arc::new(AtomicUsize::new(0));
    let counter = walks.clone();
    let t = TestApp::spawn_wrapping_store(test_config(), move |inner| {
        HookedStore::wrap(inner, move |op, key| {
            if op == "query" && key.is_some_and(|k| k.sk.starts_with("REG#")) {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            Ok(())
        })
    });
    let mut b = t.owner(COMPANY, "walks@example.jp").await;
    let scope = t.scope_of("walks@example.jp").await;
    let seeded = seed::registrants(&t.app, &scope, 40, 0, |i| i % 2).await;
    b.get("/registrants").await;
    let reads = |before: usize| walks.load(Ordering::SeqCst) - before;

    // WHEN the download form is shown THEN the count reads no row
    let at = walks.load(Ordering::SeqCst);
    let form = b.get("/registrants/csv").await;
    assert!(form.body.contains("<strong>40人</strong>"));
    assert_eq!(reads(at), 0);

    // WHEN the file is downloaded in CP932 THEN the partition is read once
    let at = walks.load(Ordering::SeqCst);
    let file = download(&mut b, "", "cp932").await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(reads(at), 1, "one walk");
    let text = cp932_text(&file);
    assert_eq!(text.lines().count(), 1 + 40 + seeded.dependents);

    // WHEN one registrant item predates the flag THEN the CP932 download reads the rows
    // twice (to check them, then to write), a UTF-8 one still once
    let first = id_of(&scope, &seeded.codes[0]).await;
    store_as_old_data(&scope, &format!("REG#{first}"), None).await;
    for (encoding, walked) in [("cp932", 2), ("utf8", 1)] {
        let at = walks.load(Ordering::SeqCst);
        let file = download(&mut b, "", encoding).await;
        assert_eq!(file.status, StatusCode::OK);
        assert_eq!(reads(at), walked, "{encoding}");
    }
}
