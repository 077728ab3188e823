//! The tidy step of a staged CSVアップロード (after the flip, each chunk's rows are rewritten
//! without the import id): a row edited or deleted between the flip and its chunk's tidy keeps
//! the edit (or stays deleted), every other row is tidied, and the import is logged once.

use axum::http::StatusCode;
use myna::app::keys::TenantScope;
use myna::app::registrants as regs;
use myna::app::staging::{self, Budget, State};
use myna::app::tenants;
use myna::ports::{Condition, Query};
use myna_tests::fixtures::valid_number;
use myna_tests::TestApp;

const COMPANY: &str = "株式会社整理";
const EMAIL: &str = "tidy@example.jp";
const HEADER: &str = "種別,社員コード,属性,氏名（姓）,氏名（名）,フリガナ（セイ）,フリガナ（メイ）,生年月日,性別,マイナンバー,続柄,入社日,メールアドレス,グループ,備考";

/// A file of `n` registrants with numbers (several chunks: about 23 registrants fill one).
fn file(n: u64) -> String {
    let mut out = vec![HEADER.to_string()];
    out.extend((0..n).map(|i| {
        format!(
            "登録者,T{i:03},従業員1,社員,{i},シャイン,タロウ,1980/1/1,男性,{},,2020/4/1,,,",
            valid_number(i)
        )
    }));
    out.join("\n") + "\n"
}

/// An owner on プラン300 who uploaded `file(n)` and pressed 登録; returns the import id.
async fn confirmed_import(n: u64) -> (TestApp, TenantScope, String) {
    let (t, mut b) = TestApp::with_owner(COMPANY, EMAIL).await;
    let scope = t.scope_of(EMAIL).await;
    let mut profile = scope.get(&scope.key("PROFILE")).await.unwrap().unwrap();
    profile.attrs.insert("plan".into(), 300.into());
    scope.put(profile, Condition::None).await.unwrap();
    let page = "/registrants/csv-upload";
    let staged = b.upload(page, page, file(n).as_bytes(), true).await;
    assert_eq!(staged.status, StatusCode::OK, "{}", staged.body);
    let id = b.confirm_import(&staged).await;
    // The job's event is not run: the test drives the import step by step.
    t.queue.drain();
    (t, scope, id)
}

/// Every stored registrant item (the gate aside), by 社員コード.
async fn stored_rows(scope: &TenantScope) -> Vec<myna::ports::Item> {
    let page = scope
        .query(&Query::partition(scope.pk()).prefix("REG#").limit(1000))
        .await
        .unwrap();
    assert!(page.next.is_none());
    page.items
}

#[tokio::test]
async fn tidy_keeps_an_edit_and_a_delete_made_after_the_flip_when_their_chunk_is_tidied_later() {
    // GIVEN a confirmed import of 100 registrants, run one step at a time up to its flip
    let (t, scope, id) = confirmed_import(100).await;
    let tenant = tenants::load(&scope).await.unwrap().unwrap();
    let one_step = Budget {
        steps: Some(1),
        until: None,
    };
    let mut import = staging::load(&scope, &id).await.unwrap().unwrap();
    while import.state != State::Done {
        import = staging::run(&t.app, &scope, &tenant, &id, one_step)
            .await
            .unwrap();
    }
    assert!(import.chunks > 2, "{} chunks", import.chunks);
    assert_eq!(import.tidied, 0);
    // AND, before any chunk is tidied, the first registrant is edited (saved without the
    // import id, as an edit writes it) and the second one deleted
    let rows = stored_rows(&scope).await;
    let code = |item: &myna::ports::Item| item.str("code").unwrap_or_default().to_string();
    let mut edited = rows.iter().find(|i| code(i) == "T000").unwrap().clone();
    edited.attrs.remove("import_id");
    edited.attrs.insert("family_name".into(), "改名".into());
    scope.put(edited.clone(), Condition::Exists).await.unwrap();
    let deleted = rows.iter().find(|i| code(i) == "T001").unwrap().key.clone();
    scope.delete(&deleted, Condition::Exists).await.unwrap();

    // WHEN the import runs to its end, and once more (a re-delivered event)
    let done = staging::run(&t.app, &scope, &tenant, &id, Budget::unlimited())
        .await
        .unwrap();
    staging::run(&t.app, &scope, &tenant, &id, Budget::unlimited())
        .await
        .unwrap();

    // THEN the import finished with every chunk tidied
    assert_eq!(done.state, State::Finished);
    assert_eq!(done.tidied, done.chunks);
    // AND the edit is kept, the deleted registrant is not brought back, no row carries the
    // import id, and the other 98 are listed once each
    let rows = stored_rows(&scope).await;
    assert_eq!(rows.len(), 99);
    assert!(rows.iter().all(|i| i.str("import_id").is_none()));
    let first = rows.iter().find(|i| code(i) == "T000").unwrap();
    assert_eq!(first.str("family_name"), Some("改名"));
    assert!(rows.iter().all(|i| code(i) != "T001"));
    let listed = regs::select(&scope, &Default::default()).await.unwrap().0;
    assert_eq!(listed.len(), 99);
    // AND nothing of the import's staged chunks is left
    let leftover = scope
        .query(&Query::partition(scope.partition(&format!("IMPORT#{id}"))).limit(10))
        .await
        .unwrap();
    assert!(leftover.items.is_empty());
    // AND the operation log holds the import once
    let logged = t
        .audit_of(&scope)
        .await
        .iter()
        .filter(|e| e.action == "csv.import")
        .count();
    assert_eq!(logged, 1);
}
