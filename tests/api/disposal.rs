//! 廃棄 (manual ch.12): the four deletions with their reason and 入力確認, what they leave in the
//! store and blob storage (nothing of the number), the deletion records on `/disposal` and the
//! 削除証明書.

use axum::http::StatusCode;
use myna::app::keys::TenantScope;
use myna::app::registrants as regs;
use myna::app::{dependents as deps, images, tenants};
use myna::ports::store::Condition;
use myna::ports::Query;
use myna_tests::fixtures::{dependent, person, valid_number};
use myna_tests::{Browser, TestApp};

const COMPANY: &str = "株式会社ハイキ";

/// An owner of [`COMPANY`] with one registrant holding `number`: the app, the owner's browser,
/// the tenant's scope and the registrant's id.
async fn owner_with(
    email: &str,
    (family, given, code): (&str, &str, &str),
    number: String,
) -> (TestApp, Browser, TenantScope, String) {
    let (t, mut b) = TestApp::with_owner(COMPANY, email).await;
    let scope = t.scope_of(email).await;
    let id = b
        .add_registrant(&person(family, given, code, &number), &[])
        .await
        .registrant_id();
    (t, b, scope, id)
}

/// The tenant's newest audit entries of `action`.
async fn entries_of(
    t: &TestApp,
    scope: &TenantScope,
    action: &str,
) -> Vec<myna::app::audit::Entry> {
    let (entries, _) = t
        .app
        .audit
        .list(Some(scope.tenant()), 50, None)
        .await
        .unwrap();
    entries.into_iter().filter(|e| e.action == action).collect()
}

/// Uploads a JPEG as `base`'s 番号確認 image and returns the stored object's name.
async fn upload(t: &TestApp, b: &mut Browser, base: &str) -> String {
    let jpeg = [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[5u8; 3000]].concat();
    let path = format!("{base}/images/number_proof");
    let (_, ticket) = b.ticket(&format!("{path}/ticket"), "image/jpeg").await;
    assert!(t.put(&ticket, "image/jpeg", jpeg).await);
    let (status, _) = b
        .complete(
            &format!("{path}/complete"),
            ticket["upload"].as_str().unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    ticket["upload"].as_str().unwrap()["incoming/".len()..].to_string()
}

async fn object_exists(t: &TestApp, scope: &TenantScope, name: &str) -> bool {
    let tenant = tenants::load(scope).await.unwrap().unwrap();
    t.app
        .ports
        .blobs
        .head(&images::blob_scope(&tenant, scope), name)
        .await
        .unwrap()
        .is_some()
}

/// Every fingerprint item (duplicate check) of the tenant.
async fn fingerprints(scope: &TenantScope) -> usize {
    scope
        .query(&Query::partition(scope.pk()).prefix("FP#"))
        .await
        .unwrap()
        .items
        .len()
}

/// The raw stored item of a registrant.
async fn raw(scope: &TenantScope, sk: &str) -> Option<myna::ports::Item> {
    scope.get(&scope.key(sk)).await.unwrap()
}

const NUMBER_ATTRS: [&str; 4] = ["number", "number_fp", "number_last4", "image_number_proof"];

#[tokio::test]
async fn number_delete_removes_number_fingerprint_and_images_and_keeps_the_person_when_confirmed() {
    // given a registrant with a number and an uploaded image
    let number = valid_number(101);
    let (t, mut b, scope, id) =
        owner_with("num@example.jp", ("山田", "太郎", "E001"), number.clone()).await;
    let object = upload(&t, &mut b, &format!("/registrants/{id}")).await;
    assert_eq!(fingerprints(&scope).await, 1);
    let path = format!("/registrants/{id}/number/delete");
    // the list's マイナンバー操作 and 登録者詳細 lead here
    assert!(b.get("/registrants").await.body.contains(&path));
    assert!(b
        .get(&format!("/registrants/{id}"))
        .await
        .body
        .contains(&path));

    // when the number is deleted with a reason, through 入力確認
    let (confirm, done) = b.dispose(&path, "retired", "2025年3月31日退職").await;

    // then 入力確認 showed the reason before anything was deleted
    assert!(confirm.body.contains("マイナンバー削除（入力確認）"));
    assert!(confirm
        .body
        .contains("退職・契約終了による事務の終了（2025年3月31日退職）"));
    let location = done.location().unwrap().to_string();
    assert!(location.starts_with("/disposal/"), "{location}");
    // and the person stays, 未登録, without any trace of the number or the image
    let r = regs::get(&scope, &id).await.unwrap().unwrap();
    assert_eq!(r.person.status.label(), "未登録");
    assert!(r.person.number.is_none() && r.person.images.is_empty());
    let item = raw(&scope, &format!("REG#{id}")).await.unwrap();
    for attr in NUMBER_ATTRS {
        assert!(!item.attrs.contains_key(attr), "{attr} still stored");
    }
    assert_eq!(fingerprints(&scope).await, 0);
    assert!(
        !object_exists(&t, &scope, &object).await,
        "image object left"
    );
    // and the same number can be registered again without a duplicate warning
    let again = b
        .add_registrant(&person("別人", "二郎", "E002", &number), &[])
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);

    // and the certificate names whom, what, why and who, without the number
    let cert = b.get(&location.replace("?done=1", "")).await;
    assert_eq!(cert.status, StatusCode::OK);
    for text in [
        "削除証明書",
        "山田 太郎（社員コード E001）",
        "マイナンバー削除",
        "2025年3月31日退職",
        "削除した画像</th><td>1件",
    ] {
        assert!(cert.body.contains(text), "missing {text}");
    }
    assert!(!cert.body.contains(&number) && !cert.body.contains(&number[8..]));
    // and the audit log has it once
    let audited = entries_of(&t, &scope, "registrant.number_delete").await;
    assert_eq!(audited.len(), 1);
    assert!(!audited[0].detail.contains(&number[8..]));
}

#[tokio::test]
async fn registrant_delete_removes_the_registrant_with_dependents_and_all_their_images() {
    // given a registrant with a numbered dependent, both with images
    let (t, mut b, scope, id) = owner_with(
        "whole@example.jp",
        ("鈴木", "一郎", "W001"),
        valid_number(102),
    )
    .await;
    b.add_dependent(
        &id,
        &dependent("花子", "spouse", "dependent", &valid_number(103)),
        &[],
    )
    .await;
    let dep = deps::list(&scope, &id).await.unwrap().remove(0);
    let own = upload(&t, &mut b, &format!("/registrants/{id}")).await;
    let theirs = upload(
        &t,
        &mut b,
        &format!("/registrants/{id}/dependents/{}", dep.id),
    )
    .await;
    assert_eq!(fingerprints(&scope).await, 2);

    // when the registrant is deleted from アクション
    let path = format!("/registrants/{id}/delete");
    assert!(b.get("/registrants").await.body.contains(&path));
    let (_, done) = b.dispose(&path, "retention_over", "").await;

    // then nothing of either is left: items, fingerprints, images, counters
    assert!(done.location().unwrap().starts_with("/disposal/"));
    assert!(raw(&scope, &format!("REG#{id}")).await.is_none());
    assert!(raw(&scope, &format!("REG#{id}#DEP#{}", dep.id))
        .await
        .is_none());
    assert_eq!(fingerprints(&scope).await, 0);
    assert!(!object_exists(&t, &scope, &own).await);
    assert!(!object_exists(&t, &scope, &theirs).await);
    assert_eq!(
        tenants::counters(&scope).await.unwrap(),
        tenants::Counters::default()
    );
    // and the record on /disposal names both people and the reason
    let list = b.get("/disposal").await;
    assert!(list.body.contains("鈴木 一郎（社員コード W001）"));
    assert!(list.body.contains("山田 花子（配偶者）"));
    assert!(list.body.contains("法定保存期間の経過"));
    assert!(list.body.contains("完了"));
}

#[tokio::test]
async fn dependent_number_and_dependent_deletes_touch_only_that_dependent() {
    // given a registrant with two numbered dependents
    let (t, mut b, scope, id) =
        owner_with("dep@example.jp", ("田中", "守", "D001"), valid_number(104)).await;
    for (given, seed) in [("一郎", 105), ("二郎", 106)] {
        b.add_dependent(
            &id,
            &dependent(given, "child", "dependent", &valid_number(seed)),
            &[],
        )
        .await;
    }
    let all = deps::list(&scope, &id).await.unwrap();
    let (first, second) = (all[0].clone(), all[1].clone());
    let image = upload(
        &t,
        &mut b,
        &format!("/registrants/{id}/dependents/{}", first.id),
    )
    .await;

    // when the first dependent's number is deleted (from 登録者詳細's dependent list)
    let number_path = format!("/registrants/{id}/dependents/{}/number/delete", first.id);
    assert!(b
        .get(&format!("/registrants/{id}"))
        .await
        .body
        .contains(&number_path));
    let (confirm, _) = b.dispose(&number_path, "no_longer_needed", "").await;
    assert!(confirm
        .body
        .contains("扶養家族マイナンバー削除（入力確認）"));

    // then that dependent stays, 未登録, without number, fingerprint or image
    let d = deps::get(&scope, &id, &first.id).await.unwrap().unwrap();
    assert_eq!(d.person.status.label(), "未登録");
    let item = raw(&scope, &format!("REG#{id}#DEP#{}", first.id))
        .await
        .unwrap();
    for attr in NUMBER_ATTRS {
        assert!(!item.attrs.contains_key(attr), "{attr} still stored");
    }
    assert!(!object_exists(&t, &scope, &image).await);
    assert_eq!(
        fingerprints(&scope).await,
        2,
        "the registrant's and the other dependent's"
    );
    let r = regs::get(&scope, &id).await.unwrap().unwrap();
    assert_eq!((r.dependents, r.dependents_unregistered), (2, 1));

    // when the second dependent is deleted (from its 扶養家族詳細)
    let dep_path = format!("/registrants/{id}/dependents/{}/delete", second.id);
    assert!(b
        .get(&format!("/registrants/{id}/dependents/{}", second.id))
        .await
        .body
        .contains(&dep_path));
    b.dispose(&dep_path, "other", "扶養から外れたため").await;

    // then it is gone, the registrant and the first dependent stay
    assert!(deps::get(&scope, &id, &second.id).await.unwrap().is_none());
    assert_eq!(regs::get(&scope, &id).await.unwrap().unwrap().dependents, 1);
    assert_eq!(fingerprints(&scope).await, 1);
    let list = b.get("/disposal").await;
    assert!(list
        .body
        .contains("山田 二郎（子）／田中 守（社員コード D001）の扶養家族"));
    assert!(list.body.contains("その他（扶養から外れたため）"));
}

#[tokio::test]
async fn deletion_is_refused_with_the_input_kept_when_the_reason_is_missing_or_holds_a_number() {
    // given a registrant with a number
    let (_t, mut b, scope, id) = owner_with(
        "reason@example.jp",
        ("佐藤", "花", "R001"),
        valid_number(107),
    )
    .await;
    let path = format!("/registrants/{id}/number/delete");
    let form = b.get(&path).await;
    let (csrf, record) = (form.csrf().unwrap(), form.hidden("record"));
    let number = valid_number(108);
    let with_number = format!("番号 {number} の件");
    // (reason, text, message)
    let cases = [
        ("", "メモ", "削除理由を選択してください。"),
        (
            "other",
            "",
            "「その他」を選んだときは、削除理由の詳細を入力してください。",
        ),
        (
            "other",
            with_number.as_str(),
            "削除理由の詳細にマイナンバー",
        ),
    ];
    for (reason, text, message) in cases {
        // when the form is posted, even straight to 削除
        let res = b
            .post(
                &path,
                &[
                    ("csrf", &csrf),
                    ("record", &record),
                    ("reason", reason),
                    ("reason_text", text),
                    ("step", "commit"),
                ],
            )
            .await;
        // then it is refused with the reason's message and the typed text kept, nothing deleted
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{reason}");
        assert!(res.body.contains(message), "{reason}: {}", res.body);
        if text != with_number {
            assert!(res.body.contains(&format!(">{text}</textarea>")));
        }
        assert!(regs::get(&scope, &id)
            .await
            .unwrap()
            .unwrap()
            .person
            .number
            .is_some());
    }
    assert!(b
        .get("/disposal")
        .await
        .body
        .contains("削除記録はまだありません。"));
}

#[tokio::test]
async fn a_retried_deletion_finishes_the_same_deletion_and_records_it_once() {
    // given a registrant whose number deletion went through
    let (t, mut b, scope, id) = owner_with(
        "retry@example.jp",
        ("高橋", "進", "T001"),
        valid_number(109),
    )
    .await;
    let path = format!("/registrants/{id}/number/delete");
    let (confirm, done) = b.dispose(&path, "mistaken", "").await;
    let record = confirm.hidden("record");
    assert_eq!(
        done.location(),
        Some(format!("/disposal/{record}?done=1").as_str())
    );
    // and a crash left it as if the image and the record's last step were still to do
    let tenant = tenants::load(&scope).await.unwrap().unwrap();
    let bs = images::blob_scope(&tenant, &scope);
    let leftover = format!("registrants/{id}/number_proof/01J0LEFTOVER");
    t.app
        .ports
        .blobs
        .put(
            &bs,
            &leftover,
            b"\xFF\xD8\xFF\xE0 left".to_vec(),
            "image/jpeg",
        )
        .await
        .unwrap();
    let mut item = raw(&scope, &format!("DISPOSAL#{record}")).await.unwrap();
    item.attrs.remove("done_at");
    item.attrs.insert("state".into(), "pending".into());
    item.attrs
        .insert("objects".into(), serde_json::json!([leftover]));
    scope.put(item, Condition::None).await.unwrap();
    assert!(b.get("/disposal").await.body.contains("処理中"));

    // when the same 削除 is submitted again
    let again = b.post_confirm(&confirm, &path, &[("step", "commit")]).await;

    // then it finishes the same deletion: the object goes, the record is done, one entry each
    assert_eq!(again.location(), done.location());
    assert!(!object_exists(&t, &scope, &leftover).await);
    let list = b.get("/disposal").await;
    assert!(!list.body.contains("処理中"));
    assert_eq!(list.body.matches("/disposal/").count(), 1, "one record");
    assert_eq!(
        entries_of(&t, &scope, "registrant.number_delete")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn disposal_lists_deletion_records_newest_first_fifty_a_page() {
    // given 51 deletions (plan 10: each registrant is deleted before the next is added)
    let (_t, mut b) = TestApp::with_owner(COMPANY, "pages@example.jp").await;
    for n in 0..51 {
        let code = format!("P{n:03}");
        let id = b
            .add_registrant(&person("連番", "太郎", &code, ""), &[])
            .await
            .registrant_id();
        b.dispose(&format!("/registrants/{id}/delete"), "mistaken", "")
            .await;
    }
    // when the list is opened
    let first = b.get("/disposal").await;
    // then it shows the newest 50 and a link to the rest
    assert_eq!(first.body.matches("削除証明書</a>").count(), 50);
    assert!(first.body.contains("社員コード P050"));
    assert!(!first.body.contains("社員コード P000"));
    let next = first.body.split("href=\"").find_map(|c| {
        c.starts_with("/disposal?after=")
            .then(|| c.split('"').next().unwrap().replace("&amp;", "&"))
    });
    let second = b.get(&next.expect("a next link")).await;
    assert_eq!(second.body.matches("削除証明書</a>").count(), 1);
    assert!(second.body.contains("社員コード P000"));
}

#[tokio::test]
async fn another_company_can_neither_see_nor_delete_through_the_disposal_screens() {
    // given a registrant of company A and a deletion record of it
    let (t, mut a) = TestApp::with_owner(COMPANY, "tenant-a@example.jp").await;
    let id = a
        .add_registrant(&person("秘密", "花子", "S001", &valid_number(110)), &[])
        .await
        .registrant_id();
    let (confirm, _) = a
        .dispose(&format!("/registrants/{id}/number/delete"), "mistaken", "")
        .await;
    let record = confirm.hidden("record");
    // when company B asks for its pages or posts its forms
    let mut b = t.owner("株式会社ビー", "tenant-b@example.jp").await;
    for path in [
        format!("/registrants/{id}/number/delete"),
        format!("/registrants/{id}/delete"),
        format!("/disposal/{record}"),
    ] {
        // then each is not found
        let res = b.get(&path).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!res.body.contains("秘密"));
    }
    let csrf = b.get("/home").await.csrf().unwrap();
    let res = b
        .post(
            &format!("/registrants/{id}/delete"),
            &[
                ("csrf", &csrf),
                ("record", &record),
                ("reason", "mistaken"),
                ("step", "commit"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(!b.get("/disposal").await.body.contains("秘密"));
    let scope = t.scope_of("tenant-a@example.jp").await;
    assert!(regs::get(&scope, &id).await.unwrap().is_some());
}

#[tokio::test]
async fn handling_report_counts_number_deletions_of_the_month() {
    // given a registrant whose number is deleted (廃棄) this month
    let (t, mut b, _scope, id) = owner_with(
        "report@example.jp",
        ("佐藤", "花子", "E009"),
        valid_number(109),
    )
    .await;
    b.dispose(&format!("/registrants/{id}/number/delete"), "retired", "")
        .await;
    // when the owner opens 取扱状況 for this month
    let d = t.clock_today();
    let month = format!("{:04}-{:02}", d.year(), u8::from(d.month()));
    let page = b.get(&format!("/audit-log/report?month={month}")).await;
    // then the deletion is counted, as a number deletion
    assert!(
        page.body
            .contains("マイナンバーの削除（廃棄）</th><td class=\"num\">1件"),
        "{}",
        page.body
    );
}
