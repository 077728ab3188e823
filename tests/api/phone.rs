//! The registrant's phone pages as a phone shows them (issue 16, items 11, 13–16): the rendered
//! markup and stylesheet checked for what breaks a 320–390 px screen (sideways scrolling, tiny
//! tap targets, a clipped example card), the login page's order and hints, the number boxes'
//! script, and ログアウト on every page behind the registrant's session.
//!
//! These read markup and CSS, not pixels: `phone_pages_fit_a_320_px_screen_in_chromium` at the
//! end measures the real layout where Chromium is installed.

use axum::http::StatusCode;
use myna_tests::{Browser, Page, TestApp};

use myna_tests::fixtures::REG_PW;

/// The company every owner here signs up.
const COMPANY: &str = "株式会社コレクト";

const PASSCODE: &str = "Kaisha42";
const OWNER: &str = "phone@example.jp";
const EMPLOYEE: &str = "hanako@example.jp";

/// A company with a passcode and one mailed registrant: the admin's browser and the link.
async fn mailed(t: &TestApp) -> (Browser, String) {
    let mut admin = t.owner(COMPANY, OWNER).await;
    admin.set_passcode(PASSCODE).await;
    let (_, link) = t.mailed_registrant(&mut admin, OWNER, EMPLOYEE).await;
    (admin, link)
}

/// A registrant logged in on the phone with one 第3号 dependent: the phone, every page path
/// behind the registrant's session, and the administrator's browser.
async fn logged_in_with_a_dependent(t: &TestApp) -> (Browser, Vec<String>, Browser) {
    let (admin, link) = mailed(t).await;
    let mut phone = t.phone_login(&link, PASSCODE, "198.51.100.30").await;
    let res = phone
        .submit(
            "/r/me/dependents/new",
            "/r/me/dependents/new",
            &[
                ("family_name", "山田"),
                ("given_name", "太郎"),
                ("sex", "male"),
                ("birth_year", "1983"),
                ("birth_month", "5"),
                ("birth_day", "1"),
                ("relationship", "spouse"),
                ("kind", "national_pension_category3"),
                ("number1", "1234"),
                ("number2", "5678"),
                ("number3", "9018"),
            ],
        )
        .await;
    let step5 = res.location().expect("dependent saved").to_string();
    let dep = step5.trim_end_matches("/step5").to_string();
    let pages = [
        "/r/me/step1",
        "/r/me/step2",
        "/r/me/step3",
        "/r/me/family",
        "/r/me/dependents",
        "/r/me/dependents/new",
        "/r/me/review",
    ]
    .into_iter()
    .map(str::to_string)
    .chain(
        ["", "/edit", "/delete", "/step5", "/step6"]
            .into_iter()
            .map(|tail| format!("{dep}{tail}")),
    )
    .collect();
    (phone, pages, admin)
}

/// The first-visit login form sent through the link (password set twice, passcode).
async fn first_login(phone: &mut Browser, link: &str, password: &str, passcode: &str) -> Page {
    let fields = [
        ("password", password),
        ("password_confirm", password),
        ("passcode", passcode),
    ];
    phone.submit(link, link, &fields).await
}

/// The text between `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start} not in page"));
    let rest = &text[from..];
    &rest[..rest.find(end).map_or(rest.len(), |i| i + end.len())]
}

/// Every `<input …>` tag of a page whose `name` is `name`.
fn inputs_named<'a>(page: &'a Page, name: &str) -> Vec<&'a str> {
    let needle = format!("name=\"{name}\"");
    page.body
        .match_indices("<input")
        .map(|(i, _)| between(&page.body[i..], "<input", ">"))
        .filter(|tag| tag.contains(&needle))
        .collect()
}

async fn stylesheet(t: &TestApp) -> String {
    let css = t.browser("198.51.100.31").get("/static/app.css").await;
    assert_eq!(css.status, StatusCode::OK);
    css.body
}

// ---------------------------------------------------------------- item 14: ログアウト

#[tokio::test]
async fn every_phone_page_offers_logout_when_the_registrant_is_logged_in() {
    // Arrange
    let t = TestApp::spawn();
    let (mut phone, pages, _) = logged_in_with_a_dependent(&t).await;

    for path in pages {
        // Act
        let page = phone.get(&path).await;

        // Assert
        assert_eq!(page.status, StatusCode::OK, "{path}");
        let form = between(
            &page.body,
            "<form method=\"post\" action=\"/r/me/logout\"",
            "</form>",
        );
        let token = page.csrf().expect("csrf");
        assert!(
            form.contains(&format!("name=\"csrf\" value=\"{token}\"")),
            "{path}: {form}"
        );
        assert!(form.contains(">ログアウト</button>"), "{path}: {form}");
    }
}

#[tokio::test]
async fn logout_ends_the_session_and_says_how_to_come_back() {
    // Arrange
    let t = TestApp::spawn();
    let (_, link) = mailed(&t).await;
    let mut phone = t.phone_login(&link, PASSCODE, "198.51.100.32").await;
    let mut stolen = Browser::new(t.router.clone(), "198.51.100.33");
    stolen.cookies = phone.cookies.clone();

    // Act
    let res = phone.submit("/r/me/step1", "/r/me/logout", &[]).await;

    // Assert
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), Some("/r/logged-out"));
    assert!(!phone.cookies.contains_key("myna_rsid"), "cookie cleared");
    let bye = phone.get("/r/logged-out").await;
    assert_eq!(bye.status, StatusCode::OK);
    assert!(bye.body.contains("ログアウトしました"), "{}", bye.body);
    assert!(bye.body.contains("メールに記載されたURL"), "{}", bye.body);
    assert!(
        !bye.body.contains("/r/me/logout"),
        "nothing left to log out of"
    );
    assert_eq!(
        stolen.get("/r/me/step1").await.status,
        StatusCode::UNAUTHORIZED,
        "the session is ended on the server, not only forgotten by the phone"
    );
    let again = t.phone_login(&link, PASSCODE, "198.51.100.32").await;
    assert!(
        again.cookies.contains_key("myna_rsid"),
        "the link still works"
    );
}

#[tokio::test]
async fn logout_is_refused_and_the_session_kept_when_the_csrf_token_is_missing() {
    // Arrange
    let t = TestApp::spawn();
    let (_, link) = mailed(&t).await;
    let mut phone = t.phone_login(&link, PASSCODE, "198.51.100.34").await;

    // Act
    let res = phone.post("/r/me/logout", &[]).await;

    // Assert
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(phone.get("/r/me/step1").await.status, StatusCode::OK);
}

// ---------------------------------------------------------------- items 13 and 16: the login page

#[tokio::test]
async fn passcode_field_is_never_autocorrected_and_says_case_matters() {
    // Arrange
    let t = TestApp::spawn();
    let (_, link) = mailed(&t).await;
    let mut phone = t.browser("198.51.100.35");

    // Act
    let page = phone.get(&link).await;
    let wrong_case = first_login(&mut phone, &link, REG_PW, &PASSCODE.to_lowercase()).await;

    // Assert
    let input = inputs_named(&page, "passcode");
    let [input] = input.as_slice() else {
        panic!("one passcode input: {input:?}");
    };
    for attr in [
        "autocapitalize=\"none\"",
        "autocorrect=\"off\"",
        "spellcheck=\"false\"",
        "autocomplete=\"off\"",
    ] {
        assert!(input.contains(attr), "{attr} missing: {input}");
    }
    assert!(
        !input.contains("maxlength"),
        "a longer paste is not cut: {input}"
    );
    assert!(page.body.contains("大文字・小文字を区別します"));
    assert_eq!(
        wrong_case.status,
        StatusCode::UNAUTHORIZED,
        "the page tells the truth: the passcode is compared case by case"
    );
}

#[tokio::test]
async fn consent_button_sits_above_the_purposes_it_refers_to() {
    // Arrange
    let t = TestApp::spawn();
    let (_, link) = mailed(&t).await;

    // Act
    let page = t.browser("198.51.100.36").get(&link).await;

    // Assert
    let button = page.body.find("下記の利用目的に同意してログイン").unwrap();
    let list = page.body.find("class=\"purpose-list\"").unwrap();
    let first_purpose = page
        .body
        .find("給与所得・退職所得の源泉徴収票作成事務")
        .unwrap();
    assert!(
        button < list && list < first_purpose,
        "button, then the list"
    );
}

#[tokio::test]
async fn password_rules_including_the_mail_address_are_stated_before_the_box() {
    // Arrange
    let t = TestApp::spawn();
    let (_, link) = mailed(&t).await;
    let mut phone = t.browser("198.51.100.37");

    // Act
    let page = phone.get(&link).await;
    let refused = first_login(&mut phone, &link, "Hanako-2026", PASSCODE).await;

    // Assert
    let rules = page
        .body
        .find("メールアドレスの@より前の部分（hanako）")
        .unwrap();
    let classes = page
        .body
        .find("英大文字・英小文字・数字をそれぞれ1文字以上")
        .unwrap();
    let box_at = page.body.find("id=\"password\"").unwrap();
    assert!(rules < box_at && classes < box_at, "stated before typing");
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .body
            .contains("パスワードにメールアドレスの一部を含めないでください。"),
        "the stated rule is the enforced one"
    );
}

// ---------------------------------------------------------------- item 15: the number boxes

#[tokio::test]
async fn number_boxes_load_their_script_and_cut_nothing_typed() {
    // Arrange
    let t = TestApp::spawn();
    let (mut phone, _, _) = logged_in_with_a_dependent(&t).await;

    for path in ["/r/me/step1", "/r/me/dependents/new"] {
        // Act
        let page = phone.get(path).await;

        // Assert
        assert!(
            page.body
                .contains("<script src=\"/static/enrol.js\" defer></script>"),
            "{path}"
        );
        for name in ["number1", "number2", "number3"] {
            let input = inputs_named(&page, name);
            let [input] = input.as_slice() else {
                panic!("{path}: one {name}: {input:?}");
            };
            assert!(!input.contains("maxlength"), "{path}: {input}");
            assert!(input.contains("inputmode=\"numeric\""), "{path}: {input}");
        }
    }
    let script = phone.get("/static/enrol.js").await;
    assert_eq!(script.status, StatusCode::OK);
    assert_eq!(
        script.headers["content-type"],
        "text/javascript; charset=utf-8"
    );
    for behaviour in ["paste", "Backspace", ".number-boxes"] {
        assert!(script.body.contains(behaviour), "{behaviour}");
    }
}

#[tokio::test]
async fn twelve_digits_pasted_into_the_first_box_are_saved_without_the_script() {
    // Arrange: a phone without JavaScript sends the paste as typed, all in number1.
    let t = TestApp::spawn();
    let (_, link) = mailed(&t).await;
    let mut phone = t.phone_login(&link, PASSCODE, "198.51.100.38").await;

    // Act
    let res = phone
        .submit(
            "/r/me/step1",
            "/r/me/step1",
            &[
                ("sex", "female"),
                ("birth_year", "1985"),
                ("birth_month", "2"),
                ("birth_day", "28"),
                ("number1", "6214-9832-0257"),
                ("number2", ""),
                ("number3", ""),
            ],
        )
        .await;

    // Assert
    assert_eq!(res.location(), Some("/r/me/step2"), "{}", res.body);
    assert!(phone.get("/r/me/step1").await.body.contains("********0257"));
}

#[tokio::test]
async fn example_cards_scale_to_the_screen_and_keep_their_text_inside() {
    // Arrange
    let t = TestApp::spawn();
    let (mut phone, _, _) = logged_in_with_a_dependent(&t).await;
    let css = stylesheet(&t).await;

    for path in ["/r/me/step2", "/r/me/step3"] {
        // Act
        let page = phone.get(path).await;

        // Assert
        let svg = between(&page.body, "<svg class=\"example\"", "</svg>");
        let open = between(svg, "<svg", ">");
        assert!(open.contains("viewBox=\"0 0 320 200\""), "{path}: {open}");
        assert!(
            !open.contains(" width=") && !open.contains(" height="),
            "{path}: the stylesheet sizes it: {open}"
        );
        // Text is pinned to a width that ends inside the card, whatever the phone's font.
        for text in svg.split("<text").skip(1) {
            let attr = |name: &str| -> f32 {
                let start = text.find(&format!(" {name}=\"")).unwrap_or_else(|| {
                    panic!("{path}: text without {name}: {text}");
                }) + name.len()
                    + 3;
                text[start..start + text[start..].find('"').unwrap()]
                    .parse()
                    .unwrap()
            };
            assert!(attr("x") + attr("textLength") <= 312.0, "{path}: {text}");
        }
    }
    assert!(
        css.contains(".example { display: block; width: 100%; max-width: 22rem; height: auto;"),
        "the card scales with the screen"
    );
}

// ---------------------------------------------------------------- item 11: nothing scrolls sideways

#[tokio::test]
async fn dependents_are_listed_as_cards_with_full_width_buttons() {
    // Arrange
    let t = TestApp::spawn();
    let (mut phone, _, _) = logged_in_with_a_dependent(&t).await;

    // Act
    let page = phone.get("/r/me/dependents").await;

    // Assert
    assert!(
        !page.body.contains("<table"),
        "no table to push 詳細/削除 off-screen"
    );
    let card = between(&page.body, "<li class=\"dep-card\">", "</li>");
    for text in [
        "山田 太郎",
        "男性",
        "国民年金の第3号被保険者",
        "画像が未アップロードです",
    ] {
        assert!(card.contains(text), "{text}: {card}");
    }
    assert!(
        card.contains("class=\"btn\" href=\"/r/me/dependents/"),
        "{card}"
    );
    assert!(
        card.contains(">詳細</a>") && card.contains(">削除</a>"),
        "{card}"
    );
}

#[tokio::test]
async fn phone_stylesheet_hides_file_inputs_and_gives_44_px_tap_targets() {
    // Arrange
    let t = TestApp::spawn();

    // Act
    let css = stylesheet(&t).await;

    // Assert
    assert!(
        !css.contains("input[type=file] { display: block; width: 100%"),
        "the hidden file input is never sized to the screen"
    );
    assert!(css.contains(".visually-hidden { position: absolute; width: 1px; height: 1px;"));
    for rule in [
        ".enrol-main .btn, .enrol-main input:not([type=radio]):not([type=hidden]), .enrol-main select, .enrol-main label.inline, .enrol-main summary { min-height: 44px;",
        ".enrol-main table.detail td { overflow-wrap: anywhere; }",
        ".enrol-who { overflow-wrap: anywhere;",
        ".dep-actions { display: flex;",
    ] {
        assert!(css.contains(rule), "{rule}");
    }
}

// ---------------------------------------------------------------- the real layout, in Chromium

/// Where the layout check can run: Chromium (`MYNA_CHROMIUM`, else /usr/bin/chromium) and
/// Node to drive it; `None` with the reason when this machine lacks one.
fn browser_tools() -> Result<(String, String), String> {
    let chromium = std::env::var("MYNA_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&chromium).exists() {
        return Err(format!("no Chromium at {chromium} (set MYNA_CHROMIUM)"));
    }
    let node = std::process::Command::new("node").arg("--version").output();
    match node {
        Ok(out) if out.status.success() => Ok((chromium, "node".into())),
        _ => Err("no `node` on PATH to drive Chromium".into()),
    }
}

#[tokio::test]
async fn phone_pages_fit_a_320_px_screen_in_chromium() {
    let (chromium, node) = match browser_tools() {
        Ok(tools) => tools,
        // infra/test.sh installs both and sets MYNA_REQUIRE_BROWSER: there, a skip is a failure.
        Err(reason) if std::env::var_os("MYNA_REQUIRE_BROWSER").is_some() => {
            panic!("MYNA_REQUIRE_BROWSER is set but {reason}")
        }
        Err(reason) => {
            eprintln!("SKIPPED phone_pages_fit_a_320_px_screen_in_chromium: {reason}");
            return;
        }
    };
    // Arrange: the product on a real socket; the phone's session cookie handed to Chromium.
    let t = TestApp::spawn();
    let (phone, mut pages, mut admin) = logged_in_with_a_dependent(&t).await;
    let (_, link) = t
        .mailed_registrant(&mut admin, OWNER, "jiro@example.jp")
        .await;
    pages.insert(0, link); // the first visit: set a password, passcode, consent
    let cookie = format!("myna_rsid={}", phone.cookies["myna_rsid"]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = t.router.clone();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/browser/phone_layout.mjs");

    // Act
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(node)
            .args([script, &chromium, &base, &cookie, "320,360,390"])
            .args(&pages)
            .output()
    })
    .await
    .unwrap()
    .expect("node runs");

    // Assert
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3 * 13, "{stdout}");
    let number_pages = lines.iter().filter(|p| p.get("numberBoxes").is_some());
    assert_eq!(number_pages.count(), 3 * 3, "step1, new and edit dependent");
    for page in &lines {
        let Some(boxes) = page.get("numberBoxes") else {
            continue;
        };
        let expect = |what: &str, values: [&str; 3], focused: u64| {
            let seen = &boxes[what];
            assert_eq!(seen["values"], serde_json::json!(values), "{what}: {page}");
            assert_eq!(seen["focused"], focused, "{what}: {page}");
        };
        expect("pasted", ["6214", "9832", "0257"], 2);
        expect("pastedTooLong", ["6214", "9832", "02571"], 2);
        expect("typed", ["6214", "9", ""], 1);
        expect("backspaced", ["6214", "", ""], 0);
    }
    for page in lines {
        let (scroll, screen) = (&page["scrollWidth"], &page["screenWidth"]);
        assert!(
            scroll.as_u64() <= screen.as_u64(),
            "scrolls sideways: {page}"
        );
        assert_eq!(page["wide"], serde_json::json!([]), "sticks out: {page}");
        assert_eq!(
            page["small"],
            serde_json::json!([]),
            "tap targets under 44 px: {page}"
        );
    }
}
