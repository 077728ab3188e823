//! The `import-commit` job (issue 13): a confirmed CSVアップロード is committed by the job
//! function from its `import.commit` event, not by the status page; a re-delivered event
//! changes nothing; a lost event cannot leave an import stuck.

use axum::http::StatusCode;
use myna::app::keys::TenantScope;
use myna::app::staging;
use myna::app::worker::Job;
use myna::ports::{Condition, Event, Query};
use myna_tests::fixtures::valid_number;
use myna_tests::{Browser, Page, TestApp};

const COMPANY: &str = "株式会社取込";
const HEADER: &str = "種別,社員コード,属性,氏名（姓）,氏名（名）,フリガナ（セイ）,フリガナ（メイ）,生年月日,性別,マイナンバー,続柄,入社日,メールアドレス,グループ,備考";

/// A file of `n` registrants with numbers (more than one chunk from about 40 on).
fn file(n: u64) -> String {
    let mut out = vec![HEADER.to_string()];
    out.extend((0..n).map(|i| {
        format!(
            "登録者,J{i:03},従業員1,社員,{i},シャイン,タロウ,1980/1/1,男性,{},,2020/4/1,,,",
            valid_number(i)
        )
    }));
    out.join("\n") + "\n"
}

/// An owner on プラン300, so a file fills several chunks (transactions).
async fn owner(email: &str) -> (TestApp, Browser) {
    let (t, b) = TestApp::with_owner(COMPANY, email).await;
    let scope = t.scope_of(email).await;
    let mut profile = scope.get(&scope.key("PROFILE")).await.unwrap().unwrap();
    profile.attrs.insert("plan".into(), 300.into());
    scope.put(profile, Condition::None).await.unwrap();
    (t, b)
}

/// Uploads `text`, presses 登録 on the confirm page; returns the import id.
async fn upload_and_confirm(b: &mut Browser, text: &str) -> String {
    let page = "/registrants/csv-upload";
    let staged = b.upload(page, page, text.as_bytes(), true).await;
    assert_eq!(staged.status, StatusCode::OK, "{}", staged.body);
    b.confirm_import(&staged).await
}

async fn status(b: &mut Browser, id: &str) -> Page {
    b.get(&format!("/registrants/csv-upload/{id}")).await
}

/// Every item of the tenant's partition, as stored.
async fn snapshot(scope: &TenantScope) -> Vec<String> {
    let mut out = Vec::new();
    let mut query = Query::partition(scope.pk()).limit(1000);
    loop {
        let page = scope.query(&query).await.unwrap();
        out.extend(page.items.iter().map(|i| format!("{i:?}")));
        match page.next {
            Some(next) => query = query.after(Some(next)),
            None => return out,
        }
    }
}

#[tokio::test]
async fn a_confirmed_import_is_committed_by_the_import_commit_job_when_its_event_runs() {
    // GIVEN an owner who uploaded a file of 100 registrants and pressed 登録
    let (t, mut b) = owner("job@example.jp").await;
    let id = upload_and_confirm(&mut b, &file(100)).await;

    // WHEN the status page is shown before the job ran
    let before = status(&mut b, &id).await;
    // THEN it only shows progress: nothing committed, still updating itself in place (a
    // script polling the page, no refresh header that reloads it and loses the reader's place)
    assert!(
        before.body.contains("data-progress")
            && before.body.contains("/static/progress.js")
            && !before.body.contains("http-equiv"),
        "{}",
        before.body
    );
    let script = b.get("/static/progress.js").await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(script.body.contains("data-progress"), "{}", script.body);
    assert!(!before.body.contains("完了"), "{}", before.body);

    // WHEN the one queued event is handled by the import-commit function
    let events = t.queue.drain();
    assert_eq!(
        events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["import.commit"]
    );
    Job::ImportCommit.handle(&t.app, &events[0]).await.unwrap();

    // THEN the import is complete and the people are listed and counted
    let after = status(&mut b, &id).await;
    assert!(
        after
            .body
            .contains("CSVアップロードは完了です。登録者100人"),
        "{}",
        after.body
    );
    assert!(!after.body.contains("data-progress"));
    let scope = t.scope_of("job@example.jp").await;
    let listed = myna::app::registrants::select(&scope, &Default::default())
        .await
        .unwrap()
        .0;
    assert_eq!(listed.len(), 100);
    // and the mail function would refuse the kind (its rule never sends it there)
    assert!(Job::MailBlast.handle(&t.app, &events[0]).await.is_err());
}

#[tokio::test]
async fn a_redelivered_import_commit_event_changes_nothing_the_second_time() {
    // GIVEN an import committed by its event
    let (t, mut b) = owner("again@example.jp").await;
    let id = upload_and_confirm(&mut b, &file(60)).await;
    let events: Vec<Event> = t.queue.drain();
    Job::ImportCommit.handle(&t.app, &events[0]).await.unwrap();
    let scope = t.scope_of("again@example.jp").await;
    let done = snapshot(&scope).await;
    let audit_before = b
        .get("/audit-log")
        .await
        .body
        .matches("CSVアップロード")
        .count();
    assert_eq!(audit_before, 1, "the import is audited once");

    // WHEN EventBridge delivers the same event again
    Job::ImportCommit.handle(&t.app, &events[0]).await.unwrap();

    // THEN no item of the tenant changed, nothing was audited twice, nothing was re-queued
    assert_eq!(snapshot(&scope).await, done);
    assert_eq!(
        b.get("/audit-log")
            .await
            .body
            .matches("CSVアップロード")
            .count(),
        audit_before
    );
    assert!(t.queue.drain().is_empty());
    assert!(status(&mut b, &id)
        .await
        .body
        .contains("CSVアップロードは完了です。登録者60人"));
}

#[tokio::test]
async fn the_status_page_continues_an_import_only_after_its_event_was_lost_for_20_seconds() {
    // GIVEN a confirmed import whose event never arrives
    let (t, mut b) = owner("lost@example.jp").await;
    let id = upload_and_confirm(&mut b, &file(50)).await;
    t.queue.drain();

    // WHEN the status page reloads within 20 seconds
    t.clock.advance(time::Duration::seconds(19));
    // THEN it does not commit anything itself
    assert!(status(&mut b, &id).await.body.contains("data-progress"));

    // WHEN the import has stood still for 20 seconds
    t.clock.advance(time::Duration::seconds(1));
    // THEN the status page continues it to the end
    let page = status(&mut b, &id).await;
    assert!(
        page.body.contains("CSVアップロードは完了です。登録者50人"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn stopping_a_committing_import_hands_its_roll_back_to_the_job_and_leaves_nothing() {
    // GIVEN an import of several chunks whose first chunk was committed before the job stopped
    let (t, mut b) = owner("stop@example.jp").await;
    let id = upload_and_confirm(&mut b, &file(100)).await;
    t.queue.drain();
    let scope = t.scope_of("stop@example.jp").await;
    let tenant = myna::app::tenants::load(&scope).await.unwrap().unwrap();
    let one = staging::Budget {
        steps: Some(1),
        until: None,
    };
    let stopped = staging::run(&t.app, &scope, &tenant, &id, one)
        .await
        .unwrap();
    assert_eq!(stopped.committed, 1);

    // WHEN the owner presses 登録を取り消す on the status page
    let discard = format!("/registrants/csv-upload/{id}/discard");
    let page = status(&mut b, &id).await;
    assert!(
        page.body.contains(&format!("href=\"{discard}\"")),
        "{}",
        page.body
    );
    // THEN a confirmation comes first, saying how many committed rows go, and nothing happens
    let confirm = b.get(&discard).await;
    assert_eq!(confirm.status, StatusCode::OK);
    let people = stopped.committed_people;
    assert!(people > 0);
    assert!(
        confirm
            .body
            .contains(&format!("登録済みの{people}人（全100人中）も削除され")),
        "{}",
        confirm.body
    );
    assert!(!confirm.body.contains("data-progress"));
    assert!(
        t.queue.drain().is_empty(),
        "nothing is queued before 取り消す"
    );
    let still = staging::load(&scope, &id).await.unwrap().unwrap();
    assert_eq!(still.state, staging::State::Committing);

    // WHEN the owner presses 取り消す on the confirmation
    let token = confirm.csrf().unwrap();
    let res = b
        .post(
            &format!("/registrants/csv-upload/{id}/discard"),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);

    // THEN an import.commit event was queued, and running it rolls the committed chunk back
    let events = t.queue.drain();
    assert_eq!(events.len(), 1);
    Job::ImportCommit.handle(&t.app, &events[0]).await.unwrap();
    let left = scope
        .query(&Query::partition(scope.pk()).prefix("REG").limit(500))
        .await
        .unwrap();
    assert!(left.items.is_empty(), "{} rows left", left.items.len());
    assert!(status(&mut b, &id)
        .await
        .body
        .contains("登録は取り消されました。"));
}
