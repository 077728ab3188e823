//! Attacker's-eye tests: CSRF, cookies, headers, cross-tenant misuse, data at rest.
//! `infra/test.sh security` runs this module alone.

use axum::http::StatusCode;
use myna::app::keys::TenantScope;
use myna::app::tenants;
use myna::domain::my_number::MyNumber;
use myna::ports::{BlobScope, Condition, Item};
use myna_tests::fixtures::{person, NUMBER, PW};
use myna_tests::logs::capture_logs;
use myna_tests::{signup_fields, test_config, TestApp};

/// The company every owner here signs up.
const COMPANY: &str = "株式会社レジスト";

#[tokio::test]
async fn state_changing_requests_without_csrf_token_are_forbidden() {
    let t = TestApp::spawn();
    t.signup("株式会社シーサーフ", "csrf@example.jp", PW).await;
    let mut b = t.browser("203.0.113.5");
    b.get("/login").await; // has the anonymous cookie, but sends no token

    let res = b
        .post("/signup", &signup_fields("株式会社X", "x@example.jp", PW))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.body.contains("不正なリクエストです"));
    let res = b
        .post("/login", &[("email", "csrf@example.jp"), ("password", PW)])
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = b
        .post(
            "/login",
            &[
                ("csrf", "forged-token-forged-token"),
                ("email", "csrf@example.jp"),
                ("password", PW),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(
        t.latest_otp("csrf@example.jp").is_none(),
        "nothing happened"
    );

    let mut logged_in = t.login("csrf@example.jp", PW, None).await;
    assert_eq!(
        logged_in.post("/logout", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    // The anonymous token does not stand in for the session's.
    let anon = logged_in.cookies.get("myna_csrf").cloned().unwrap();
    assert_eq!(
        logged_in.post("/logout", &[("csrf", &anon)]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        logged_in.get("/home").await.status,
        StatusCode::OK,
        "still logged in"
    );
}

#[tokio::test]
async fn a_cross_site_post_without_the_cookie_is_forbidden() {
    let t = TestApp::spawn();
    let mut b = t.browser("203.0.113.5");
    let token = b.get("/signup").await.csrf().unwrap();
    // A forged form elsewhere knows no token and its request carries no SameSite=Strict cookie.
    let mut attacker = t.browser("203.0.113.6");
    let mut fields = vec![("csrf", token.as_str())];
    fields.extend(signup_fields("株式会社X", "x@example.jp", PW));
    assert_eq!(
        attacker.post("/signup", &fields).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn session_cookie_is_httponly_samesite_strict_and_secure_outside_localhost() {
    let t = TestApp::spawn_with(myna::app::Config {
        secure_cookies: true,
        ..test_config()
    });
    t.signup("株式会社クッキー", "cookie@example.jp", PW).await;
    let mut b = t.browser("203.0.113.5");
    let res = b
        .submit(
            "/login",
            "/login",
            &[("email", "cookie@example.jp"), ("password", PW)],
        )
        .await;
    let sid = res
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("myna_sid="))
        .unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(sid.contains(attr), "{attr} missing in {sid}");
    }
    let home = b.get("/login/otp").await;
    assert!(home.headers.get("strict-transport-security").is_some());

    let local = TestApp::spawn();
    let mut b = local.browser("127.0.0.1");
    let res = b.get("/login").await;
    let csrf = res
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("myna_csrf="))
        .unwrap();
    assert!(
        !csrf.contains("Secure"),
        "plain-http localhost cannot use Secure cookies"
    );
}

#[tokio::test]
async fn pages_carry_security_headers_and_are_not_cached() {
    let t = TestApp::spawn();
    t.signup("株式会社ヘッダ", "headers@example.jp", PW).await;
    let mut b = t.login("headers@example.jp", PW, None).await;
    let page = b.get("/home").await;
    let h = |name: &str| {
        page.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert!(h("content-security-policy").contains("frame-ancestors 'none'"));
    assert!(h("content-security-policy").contains("default-src 'none'"));
    assert_eq!(h("x-frame-options"), "DENY");
    assert_eq!(h("x-content-type-options"), "nosniff");
    assert_eq!(h("referrer-policy"), "no-referrer");
    assert_eq!(h("cache-control"), "no-store");
}

#[tokio::test]
async fn a_code_mailed_for_one_tenant_cannot_finish_a_login_to_another() {
    let t = TestApp::spawn();
    let a = t.signup("株式会社エー", "shared@example.jp", PW).await;
    let b_no = t.signup("株式会社ビー", "shared@example.jp", PW).await;

    let mut to_a = t.browser("203.0.113.5");
    to_a.submit(
        "/login",
        "/login",
        &[
            ("email", "shared@example.jp"),
            ("password", PW),
            ("customer_number", &a),
        ],
    )
    .await;
    let mut to_b = t.browser("203.0.113.6");
    to_b.submit(
        "/login",
        "/login",
        &[
            ("email", "shared@example.jp"),
            ("password", PW),
            ("customer_number", &b_no),
        ],
    )
    .await;
    let code_b = t.latest_otp("shared@example.jp").unwrap();

    let res = to_a
        .submit("/login/otp", "/login/otp", &[("code", &code_b)])
        .await;
    assert_ne!(
        res.location(),
        Some("/home"),
        "tenant B's code opened tenant A"
    );
    let res = to_b
        .submit("/login/otp", "/login/otp", &[("code", &code_b)])
        .await;
    assert_eq!(res.location(), Some("/home"));
    assert!(to_b.get("/home").await.body.contains("株式会社ビー"));
}

#[tokio::test]
async fn a_session_is_bound_to_its_tenant_and_dies_with_its_user() {
    let t = TestApp::spawn();
    t.signup("株式会社エー", "a@example.jp", PW).await;
    t.signup("株式会社ビー", "b@example.jp", PW).await;
    let mut a = t.login("a@example.jp", PW, None).await;
    let mut b = t.login("b@example.jp", PW, None).await;
    assert!(a.get("/home").await.body.contains("株式会社エー"));
    assert!(!a.get("/home").await.body.contains("株式会社ビー"));

    // A forged or guessed cookie is no session at all.
    let mut forger = t.browser("203.0.113.7");
    forger.cookies.insert(
        "myna_sid".into(),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
    );
    assert_eq!(forger.get("/home").await.location(), Some("/login"));

    // B's login user is removed: B's session stops working at once; A's is untouched.
    let scope_b = t.scope_of("b@example.jp").await;
    let page = t
        .app
        .ports
        .store
        .query(&myna::ports::Query::partition(scope_b.pk()).prefix("USER#"))
        .await
        .unwrap();
    scope_b
        .delete(&page.items[0].key, Condition::Exists)
        .await
        .unwrap();
    assert_eq!(b.get("/home").await.location(), Some("/login"));
    assert_eq!(a.get("/home").await.status, StatusCode::OK);
}

fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[tokio::test]
async fn the_sqlite_file_and_blob_files_hold_no_plaintext_number() {
    let t = TestApp::spawn();
    t.signup("株式会社暗号", "vault@example.jp", PW).await;
    let scope: TenantScope = t.scope_of("vault@example.jp").await;
    let tenant = tenants::load(&scope).await.unwrap().unwrap();
    let number = MyNumber::parse(NUMBER).unwrap();

    // A number sealed into the store, its fingerprint beside it, and an "image" holding it.
    let sealed = t
        .app
        .vault
        .seal_number(&tenant.keys, "REG1", &number)
        .await
        .unwrap();
    let fingerprint = t
        .app
        .vault
        .fingerprint(&tenant.keys, &number)
        .await
        .unwrap();
    scope
        .put(
            Item::new(scope.key("REG#REG1"))
                .with("number", sealed.clone())
                .with("fp", fingerprint),
            Condition::None,
        )
        .await
        .unwrap();
    let blob_scope = BlobScope {
        tenant_id: scope.tenant().to_string(),
        master_key: tenant.keys.master_key.clone(),
    };
    let image = format!("\u{89}PNG fake image with the number {NUMBER} drawn in it").into_bytes();
    t.app
        .ports
        .blobs
        .put(
            &blob_scope,
            "registrants/REG1/number-proof.png",
            image.clone(),
            "image/png",
        )
        .await
        .unwrap();

    // Everything still reads back for the tenant...
    assert_eq!(
        t.app
            .vault
            .open_number(&tenant.keys, "REG1", &sealed)
            .await
            .unwrap()
            .expose(),
        NUMBER
    );
    assert!(
        t.app
            .vault
            .open_number(&tenant.keys, "REG2", &sealed)
            .await
            .is_err(),
        "sealed value moved to another record opened"
    );
    let (back, _) = t
        .app
        .ports
        .blobs
        .get(&blob_scope, "registrants/REG1/number-proof.png")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back, image);

    // ...but no file under the data directory contains the digits.
    let mut files = Vec::new();
    files_under(t.dir.path(), &mut files);
    assert!(files
        .iter()
        .any(|f| f.to_string_lossy().ends_with("myna.sqlite3")));
    assert!(files.iter().any(|f| f.to_string_lossy().contains("blobs")));
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(NUMBER.len()).any(|w| w == NUMBER.as_bytes()),
            "{} contains the plaintext number",
            file.display()
        );
    }
    assert!(!format!("{number:?} {number}").contains(NUMBER));
}

#[tokio::test]
async fn csrf_refusal_log_line_names_no_registration_link_token_or_upload_ticket() {
    // Arrange
    let t = TestApp::spawn();
    let (logs, _guard) = capture_logs();
    let mut phone = t.browser("198.51.100.9");
    let token = "LinkTokenSecret0123456789abcdefXYZ";

    // Act: posts without a CSRF token to a registration link and an upload-looking path.
    let res = phone
        .post(&format!("/r/01JZZZZZZZZZZZZZZZZZZZZZZZ/{token}"), &[])
        .await;
    phone.post(&format!("/uploads/{token}"), &[]).await;

    // Assert
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let text = logs.text();
    assert!(text.contains("CSRF"), "the refusal is logged: {text}");
    assert!(text.contains("/r/…"), "{text}");
    assert!(!text.contains(token), "bearer secret in the log: {text}");
}

#[tokio::test]
async fn not_found_pages_carry_the_security_headers() {
    let t = TestApp::spawn();
    let mut b = t.browser("203.0.113.5");
    for page in [b.get("/no-such-page").await, b.get("/r").await] {
        assert_eq!(page.status, StatusCode::NOT_FOUND);
        assert!(page.body.contains("ページが見つかりません"));
        let h = |name: &str| page.headers.get(name).and_then(|v| v.to_str().ok());
        assert_eq!(h("x-content-type-options"), Some("nosniff"));
        assert_eq!(h("x-frame-options"), Some("DENY"));
        assert_eq!(h("cache-control"), Some("no-store"));
        assert!(h("content-security-policy").is_some_and(|v| v.contains("default-src 'none'")));
    }
}

#[tokio::test]
async fn csrf_token_in_the_url_query_is_refused() {
    // Arrange
    let t = TestApp::spawn();
    t.signup("株式会社クエリ", "query@example.jp", PW).await;
    let mut b = t.login("query@example.jp", PW, None).await;
    let token = b.get("/home").await.csrf().unwrap();

    // Act: the session's own token, but in the URL instead of the body or a header.
    let res = b.post(&format!("/logout?csrf={token}"), &[]).await;

    // Assert
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        b.get("/home").await.status,
        StatusCode::OK,
        "still logged in"
    );
    // The same token in the body works.
    let res = b.post("/logout", &[("csrf", &token)]).await;
    assert_eq!(res.location(), Some("/login?logout=1"));
}

#[tokio::test]
async fn registrant_password_is_sealed_on_the_confirm_page_and_saved_from_the_seal() {
    // Arrange
    let (t, mut b) = TestApp::with_owner(COMPANY, "sealpw@example.jp").await;
    let secret = "Phone-Pass-77";
    let mut fields = person("山田", "花子", "S-1", "");
    fields.retain(|(k, _)| *k != "email");
    fields.push(("email", "hanako@example.jp"));
    fields.push(("password", secret));

    // Act: 入力確認
    let confirm = b
        .submit("/registrants/new", "/registrants/new", &fields)
        .await;

    // Assert: the page says a password will be set, but holds it nowhere.
    assert!(
        confirm.body.contains("以下の内容で登録します。"),
        "{}",
        confirm.body
    );
    assert!(confirm.body.contains("設定する"));
    assert!(
        !confirm.body.contains(secret),
        "password echoed on 入力確認"
    );
    assert!(!confirm.body.contains("name=\"password\""));

    // Act: 登録, from the sealed fields only.
    let saved = b.post_confirm(&confirm, "/registrants/new", &[]).await;

    // Assert: the password typed is the one stored.
    let id = saved.registrant_id();
    let scope = t.scope_of("sealpw@example.jp").await;
    let r = myna::app::registrants::get(&scope, &id)
        .await
        .unwrap()
        .unwrap();
    let hash = r.password_hash.expect("password set");
    assert!(myna::app::passwords::verify(hash, secret.to_string()).await);
}

#[tokio::test]
async fn a_sealed_password_does_not_open_in_another_session() {
    // Arrange: 入力確認 in one session...
    let (t, mut b) = TestApp::with_owner(COMPANY, "sealpw2@example.jp").await;
    let mut fields = person("山田", "花子", "S-2", "");
    fields.retain(|(k, _)| *k != "email");
    fields.push(("email", "hanako2@example.jp"));
    fields.push(("password", "Phone-Pass-77"));
    let confirm = b
        .submit("/registrants/new", "/registrants/new", &fields)
        .await;

    // Act: ...replayed from another session of the same user.
    let mut other = t.login("sealpw2@example.jp", PW, None).await;
    let token = other.get("/registrants/new").await.csrf().unwrap();
    let replayed = confirm.body.replace(&confirm.csrf().unwrap(), &token);
    let page = myna_tests::Page {
        body: replayed,
        ..confirm
    };
    let res = other.post_confirm(&page, "/registrants/new", &[]).await;

    // Assert
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res
        .body
        .contains("ログインパスワードをもう一度入力してください"));
}
