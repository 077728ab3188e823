//! ログインユーザ (manual ch.5): list, 新規登録 with 入力確認, 編集, パスワード変更, 削除, the rules
//! (not yourself, never the last 最高権限, one address once per tenant), a removed or demoted
//! user losing access at once, and one address serving several tenants (士業).

use axum::http::StatusCode;
use myna_tests::fixtures::{CONFIRM_PAGE, PW};
use myna_tests::{Browser, Page, TestApp};

const OWNER: &str = "owner@users.example.jp";
const NEW_PW: &str = "Momiji-2026x";

/// The 新規登録 form's fields for `email` with `role`.
fn user_fields<'a>(email: &'a str, role: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("family_name", "佐藤"),
        ("given_name", "一郎"),
        ("email", email),
        ("password", NEW_PW),
        ("password_confirm", NEW_PW),
        ("department", "総務部"),
        ("role", role),
        ("kind", "professional"),
        ("note", "顧問税理士"),
    ]
}

/// 入力確認 then 登録; returns the confirm page and the final response.
async fn add_user(b: &mut Browser, fields: &[(&str, &str)]) -> (Page, Page) {
    let confirm = b.submit("/users/new", "/users/new", fields).await;
    assert!(confirm.body.contains(CONFIRM_PAGE), "{}", confirm.body);
    let done = b.post_confirm(&confirm, "/users/new", &[]).await;
    (confirm, done)
}

/// The id of the login user with `email` in `owner`'s tenant.
async fn user_id(t: &TestApp, owner: &str, email: &str) -> String {
    let scope = t.scope_of(owner).await;
    myna::app::users::list(&scope)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.email == email)
        .unwrap_or_else(|| panic!("no user {email}"))
        .id
}

/// Opens the edit form of `id`, changes `changes`, confirms and saves.
async fn edit_user(b: &mut Browser, id: &str, changes: &[(&str, &str)]) -> Page {
    let path = format!("/users/{id}/edit");
    let form = b.get(&path).await;
    let mut fields: Vec<(String, String)> =
        ["family_name", "given_name", "email", "department", "note"]
            .iter()
            .map(|f| (f.to_string(), input_value(&form.body, f)))
            .collect();
    fields.push(("role".into(), checked(&form.body, "role")));
    fields.push(("kind".into(), checked(&form.body, "kind")));
    for (k, v) in changes {
        fields.retain(|(f, _)| f != k);
        fields.push((k.to_string(), v.to_string()));
    }
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let confirm = b.submit(&path, &path, &refs).await;
    if !confirm.body.contains(CONFIRM_PAGE) {
        return confirm;
    }
    b.post_confirm(&confirm, &path, &[]).await
}

fn input_value(body: &str, name: &str) -> String {
    if name == "note" {
        let start = body.find("name=\"note\"").unwrap();
        let rest = &body[start..];
        let open = rest.find('>').unwrap() + 1;
        return rest[open..]
            .split("</textarea>")
            .next()
            .unwrap()
            .to_string();
    }
    let field = body
        .split(&format!("name=\"{name}\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no {name}"));
    let tag = field.split('>').next().unwrap();
    tag.split("value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

fn checked(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    body.split(&marker)
        .skip(1)
        .find(|chunk| chunk.split('>').next().unwrap().contains("checked"))
        .map(|chunk| chunk.split('"').next().unwrap().to_string())
        .unwrap_or_else(|| panic!("nothing checked for {name}"))
}

/// 削除 of `id` through its confirmation page.
async fn delete_user(b: &mut Browser, id: &str) {
    let path = format!("/users/{id}/delete");
    let done = b.submit(&path, &path, &[]).await;
    assert_eq!(
        done.location(),
        Some("/users?done=deleted"),
        "{}",
        done.body
    );
}

/// The password step of `email` with [`NEW_PW`] answers as for an unknown address.
async fn assert_login_refused(t: &TestApp, email: &str) {
    let mut b = t.browser("203.0.113.77");
    let res = b
        .submit(
            "/login",
            "/login",
            &[
                ("email", email),
                ("password", NEW_PW),
                ("customer_number", ""),
            ],
        )
        .await;
    assert_ne!(res.location(), Some("/login/otp"), "{email} logged in");
    assert!(res
        .body
        .contains("メールアドレスまたはパスワードが正しくありません。"));
}

#[tokio::test]
async fn list_shows_the_signed_up_owner_and_no_coming_soon_page() {
    // Given a company just signed up
    let (_t, mut b) = TestApp::with_owner("株式会社ユーザ", OWNER).await;
    // When the owner opens ログインユーザ
    let page = b.get("/users").await;
    // Then the owner is listed as 最高権限 without a 削除 (themselves, the last owner)
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("この機能は現在準備中です"));
    assert!(page.body.contains(OWNER));
    assert!(page.body.contains("最高権限"));
    assert!(page.body.contains("ログイン中"));
    assert!(!page.body.contains("/delete\""));
    assert!(page.body.contains("href=\"/users/new\""));
}

#[tokio::test]
async fn create_registers_after_confirmation_and_the_new_user_logs_in_when_the_form_is_right() {
    // Given an owner
    let (t, mut b) = TestApp::with_owner("株式会社ユーザ", OWNER).await;
    // When they register a 士業 user through 入力確認 → 登録
    let (confirm, done) = add_user(&mut b, &user_fields("zeirishi@example.jp", "manager")).await;
    // Then the confirm page shows the values but never the password
    assert!(confirm.body.contains("zeirishi@example.jp"));
    assert!(confirm.body.contains("士業"));
    assert!(!confirm.body.contains(NEW_PW));
    assert_eq!(
        done.location(),
        Some("/users?done=created"),
        "{}",
        done.body
    );
    let list = b.get("/users?done=created").await;
    assert!(list.body.contains("ログインユーザを登録しました"));
    assert!(list.body.contains("zeirishi@example.jp"));
    assert!(list.body.contains("総務部"));
    assert!(list.body.contains("顧問税理士"));
    // And the new user is mailed (without the password) and can log in with it
    t.run_jobs().await;
    let mail = t.outbox.latest_to("zeirishi@example.jp").unwrap().unwrap();
    assert!(mail.mail.subject.contains("ログインユーザに登録されました"));
    assert!(!mail.mail.body.contains(NEW_PW));
    let mut new_user = t.login("zeirishi@example.jp", NEW_PW, None).await;
    assert_eq!(new_user.get("/home").await.status, StatusCode::OK);
    // And the registration is in the log under the owner's name
    let scope = t.scope_of(OWNER).await;
    let log = t.audit_of(&scope).await;
    let entry = log.iter().find(|e| e.action == "user.create").unwrap();
    assert!(entry.detail.contains("佐藤 一郎"));
    assert!(!entry.detail.contains(NEW_PW));
}

#[tokio::test]
async fn create_keeps_the_values_and_names_each_problem_when_the_input_is_invalid() {
    let (t, mut b) = TestApp::with_owner("株式会社ユーザ", OWNER).await;
    let mut fields = user_fields("not-an-address", "manager");
    fields.retain(|(k, _)| *k != "family_name" && *k != "password_confirm");
    fields.push(("password_confirm", "Other-2026x"));
    // When the form has mistakes
    let page = b.submit("/users/new", "/users/new", &fields).await;
    // Then it comes back with Japanese errors and what was typed, and nothing is saved
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("氏名（姓）を入力してください。"));
    assert!(page
        .body
        .contains("メールアドレスの形式が正しくありません。"));
    assert!(page.body.contains("value=\"not-an-address\""));
    assert!(page.body.contains("value=\"総務部\""));
    assert!(page.body.contains("顧問税理士"));
    assert!(!page.body.contains(NEW_PW));
    let scope = t.scope_of(OWNER).await;
    assert_eq!(myna::app::users::list(&scope).await.unwrap().len(), 1);
}

#[tokio::test]
async fn create_keeps_the_typed_password_sealed_when_going_back_from_the_confirm_page() {
    let (t, mut b) = TestApp::with_owner("株式会社ユーザ", OWNER).await;
    let confirm = b
        .submit(
            "/users/new",
            "/users/new",
            &user_fields("back@example.jp", "view_only"),
        )
        .await;
    // When 戻る is pressed on 入力確認
    let back = b
        .post_confirm(&confirm, "/users/new", &[("back", "1")])
        .await;
    // Then the form is filled again, the password sealed (not echoed)
    assert!(back.body.contains("value=\"back@example.jp\""));
    assert!(back.body.contains("入力済みのパスワードを使います"));
    assert!(!back.body.contains(NEW_PW));
    // And sending it again without retyping registers the same password
    let fields: Vec<(String, String)> = back
        .hidden_fields()
        .into_iter()
        .filter(|(k, _)| k == "sealed_password")
        .chain(
            user_fields("back@example.jp", "view_only")
                .into_iter()
                .filter(|(k, _)| !k.starts_with("password"))
                .map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .collect();
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let confirm = b.submit("/users/new", "/users/new", &refs).await;
    let done = b.post_confirm(&confirm, "/users/new", &[]).await;
    assert_eq!(
        done.location(),
        Some("/users?done=created"),
        "{}",
        done.body
    );
    t.login("back@example.jp", NEW_PW, None).await;
}

#[tokio::test]
async fn create_refuses_an_address_already_registered_in_the_tenant() {
    let (_t, mut b) = TestApp::with_owner("株式会社ユーザ", OWNER).await;
    // When the owner's own address is registered again (in another spelling)
    let page = b
        .submit(
            "/users/new",
            "/users/new",
            &user_fields("Owner@Users.Example.jp", "manager"),
        )
        .await;
    let page = if page.body.contains(CONFIRM_PAGE) {
        b.post_confirm(&page, "/users/new", &[]).await
    } else {
        page
    };
    // Then the form says so and keeps the input
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page
        .body
        .contains("すでにログインユーザとして登録されています"));
    assert!(page.body.contains("value=\"佐藤\""));
}

#[tokio::test]
async fn edit_changes_the_address_and_role_and_only_the_new_address_logs_in() {
    let (t, mut b) = TestApp::with_owner("株式会社ユーザ", OWNER).await;
    add_user(&mut b, &user_fields("old@example.jp", "view_only")).await;
    let id = user_id(&t, OWNER, "old@example.jp").await;
    // When the owner changes the address and the role
    let done = edit_user(
        &mut b,
        &id,
        &[("email", "new@example.jp"), ("role", "manager")],
    )
    .await;
    assert_eq!(
        done.location(),
        Some("/users?done=updated"),
        "{}",
        done.body
    );
    // Then the list shows the change, the new address logs in, the old one does not
    let list = b.get("/users").await;
    assert!(list.body.contains("new@example.jp"));
    assert!(!list.body.contains("old@example.jp"));
    t.login("new@example.jp", NEW_PW, None).await;
    assert_login_refused(&t, "old@example.jp").await;
    let scope = t.scope_of(OWNER).await;
    let log = t.audit_of(&scope).await;
    let entry = log.iter().find(|e| e.action == "user.update").unwrap();
    assert!(
        entry.detail.contains("権限: 閲覧のみ → 管理担当者"),
        "{}",
        entry.detail
    );
}

#[tokio::test]
async fn edit_refuses_to_demote_the_last_owner() {
    let (t, mut b) = TestApp::with_owner("株式会社ユーザ", OWNER).await;
    let id = user_id(&t, OWNER, OWNER).await;
    // When the only 最高権限 demotes themselves
    let page = edit_user(&mut b, &id, &[("role", "manager")]).await;
    // Then the form says why, and the role stays
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page.body.contains("最高権限のユーザがいなくなるため"));
    assert_eq!(b.get("/users").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_demoted_user_sees_the_new_role_at_once_and_a_deleted_user_is_refused_at_once() {
    let (t, mut b) = TestApp::with_owner("株式会社ユーザ", OWNER).await;
    add_user(&mut b, &user_fields("second@example.jp", "owner")).await;
    let id = user_id(&t, OWNER, "second@example.jp").await;
    let mut second = t.login("second@example.jp", NEW_PW, None).await;
    assert_eq!(second.get("/users").await.status, StatusCode::OK);
    // When the owner makes them 閲覧のみ
    edit_user(&mut b, &id, &[("role", "view_only")]).await;
    // Then their open session is refused ログインユーザ at once, but still sees HOME
    assert_eq!(second.get("/users").await.status, StatusCode::FORBIDDEN);
    assert_eq!(second.get("/home").await.status, StatusCode::OK);
    // When the owner deletes them through the confirmation page
    let confirm = b.get(&format!("/users/{id}/delete")).await;
    assert!(confirm.body.contains("ログインユーザ削除"));
    delete_user(&mut b, &id).await;
    // Then their session ends at the next request, and they cannot log in again
    let res = second.get("/home").await;
    assert_eq!(res.location(), Some("/login"));
    assert_login_refused(&t, "second@example.jp").await;
    // And the log still names them; a tombstone keeps the name only
    let scope = t.scope_of(OWNER).await;
    let deleted = myna::app::users::deleted(&scope).await.unwrap();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].name, "佐藤 一郎");
    let log = t.audit_of(&scope).await;
    assert!(log
        .iter()
        .any(|e| e.action == "auth.login" && e.actor_name.as_deref() == Some("佐藤 一郎")));
    assert!(log.iter().any(|e| e.action == "user.delete"));
}

#[tokio::test]
async fn delete_refuses_yourself_and_the_last_owner() {
    let (t, mut b) = TestApp::with_owner("株式会社ユーザ", OWNER).await;
    let me = user_id(&t, OWNER, OWNER).await;
    // When the owner tries to delete themselves (the form and a crafted post)
    let page = b.get(&format!("/users/{me}/delete")).await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.body.contains("ログイン中のご自身は削除できません。"));
    let csrf = b.get("/users").await.csrf().unwrap();
    let res = b
        .post(&format!("/users/{me}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    // Given a second owner, when that owner deletes the first, the first cannot delete back
    add_user(&mut b, &user_fields("second@example.jp", "owner")).await;
    let mut second = t.login("second@example.jp", NEW_PW, None).await;
    delete_user(&mut second, &me).await;
    let list = second.get("/users").await;
    assert!(!list.body.contains(OWNER));
    assert!(
        !list.body.contains("/delete\""),
        "the last owner has no 削除"
    );
    // And an unknown id is a 404
    let res = second.get("/users/01ARZ3NDEKTSV4RRFFQ69G5FAV/delete").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn password_change_by_the_owner_lets_the_user_log_in_with_the_new_one_and_tells_them() {
    let (t, mut b) = TestApp::with_owner("株式会社ユーザ", OWNER).await;
    add_user(&mut b, &user_fields("pw@example.jp", "manager")).await;
    let id = user_id(&t, OWNER, "pw@example.jp").await;
    let path = format!("/users/{id}/password");
    // A weak password is refused with the sign-up rules
    let res = b
        .submit(
            &path,
            &path,
            &[("password", "short"), ("password_confirm", "short")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    // When the owner sets a good one
    let res = b
        .submit(
            &path,
            &path,
            &[
                ("password", "Kaede-2026xy"),
                ("password_confirm", "Kaede-2026xy"),
            ],
        )
        .await;
    assert_eq!(res.location(), Some("/users?done=password"), "{}", res.body);
    // Then the user is mailed (without it) and logs in with the new one
    t.run_jobs().await;
    let mail = t.outbox.latest_to("pw@example.jp").unwrap().unwrap();
    assert!(mail.mail.subject.contains("パスワードが変更されました"));
    assert!(!mail.mail.body.contains("Kaede-2026xy"));
    t.login("pw@example.jp", "Kaede-2026xy", None).await;
    // And the owner's own row leads to the own screen (current password asked)
    let me = user_id(&t, OWNER, OWNER).await;
    let res = b.get(&format!("/users/{me}/password")).await;
    assert_eq!(res.location(), Some("/account/password"));
}

#[tokio::test]
async fn own_password_change_needs_the_current_password_and_stops_guessing() {
    let (t, mut b) = TestApp::with_owner("株式会社ユーザ", OWNER).await;
    let change = |current: &'static str| {
        [
            ("current_password", current),
            ("password", "Kaede-2026xy"),
            ("password_confirm", "Kaede-2026xy"),
        ]
    };
    // A wrong current password is refused, five times, then even the right one waits
    for _ in 0..5 {
        let res = b
            .submit(
                "/account/password",
                "/account/password",
                &change("Wrong-2026x"),
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.body.contains("現在のパスワードが正しくありません。"));
    }
    let res = b
        .submit("/account/password", "/account/password", &change(PW))
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    // After the window, the right current password changes it
    t.clock.advance(time::Duration::minutes(16));
    let mut elsewhere = t.login(OWNER, PW, None).await;
    let mut b = t.login(OWNER, PW, None).await;
    let res = b
        .submit("/account/password", "/account/password", &change(PW))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains("パスワードを変更しました"));
    // The session that changed it goes on; the one opened elsewhere with the old password ends
    assert_eq!(b.get("/home").await.status, StatusCode::OK);
    assert_eq!(elsewhere.get("/home").await.location(), Some("/login"));
    t.login(OWNER, "Kaede-2026xy", None).await;
    let scope = t.scope_of(OWNER).await;
    let log = t.audit_of(&scope).await;
    assert_eq!(
        log.iter()
            .filter(|e| e.action == "user.password_change_failed")
            .count(),
        5
    );
    assert!(log.iter().any(|e| e.action == "user.password_change"));
}

#[tokio::test]
async fn one_address_in_two_tenants_logs_in_to_each_with_its_customer_number() {
    // Given two companies, each registering the same 税理士 with the same password
    let t = TestApp::spawn();
    let customer_a = t.signup("株式会社エー", "a-owner@example.jp", PW).await;
    let mut a = t.login("a-owner@example.jp", PW, None).await;
    let customer_b = t.signup("株式会社ビー", "b-owner@example.jp", PW).await;
    let mut b = t.login("b-owner@example.jp", PW, None).await;
    add_user(&mut a, &user_fields("tax@example.jp", "view_only")).await;
    add_user(&mut b, &user_fields("tax@example.jp", "manager")).await;
    // When they log in without a customer number, they are asked for one
    let mut c = t.browser("203.0.113.90");
    let res = c
        .submit(
            "/login",
            "/login",
            &[
                ("email", "tax@example.jp"),
                ("password", NEW_PW),
                ("customer_number", ""),
            ],
        )
        .await;
    assert!(res.body.contains("複数のアカウント"), "{}", res.body);
    // When they give each customer number, they reach each company
    let mut in_a = t.login("tax@example.jp", NEW_PW, Some(&customer_a)).await;
    assert!(in_a.get("/home").await.body.contains("株式会社エー"));
    let mut in_b = t.login("tax@example.jp", NEW_PW, Some(&customer_b)).await;
    assert!(in_b.get("/home").await.body.contains("株式会社ビー"));
    // And deleting them in one company leaves the other
    let scope_a = t.scope_of("a-owner@example.jp").await;
    let id = myna::app::users::list(&scope_a)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.email == "tax@example.jp")
        .unwrap()
        .id;
    delete_user(&mut a, &id).await;
    let mut only_b = t.login("tax@example.jp", NEW_PW, None).await;
    assert!(only_b.get("/home").await.body.contains("株式会社ビー"));
}
