//! リマインダー (manual ch.2, ログインできない場合): a password reset or the お客様番号 after a
//! mailed single-use セキュリティコード; expired, reused and guessed codes; no answer tells
//! whether an address has an account; a reset ends the sessions opened before it.

use axum::http::StatusCode;
use myna_tests::fixtures::PW;
use myna_tests::{Browser, TestApp};
use time::Duration;

const OWNER: &str = "owner@remind.example.jp";
const NEW_PW: &str = "Momiji-2027z";

/// The セキュリティコード of the newest mail to `email`.
fn mailed_code(t: &TestApp, email: &str) -> Option<String> {
    let mail = t.outbox.latest_to(email).unwrap()?;
    let line = mail
        .mail
        .body
        .lines()
        .find(|l| l.starts_with("セキュリティコード:"))?
        .to_string();
    Some(
        line.trim_start_matches("セキュリティコード:")
            .trim()
            .to_string(),
    )
}

/// Asks for a reminder of `kind` for `email` from a new browser at `ip`.
async fn ask(t: &TestApp, ip: &str, kind: &str, email: &str) -> (Browser, myna_tests::Page) {
    let mut b = t.browser(ip);
    let res = b
        .submit(
            "/login/reminder",
            "/login/reminder",
            &[("kind", kind), ("email", email)],
        )
        .await;
    (b, res)
}

async fn enter_code(b: &mut Browser, code: &str) -> myna_tests::Page {
    let token = b.get("/login/reminder").await.csrf().unwrap();
    b.post(
        "/login/reminder/code",
        &[("csrf", token.as_str()), ("code", code)],
    )
    .await
}

async fn new_password(b: &mut Browser, password: &str, confirm: &str) -> myna_tests::Page {
    let token = b.get("/login/reminder").await.csrf().unwrap();
    b.post(
        "/login/reminder/password",
        &[
            ("csrf", token.as_str()),
            ("password", password),
            ("password_confirm", confirm),
        ],
    )
    .await
}

#[tokio::test]
async fn a_password_reset_by_the_mailed_code_sets_the_password_and_ends_every_other_session() {
    // Given an owner logged in on one browser
    let (t, mut office) = TestApp::with_owner("株式会社リマインド", OWNER).await;
    assert_eq!(office.get("/home").await.status, StatusCode::OK);

    // When they ask for a password reset on another, the code comes by mail
    let (mut b, res) = ask(&t, "203.0.113.40", "password", OWNER).await;
    assert_eq!(res.location(), Some("/login/reminder/code"), "{}", res.body);
    let mail = t.outbox.latest_to(OWNER).unwrap().unwrap();
    assert_eq!(
        mail.mail.subject,
        "【マイナンバー管理】パスワードのリセット"
    );
    let code = mailed_code(&t, OWNER).unwrap();
    assert_eq!(code.len(), 8);
    let page = b.get("/login/reminder/code").await;
    assert!(page
        .body
        .contains("セキュリティコードをメールで送信致しました。"));

    // Then the code opens the new-password form, whose rules are those of sign-up
    let res = enter_code(&mut b, &code).await;
    assert_eq!(res.location(), Some("/login/reminder/password"));
    let res = new_password(&mut b, "short", "short").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("8文字以上"));
    let res = new_password(&mut b, NEW_PW, "Momiji-2027q").await;
    assert!(res.body.contains("確認用のパスワードが一致しません"));
    let res = new_password(&mut b, NEW_PW, NEW_PW).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.contains("パスワードを変更しました"));

    // And the session opened with the old password is over; only the new one logs in
    assert_eq!(office.get("/home").await.location(), Some("/login"));
    let mut old = t.browser("203.0.113.41");
    let res = old
        .submit("/login", "/login", &[("email", OWNER), ("password", PW)])
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    t.login(OWNER, NEW_PW, None).await;
    let notice = t.outbox.list().unwrap();
    assert!(notice
        .iter()
        .any(|m| m.mail.subject == "【マイナンバー管理】パスワードを再設定しました"));
    let scope = t.scope_of(OWNER).await;
    let log = t.audit_of(&scope).await;
    assert!(log.iter().any(|e| e.action == "reminder.password_reset"));
    assert!(log.iter().any(|e| e.action == "reminder.code_sent"));
    assert!(log.iter().all(|e| !e.detail.contains(&code)));
}

#[tokio::test]
async fn a_used_code_and_a_used_reset_cannot_be_replayed() {
    let (t, _) = TestApp::with_owner("株式会社リユース", OWNER).await;
    let (mut b, _) = ask(&t, "203.0.113.42", "password", OWNER).await;
    let code = mailed_code(&t, OWNER).unwrap();
    let cookies = b.cookies.clone();
    enter_code(&mut b, &code).await;
    // The code again, from a copy of the same browser: already used.
    let mut copy = t.browser("203.0.113.42");
    copy.cookies = cookies.clone();
    let res = enter_code(&mut copy, &code).await;
    assert_eq!(res.status, StatusCode::GONE);
    // The reset once; a second one with the same ticket is refused.
    let mut copy = t.browser("203.0.113.42");
    copy.cookies = b.cookies.clone();
    assert_eq!(
        new_password(&mut b, NEW_PW, NEW_PW).await.status,
        StatusCode::OK
    );
    let res = new_password(&mut copy, "Another-2028x", "Another-2028x").await;
    assert_eq!(res.status, StatusCode::GONE);
    assert!(res.body.contains("すでに使用されています"));
    t.login(OWNER, NEW_PW, None).await;
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let (t, _) = TestApp::with_owner("株式会社キゲン", OWNER).await;
    let (mut b, _) = ask(&t, "203.0.113.43", "password", OWNER).await;
    let code = mailed_code(&t, OWNER).unwrap();
    t.clock.advance(Duration::minutes(31));
    let res = enter_code(&mut b, &code).await;
    assert_eq!(res.status, StatusCode::GONE);
    assert!(res.body.contains("有効期限（30分）が切れた"));
    assert!(
        res.body.contains("/login/reminder"),
        "offers to start again"
    );
}

#[tokio::test]
async fn guessed_codes_void_the_code_after_five_attempts() {
    let (t, _) = TestApp::with_owner("株式会社スイソク", OWNER).await;
    let (mut b, _) = ask(&t, "203.0.113.44", "password", OWNER).await;
    let code = mailed_code(&t, OWNER).unwrap();
    for n in 0..4 {
        let res = enter_code(&mut b, &format!("1234567{n}")).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "attempt {n}");
        assert!(res.body.contains("セキュリティコードが正しくありません"));
    }
    let res = enter_code(&mut b, "99999999").await;
    assert_eq!(res.status, StatusCode::GONE);
    assert!(res.body.contains("無効になりました"));
    // The right code is of no use any more.
    let res = enter_code(&mut b, &code).await;
    assert_eq!(res.status, StatusCode::GONE);
    let scope = t.scope_of(OWNER).await;
    let failures = t
        .audit_of(&scope)
        .await
        .into_iter()
        .filter(|e| e.action == "reminder.code_failed")
        .count();
    assert_eq!(failures, 5);
}

#[tokio::test]
async fn the_answer_is_the_same_for_an_address_without_an_account() {
    // Given one address with an account and one without
    let (t, _) = TestApp::with_owner("株式会社ナイショ", OWNER).await;
    let mails = t.outbox.list().unwrap().len();

    // When each asks for a reset
    let started = std::time::Instant::now();
    let (mut known, k_res) = ask(&t, "203.0.113.45", "password", OWNER).await;
    let known_took = started.elapsed();
    let started = std::time::Instant::now();
    let (mut unknown, u_res) =
        ask(&t, "203.0.113.46", "password", "nobody@remind.example.jp").await;
    let unknown_took = started.elapsed();

    // Then both are sent on to the same code page, and both answers took the floor time
    assert_eq!(k_res.status, u_res.status);
    assert_eq!(k_res.location(), u_res.location());
    let strip = |body: &str| {
        let token = myna_tests::csrf_in(body).unwrap();
        body.replace(&token, "")
    };
    assert_eq!(
        strip(&known.get("/login/reminder/code").await.body),
        strip(&unknown.get("/login/reminder/code").await.body)
    );
    let floor = myna::app::reminders::ANSWER_FLOOR;
    assert!(known_took >= floor && unknown_took >= floor);
    // Only the known address got a mail; a code typed for the unknown one is just wrong.
    assert_eq!(t.outbox.list().unwrap().len(), mails + 1);
    assert!(t
        .outbox
        .latest_to("nobody@remind.example.jp")
        .unwrap()
        .is_none());
    let code = mailed_code(&t, OWNER).unwrap();
    let res = enter_code(&mut unknown, &code).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_customer_number_is_shown_only_after_the_mailed_code() {
    let (t, _) = TestApp::with_owner("株式会社バンゴウ", OWNER).await;
    let scope = t.scope_of(OWNER).await;
    let number = myna::app::tenants::load(&scope)
        .await
        .unwrap()
        .unwrap()
        .customer_number;
    let (mut b, res) = ask(&t, "203.0.113.47", "customer_number", OWNER).await;
    assert_eq!(res.location(), Some("/login/reminder/code"));
    let mail = t.outbox.latest_to(OWNER).unwrap().unwrap();
    assert_eq!(
        mail.mail.subject,
        "【マイナンバー管理】お客様番号のお知らせ"
    );
    assert!(!b.get("/login/reminder/code").await.body.contains(&number));
    let res = enter_code(&mut b, &mailed_code(&t, OWNER).unwrap()).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.contains(&number));
    assert!(res.body.contains("株式会社バンゴウ"));
    // Shown once: the ticket is used up.
    assert_eq!(b.get("/login/reminder/code").await.status, StatusCode::GONE);
}

#[tokio::test]
async fn requests_for_one_address_are_limited() {
    let (t, _) = TestApp::with_owner("株式会社セイゲン", OWNER).await;
    for n in 0..5 {
        let (_, res) = ask(&t, &format!("203.0.113.{}", 50 + n), "password", OWNER).await;
        assert_eq!(res.location(), Some("/login/reminder/code"), "request {n}");
    }
    let (_, res) = ask(&t, "203.0.113.60", "password", OWNER).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers.get("retry-after").is_some());
    assert!(res.body.contains(OWNER), "the form keeps the address");
}

#[tokio::test]
async fn the_login_page_links_to_the_reminder_and_a_bad_form_keeps_its_input() {
    let t = TestApp::spawn();
    let mut b = t.browser("203.0.113.61");
    assert!(b
        .get("/login")
        .await
        .body
        .contains("href=\"/login/reminder\""));
    let page = b.get("/login/reminder").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("準備中"));
    let res = b
        .submit(
            "/login/reminder",
            "/login/reminder",
            &[("email", "a@example.jp")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("パスワードがわからない"));
    assert!(res.body.contains("value=\"a@example.jp\""));
    let res = b
        .submit(
            "/login/reminder",
            "/login/reminder",
            &[("kind", "password"), ("email", "not-an-address")],
        )
        .await;
    assert!(res.body.contains("メールアドレスの形式が正しくありません"));
    assert!(res.body.contains("value=\"password\" checked"));
}
