//! What registrants and dependents share on the admin screens: the one 入力確認 flow shows each
//! form's page under its own menu entry.

use axum::http::StatusCode;
use myna_tests::fixtures::{dependent, person, CONFIRM_PAGE, NUMBER};
use myna_tests::TestApp;

const CURRENT_REGISTRANTS: &str =
    "<a href=\"/registrants\" class=\"current\" aria-current=\"page\">";

#[tokio::test]
async fn confirm_page_marks_the_registrants_menu_current_when_a_registrant_or_dependent_is_entered()
{
    // GIVEN an owner with one registrant
    let (_t, mut b) = TestApp::with_owner("株式会社ナビ", "nav@example.jp").await;
    let saved = b
        .add_registrant(&person("山田", "太郎", "E001", ""), &[])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let id = saved.registrant_id();

    // WHEN a second registrant and a dependent reach their 入力確認 pages
    let registrant = b
        .submit(
            "/registrants/new",
            "/registrants/new",
            &person("佐藤", "花子", "E002", NUMBER),
        )
        .await;
    let path = format!("/registrants/{id}/dependents/new");
    let dependent = b
        .submit(&path, &path, &dependent("花子", "spouse", "dependent", ""))
        .await;

    // THEN each is the 入力確認 page with マイナンバー管理 as the current menu entry, and only it
    for page in [&registrant, &dependent] {
        assert!(page.body.contains(CONFIRM_PAGE), "{}", page.body);
        assert!(page.body.contains(CURRENT_REGISTRANTS), "{}", page.body);
        assert_eq!(page.body.matches("aria-current=\"page\"").count(), 1);
    }
}
