//! マイナンバーの承認 and マイナンバー編集, through the HTTP routes: who may decide what, from
//! which status, what the approver sees (and what is recorded of it), and what an attacker
//! cannot reach.

use axum::http::StatusCode;
use myna::app::approval::Review;
use myna::app::dependents as deps;
use myna::app::keys::TenantScope;
use myna::app::registrants as regs;
use myna::domain::status::Status;
use myna_tests::{Browser, Page, TestApp};

use myna_tests::fixtures::{
    dependent, holds_number_message, jpeg, my_number, person, png, status_of, NUMBER, PW,
};

/// The company every owner here signs up.
const COMPANY: &str = "株式会社レジスト";

const OTHER_NUMBER: &str = "123456789018";

/// A registrant added through the form: with a number it is 承認待, without 未登録.
async fn registrant(b: &mut Browser, family: &str, code: &str, number: &str) -> String {
    b.add_registrant(&person(family, "太郎", code, number), &[])
        .await
        .registrant_id()
}

/// A dependent added through the form, and its id.
async fn family(
    b: &mut Browser,
    scope: &TenantScope,
    id: &str,
    given: &str,
    kind: &str,
    number: &str,
) -> String {
    let res = b
        .add_dependent(id, &dependent(given, "spouse", kind, number), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    deps::list(scope, id)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.person.given_name == given)
        .unwrap()
        .id
}

async fn home_count(b: &mut Browser, id: &str) -> String {
    let home = b.get("/home").await;
    let marker = format!("<span id=\"{id}\">");
    let start = home.body.find(&marker).unwrap() + marker.len();
    home.body[start..].split('<').next().unwrap().to_string()
}

/// Uploads an image of `kind` for the record at `base` (`/registrants/{id}[/dependents/{dep}]`).
async fn upload(t: &TestApp, b: &mut Browser, base: &str, kind: &str, bytes: Vec<u8>) {
    let (status, tk) = b
        .ticket(&format!("{base}/images/{kind}/ticket"), "image/jpeg")
        .await;
    assert_eq!(status, StatusCode::OK, "{tk}");
    assert!(t.put(&tk, "image/jpeg", bytes).await);
    let (status, done) = b
        .complete(
            &format!("{base}/images/{kind}/complete"),
            tk["upload"].as_str().unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
}

/// Types `number` into the three boxes of a マイナンバー編集 page (入力確認).
async fn enter_number(b: &mut Browser, page: &str, number: &str) -> Page {
    let boxes = [
        ("number1", number.get(..4).unwrap_or(number)),
        ("number2", number.get(4..8).unwrap_or("")),
        ("number3", number.get(8..).unwrap_or("")),
    ];
    b.submit(page, page, &boxes).await
}

#[tokio::test]
async fn approving_sets_completed_and_the_login_lock_and_home_pending_drops() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "approve@example.jp").await;
    let scope = t.scope_of("approve@example.jp").await;
    let id = registrant(&mut b, "承認", "A001", NUMBER).await;
    assert_eq!(home_count(&mut b, "count-pending").await, "1");

    // The list shows who waits, with the way to the approval screen.
    let list = b.get("/approval").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("承認 太郎") && list.body.contains(&format!("/approval/{id}")));

    // The screen shows the number in clear, is never cached, and the showing is audited.
    let base = format!("/approval/{id}");
    let view = b.get(&base).await;
    assert_eq!(view.status, StatusCode::OK);
    assert!(view.body.contains("6214 9832 0257"), "{}", view.body);
    assert!(view.body.contains("ヤマダ タロウ"), "フリガナ");
    assert!(view.body.contains("A001"));
    assert_eq!(view.headers.get("cache-control").unwrap(), "no-store");
    assert!(view.body.contains("個人番号通知書") && view.body.contains("保険者番号"));
    let entries = t.audit_of(&scope).await;
    let views: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "approval.view")
        .collect();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].target.as_deref(), Some(id.as_str()));
    assert!(views[0].detail.contains("承認 太郎"));

    let res = b.decide(&base, "approve", "").await;
    assert_eq!(
        res.location(),
        Some("/approval?done=approved"),
        "{}",
        res.body
    );
    let r = regs::get(&scope, &id).await.unwrap().unwrap();
    assert_eq!(r.person.status, Status::Completed);
    assert!(r.login_lock, "the registrant can no longer change the data");
    assert_eq!(home_count(&mut b, "count-pending").await, "0");
    assert!(b
        .get(&format!("/registrants/{id}"))
        .await
        .body
        .contains("ロック中"));
    assert!(!b.get("/approval").await.body.contains("承認 太郎"));

    // Approving again (a stale page) is refused, says why, and counts nothing twice.
    let again = b
        .submit(
            "/home",
            &format!("{base}/approve"),
            &[("version", &r.person.updated_at.to_string())],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(
        again.body.contains("ステータスが「完了」のため"),
        "{}",
        again.body
    );
    assert!(!again.body.contains("6214"), "no number once approved");
    assert_eq!(home_count(&mut b, "count-pending").await, "0");

    let entries = t.audit_of(&scope).await;
    let approved = entries
        .iter()
        .find(|e| e.action == "approval.approve")
        .unwrap();
    assert!(approved.detail.contains("承認待→完了"));
    assert!(entries
        .iter()
        .all(|e| !e.detail.contains(NUMBER) && !e.detail.contains("6214 9832")));
}

#[tokio::test]
async fn approving_or_sending_back_a_registrant_not_waiting_is_refused_with_the_reason() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "illegal@example.jp").await;
    let scope = t.scope_of("illegal@example.jp").await;
    let id = registrant(&mut b, "未登", "U001", "").await;
    let base = format!("/approval/{id}");
    let view = b.get(&base).await;
    assert_eq!(view.status, StatusCode::OK);
    assert!(view.body.contains("承認待ではないため"));
    assert!(!view.body.contains("/approve\""), "no approval form");
    let version = regs::get(&scope, &id)
        .await
        .unwrap()
        .unwrap()
        .person
        .updated_at;
    for (action, message) in [
        ("approve", "承認できません。ステータスが「未登録」のため"),
        (
            "send-back",
            "差戻しできません。ステータスが「未登録」のため",
        ),
    ] {
        let res = b
            .submit(
                "/home",
                &format!("{base}/{action}"),
                &[("version", &version.to_string()), ("reason", "理由")],
            )
            .await;
        assert_eq!(res.status, StatusCode::CONFLICT, "{action}");
        assert!(res.body.contains(message), "{action}: {}", res.body);
    }
    assert_eq!(status_of(&scope, &id).await, Status::Unregistered);
    assert!(t
        .audit_of(&scope)
        .await
        .iter()
        .all(|e| !e.action.starts_with("approval.")));

    // Without the CSRF token nothing reaches the handler.
    let forged = b
        .post(
            &format!("{base}/approve"),
            &[("version", &version.to_string())],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sending_back_needs_a_reason_keeps_it_and_links_the_mail_with_it() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "sendback@example.jp").await;
    let scope = t.scope_of("sendback@example.jp").await;
    let id = registrant(&mut b, "差戻", "S001", NUMBER).await;
    let base = format!("/approval/{id}");

    let res = b.decide(&base, "send-back", "  ").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("差戻し理由を入力してください。"));
    let res = b
        .decide(&base, "send-back", "番号 6214 9832 0257 が違います")
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("差戻し理由にマイナンバー"));
    assert!(
        res.body
            .contains(">番号 6214 9832 0257 が違います</textarea>"),
        "the form keeps what was typed"
    );
    assert_eq!(status_of(&scope, &id).await, Status::Pending);

    let reason = "身元確認書類の画像が不鮮明です。撮り直してください。";
    let res = b.decide(&base, "send-back", reason).await;
    assert_eq!(
        res.location(),
        Some(format!("{base}?done=sent_back").as_str()),
        "{}",
        res.body
    );
    let r = regs::get(&scope, &id).await.unwrap().unwrap();
    assert_eq!(r.person.status, Status::SentBack);
    assert_eq!(r.person.review.sent_back_reason.as_deref(), Some(reason));
    let item = scope
        .get(&scope.key(&format!("REG#{id}")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(item.str("sent_back_reason"), Some(reason));
    assert_eq!(home_count(&mut b, "count-pending").await, "0");

    let after = b.get(&format!("{base}?done=sent_back")).await;
    assert!(after.body.contains("差戻ししました。") && after.body.contains(reason));
    let encoded: String = serde_urlencoded::to_string([("ids", id.as_str()), ("message", reason)])
        .unwrap()
        .replace('&', "&#38;");
    assert!(
        after
            .body
            .contains(&format!("href=\"/collection/mail?{encoded}\"")),
        "{}",
        after.body
    );
    assert!(!after.body.contains("6214"), "no number once sent back");
    let detail = b.get(&format!("/registrants/{id}")).await;
    assert!(detail.body.contains("差戻し理由") && detail.body.contains(reason));
    let entry = t
        .audit_of(&scope)
        .await
        .into_iter()
        .find(|e| e.action == "approval.send_back")
        .unwrap();
    assert!(entry.detail.contains("承認待→差戻し") && !entry.detail.contains(reason));
}

#[tokio::test]
async fn refusing_needs_a_reason_from_the_number_edit_screen_and_a_new_number_reopens() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "refuse@example.jp").await;
    let scope = t.scope_of("refuse@example.jp").await;
    let id = registrant(&mut b, "拒否", "R001", "").await;
    let page = format!("/registrants/{id}/number");
    let detail = b.get(&format!("/registrants/{id}")).await;
    assert!(detail.body.contains(&format!("href=\"{page}\"")));
    let form = b.get(&page).await;
    assert!(form.body.contains("マイナンバー編集") && form.body.contains("マイナンバー登録拒否"));
    let version = form.hidden("version");

    let res = b
        .submit(
            &page,
            &format!("{page}/refuse"),
            &[("version", &version), ("reason", "")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("拒否理由を入力してください。"));
    assert_eq!(status_of(&scope, &id).await, Status::Unregistered);

    let reason = "本人が提供を拒否（法律上の義務を説明済み）";
    let res = b
        .submit(
            &page,
            &format!("{page}/refuse"),
            &[("version", &version), ("reason", reason)],
        )
        .await;
    assert_eq!(
        res.location(),
        Some(format!("{page}?done=refused").as_str())
    );
    assert_eq!(status_of(&scope, &id).await, Status::Refused);
    assert_eq!(home_count(&mut b, "count-unregistered").await, "0");
    let shown = b.get(&format!("{page}?done=refused")).await;
    assert!(shown.body.contains("拒否理由") && shown.body.contains(reason));

    let again = b
        .submit(
            &page,
            &format!("{page}/refuse"),
            &[("version", "0"), ("reason", reason)],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.body.contains("すでに「拒否」になっています。"));

    // Entering a number later takes the record out of 拒否, back to 承認待.
    let confirm = enter_number(&mut b, &page, NUMBER).await;
    assert!(confirm.body.contains("拒否 → 承認待"), "{}", confirm.body);
    let saved = b.post_confirm(&confirm, &page, &[]).await;
    assert_eq!(
        saved.location(),
        Some(format!("{page}?done=updated").as_str())
    );
    assert_eq!(status_of(&scope, &id).await, Status::Pending);
}

#[tokio::test]
async fn a_category3_dependent_is_approved_only_with_both_images_and_a_plain_one_directly() {
    // GIVEN a registrant with a 第3号 spouse and a child, both with numbers (承認待).
    let (t, mut b) = TestApp::with_owner(COMPANY, "dep-approve@example.jp").await;
    let scope = t.scope_of("dep-approve@example.jp").await;
    let id = registrant(&mut b, "扶養", "D001", "").await;
    let spouse = family(
        &mut b,
        &scope,
        &id,
        "花子",
        "national_pension_category3",
        OTHER_NUMBER,
    )
    .await;
    let child = family(
        &mut b,
        &scope,
        &id,
        "一郎",
        "dependent",
        &my_number("11112222333"),
    )
    .await;
    assert_eq!(home_count(&mut b, "count-dependents-pending").await, "2");
    let detail = b.get(&format!("/registrants/{id}")).await;
    assert!(detail
        .body
        .contains(&format!("href=\"/approval/{id}/dependents/{spouse}\"")));
    let list = b.get("/approval").await;
    assert!(list.body.contains("扶養家族 山田 花子") && list.body.contains("扶養家族 山田 一郎"));

    // WHEN the spouse is approved without images THEN it is refused and the reason given.
    let base = format!("/approval/{id}/dependents/{spouse}");
    let view = b.get(&base).await;
    assert!(view.body.contains("扶養家族マイナンバー承認") && view.body.contains("1234 5678 9018"));
    assert!(view.body.contains("画像はアップロードされていません"));
    let refused = b.decide(&base, "approve", "").await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.body.contains("画像が両方そろうまで承認できません"));

    // WHEN one image, then both are uploaded THEN only both let the approval through.
    let owner_base = format!("/registrants/{id}/dependents/{spouse}");
    upload(&t, &mut b, &owner_base, "number_proof", png()).await;
    assert_eq!(
        b.decide(&base, "approve", "").await.status,
        StatusCode::CONFLICT,
        "one image is not enough"
    );
    upload(&t, &mut b, &owner_base, "identity_proof", jpeg()).await;
    let view = b.get(&base).await;
    for text in [
        "拡大",
        "縮小",
        "回転",
        "/static/viewer.js",
        &format!("{base}/images/number_proof"),
    ] {
        assert!(view.body.contains(text), "{text}");
    }
    let res = b.decide(&base, "approve", "").await;
    assert_eq!(
        res.location(),
        Some("/approval?done=dep_approved"),
        "{}",
        res.body
    );
    let d = deps::get(&scope, &id, &spouse).await.unwrap().unwrap();
    assert_eq!(d.person.status, Status::Completed);
    let r = regs::get(&scope, &id).await.unwrap().unwrap();
    assert_eq!(r.dependents_pending, 1);
    assert!(
        !r.login_lock,
        "a dependent's approval does not lock the registrant"
    );

    // WHEN the child (not 第3号, checked by the registrant) is approved THEN it is approved
    // directly, without images.
    let res = b
        .decide(&format!("/approval/{id}/dependents/{child}"), "approve", "")
        .await;
    assert_eq!(res.location(), Some("/approval?done=dep_approved"));
    let r = regs::get(&scope, &id).await.unwrap().unwrap();
    assert_eq!(
        (r.dependents_pending, r.dependents_status),
        (0, Some(Status::Completed))
    );
    assert_eq!(home_count(&mut b, "count-dependents-pending").await, "0");
}

#[tokio::test]
async fn document_images_are_served_only_to_approvers_of_the_same_tenant_while_waiting() {
    // GIVEN a registrant waiting for approval with a number image uploaded.
    let (t, mut b) = TestApp::with_owner(COMPANY, "img-approve@example.jp").await;
    let scope = t.scope_of("img-approve@example.jp").await;
    let id = registrant(&mut b, "画像", "G001", NUMBER).await;
    upload(
        &t,
        &mut b,
        &format!("/registrants/{id}"),
        "number_proof",
        png(),
    )
    .await;
    let src = format!("/approval/{id}/images/number_proof");

    // WHEN the approver opens it THEN the image is typed by the stored bytes (a PNG sent as
    // JPEG is served as PNG), never cached.
    let img = b.get(&src).await;
    assert_eq!(img.status, StatusCode::OK);
    assert_eq!(img.headers.get("content-type").unwrap(), "image/png");
    assert_eq!(img.headers.get("cache-control").unwrap(), "no-store");
    assert_eq!(
        img.headers.get("x-content-type-options").unwrap(),
        "nosniff"
    );
    assert!(t
        .audit_of(&scope)
        .await
        .iter()
        .any(|e| e.action == "approval.image" && e.target.as_deref() == Some(id.as_str())));
    assert_eq!(
        b.get(&format!("/approval/{id}/images/identity_proof"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.get(&format!("/approval/{id}/images/passport"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // WHEN another tenant guesses the ids THEN it gets nothing, not even a hint.
    t.signup("株式会社ビー", "img-other@example.jp", PW).await;
    let mut other = t.login("img-other@example.jp", PW, None).await;
    for path in [src.clone(), format!("/approval/{id}")] {
        let res = other.get(&path).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!res.body.contains("6214"));
    }
    let res = other
        .submit(
            "/home",
            &format!("/approval/{id}/approve"),
            &[("version", "0")],
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    // WHEN a view-only user of the same tenant tries THEN it may do none of it.
    let mut viewer = t.login("img-approve@example.jp", PW, None).await;
    t.set_role(&scope, "view_only").await;
    for path in [
        "/approval".to_string(),
        format!("/approval/{id}"),
        src.clone(),
    ] {
        let res = viewer.get(&path).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{path}");
        assert!(!res.body.contains("6214"));
    }
    let version = regs::get(&scope, &id)
        .await
        .unwrap()
        .unwrap()
        .person
        .updated_at;
    for action in ["approve", "send-back"] {
        let res = viewer
            .submit(
                "/home",
                &format!("/approval/{id}/{action}"),
                &[("version", &version.to_string()), ("reason", "理由")],
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{action}");
    }
    let res = viewer
        .submit(
            "/home",
            &format!("/registrants/{id}/number/refuse"),
            &[("version", &version.to_string()), ("reason", "理由")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(status_of(&scope, &id).await, Status::Pending);

    // WHEN the record is approved THEN the images are no longer part of an approval screen.
    t.set_role(&scope, "owner").await;
    b.decide(&format!("/approval/{id}"), "approve", "").await;
    assert_eq!(b.get(&src).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn number_edit_refuses_a_bad_check_digit_or_an_unconfirmed_duplicate_and_changes_nothing() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "numedit@example.jp").await;
    let scope = t.scope_of("numedit@example.jp").await;
    let holder = registrant(&mut b, "先客", "N001", NUMBER).await;
    let id = registrant(&mut b, "編集", "N002", "").await;
    let page = format!("/registrants/{id}/number");

    let bad = enter_number(&mut b, &page, "621498320258").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("チェックデジットが一致しません"));
    assert!(
        bad.body.contains("value=\"0258\""),
        "the boxes keep what was typed"
    );
    let short = enter_number(&mut b, &page, "621498").await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.body.contains("12桁"));

    let confirm = enter_number(&mut b, &page, NUMBER).await;
    assert!(confirm
        .body
        .contains("同じマイナンバーがすでに登録されています。"));
    assert!(
        confirm.body.contains(&format!("/registrants/{holder}"))
            && confirm.body.contains("先客 太郎")
    );
    assert!(!confirm.body.contains(NUMBER) && !confirm.body.contains("9832"));
    // 登録 without ticking the duplicate box: warned again, nothing saved.
    let again = b.post_confirm(&confirm, &page, &[]).await;
    assert!(again
        .body
        .contains("同じマイナンバーがすでに登録されています。"));
    let r = regs::get(&scope, &id).await.unwrap().unwrap();
    assert!(r.person.number.is_none());
    assert_eq!(r.person.status, Status::Unregistered);
    assert_eq!(
        regs::duplicates(
            &scope,
            &regs::get(&scope, &holder)
                .await
                .unwrap()
                .unwrap()
                .person
                .number
                .unwrap()
                .fingerprint,
            None
        )
        .await
        .unwrap()
        .len(),
        1,
        "no second fingerprint"
    );

    // A number of its own is saved sealed, and the record waits for approval.
    let mine = my_number("98765432109");
    let confirm = enter_number(&mut b, &page, &mine).await;
    assert!(confirm.body.contains(&format!("********{}", &mine[8..])));
    let saved = b.post_confirm(&confirm, &page, &[]).await;
    assert_eq!(
        saved.location(),
        Some(format!("{page}?done=updated").as_str())
    );
    let r = regs::get(&scope, &id).await.unwrap().unwrap();
    assert_eq!(r.person.status, Status::Pending);
    assert_eq!(r.person.number.unwrap().last4, &mine[8..]);
    let entry = t
        .audit_of(&scope)
        .await
        .into_iter()
        .find(|e| e.action == "number.update")
        .unwrap();
    assert!(entry.detail.contains("未登録→承認待") && !entry.detail.contains(&mine));
}

#[tokio::test]
async fn changing_an_approved_number_returns_it_to_pending_and_a_dependents_number_too() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "reapprove@example.jp").await;
    let scope = t.scope_of("reapprove@example.jp").await;
    let id = registrant(&mut b, "再承認", "P001", NUMBER).await;
    b.decide(&format!("/approval/{id}"), "approve", "").await;
    assert_eq!(status_of(&scope, &id).await, Status::Completed);

    let page = format!("/registrants/{id}/number");
    let same = enter_number(&mut b, &page, NUMBER).await;
    assert!(same.body.contains("完了（変更なし）"));
    b.post_confirm(&same, &page, &[]).await;
    assert_eq!(status_of(&scope, &id).await, Status::Completed);

    let new = my_number("55556666777");
    let confirm = enter_number(&mut b, &page, &new).await;
    assert!(confirm.body.contains("完了 → 承認待"));
    b.post_confirm(&confirm, &page, &[]).await;
    assert_eq!(status_of(&scope, &id).await, Status::Pending);
    assert_eq!(home_count(&mut b, "count-pending").await, "1");
    assert!(b
        .get(&format!("/approval/{id}"))
        .await
        .body
        .contains(&format!("{} {} {}", &new[..4], &new[4..8], &new[8..])));

    // The same screen for a dependent keeps the registrant's summary in step.
    let dep = family(&mut b, &scope, &id, "花子", "dependent", "").await;
    let dep_page = format!("/registrants/{id}/dependents/{dep}/number");
    assert!(b
        .get(&dep_page)
        .await
        .body
        .contains("扶養家族マイナンバー編集"));
    let dep_number = my_number("44443333222");
    let confirm = enter_number(&mut b, &dep_page, &dep_number).await;
    let saved = b.post_confirm(&confirm, &dep_page, &[]).await;
    assert_eq!(
        saved.location(),
        Some(format!("{dep_page}?done=updated").as_str())
    );
    let r = regs::get(&scope, &id).await.unwrap().unwrap();
    assert_eq!((r.dependents_unregistered, r.dependents_pending), (0, 1));
    assert_eq!(home_count(&mut b, "count-dependents-pending").await, "1");
}

#[tokio::test]
async fn a_decision_applies_only_to_the_version_the_approver_saw() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "race@example.jp").await;
    let scope = t.scope_of("race@example.jp").await;
    let id = registrant(&mut b, "競合", "C001", NUMBER).await;
    let base = format!("/approval/{id}");
    let seen = b.get(&base).await.hidden("version");

    // The number changes while the page is open: approving what was seen is refused.
    t.clock.advance(time::Duration::seconds(2));
    let page = format!("/registrants/{id}/number");
    let new = my_number("22223333444");
    let confirm = enter_number(&mut b, &page, &new).await;
    b.post_confirm(&confirm, &page, &[]).await;
    let stale = b
        .submit(&base, &format!("{base}/approve"), &[("version", &seen)])
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(stale.body.contains("他の操作で内容が変わりました"));
    assert_eq!(status_of(&scope, &id).await, Status::Pending);

    // Two approvers on the same version: one wins, the other is told, counters move once.
    let mut second = t.login("race@example.jp", PW, None).await;
    let seen = b.get(&base).await.hidden("version");
    let first = b
        .submit(&base, &format!("{base}/approve"), &[("version", &seen)])
        .await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    let late = second
        .submit(
            &base,
            &format!("{base}/send-back"),
            &[("version", &seen), ("reason", "不鮮明")],
        )
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert!(late.body.contains("ステータスが「完了」のため"));
    assert_eq!(status_of(&scope, &id).await, Status::Completed);
    assert_eq!(home_count(&mut b, "count-pending").await, "0");
    assert_eq!(
        regs::get(&scope, &id).await.unwrap().unwrap().person.review,
        Review::default()
    );
}

/// Free text (備考, names, group names, reasons) is stored and shown in clear: a My Number
/// typed into any of it is refused on the field, and the form keeps what was typed.
#[tokio::test]
async fn free_text_fields_refuse_a_my_number_and_keep_the_input() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "freetext@example.jp").await;
    let scope = t.scope_of("freetext@example.jp").await;
    let says = holds_number_message;
    let spelled = "番号は６２１４ ９８３２ ０２５７です";

    // 備考 of a registrant.
    let mut fields = person("備考", "太郎", "F001", "");
    fields.push(("note", spelled));
    let res = b.add_registrant(&fields, &[]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res.body.contains(&says("備考")), "{}", res.body);
    assert!(res.body.contains(spelled));
    assert!(regs::load_all(&scope, None).await.unwrap().0.is_empty());

    // A dependent's name.
    let id = registrant(&mut b, "扶養", "F002", "").await;
    let res = b
        .add_dependent(
            &id,
            &dependent("621498320257", "spouse", "dependent", ""),
            &[],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res.body.contains(&says("氏名（名）")), "{}", res.body);
    assert!(deps::list(&scope, &id).await.unwrap().is_empty());

    // A group name.
    let res = b
        .submit(
            "/registrants/groups/new",
            "/registrants/groups/new",
            &[("name", "621498320257")],
        )
        .await;
    assert!(res.body.contains(&says("グループ名")), "{}", res.body);
    assert!(res.body.contains("value=\"621498320257\""));
    assert!(myna::app::groups::list(&scope).await.unwrap().is_empty());

    // A 差戻し reason, in the spaced spelling.
    let waiting = registrant(&mut b, "理由", "F003", NUMBER).await;
    let res = b
        .decide(
            &format!("/approval/{waiting}"),
            "send-back",
            "6214 9832 0257 ではありません",
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("理由にマイナンバー"));
    assert_eq!(status_of(&scope, &waiting).await, Status::Pending);

    // Ordinary numbers still pass: a phone number and a wrong check digit.
    let mut fields = person("備考", "花子", "F004", "");
    fields.push(("note", "連絡先 03-1234-5678、社員番号 621498320258"));
    let res = b.add_registrant(&fields, &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
}
