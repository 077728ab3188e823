//! HOME (manual ch.3) and the 準備中 places.

use axum::http::StatusCode;
use myna::app::tenants::{self, Counters};
use myna_tests::fixtures::PW;
use myna_tests::{Browser, TestApp};

#[tokio::test]
async fn home_shows_company_user_plan_menus_and_passcode_warning() {
    let (_t, mut b) = TestApp::with_owner("株式会社ホーム", "home@example.jp").await;
    let page = b.get("/home").await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "ようこそ <strong>株式会社ホーム</strong> 山田 太郎様",
        "ログアウト",
        "マイナンバー管理",
        "ログインユーザ",
        "操作履歴",
        "操作ガイド",
        "契約者情報",
        "セキュリティ",
        "契約プラン",
        "お知らせ",
        "プラン10",
        "かんたんマイナンバー入力",
        "スマホで収集（簡易登録）",
        "マイナンバーの承認（本人確認作業）",
        "マイナンバーを確認する（登録者の検索）",
        "マイナンバーのデータをダウンロードする",
        "詳しい操作",
        "パスコードが入力されていません。",
    ] {
        assert!(page.body.contains(text), "HOME lacks {text}");
    }
}

#[tokio::test]
async fn home_counts_follow_the_counters_maintained_on_write() {
    let (t, mut b) = TestApp::with_owner("株式会社カウント", "count@example.jp").await;
    let page = b.get("/home").await;
    assert!(page
        .body
        .contains("<span id=\"count-registrants\">0</span>"));

    // GIVEN a write that adds 3 registrants (2 unregistered, 1 pending) and 2 dependents
    let scope = t.scope_of("count@example.jp").await;
    let delta = Counters {
        registrants: 3,
        unregistered: 2,
        pending: 1,
        dependents: 2,
        dependents_retired: 1,
        ..Default::default()
    };
    scope
        .transact(vec![Counters::delta_op(&scope, &delta).unwrap()])
        .await
        .unwrap();

    // THEN HOME shows the eight figures
    let page = b.get("/home").await;
    for (id, n) in [
        ("count-registrants", 3),
        ("count-unregistered", 2),
        ("count-pending", 1),
        ("count-retired", 0),
        ("count-dependents", 2),
        ("count-dependents-unregistered", 0),
        ("count-dependents-pending", 0),
        ("count-dependents-retired", 1),
    ] {
        assert!(
            page.body.contains(&format!("<span id=\"{id}\">{n}</span>")),
            "{id} should be {n}"
        );
    }
    assert_eq!(tenants::counters(&scope).await.unwrap().registrants, 3);
}

#[tokio::test]
async fn every_link_on_home_leads_to_a_real_screen_and_none_says_coming_soon() {
    let (t, mut b) = TestApp::with_owner("株式会社リンク", "links@example.jp").await;
    let home = b.get("/home").await;
    // Every link on HOME leads somewhere that exists, and no screen is 準備中.
    for href in home
        .body
        .split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
    {
        if href.starts_with('/') {
            let page = b.get(href).await;
            assert_ne!(page.status, StatusCode::NOT_FOUND, "broken link {href}");
            assert!(!page.body.contains("準備中"), "{href} is still 準備中");
        }
    }
    let mut stranger = t.browser("198.51.100.9");
    assert_eq!(
        stranger.get("/registrants").await.location(),
        Some("/login")
    );
    assert_eq!(stranger.get("/home").await.location(), Some("/login"));
}

/// オプションログイン of the owner of "option@example.jp" with the right password.
async fn option_login(b: &mut Browser, customer_number: &str) -> myna_tests::Page {
    let fields = [
        ("email", "option@example.jp"),
        ("password", PW),
        ("customer_number", customer_number),
    ];
    b.submit("/login", "/login", &fields).await
}

#[tokio::test]
async fn option_login_names_the_customer_number_when_a_wrong_one_is_typed() {
    // GIVEN a company whose owner knows the address and password
    let t = TestApp::spawn();
    let customer = t
        .signup("株式会社オプション", "option@example.jp", PW)
        .await;
    let wrong = if customer == "1234567" {
        "7654321"
    } else {
        "1234567"
    };
    let mut b = t.browser("203.0.113.44");

    // WHEN オプションログイン is tried with a well-formed but wrong お客様番号
    let res = option_login(&mut b, wrong).await;

    // THEN (the password being right) the message says the customer number is wrong, and keeps it
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(
        res.body.contains("お客様番号が正しくありません。"),
        "{}",
        res.body
    );
    assert!(res.body.contains(&format!("value=\"{wrong}\"")));

    // AND a malformed one is told its rule
    let res = option_login(&mut b, "12-34").await;
    assert!(res
        .body
        .contains("お客様番号は7桁の数字で入力してください。"));
}

#[tokio::test]
async fn home_notices_come_from_data_dated_and_each_user_can_dismiss_them() {
    // GIVEN a new account
    let (t, mut b) = TestApp::with_owner("株式会社お知らせ", "notice@example.jp").await;
    let scope = t.scope_of("notice@example.jp").await;
    let today = myna::domain::format_slash(t.clock_today());

    // WHEN HOME is opened the first time
    let home = b.get("/home").await;

    // THEN it shows the account's own dated notices: the welcome and the trial's end
    assert!(home.body.contains("<time datetime="), "{}", home.body);
    assert!(home.body.contains(&today));
    assert!(home.body.contains("id=\"notice-getting-started\""));
    assert!(home.body.contains("id=\"notice-trial\""));
    assert!(home.body.contains("無料お試し期間は"));
    assert!(
        !home.body.contains("2026/11/24"),
        "the old fixed text is gone"
    );

    // AND a notice written later (another capability's) shows too
    let notice = myna::app::home::Notice {
        id: "plan-limit".into(),
        date: t.clock_today(),
        text: "登録可能人数の上限に近づいています。".into(),
        link: Some(("/registrants".into(), "登録者を確認する".into())),
    };
    myna::app::home::post(&scope, &notice).await.unwrap();
    let home = b.get("/home").await;
    assert!(home.body.contains("登録可能人数の上限に近づいています。"));
    assert!(home
        .body
        .contains("<a href=\"/registrants\">登録者を確認する</a>"));

    // WHEN the user closes the welcome notice
    let res = b
        .submit("/home", "/home/notices/getting-started/dismiss", &[])
        .await;
    assert_eq!(res.location(), Some("/home"));

    // THEN it is gone for this user and stays gone; the others remain
    let home = b.get("/home").await;
    assert!(!home.body.contains("id=\"notice-getting-started\""));
    assert!(home.body.contains("id=\"notice-trial\""));
    assert!(home.body.contains("登録可能人数の上限に近づいています。"));
    // AND a dismissal cannot be forged without the page's token
    let res = b.post("/home/notices/trial/dismiss", &[]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(b.get("/home").await.body.contains("id=\"notice-trial\""));
}

#[tokio::test]
async fn every_home_text_pointing_to_a_screen_points_to_one_that_exists() {
    let (_t, mut b) = TestApp::with_owner("株式会社リンク先", "targets@example.jp").await;
    let home = b.get("/home").await;
    let main = home.body.split("<main class=\"app-main\">").nth(1).unwrap();
    let main = main.split("</main>").next().unwrap();
    assert!(!main.contains("準備中"), "{main}");
    assert!(
        !main.contains("プロフィール"),
        "there is no プロフィール screen"
    );
    let seen = b.assert_links_lead_to_working_screens(main, "HOME").await;
    assert!(seen >= 10, "HOME's links were not read");
}
