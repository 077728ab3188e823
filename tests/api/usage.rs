//! マイナンバーの表示: password and purpose, no caching, audit with the purpose, rate limits.

use axum::http::StatusCode;
use myna_tests::fixtures::{NUMBER, PW};
use myna_tests::{Browser, TestApp};

async fn setup(t: &TestApp, email: &str) -> (Browser, String) {
    let mut b = t.owner("株式会社ユーセージ", email).await;
    let fields = [
        ("family_name", "山田"),
        ("given_name", "太郎"),
        ("attribute", "employee1"),
        ("number1", &NUMBER[..4]),
        ("number2", &NUMBER[4..8]),
        ("number3", &NUMBER[8..]),
    ];
    let confirm = b
        .submit("/registrants/new", "/registrants/new", &fields)
        .await;
    let saved = b.post_confirm(&confirm, "/registrants/new", &[]).await;
    let id = saved.registrant_id();
    (b, id)
}

#[tokio::test]
async fn the_number_shows_only_with_password_and_purpose_and_the_showing_is_audited() {
    let t = TestApp::spawn();
    let (mut b, id) = setup(&t, "reveal@example.jp").await;
    let path = format!("/registrants/{id}/reveal");
    let form = b.get(&path).await;
    assert!(
        form.body.contains("給与所得・退職所得の源泉徴収票作成事務")
            && form
                .body
                .contains("外注先・業務委託者に関する源泉徴収票・支払調書作成事務")
    );

    let no_purpose = b.submit(&path, &path, &[("password", PW)]).await;
    assert_eq!(no_purpose.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        no_purpose.body.contains("利用目的を選択してください。")
            && !no_purpose.body.contains("6214")
    );
    let no_password = b
        .submit(&path, &path, &[("purpose", "salary_withholding")])
        .await;
    assert!(
        no_password.body.contains("パスワードを入力してください。")
            && !no_password.body.contains("6214")
    );

    let shown = b
        .submit(
            &path,
            &path,
            &[("password", PW), ("purpose", "employment_insurance")],
        )
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.body.contains("6214 9832 0257"), "{}", shown.body);
    assert!(shown.body.contains("雇用保険届出事務"));
    assert_eq!(shown.headers.get("cache-control").unwrap(), "no-store");
    assert!(shown.body.contains("http-equiv=\"refresh\" content=\"60;"));

    let scope = t.scope_of("reveal@example.jp").await;
    let (entries, _) = t
        .app
        .audit
        .list(Some(scope.tenant()), 20, None)
        .await
        .unwrap();
    let reveal = entries
        .iter()
        .find(|e| e.action == "number.reveal")
        .expect("audited");
    assert!(
        reveal.detail.contains("利用目的: 雇用保険届出事務") && reveal.detail.contains("山田 太郎")
    );
    assert!(entries.iter().all(|e| !e.detail.contains(NUMBER)));
}

#[tokio::test]
async fn wrong_passwords_are_refused_audited_and_rate_limited() {
    let t = TestApp::spawn();
    let (mut b, id) = setup(&t, "guess@example.jp").await;
    let path = format!("/registrants/{id}/reveal");
    for _ in 0..5 {
        let res = b
            .submit(
                &path,
                &path,
                &[
                    ("password", "Wrong-pass-1"),
                    ("purpose", "salary_withholding"),
                ],
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.body.contains("パスワードが正しくありません。") && !res.body.contains("6214"));
    }
    let locked = b
        .submit(
            &path,
            &path,
            &[("password", PW), ("purpose", "salary_withholding")],
        )
        .await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        !locked.body.contains("6214"),
        "even the right password waits out the window"
    );
    let scope = t.scope_of("guess@example.jp").await;
    let (entries, _) = t
        .app
        .audit
        .list(Some(scope.tenant()), 30, None)
        .await
        .unwrap();
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.action == "number.reveal_denied")
            .count(),
        5
    );
}

#[tokio::test]
async fn a_view_only_user_may_see_a_number_for_a_purpose_but_another_tenant_may_not() {
    let t = TestApp::spawn();
    let (mut b, id) = setup(&t, "viewonly@example.jp").await;
    let scope = t.scope_of("viewonly@example.jp").await;
    t.set_role(&scope, "view_only").await;
    let path = format!("/registrants/{id}/reveal");
    // Off until the company allows 閲覧のみ to reveal numbers.
    assert_eq!(b.get(&path).await.status, StatusCode::FORBIDDEN);
    t.set_view_only_may_reveal(&scope, true).await;
    let shown = b
        .submit(
            &path,
            &path,
            &[("password", PW), ("purpose", "health_pension_insurance")],
        )
        .await;
    assert!(shown.body.contains("6214 9832 0257"));

    t.signup("株式会社ビー", "other@example.jp", PW).await;
    let mut other = t.login("other@example.jp", PW, None).await;
    assert_eq!(other.get(&path).await.status, StatusCode::NOT_FOUND);
    let res = other
        .submit(
            "/home",
            &path,
            &[("password", PW), ("purpose", "health_pension_insurance")],
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(!res.body.contains("6214"));
}
