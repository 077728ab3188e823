//! HOME (manual ch.3) and the 準備中 places.

use axum::http::StatusCode;
use myna::app::tenants::{self, Counters};
use myna::web::home::COMING_SOON;
use myna_tests::TestApp;

#[tokio::test]
async fn home_shows_company_user_plan_menus_and_passcode_warning() {
    let t = TestApp::spawn();
    t.signup("株式会社ホーム", "home@example.jp", "Sakura-2026x")
        .await;
    let mut b = t.login("home@example.jp", "Sakura-2026x", None).await;
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
        "プラン変更へ",
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
    let t = TestApp::spawn();
    t.signup("株式会社カウント", "count@example.jp", "Sakura-2026x")
        .await;
    let mut b = t.login("count@example.jp", "Sakura-2026x", None).await;
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
async fn every_linked_capability_answers_with_a_coming_soon_page() {
    let t = TestApp::spawn();
    t.signup("株式会社リンク", "links@example.jp", "Sakura-2026x")
        .await;
    let mut b = t.login("links@example.jp", "Sakura-2026x", None).await;
    let home = b.get("/home").await;
    for (path, title) in COMING_SOON {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(
            page.body.contains("準備中") && page.body.contains(title),
            "{path}"
        );
    }
    // Every link on HOME leads somewhere that exists.
    for href in home
        .body
        .split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
    {
        if href.starts_with('/') {
            assert_ne!(
                b.get(href).await.status,
                StatusCode::NOT_FOUND,
                "broken link {href}"
            );
        }
    }
    let mut stranger = t.browser("198.51.100.9");
    assert_eq!(
        stranger.get("/registrants").await.location(),
        Some("/login")
    );
    assert_eq!(stranger.get("/home").await.location(), Some("/login"));
}
