//! Sign-up (お申し込み).

use axum::http::StatusCode;
use myna::app::keys::{TenantId, TenantScope};
use myna::app::{tenants, users};
use myna::domain::role::Role;
use myna_tests::fixtures::PW;
use myna_tests::{signup_fields, test_config, TestApp};

#[tokio::test]
async fn root_leads_to_signup_when_install_is_empty() {
    let t = TestApp::spawn();
    let mut b = t.browser("198.51.100.1");
    assert_eq!(b.get("/").await.location(), Some("/signup"));
    t.signup("株式会社テスト", "owner@example.jp", PW).await;
    assert_eq!(b.get("/").await.location(), Some("/login"));
}

#[tokio::test]
async fn signup_creates_tenant_owner_plan10_trial_and_mails_customer_number() {
    let t = TestApp::spawn();
    let customer = t.signup("株式会社テスト", "Owner@Example.jp", PW).await;

    assert_eq!(customer.len(), 7);
    assert!(customer.bytes().all(|b| b.is_ascii_digit()) && !customer.starts_with('0'));
    let mail = t.outbox.latest_to("owner@example.jp").unwrap().unwrap();
    assert_eq!(
        mail.mail.subject,
        "【マイナンバー管理】本人確認を行ってください"
    );
    assert!(mail.mail.body.contains("株式会社テスト"));

    let lookup = t
        .app
        .ports
        .store
        .get(&myna::app::keys::customer_lookup(&customer))
        .await
        .unwrap()
        .unwrap();
    let tenant = TenantId::parse(lookup.str("tenant").unwrap()).unwrap();
    let scope = TenantScope::new(tenant, t.app.ports.store.clone());
    let profile = tenants::load(&scope).await.unwrap().unwrap();
    assert_eq!(profile.plan.size(), 10);
    assert_eq!(profile.company_name, "株式会社テスト");
    let today = t.clock_today();
    assert_eq!((profile.trial_ends - today).whole_days(), 30);
    let user_id = t
        .app
        .ports
        .store
        .get(&myna::app::keys::email_lookup(
            "owner@example.jp",
            scope.tenant(),
        ))
        .await
        .unwrap()
        .unwrap()
        .str("user")
        .unwrap()
        .to_string();
    let owner = users::load(&scope, &user_id).await.unwrap().unwrap();
    assert_eq!(owner.role, Role::Owner);
    assert!(owner.password_hash.starts_with("$argon2id$"));
}

#[tokio::test]
async fn signup_keeps_the_form_filled_and_lists_errors_when_input_is_invalid() {
    let t = TestApp::spawn();
    let mut b = t.browser("198.51.100.1");
    let fields = vec![
        ("company_name", "株式会社入力保持"),
        ("family_name", "佐藤"),
        ("given_name", ""),
        ("email", "not-an-address"),
        ("password", "short"),
        ("password_confirm", "short"),
    ];
    let res = b.submit("/signup", "/signup", &fields).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.body.contains("value=\"株式会社入力保持\""),
        "company name kept"
    );
    assert!(res.body.contains("value=\"佐藤\""), "family name kept");
    assert!(res.body.contains("value=\"not-an-address\""), "email kept");
    assert!(res.body.contains("申請者氏名（名）を入力してください。"));
    assert!(res.body.contains("メールアドレス"));
    assert!(res.body.contains("8文字以上"));
    assert!(
        !res.body.contains("value=\"short\""),
        "passwords are never echoed"
    );
    assert!(t.outbox.list().unwrap().is_empty(), "nothing mailed");
}

#[tokio::test]
async fn signup_rejects_weak_password_and_mismatched_confirmation() {
    let t = TestApp::spawn();
    let mut b = t.browser("198.51.100.1");
    let mut fields = signup_fields("株式会社A", "a@example.jp", "alllowercase1");
    let res = b.submit("/signup", "/signup", &fields).await;
    assert!(
        res.body.contains("英大文字・英小文字・数字"),
        "{}",
        res.body
    );
    fields[5] = ("password_confirm", "Sakura-2026y");
    fields[4] = ("password", PW);
    let res = b.submit("/signup", "/signup", &fields).await;
    assert!(res.body.contains("パスワード（確認）が一致しません。"));
}

#[tokio::test]
async fn signup_is_refused_when_the_operator_closed_it() {
    let t = TestApp::spawn_with(myna::app::Config {
        signup_open: false,
        ..test_config()
    });
    let mut b = t.browser("198.51.100.1");
    let page = b.get("/signup").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.body.contains("新規のお申し込みを受け付けておりません"));
    assert_eq!(b.get("/").await.location(), Some("/login"));
    let anon = b.get("/login").await.csrf().unwrap();
    let mut fields = vec![("csrf", anon.as_str())];
    fields.extend(signup_fields("株式会社A", "a@example.jp", PW));
    assert_eq!(
        b.post("/signup", &fields).await.status,
        StatusCode::FORBIDDEN
    );
    assert!(t.outbox.list().unwrap().is_empty());
}

#[tokio::test]
async fn customer_numbers_are_unique_across_tenants() {
    let t = TestApp::spawn();
    let mut seen = std::collections::HashSet::new();
    for i in 0..8 {
        let n = t
            .signup(&format!("会社{i}"), &format!("u{i}@example.jp"), PW)
            .await;
        assert!(seen.insert(n));
    }
}

#[tokio::test]
async fn signup_is_refused_after_five_from_one_address_with_the_form_kept() {
    // Arrange: five companies from one address within the hour.
    let t = TestApp::spawn();
    let mut b = t.browser("198.51.100.50");
    for i in 0..5 {
        let email = format!("many{i}@example.jp");
        let res = b
            .submit(
                "/signup",
                "/signup",
                &signup_fields("株式会社多数", &email, PW),
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    }

    // Act
    let res = b
        .submit(
            "/signup",
            "/signup",
            &signup_fields("株式会社六番目", "sixth@example.jp", PW),
        )
        .await;

    // Assert
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        res.body
            .contains("お申し込みの受付を一時的に制限しています"),
        "{}",
        res.body
    );
    assert!(res.body.contains("value=\"株式会社六番目\""), "form kept");
    assert!(res.headers.get("retry-after").is_some());
    t.run_jobs().await;
    assert!(t.outbox.latest_to("sixth@example.jp").unwrap().is_none());
    // Another address is not held up, and the hour passes.
    let mut other = t.browser("198.51.100.51");
    let res = other
        .submit(
            "/signup",
            "/signup",
            &signup_fields("株式会社別", "other@example.jp", PW),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    t.clock.advance(time::Duration::hours(1));
    let res = b
        .submit(
            "/signup",
            "/signup",
            &signup_fields("株式会社六番目", "sixth@example.jp", PW),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
}
