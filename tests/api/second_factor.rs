//! セキュリティ (manual ch.13) and the login's second step with an authenticator app: setup
//! with a QR code and key, login with the app's code, no code accepted twice, switching back
//! to mail, the company's settings, and a 最高権限's reset of another user's factor.
//! (`security.rs` holds the attacker's-eye suite that `infra/test.sh security` runs alone.)

use axum::http::StatusCode;
use myna::app::keys::{self as k, TenantScope};
use myna::app::passwords::{self, Params};
use myna::app::users::User;
use myna::domain::role::Role;
use myna::ports::{Clock, Condition, Item};
use myna_tests::fixtures::PW;
use myna_tests::{Browser, TestApp};
use time::Duration;
use totp_rs::{Algorithm, Builder, Secret};

const OWNER: &str = "owner@totp.example.jp";

/// The key the setup page prints (grouped base32), read off the page.
fn key_on(page: &str) -> String {
    let start = page.find("<code>").unwrap() + "<code>".len();
    let end = page[start..].find("</code>").unwrap() + start;
    page[start..end].replace(' ', "")
}

/// What the user's authenticator app shows now for `key`.
fn app_code(t: &TestApp, key: &str) -> String {
    let secret = Secret::try_from_base32(key).unwrap();
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_secret(secret.as_ref().to_vec())
        .build()
        .unwrap();
    let now = u64::try_from(t.clock.now().unix_timestamp()).unwrap();
    totp.generate(now).to_string()
}

/// Sets トークン認証 up for the logged-in `b`; returns the key.
async fn enable_totp(t: &TestApp, b: &mut Browser) -> String {
    let page = b.get("/security/totp").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let key = key_on(&page.body);
    let code = app_code(t, &key);
    let res = b
        .submit("/security/totp", "/security/totp", &[("code", &code)])
        .await;
    assert_eq!(res.location(), Some("/security?done=totp"), "{}", res.body);
    key
}

/// Password step for `email`; the browser then stands on the code page.
async fn password_step(b: &mut Browser, email: &str) {
    let res = b
        .submit("/login", "/login", &[("email", email), ("password", PW)])
        .await;
    assert_eq!(res.location(), Some("/login/otp"), "{}", res.body);
}

/// A second login user of the owner's company (the ログインユーザ screens are another part's;
/// the user is stored as sign-up stores one).
async fn add_user(t: &TestApp, scope: &TenantScope, email: &str, role: Role) -> User {
    let user = User {
        id: ulid::Ulid::new().to_string(),
        tenant: scope.tenant().clone(),
        email: email.into(),
        family_name: "佐藤".into(),
        given_name: "花子".into(),
        role,
        password_hash: passwords::hash(Params::TESTING, PW.into()).await.unwrap(),
        created_at: t.clock.now(),
        department: String::new(),
        kind: myna::app::users::UserKind::Employee,
        note: String::new(),
    };
    scope
        .put(user.to_item(scope), Condition::NotExists)
        .await
        .unwrap();
    t.app
        .ports
        .store
        .put(
            Item::new(k::email_lookup(email, scope.tenant())).with("user", user.id.as_str()),
            Condition::NotExists,
        )
        .await
        .unwrap();
    user
}

#[tokio::test]
async fn setup_switches_to_totp_only_when_the_apps_code_is_right() {
    // Given an owner on メール認証
    let (t, mut b) = TestApp::with_owner("株式会社トークン", OWNER).await;
    let page = b.get("/security").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page
        .body
        .contains("現在の方式: <strong>メール認証</strong>"));

    // When they choose トークン, the setup shows a QR code and the key for manual entry
    let res = b
        .submit("/security", "/security/method", &[("method", "totp")])
        .await;
    assert_eq!(res.location(), Some("/security/totp"));
    let setup = b.get("/security/totp").await;
    assert!(setup.body.contains("<svg"), "QR code drawn inline");
    assert!(setup.body.contains(OWNER), "account name shown");
    let key = key_on(&setup.body);
    assert_eq!(key.len(), 32, "160-bit key in base32");
    // A reload shows the same key (the app may already hold it).
    assert_eq!(key_on(&b.get("/security/totp").await.body), key);

    // Then a wrong code is refused and changes nothing
    let res = b
        .submit("/security/totp", "/security/totp", &[("code", "000000")])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("認証アプリのコードが正しくありません"));
    assert!(b
        .get("/security")
        .await
        .body
        .contains("<strong>メール認証</strong>"));

    // And the right one switches
    let code = app_code(&t, &key);
    let res = b
        .submit("/security/totp", "/security/totp", &[("code", &code)])
        .await;
    assert_eq!(res.location(), Some("/security?done=totp"));
    let page = b.get("/security?done=totp").await;
    assert!(page.body.contains("<strong>トークン認証</strong>"));

    // The secret is stored sealed, apart from the user, and the log has the change.
    let scope = t.scope_of(OWNER).await;
    let stored = t
        .app
        .ports
        .store
        .query(&myna::ports::Query::partition(scope.pk()))
        .await
        .unwrap();
    let dump = format!("{:?}", stored.items);
    assert!(!dump.contains(&key), "the key is never stored in clear");
    let log = t.audit_of(&scope).await;
    assert!(log.iter().any(|e| e.action == "security.totp_enabled"));
    assert!(log.iter().any(|e| e.action == "security.totp_setup_failed"));
    assert!(log.iter().all(|e| !e.detail.contains(&code)));
}

#[tokio::test]
async fn login_asks_for_the_apps_code_and_refuses_it_a_second_time() {
    // Given an owner on トークン認証
    let (t, mut b) = TestApp::with_owner("株式会社リプレイ", OWNER).await;
    let key = enable_totp(&t, &mut b).await;
    let mails_before = t.outbox.list().unwrap().len();

    // When they log in, no code is mailed and the page asks for the app's code
    let mut first = t.browser("203.0.113.20");
    password_step(&mut first, OWNER).await;
    assert_eq!(t.outbox.list().unwrap().len(), mails_before, "no mail sent");
    let page = first.get("/login/otp").await;
    assert!(page
        .body
        .contains("認証アプリの画面上に表示された第二認証コード"));
    // Move to a fresh time step: the step used at setup is spent.
    t.clock.advance(Duration::seconds(30));
    let code = app_code(&t, &key);
    let res = first
        .submit("/login/otp", "/login/otp", &[("code", &code)])
        .await;
    assert_eq!(res.location(), Some("/home"), "{}", res.body);

    // Then the same code, replayed in another login within its 90 seconds, is refused
    let mut second = t.browser("203.0.113.21");
    password_step(&mut second, OWNER).await;
    let res = second
        .submit("/login/otp", "/login/otp", &[("code", &code)])
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(res.body.contains("第二認証コードが正しくありません"));
    // And so is the mailed kind of answer: nothing was mailed to guess from.
    assert!(t.latest_otp(OWNER).is_none_or(|c| c != code));

    // While the next step's code logs in
    t.clock.advance(Duration::seconds(30));
    let res = second
        .submit("/login/otp", "/login/otp", &[("code", &app_code(&t, &key))])
        .await;
    assert_eq!(res.location(), Some("/home"));
}

#[tokio::test]
async fn wrong_app_codes_end_the_pending_login_after_five_attempts() {
    let (t, mut b) = TestApp::with_owner("株式会社ゲス", OWNER).await;
    enable_totp(&t, &mut b).await;
    let mut guesser = t.browser("203.0.113.30");
    password_step(&mut guesser, OWNER).await;
    let mut last = None;
    for guess in ["111111", "222222", "333333", "444444", "555555"] {
        let token = guesser.get("/login/otp").await.csrf().unwrap();
        last = Some(
            guesser
                .post("/login/otp", &[("csrf", token.as_str()), ("code", guess)])
                .await,
        );
    }
    let last = last.unwrap();
    assert!(
        last.body.contains("このログインは無効になりました"),
        "{}",
        last.body
    );
    assert_eq!(guesser.get("/login/otp").await.location(), Some("/login"));
}

#[tokio::test]
async fn switching_back_to_mail_needs_a_current_app_code() {
    // Given an owner on トークン認証
    let (t, mut b) = TestApp::with_owner("株式会社メール", OWNER).await;
    let key = enable_totp(&t, &mut b).await;
    let res = b
        .submit("/security", "/security/method", &[("method", "mail")])
        .await;
    assert_eq!(res.location(), Some("/security/mail"));

    // When they give the code just used for setup (a replay), it is refused
    let used = app_code(&t, &key);
    let res = b
        .submit("/security/mail", "/security/mail", &[("code", &used)])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b
        .get("/security")
        .await
        .body
        .contains("<strong>トークン認証</strong>"));

    // Then a fresh code switches them back, and the next login mails a code again
    t.clock.advance(Duration::seconds(30));
    let res = b
        .submit(
            "/security/mail",
            "/security/mail",
            &[("code", &app_code(&t, &key))],
        )
        .await;
    assert_eq!(res.location(), Some("/security?done=mail"));
    let mut again = t.browser("203.0.113.22");
    password_step(&mut again, OWNER).await;
    assert!(t.latest_otp(OWNER).is_some());
}

#[tokio::test]
async fn an_owner_resets_another_users_factor_to_mail_with_a_confirmation_and_a_log_entry() {
    // Given a manager who set up トークン認証 and lost the phone
    let (t, mut owner) = TestApp::with_owner("株式会社リセット", OWNER).await;
    let scope = t.scope_of(OWNER).await;
    let staff = add_user(&t, &scope, "staff@totp.example.jp", Role::Manager).await;
    let mut sb = t.login("staff@totp.example.jp", PW, None).await;
    enable_totp(&t, &mut sb).await;

    // When the owner opens the reset, a confirmation names the user and the current method
    let path = format!("/users/{}/second-factor/reset", staff.id);
    let page = owner.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("佐藤 花子"));
    assert!(page.body.contains("現在: トークン認証"));
    // Then リセットする puts the user back on mail and the log names actor and target
    let res = owner.submit(&path, &path, &[]).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.contains("メール方式に戻しました"));
    let mut again = t.browser("203.0.113.23");
    password_step(&mut again, "staff@totp.example.jp").await;
    assert!(
        t.latest_otp("staff@totp.example.jp").is_some(),
        "a code is mailed again"
    );
    let log = t.audit_of(&scope).await;
    let entry = log
        .iter()
        .find(|e| e.action == "security.second_factor_reset")
        .unwrap();
    assert_eq!(entry.target.as_deref(), Some(staff.id.as_str()));
    assert_eq!(entry.actor_name.as_deref(), Some("山田 太郎"));

    // And a user without the permission cannot reset anyone's
    t.set_role(&scope, "view_only").await;
    let own_path = format!("/users/{}/second-factor/reset", staff.id);
    assert_eq!(owner.get(&own_path).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_required_totp_sends_a_user_without_it_to_setup_before_any_other_page() {
    // Given an owner who turns on トークン認証 for everyone, through 入力確認
    let (t, mut owner) = TestApp::with_owner("株式会社ひっす", OWNER).await;
    let scope = t.scope_of(OWNER).await;
    add_user(&t, &scope, "staff@totp.example.jp", Role::Manager).await;
    let confirm = owner
        .submit("/security", "/security/settings", &[("require_totp", "on")])
        .await;
    assert!(
        confirm.body.contains("以下の内容で登録します。"),
        "{}",
        confirm.body
    );
    assert!(confirm.body.contains("オン"));
    let hidden: Vec<(String, String)> = [("require_totp", "on"), ("confirmed", "1")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut fields = vec![("csrf".to_string(), confirm.csrf().unwrap())];
    fields.extend(hidden);
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = owner.post("/security/settings", &fields).await;
    assert_eq!(res.location(), Some("/security?done=settings"));
    let log = t.audit_of(&scope).await;
    assert!(log.iter().any(|e| e.action == "security.settings_changed"
        && e.detail.contains("トークン認証の必須 オフ→オン")));

    // When a user on mail logs in, every page sends them to the setup
    let mut staff = t.login("staff@totp.example.jp", PW, None).await;
    for path in ["/home", "/registrants", "/security"] {
        assert_eq!(
            staff.get(path).await.location(),
            Some("/security/totp"),
            "{path}"
        );
    }
    // And switching to mail is refused to a user who has the app
    let key = enable_totp(&t, &mut staff).await;
    assert_eq!(staff.get("/home").await.status, StatusCode::OK);
    t.clock.advance(Duration::seconds(30));
    let res = staff
        .submit(
            "/security",
            "/security/mail",
            &[("code", &app_code(&t, &key))],
        )
        .await;
    assert!(res.body.contains("トークン認証が必須に設定されています"));
}

#[tokio::test]
async fn company_settings_are_for_the_owner_only_and_view_only_may_reveal_is_off_by_default() {
    let (t, mut owner) = TestApp::with_owner("株式会社せってい", OWNER).await;
    let page = owner.get("/security").await;
    assert!(page.body.contains("会社のセキュリティ設定"));
    assert!(!page
        .body
        .contains("name=\"view_only_may_reveal\" value=\"on\" checked"));
    // 戻る on the confirmation brings the form back as typed
    let confirm = owner
        .submit(
            "/security",
            "/security/settings",
            &[("view_only_may_reveal", "on")],
        )
        .await;
    let back = owner
        .post(
            "/security/settings",
            &[
                ("csrf", &confirm.csrf().unwrap()),
                ("view_only_may_reveal", "on"),
                ("confirmed", "1"),
                ("back", "1"),
            ],
        )
        .await;
    assert!(back
        .body
        .contains("name=\"view_only_may_reveal\" value=\"on\" checked"));
    let scope = t.scope_of(OWNER).await;
    let tenant = myna::app::tenants::load(&scope).await.unwrap().unwrap();
    assert!(
        !tenant.settings.view_only_may_reveal,
        "nothing saved by 戻る"
    );

    // A 閲覧のみ user sees their own method but neither the settings nor their route
    t.set_role(&scope, "view_only").await;
    let page = owner.get("/security").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("会社のセキュリティ設定"));
    let res = owner
        .post(
            "/security/settings",
            &[
                ("csrf", &page.csrf().unwrap()),
                ("require_totp", "on"),
                ("confirmed", "1"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}
