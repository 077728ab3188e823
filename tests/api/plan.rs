//! 契約プラン (manual ch.3 プラン変更, ch.15): the plan change with 入力確認 → 変更 and the limit
//! that follows it, the payment method with the printable 口座振替依頼書 and HOME's warning,
//! the trial's end with 本契約, and the read-only company after a trial that lapsed.

use axum::http::StatusCode;
use myna::domain::role::Role;
use myna_tests::fixtures::{person, valid_number, NUMBER, PW};
use myna_tests::{Browser, Page, TestApp};

const COMPANY: &str = "株式会社プラン";
const OWNER: &str = "plan-owner@example.jp";

/// Adds registrants `from..to` (社員コード E<n>, each with its own number); each must be saved.
async fn add_people(b: &mut Browser, from: u64, to: u64) {
    for n in from..to {
        let code = format!("E{n:03}");
        let number = valid_number(n);
        let page = b
            .add_registrant(&person("山田", "太郎", &code, &number), &[])
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{n}: {}", page.body);
    }
}

/// One more registrant (社員コード E<n>): the answer, saved or refused.
async fn try_add(b: &mut Browser, n: u64) -> Page {
    let code = format!("E{n:03}");
    let number = valid_number(n);
    b.add_registrant(&person("山田", "太郎", &code, &number), &[])
        .await
}

/// プラン変更 to `size`: the 入力確認 page.
async fn ask_change(b: &mut Browser, size: &str) -> Page {
    b.submit("/plan/change", "/plan/change", &[("plan", size)])
        .await
}

/// プラン変更 to `size` through 入力確認 and 変更; the final answer.
async fn change(b: &mut Browser, size: &str) -> Page {
    let confirm = ask_change(b, size).await;
    assert!(
        confirm.body.contains("プラン変更（入力確認）"),
        "{}",
        confirm.body
    );
    b.post_confirm(&confirm, "/plan/change", &[("confirmed", "1")])
        .await
}

/// 支払方法の変更 to `method` (a code); the answer.
async fn choose_payment(b: &mut Browser, method: &str) -> Page {
    b.submit("/plan/payment", "/plan/payment", &[("method", method)])
        .await
}

/// The operation log's actions for the tenant of `email`, newest first.
async fn actions(t: &TestApp, email: &str) -> Vec<(String, String)> {
    let scope = t.scope_of(email).await;
    t.audit_of(&scope)
        .await
        .into_iter()
        .map(|e| (e.action, e.detail))
        .collect()
}

#[tokio::test]
async fn plan_change_upgrades_at_once_and_the_11th_registrant_fits_when_upgraded_to_30() {
    // Given a company on プラン10 with ten registrants, where the 11th is refused
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    add_people(&mut b, 1, 11).await;
    let refused = try_add(&mut b, 11).await;
    assert!(
        refused.body.contains("登録可能人数（10人）を超える"),
        "{}",
        refused.body
    );

    // When the owner asks for プラン30: the 入力確認 page names both plans and the billing month
    let confirm = ask_change(&mut b, "30").await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains("プラン10（10人まで）"));
    assert!(confirm.body.contains("<strong>プラン30</strong>"));
    assert!(
        confirm.body.contains("ご請求金額は次月（"),
        "{}",
        confirm.body
    );
    // … and nothing is changed before 変更
    assert!(b
        .get("/home")
        .await
        .body
        .contains("id=\"home-plan\">プラン10<"));
    let done = b
        .post_confirm(&confirm, "/plan/change", &[("confirmed", "1")])
        .await;

    // Then the plan is プラン30 at once, on 契約プラン and HOME, and the 11th registrant is taken
    assert_eq!(done.location(), Some("/plan?done=plan"));
    let plan = b.get("/plan?done=plan").await;
    assert!(plan.body.contains("プランを変更しました。"));
    assert!(plan.body.contains("<strong>プラン30</strong>"));
    assert!(b
        .get("/home")
        .await
        .body
        .contains("id=\"home-plan\">プラン30<"));
    let eleventh = try_add(&mut b, 11).await;
    assert_eq!(eleventh.status, StatusCode::SEE_OTHER, "{}", eleventh.body);
    // … and the change is in the operation log
    let log = actions(&t, OWNER).await;
    assert!(
        log.iter().any(|(a, d)| a == "plan.change"
            && d.starts_with("プラン変更: プラン10→プラン30（アップグレード")),
        "{log:?}"
    );
}

#[tokio::test]
async fn plan_change_refuses_a_downgrade_naming_the_count_when_registrants_exceed_the_new_limit() {
    // Given a company on プラン30 with eleven registrants
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    assert_eq!(
        change(&mut b, "30").await.location(),
        Some("/plan?done=plan")
    );
    add_people(&mut b, 1, 12).await;

    // When the owner asks for プラン10
    let refused = ask_change(&mut b, "10").await;

    // Then it is refused with the count and how many to remove, the choice kept on the form
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("登録者が11人のため、プラン10（登録可能人数10人）には変更できません。マイナンバー管理から登録者を1人以上減らしてから変更してください。"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("<option value=\"10\" selected>"));
    // … and a 変更 posted straight past 入力確認 is refused the same way
    let forced = b
        .post(
            "/plan/change",
            &[
                ("csrf", &refused.csrf().unwrap()),
                ("plan", "10"),
                ("confirmed", "1"),
            ],
        )
        .await;
    assert_eq!(forced.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b
        .get("/plan")
        .await
        .body
        .contains("<strong>プラン30</strong>"));
    let log = actions(&t, OWNER).await;
    assert_eq!(
        log.iter().filter(|(a, _)| a == "plan.change").count(),
        1,
        "only the upgrade: {log:?}"
    );
}

#[tokio::test]
async fn plan_change_allows_a_downgrade_when_the_registrants_fit() {
    // Given a company on プラン60 with three registrants
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    change(&mut b, "60").await;
    add_people(&mut b, 1, 4).await;
    // When the owner changes to プラン10
    let confirm = ask_change(&mut b, "10").await;
    assert!(confirm
        .body
        .contains("登録可能人数は変更後すぐに減ります。"));
    assert!(confirm.body.contains("差額の返金はできません。"));
    let done = b
        .post_confirm(&confirm, "/plan/change", &[("confirmed", "1")])
        .await;
    // Then it is done and recorded as a downgrade; the same plan again is refused as no change
    assert_eq!(done.location(), Some("/plan?done=plan"));
    assert!(b
        .get("/plan")
        .await
        .body
        .contains("<strong>プラン10</strong>"));
    assert!(actions(&t, OWNER)
        .await
        .iter()
        .any(|(a, d)| a == "plan.change" && d.contains("プラン60→プラン10（ダウングレード")));
    let same = ask_change(&mut b, "10").await;
    assert!(same.body.contains("現在のプランと同じプランです。"));
    // … and a plan the manual does not list is not taken
    let odd = ask_change(&mut b, "20").await;
    assert_eq!(odd.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(odd.body.contains("変更後のプランを選択してください。"));
}

#[tokio::test]
async fn plan_change_back_returns_to_the_form_with_the_choice_kept_when_pressed_on_confirm() {
    let (_t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    let confirm = ask_change(&mut b, "100").await;
    let back = b
        .post_confirm(&confirm, "/plan/change", &[("back", "1")])
        .await;
    assert_eq!(back.status, StatusCode::OK);
    assert!(back.body.contains("<option value=\"100\" selected>"));
    assert!(b
        .get("/plan")
        .await
        .body
        .contains("<strong>プラン10</strong>"));
}

#[tokio::test]
async fn payment_choice_is_recorded_without_card_data_when_the_owner_chooses_a_card() {
    // Given a new company (no payment method yet)
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    let form = b.get("/plan/payment").await;
    assert!(form.body.contains("id=\"current-payment\">未登録<"));
    // The page takes no card data: the provider's page does
    assert!(!form.body.contains("name=\"card"), "{}", form.body);
    assert!(form
        .body
        .contains("マイナクラウドはカード情報を受け取らず、保存もしません。"));

    // When the owner chooses クレジットカード
    let done = choose_payment(&mut b, "card").await;

    // Then 契約プラン shows it, HOME does not warn about 口座振替, and it is in the log
    assert_eq!(done.location(), Some("/plan?done=payment"));
    assert!(b
        .get("/plan")
        .await
        .body
        .contains("id=\"payment-label\">クレジットカード<"));
    assert!(!b.get("/home").await.body.contains("transfer-warning"));
    assert!(actions(&t, OWNER)
        .await
        .iter()
        .any(|(a, d)| a == "payment.method" && d == "支払方法の変更: 未登録→クレジットカード"));
    // … and nothing but the listed methods is taken
    let bad = choose_payment(&mut b, "cash").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("支払方法を選択してください。"));
}

#[tokio::test]
async fn bank_transfer_shows_the_home_warning_and_a_printable_form_until_marked_done() {
    // Given an owner choosing 口座自動振替
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    choose_payment(&mut b, "bank_transfer").await;

    // Then HOME warns, as the manual's 注意文, with a link to the 依頼書
    let home = b.get("/home").await;
    assert!(home.body.contains("id=\"transfer-warning\""));
    assert!(home
        .body
        .contains("口座振替依頼書を送付して決済手続きを完了してください。"));
    assert!(home.body.contains("href=\"/plan/payment/transfer-form\""));

    // … and the 依頼書 is a print sheet with the company's details and blank bank fields
    let sheet = b.get("/plan/payment/transfer-form").await;
    assert_eq!(sheet.status, StatusCode::OK);
    assert!(sheet.body.contains("class=\"print-sheet transfer-sheet\""));
    assert!(sheet.body.contains("預金口座振替依頼書"));
    assert!(sheet
        .body
        .contains(&format!("id=\"sheet-company\">{COMPANY}<")));
    let scope = t.scope_of(OWNER).await;
    let tenant = myna::app::tenants::load(&scope).await.unwrap().unwrap();
    assert!(sheet.body.contains(&format!(
        "id=\"sheet-customer\">{}<",
        tenant.customer_number
    )));
    for blank in [
        "金融機関名",
        "支店名",
        "口座番号",
        "口座名義（カナ）",
        "お届け印",
    ] {
        assert!(
            sheet.body.contains(&format!("<th>{blank}</th><td")),
            "{blank}"
        );
    }
    let css = b.get("/static/app.css").await;
    assert!(css.body.contains("body.transfer-sheet"));

    // When the owner records that the paperwork is done
    let done = b
        .submit("/plan/payment", "/plan/payment/transfer-done", &[])
        .await;

    // Then HOME no longer warns, and both steps are in the log
    assert_eq!(done.location(), Some("/plan?done=transfer"));
    assert!(!b.get("/home").await.body.contains("transfer-warning"));
    let log = actions(&t, OWNER).await;
    assert!(
        log.iter().any(|(a, _)| a == "payment.transfer_done"),
        "{log:?}"
    );
    assert!(log
        .iter()
        .any(|(a, d)| a == "payment.method" && d.ends_with("→口座自動振替")));
}

#[tokio::test]
async fn managers_see_the_plan_but_cannot_change_plan_or_payment() {
    // Given a 管理担当者 of the company
    let (t, _owner) = TestApp::with_owner(COMPANY, OWNER).await;
    let scope = t.scope_of(OWNER).await;
    let mut m = t
        .with_user(&scope, "manager@example.jp", Role::Manager)
        .await;

    // When they open 契約プラン and HOME: the plan is shown, no change buttons
    let plan = m.get("/plan").await;
    assert_eq!(plan.status, StatusCode::OK);
    assert!(plan.body.contains("<strong>プラン10</strong>"));
    assert!(!plan.body.contains("href=\"/plan/change\""));
    assert!(!plan.body.contains("href=\"/plan/payment\""));
    let home = m.get("/home").await;
    assert!(!home.body.contains("href=\"/plan/change\""));
    assert!(!home.body.contains("href=\"/plan/contract\""));

    // Then every change is refused
    let csrf = plan.csrf().unwrap();
    for path in ["/plan/change", "/plan/payment", "/plan/contract"] {
        assert_eq!(m.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    for (path, fields) in [
        ("/plan/change", vec![("plan", "30"), ("confirmed", "1")]),
        ("/plan/payment", vec![("method", "card")]),
        ("/plan/payment/transfer-done", vec![]),
        ("/plan/contract", vec![]),
    ] {
        let mut f = vec![("csrf", csrf.as_str())];
        f.extend(fields);
        assert_eq!(
            m.post(path, &f).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let tenant = myna::app::tenants::load(&scope).await.unwrap().unwrap();
    assert_eq!(tenant.plan.size(), 10);
    assert_eq!(tenant.terms.payment, None);
}

#[tokio::test]
async fn home_shows_the_trial_end_with_a_contract_step_when_in_the_trial() {
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    let ends = t.clock_today() + time::Duration::days(30);
    let home = b.get("/home").await;
    assert!(
        home.body.contains(&format!(
            "無料お試し期間中（{} まで）",
            myna::domain::date::format_slash(ends)
        )),
        "{}",
        home.body
    );
    assert!(home.body.contains("href=\"/plan/contract\""));
    // No banner during the trial
    assert!(!home.body.contains("read-only-banner"));
}

#[tokio::test]
async fn a_lapsed_trial_makes_the_company_read_only_until_the_contract_is_made() {
    // Given a company with a registrant whose 30-day trial has ended without 本契約
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    add_people(&mut b, 1, 2).await;
    t.clock.advance(time::Duration::days(31));
    let mut b = t.login(OWNER, PW, None).await;

    // Then every page carries the banner, and reading still works
    let home = b.get("/home").await;
    assert!(home.body.contains("read-only-banner"));
    assert!(home.body.contains("無料お試し期間が終了しました。"));
    let list = b.get("/registrants").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("read-only-banner"));
    assert!(list.body.contains("E001"));

    // … and a write is refused with a page saying why, and changes nothing
    let refused = try_add(&mut b, 2).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("閲覧のみご利用いただけます"));
    assert!(refused.body.contains("href=\"/plan\""));
    let counters = myna::app::tenants::counters(&t.scope_of(OWNER).await)
        .await
        .unwrap();
    assert_eq!(counters.registrants, 1);

    // When the owner tries 本契約 without a payment method, it is refused with the reason
    let contract = b.get("/plan/contract").await;
    assert!(contract.body.contains("を選択してください。"));
    let csrf = contract.csrf().unwrap();
    let no_payment = b.post("/plan/contract", &[("csrf", &csrf)]).await;
    assert!(no_payment.body.contains("支払方法が未登録です。"));

    // … then chooses a payment method (the contract's own screens stay open) and contracts
    let paid = choose_payment(&mut b, "card").await;
    assert_eq!(paid.location(), Some("/plan?done=payment"));
    let done = b.submit("/plan/contract", "/plan/contract", &[]).await;
    assert_eq!(done.location(), Some("/plan?done=contract"));

    // Then the banner is gone and writes work again
    let plan = b.get("/plan").await;
    assert!(!plan.body.contains("read-only-banner"));
    assert!(plan.body.contains("id=\"standing\">本契約<"));
    let added = try_add(&mut b, 2).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    assert!(actions(&t, OWNER)
        .await
        .iter()
        .any(|(a, d)| a == "contract.start" && d == "本契約: プラン10、クレジットカード"));
}

#[tokio::test]
async fn a_contract_made_during_the_trial_keeps_the_company_writable_after_it() {
    // Given an owner who contracts during the trial
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    choose_payment(&mut b, "bank_transfer").await;
    let done = b.submit("/plan/contract", "/plan/contract", &[]).await;
    assert_eq!(done.location(), Some("/plan?done=contract"));
    // When the trial's 30 days have passed
    t.clock.advance(time::Duration::days(40));
    let mut b = t.login(OWNER, PW, None).await;
    // Then there is no banner and a registrant can be added; 本契約 is not offered again
    let home = b.get("/home").await;
    assert!(!home.body.contains("read-only-banner"));
    assert!(!home.body.contains("href=\"/plan/contract\""));
    assert_eq!(try_add(&mut b, 1).await.status, StatusCode::SEE_OTHER);
    let again = b.submit("/plan/contract", "/plan/contract", &[]).await;
    assert!(
        again.body.contains("本契約のお手続きは完了しています。")
            || again.body.contains("すでに本契約済みです。")
    );
}

#[tokio::test]
async fn a_registrants_phone_saves_nothing_when_the_company_trial_has_lapsed() {
    // Given a registrant mailed a link during the trial
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    b.set_passcode("Kaisha42").await;
    let (id, link) = t
        .mailed_registrant(&mut b, OWNER, "hanako@example.jp")
        .await;
    // When the trial ends without 本契約 and the registrant opens the link and saves step 1
    t.clock.advance(time::Duration::days(31));
    let mut phone = t.phone_login(&link, "Kaisha42", "198.51.100.77").await;
    let step1 = [
        ("sex", "female"),
        ("birth_year", "1985"),
        ("birth_month", "2"),
        ("birth_day", "28"),
        ("number1", &NUMBER[0..4]),
        ("number2", &NUMBER[4..8]),
        ("number3", &NUMBER[8..12]),
    ];
    let res = phone.submit("/r/me/step1", "/r/me/step1", &step1).await;

    let mut b = t.login(OWNER, PW, None).await;
    // Then the phone is told why, and nothing is stored
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(
        res.body.contains("現在、登録を受け付けていません"),
        "{}",
        res.body
    );
    let step1_again = phone.get("/r/me/step1").await;
    assert_eq!(step1_again.status, StatusCode::OK);
    assert!(!step1_again.body.contains("********0257"));
    let detail = b.get(&format!("/registrants/{id}")).await;
    assert!(detail.body.contains("未登録"), "{}", detail.body);
    // … while logging out still works
    let out = phone.submit("/r/me/step1", "/r/me/logout", &[]).await;
    assert_ne!(out.status, StatusCode::FORBIDDEN);
}
