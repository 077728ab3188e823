//! Login with a second factor (manual ch.2), sessions and logout.

use axum::http::StatusCode;
use myna_tests::fixtures::PW;
use myna_tests::TestApp;
use time::Duration;

async fn company_signed_up() -> TestApp {
    let t = TestApp::spawn();
    t.signup("株式会社ログイン", "login@example.jp", PW).await;
    t
}

#[tokio::test]
async fn signup_then_login_with_mailed_code_reaches_home() {
    let t = company_signed_up().await;
    let mut b = t.browser("203.0.113.5");
    let res = b
        .submit(
            "/login",
            "/login",
            &[("email", "login@example.jp"), ("password", PW)],
        )
        .await;
    assert_eq!(res.location(), Some("/login/otp"));
    let otp_page = b.get("/login/otp").await;
    assert!(otp_page.body.contains("第二認証コード入力"));
    let mail = t.outbox.latest_to("login@example.jp").unwrap().unwrap();
    assert_eq!(
        mail.mail.subject,
        "【マイナンバー管理】第二認証コードのお知らせ"
    );
    let code = t.latest_otp("login@example.jp").unwrap();
    assert_eq!(code.len(), 6);
    let res = b
        .submit("/login/otp", "/login/otp", &[("code", &code)])
        .await;
    assert_eq!(res.location(), Some("/home"));
    let home = b.get("/home").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("株式会社ログイン"));
}

#[tokio::test]
async fn password_alone_does_not_open_home() {
    let t = company_signed_up().await;
    let mut b = t.browser("203.0.113.5");
    b.submit(
        "/login",
        "/login",
        &[("email", "login@example.jp"), ("password", PW)],
    )
    .await;
    assert_eq!(b.get("/home").await.location(), Some("/login"));
}

#[tokio::test]
async fn login_fails_with_the_same_message_for_wrong_password_and_unknown_address() {
    let t = company_signed_up().await;
    let mut b = t.browser("203.0.113.5");
    let wrong = b
        .submit(
            "/login",
            "/login",
            &[("email", "login@example.jp"), ("password", "Sakura-2026y")],
        )
        .await;
    let unknown = b
        .submit(
            "/login",
            "/login",
            &[("email", "nobody@example.jp"), ("password", PW)],
        )
        .await;
    for res in [&wrong, &unknown] {
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert!(res
            .body
            .contains("メールアドレスまたはパスワードが正しくありません。"));
    }
    assert!(
        wrong.body.contains("value=\"login@example.jp\""),
        "address kept in the form"
    );
    assert!(t.latest_otp("login@example.jp").is_none(), "no code mailed");
}

#[tokio::test]
async fn expired_code_is_refused_and_the_login_must_restart() {
    let t = company_signed_up().await;
    let mut b = t.browser("203.0.113.5");
    b.submit(
        "/login",
        "/login",
        &[("email", "login@example.jp"), ("password", PW)],
    )
    .await;
    let code = t.latest_otp("login@example.jp").unwrap();
    let page = b.get("/login/otp").await;
    t.clock
        .advance(Duration::minutes(10) + Duration::seconds(1));
    let res = b
        .post(
            "/login/otp",
            &[("csrf", &page.csrf().unwrap()), ("code", &code)],
        )
        .await;
    assert_ne!(res.location(), Some("/home"));
    assert_eq!(b.get("/home").await.location(), Some("/login"));
}

#[tokio::test]
async fn code_works_once_only() {
    let t = company_signed_up().await;
    let mut b = t.browser("203.0.113.5");
    b.submit(
        "/login",
        "/login",
        &[("email", "login@example.jp"), ("password", PW)],
    )
    .await;
    let code = t.latest_otp("login@example.jp").unwrap();
    let pending_cookie = b.cookies.get("myna_sid").cloned().unwrap();
    let token = b.get("/login/otp").await.csrf().unwrap();
    let ok = b
        .post("/login/otp", &[("csrf", &token), ("code", &code)])
        .await;
    assert_eq!(ok.location(), Some("/home"));

    // Replaying the pending cookie and the same code.
    let mut replay = t.browser("203.0.113.5");
    replay.cookies.insert("myna_sid".into(), pending_cookie);
    let res = replay
        .post("/login/otp", &[("csrf", &token), ("code", &code)])
        .await;
    assert_ne!(res.location(), Some("/home"));
    assert_eq!(replay.get("/home").await.location(), Some("/login"));
}

#[tokio::test]
async fn five_wrong_codes_void_the_pending_login() {
    let t = company_signed_up().await;
    let mut b = t.browser("203.0.113.5");
    b.submit(
        "/login",
        "/login",
        &[("email", "login@example.jp"), ("password", PW)],
    )
    .await;
    let code = t.latest_otp("login@example.jp").unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for i in 0..4 {
        let res = b
            .submit("/login/otp", "/login/otp", &[("code", wrong)])
            .await;
        assert!(
            res.body.contains("第二認証コードが正しくありません。"),
            "attempt {i}"
        );
    }
    let res = b
        .submit("/login/otp", "/login/otp", &[("code", wrong)])
        .await;
    assert!(res.body.contains("このログインは無効になりました"));
    // Even the right code no longer works on that login.
    assert_eq!(b.get("/login/otp").await.location(), Some("/login"));
}

/// One login attempt from `ip`; returns the page it answers with.
async fn attempt(t: &TestApp, ip: &str, password: &str) -> myna_tests::Page {
    let mut b = t.browser(ip);
    b.submit(
        "/login",
        "/login",
        &[("email", "login@example.jp"), ("password", password)],
    )
    .await
}

/// Moves the test clock to the start of the next hour, so hour-long windows hold a test.
fn to_next_hour(t: &TestApp) {
    use myna::ports::Clock;
    let into = t.clock.now().unix_timestamp().rem_euclid(3600);
    t.clock.advance(Duration::seconds(3600 - into));
}

#[tokio::test]
async fn login_is_refused_from_one_address_after_five_wrong_passwords_there() {
    // Arrange
    let t = company_signed_up().await;
    for _ in 0..5 {
        let res = attempt(&t, "203.0.113.20", "Wrong-pass-1").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }

    // Act: the right password, from the address that guessed.
    let res = attempt(&t, "203.0.113.20", PW).await;

    // Assert
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.body.contains("一時的にログインを制限しています"));
    assert!(res.headers.get("retry-after").is_some());
    assert!(t.latest_otp("login@example.jp").is_none());
    // The window passes; the right password works again from there.
    t.clock.advance(Duration::minutes(16));
    assert_eq!(
        attempt(&t, "203.0.113.20", PW).await.location(),
        Some("/login/otp")
    );
}

#[tokio::test]
async fn owner_logs_in_from_another_address_when_a_stranger_failed_five_times_elsewhere() {
    // Arrange: a stranger who knows the address uses up its own tries.
    let t = company_signed_up().await;
    for _ in 0..5 {
        attempt(&t, "192.0.2.66", "Wrong-pass-1").await;
    }
    assert_eq!(
        attempt(&t, "192.0.2.66", "Wrong-pass-1").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );

    // Act + Assert: the owner, elsewhere, with the right password, gets in (both factors).
    let mut owner = t.login("login@example.jp", PW, None).await;
    assert_eq!(owner.get("/home").await.status, StatusCode::OK);
}

#[tokio::test]
async fn login_waits_grow_when_wrong_passwords_come_from_many_addresses() {
    // Arrange: ten wrong passwords, each from its own address, are free.
    let t = company_signed_up().await;
    to_next_hour(&t);
    for i in 0..10 {
        let res = attempt(&t, &format!("198.18.0.{i}"), "Wrong-pass-1").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }

    // Act: the next attempt at once, from a fresh address, with the right password.
    let early = attempt(&t, "198.18.1.1", PW).await;

    // Assert: refused with the time to wait, not slept on.
    assert_eq!(early.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(early.body.contains("しばらく待ってから"), "{}", early.body);
    assert!(early.body.contains("あと1秒"), "{}", early.body);
    assert_eq!(early.headers.get("retry-after").unwrap(), "1");
    // After the wait a try is counted again, and the next wait is longer.
    t.clock.advance(Duration::seconds(1));
    assert_eq!(
        attempt(&t, "198.18.1.2", "Wrong-pass-1").await.status,
        StatusCode::UNAUTHORIZED
    );
    let early = attempt(&t, "198.18.1.3", PW).await;
    assert_eq!(early.headers.get("retry-after").unwrap(), "2");
    t.clock.advance(Duration::seconds(2));
    assert_eq!(
        attempt(&t, "198.18.1.4", PW).await.location(),
        Some("/login/otp")
    );
}

#[tokio::test]
async fn account_ceiling_closes_login_everywhere_and_mails_the_owner_once() {
    // Arrange: fifty wrong passwords within the hour, from fifty addresses, each after its wait.
    let t = company_signed_up().await;
    to_next_hour(&t);
    let subject = "【マイナンバー管理】ログインを一時的に制限しました";
    let notices = |t: &TestApp| {
        t.outbox
            .list()
            .unwrap()
            .into_iter()
            .filter(|m| m.mail.to == "login@example.jp" && m.mail.subject == subject)
            .collect::<Vec<_>>()
    };
    for i in 0..50 {
        let res = attempt(&t, &format!("198.18.2.{i}"), "Wrong-pass-1").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "attempt {i}");
        t.clock.advance(Duration::seconds(61));
    }

    // Act: the owner, from an address that never failed, with the right password.
    let res = attempt(&t, "203.0.113.99", PW).await;
    attempt(&t, "198.18.3.1", "Wrong-pass-1").await;

    // Assert
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.body.contains("一時的にログインを制限しています"));
    let mails = notices(&t);
    assert_eq!(mails.len(), 1, "one notice a window");
    let body = &mails[0].mail.body;
    assert!(body.contains("山田 太郎 様"), "{body}");
    assert!(body.contains("パスワードの誤りが"));
    assert!(body.contains("お心当たりがない場合"));
    assert!(body.contains("アカウントは安全です"));
    assert!(!body.contains("Wrong-pass-1") && !body.contains("198.18."));
    // The hour ends: the owner gets in again.
    t.clock.advance(Duration::hours(1));
    t.login("login@example.jp", PW, None).await;
}

#[tokio::test]
async fn wrong_customer_number_with_the_right_password_says_so_and_locks_nothing() {
    // Arrange
    let t = company_signed_up().await;
    let mut b = t.browser("203.0.113.30");
    for _ in 0..6 {
        // Act
        let res = b
            .submit(
                "/login",
                "/login",
                &[
                    ("email", "login@example.jp"),
                    ("password", PW),
                    ("customer_number", "1234567"),
                ],
            )
            .await;

        // Assert
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert!(
            res.body.contains("お客様番号が正しくありません"),
            "{}",
            res.body
        );
        assert!(res.body.contains("value=\"1234567\""), "kept in the form");
    }
    assert_eq!(
        attempt(&t, "203.0.113.30", PW).await.location(),
        Some("/login/otp")
    );
}

#[tokio::test]
async fn wrong_customer_number_with_a_wrong_password_names_all_three_without_saying_which() {
    let t = company_signed_up().await;
    let mut b = t.browser("203.0.113.31");
    let res = b
        .submit(
            "/login",
            "/login",
            &[
                ("email", "login@example.jp"),
                ("password", "Wrong-pass-1"),
                ("customer_number", "1234567"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(res
        .body
        .contains("メールアドレス、パスワードまたはお客様番号が正しくありません。"));
}

#[tokio::test]
async fn one_address_guessing_many_accounts_is_locked_out() {
    let t = company_signed_up().await;
    let mut b = t.browser("203.0.113.66");
    for i in 0..20 {
        let email = format!("victim{i}@example.jp");
        b.submit(
            "/login",
            "/login",
            &[("email", email.as_str()), ("password", "Guess-1234")],
        )
        .await;
    }
    let res = b
        .submit(
            "/login",
            "/login",
            &[("email", "login@example.jp"), ("password", PW)],
        )
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    // Someone else, elsewhere, is unaffected.
    t.login("login@example.jp", PW, None).await;
}

#[tokio::test]
async fn session_ends_after_idle_time_and_after_absolute_lifetime() {
    let t = company_signed_up().await;
    let mut idle = t.login("login@example.jp", PW, None).await;
    t.clock.advance(Duration::minutes(29));
    assert_eq!(idle.get("/home").await.status, StatusCode::OK);
    t.clock.advance(Duration::minutes(31));
    assert_eq!(idle.get("/home").await.location(), Some("/login?expired=1"));
    let page = idle.get("/login?expired=1").await;
    assert!(page.body.contains("セッションの有効期限が切れました"));

    let mut busy = t.login("login@example.jp", PW, None).await;
    let mut elapsed = Duration::ZERO;
    let ended = loop {
        t.clock.advance(Duration::minutes(29));
        elapsed += Duration::minutes(29);
        let page = busy.get("/home").await;
        if page.status != StatusCode::OK {
            break page;
        }
        assert!(
            elapsed < Duration::hours(13),
            "session outlived its absolute lifetime"
        );
    };
    // Active every 29 minutes, yet it ends 12 hours after login.
    assert_eq!(ended.location(), Some("/login?expired=1"));
    assert!(
        elapsed >= Duration::hours(12),
        "ended early, after {elapsed}"
    );
}

#[tokio::test]
async fn logout_ends_the_session_for_good() {
    let t = company_signed_up().await;
    let mut b = t.login("login@example.jp", PW, None).await;
    let stolen = b.cookies.get("myna_sid").cloned().unwrap();
    let res = b.submit("/home", "/logout", &[]).await;
    assert_eq!(res.location(), Some("/login?logout=1"));
    assert!(b
        .get("/login?logout=1")
        .await
        .body
        .contains("ログアウトしました。"));
    let mut thief = t.browser("203.0.113.5");
    thief.cookies.insert("myna_sid".into(), stolen);
    assert_eq!(thief.get("/home").await.location(), Some("/login"));
}

#[tokio::test]
async fn option_login_picks_the_tenant_by_customer_number() {
    let t = TestApp::spawn();
    let a = t.signup("株式会社エー", "shared@example.jp", PW).await;
    let b_no = t.signup("株式会社ビー", "shared@example.jp", PW).await;
    let mut b = t.browser("203.0.113.5");
    let res = b
        .submit(
            "/login",
            "/login",
            &[("email", "shared@example.jp"), ("password", PW)],
        )
        .await;
    assert!(
        res.body.contains("お客様番号を入力してください"),
        "{}",
        res.body
    );
    assert!(res.body.contains("<details class=\"option-login\" open>"));

    let mut in_a = t.login("shared@example.jp", PW, Some(&a)).await;
    let home = in_a.get("/home").await;
    assert!(home.body.contains("株式会社エー") && !home.body.contains("株式会社ビー"));
    let mut in_b = t.login("shared@example.jp", PW, Some(&b_no)).await;
    assert!(in_b.get("/home").await.body.contains("株式会社ビー"));
}

#[tokio::test]
async fn logins_failures_and_logouts_are_audited_with_the_address() {
    let t = company_signed_up().await;
    let mut bad = t.browser("192.0.2.44");
    bad.submit(
        "/login",
        "/login",
        &[("email", "login@example.jp"), ("password", "Wrong-pass-1")],
    )
    .await;
    let mut b = t.login("login@example.jp", PW, None).await;
    b.submit("/home", "/logout", &[]).await;

    let scope = t.scope_of("login@example.jp").await;
    let (entries, _) = t
        .app
        .audit
        .list(Some(scope.tenant()), 50, None)
        .await
        .unwrap();
    let actions: Vec<_> = entries.iter().map(|e| e.action.as_str()).collect();
    for want in [
        "signup",
        "auth.login_failed",
        "auth.password_ok",
        "auth.login",
        "auth.logout",
    ] {
        assert!(actions.contains(&want), "{want} missing from {actions:?}");
    }
    let failed = entries
        .iter()
        .find(|e| e.action == "auth.login_failed")
        .unwrap();
    assert_eq!(failed.ip.as_deref(), Some("192.0.2.44"));
    assert!(entries.iter().all(|e| e.ip.is_some()));
    assert_eq!(
        t.app
            .audit
            .verify(Some(scope.tenant()))
            .await
            .unwrap()
            .broken_at,
        None
    );
    // Unknown addresses go to the system log.
    bad.submit(
        "/login",
        "/login",
        &[("email", "ghost@example.jp"), ("password", "Wrong-pass-1")],
    )
    .await;
    let (system, _) = t.app.audit.list(None, 10, None).await.unwrap();
    assert!(system
        .iter()
        .any(|e| e.action == "auth.login_failed" && e.ip.as_deref() == Some("192.0.2.44")));
}
