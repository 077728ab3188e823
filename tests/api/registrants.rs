//! マイナンバー管理: registrants and groups, through the HTTP routes.

use axum::http::StatusCode;
use myna::app::registrants as regs;
use myna::app::tenants;
use myna::ports::{Condition, Query};
use myna_tests::fixtures::{dependent, person, CONFIRM_PAGE, NUMBER, PW};
use myna_tests::TestApp;

/// The company every owner here signs up.
const COMPANY: &str = "株式会社レジスト";

#[tokio::test]
async fn adding_a_registrant_confirms_then_saves_sealed_and_counts_on_home() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "add@example.jp").await;
    let confirm = b
        .submit(
            "/registrants/new",
            "/registrants/new",
            &person("山田", "太郎", "E001", NUMBER),
        )
        .await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains("入力確認") && confirm.body.contains("********0257"));
    assert!(
        !confirm.body.contains("0257\"") && !confirm.body.contains("6214"),
        "the confirm page carries the number sealed, not in digits"
    );
    assert!(
        confirm.body.contains("1980/01/01（昭和55年1月1日）"),
        "era date shown"
    );
    assert!(
        !confirm.body.contains("value=\"山田\" id="),
        "confirm page shows, not edits"
    );

    let saved = b.post_confirm(&confirm, "/registrants/new", &[]).await;
    let id = saved.registrant_id();
    let detail = b.get(saved.location().unwrap()).await;
    assert!(detail.body.contains("登録者を追加しました。"));
    assert!(
        detail.body.contains("山田 太郎")
            && detail.body.contains("********0257")
            && detail.body.contains("承認待")
    );
    assert!(
        !detail.body.contains(NUMBER),
        "the number is never shown in full"
    );

    let home = b.get("/home").await;
    assert!(home
        .body
        .contains("<span id=\"count-registrants\">1</span>"));
    assert!(home.body.contains("<span id=\"count-pending\">1</span>"));
    assert!(home
        .body
        .contains("<span id=\"count-unregistered\">0</span>"));

    let scope = t.scope_of("add@example.jp").await;
    let stored = regs::get(&scope, &id).await.unwrap().unwrap();
    let sealed = stored.person.number.unwrap();
    assert!(!sealed.sealed.contains(NUMBER));
    let (entries, _) = t
        .app
        .audit
        .list(Some(scope.tenant()), 10, None)
        .await
        .unwrap();
    let created = entries
        .iter()
        .find(|e| e.action == "registrant.create")
        .unwrap();
    assert_eq!(created.target.as_deref(), Some(id.as_str()));
    assert!(created.detail.contains("山田 太郎") && !created.detail.contains(NUMBER));
}

#[tokio::test]
async fn a_refused_form_keeps_its_input_and_says_what_is_wrong() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "form@example.jp").await;
    let mut fields = person("", "花子", "E002", "621498320258");
    fields.push(("note", "夜勤あり"));
    let res = b
        .submit("/registrants/new", "/registrants/new", &fields)
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("氏名（姓）を入力してください。"));
    assert!(res.body.contains("チェックデジットが一致しません"));
    assert!(
        res.body.contains("value=\"花子\"")
            && res.body.contains("value=\"E002\"")
            && res.body.contains("夜勤あり")
    );
    assert!(
        res.body.contains("value=\"S55/1/1\""),
        "dates come back as typed"
    );

    let mut bad_date = person("佐藤", "一郎", "E003", "");
    bad_date[8] = ("birth_date", "H31.5.1");
    let res = b
        .submit("/registrants/new", "/registrants/new", &bad_date)
        .await;
    assert!(
        res.body.contains("平成31年5月1日は存在しません"),
        "{}",
        res.body
    );
    let scope = t.scope_of("form@example.jp").await;
    assert_eq!(
        tenants::counters(&scope).await.unwrap().registrants,
        0,
        "nothing saved"
    );
}

#[tokio::test]
async fn the_plan_limit_stops_the_eleventh_registrant_on_plan_10() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "plan@example.jp").await;
    for i in 0..10 {
        let code = format!("P{i:03}");
        let res = b
            .add_registrant(&person("社員", "番号", &code, ""), &[])
            .await;
        assert_eq!(
            res.status,
            StatusCode::SEE_OTHER,
            "registrant {i}: {}",
            res.body
        );
    }
    let res = b
        .add_registrant(&person("社員", "十一", "P010", ""), &[])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.body.contains(
            "ご契約のプラン（プラン10）の登録可能人数（10人）を超えるため登録できません。"
        ),
        "{}",
        res.body
    );
    assert!(res.body.contains("value=\"十一\""), "the form is kept");
    let scope = t.scope_of("plan@example.jp").await;
    assert_eq!(tenants::counters(&scope).await.unwrap().registrants, 10);
}

#[tokio::test]
async fn a_number_already_registered_is_named_and_needs_a_deliberate_second_save() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "dup@example.jp").await;
    let first = b
        .add_registrant(&person("山田", "太郎", "D001", NUMBER), &[])
        .await;
    let first_id = first.registrant_id();

    let confirm = b
        .submit(
            "/registrants/new",
            "/registrants/new",
            &person("山田", "タロー", "D002", NUMBER),
        )
        .await;
    assert!(confirm
        .body
        .contains("同じマイナンバーがすでに登録されています。"));
    assert!(
        confirm.body.contains(&format!("/registrants/{first_id}"))
            && confirm.body.contains("山田 太郎（社員コード D001）")
    );
    // Saving without ticking the box is refused again with the warning.
    let again = b.post_confirm(&confirm, "/registrants/new", &[]).await;
    assert!(again
        .body
        .contains("同じマイナンバーがすでに登録されています。"));
    let scope = t.scope_of("dup@example.jp").await;
    assert_eq!(tenants::counters(&scope).await.unwrap().registrants, 1);

    let saved = b
        .post_confirm(&confirm, "/registrants/new", &[("allow_duplicate", "on")])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(tenants::counters(&scope).await.unwrap().registrants, 2);
}

#[tokio::test]
async fn a_number_held_by_a_dependent_links_the_warning_to_its_registrants_page() {
    // given a registrant whose dependent holds NUMBER
    let (_t, mut b) = TestApp::with_owner(COMPANY, "depdup@example.jp").await;
    let owner = b
        .add_registrant(&person("山田", "太郎", "P001", ""), &[])
        .await
        .registrant_id();
    let saved = b
        .add_dependent(
            &owner,
            &dependent("花子", "spouse", "dependent", NUMBER),
            &[],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    // when another registrant is given the same number
    let confirm = b
        .submit(
            "/registrants/new",
            "/registrants/new",
            &person("鈴木", "一郎", "P002", NUMBER),
        )
        .await;
    // then the warning names the dependent and links to a page that exists: its registrant's
    assert!(confirm
        .body
        .contains("同じマイナンバーがすでに登録されています。"));
    let link = format!("<a href=\"/registrants/{owner}\">");
    assert!(confirm.body.contains(&link), "{}", confirm.body);
    assert_eq!(
        b.get(&format!("/registrants/{owner}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_employee_code_is_unique_within_the_tenant() {
    let (_t, mut b) = TestApp::with_owner(COMPANY, "code@example.jp").await;
    b.add_registrant(&person("山田", "太郎", "C001", ""), &[])
        .await;
    let res = b
        .add_registrant(&person("鈴木", "次郎", "C001", ""), &[])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("この社員コードはすでに使われています。"));
}

#[tokio::test]
async fn editing_keeps_the_number_unless_a_new_one_is_typed_and_delete_needs_confirmation() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "edit@example.jp").await;
    let id = b
        .add_registrant(&person("山田", "太郎", "X001", ""), &[])
        .await
        .registrant_id();
    let scope = t.scope_of("edit@example.jp").await;
    assert_eq!(tenants::counters(&scope).await.unwrap().unregistered, 1);

    let edit_path = format!("/registrants/{id}/edit");
    let form = b.get(&edit_path).await;
    assert!(form.body.contains("value=\"山田\"") && form.body.contains("value=\"X001\""));
    let mut fields = person("山田", "太朗", "X001", NUMBER);
    let confirm = b.submit(&edit_path, &edit_path, &fields).await;
    let saved = b.post_confirm(&confirm, &edit_path, &[]).await;
    assert_eq!(
        saved.location(),
        Some(format!("/registrants/{id}?done=updated").as_str()),
        "{}",
        saved.body
    );
    let r = regs::get(&scope, &id).await.unwrap().unwrap();
    assert_eq!(
        (r.person.given_name.as_str(), r.person.status.label()),
        ("太朗", "承認待")
    );
    let c = tenants::counters(&scope).await.unwrap();
    assert_eq!((c.unregistered, c.pending), (0, 1));

    // An edit without a number keeps the stored one.
    fields = person("山田", "太郎", "X001", "");
    let confirm = b.submit(&edit_path, &edit_path, &fields).await;
    assert!(confirm.body.contains("変更しない"));
    b.post_confirm(&confirm, &edit_path, &[]).await;
    assert_eq!(
        regs::get(&scope, &id)
            .await
            .unwrap()
            .unwrap()
            .person
            .number
            .unwrap()
            .last4,
        "0257"
    );

    let ask = b.get(&format!("/registrants/{id}/delete")).await;
    assert!(ask.body.contains("元に戻せません"));
    assert!(
        regs::get(&scope, &id).await.unwrap().is_some(),
        "asking deletes nothing"
    );
    let (_, res) = b
        .dispose(&format!("/registrants/{id}/delete"), "mistaken", "")
        .await;
    assert!(res.location().unwrap().starts_with("/disposal/"));
    assert!(regs::get(&scope, &id).await.unwrap().is_none());
    let c = tenants::counters(&scope).await.unwrap();
    assert_eq!((c.registrants, c.pending), (0, 0));
    // The code and the number are free again.
    assert_eq!(
        b.add_registrant(&person("山田", "太郎", "X001", NUMBER), &[])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let (entries, _) = t
        .app
        .audit
        .list(Some(scope.tenant()), 20, None)
        .await
        .unwrap();
    for action in [
        "registrant.create",
        "registrant.update",
        "registrant.delete",
    ] {
        assert!(
            entries.iter().any(|e| e.action == action),
            "{action} not audited"
        );
    }
}

#[tokio::test]
async fn the_list_searches_by_name_whatever_the_kana_or_width_and_pages_by_50() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "list@example.jp").await;
    let scope = t.scope_of("list@example.jp").await;
    // Plan changes arrive later; a larger plan is set directly.
    let mut profile = scope.get(&scope.key("PROFILE")).await.unwrap().unwrap();
    profile.attrs.insert("plan".into(), 100.into());
    scope.put(profile, Condition::None).await.unwrap();

    let group = b
        .submit(
            "/registrants/groups/new",
            "/registrants/groups/new",
            &[("name", "総務部")],
        )
        .await;
    assert!(
        group.body.contains("入力確認") || group.body.contains("以下の内容で登録します"),
        "{}",
        group.body
    );
    b.submit(
        "/registrants/groups/new",
        "/registrants/groups/new",
        &[("name", "総務部"), ("confirmed", "1")],
    )
    .await;
    let groups = myna::app::groups::list(&scope).await.unwrap();
    assert_eq!(groups.len(), 1);
    let group_id = groups[0].id.clone();

    for i in 0..60 {
        let code = format!("L{i:03}");
        let mut fields = person("社員", "一般", &code, "");
        fields[2] = ("family_kana", "シャイン");
        if i == 7 {
            fields[0] = ("family_name", "山田");
            fields[2] = ("family_kana", "ﾔﾏﾀﾞ");
        }
        let g = if i < 5 { group_id.as_str() } else { "" };
        fields.push(("group_id", g));
        assert_eq!(
            b.add_registrant(&fields, &[]).await.status,
            StatusCode::SEE_OTHER
        );
    }
    let page1 = b.get("/registrants").await;
    assert!(
        page1.body.contains("60件（1 / 2ページ）"),
        "{}",
        &page1.body[..500.min(page1.body.len())]
    );
    assert_eq!(page1.body.matches("<tr class=").count(), 50);
    let page2 = b.get("/registrants?page=2").await;
    assert_eq!(page2.body.matches("<tr class=").count(), 10);
    assert!(page2.body.contains("L059"));

    for query in ["やまだ", "ヤマダ", "ﾔﾏ", "山田"] {
        let found = b
            .get(&format!("/registrants?name={}", urlencode(query)))
            .await;
        assert!(found.body.contains("1件"), "{query}");
        assert!(found.body.contains("L007"), "{query}");
    }
    let in_group = b.get(&format!("/registrants?group={group_id}")).await;
    assert!(in_group.body.contains("5件"));
    assert!(in_group.body.contains("総務部"));
    let none = b
        .get("/registrants?name=%E5%AD%98%E5%9C%A8%E3%81%97%E3%81%AA%E3%81%84")
        .await;
    assert!(none.body.contains("条件に合う登録者はいません。"));
    let bad = b.get("/registrants?retired_month=2026-13").await;
    assert!(bad.body.contains("退職日（年月）"));

    // The pages above left this container's copy of the directory current: a group filter
    // and the list as first opened each cost only its version check.
    let filter = regs::Filter {
        group: group_id.clone(),
        ..Default::default()
    };
    assert_eq!(regs::list(&scope, &filter).await.unwrap().store_calls, 1);
    let first = regs::list(&scope, &regs::Filter::default()).await.unwrap();
    assert_eq!(
        (first.store_calls, first.total, first.rows.len()),
        (1, 60, 50)
    );
    assert_eq!(first.rows[0].code, "L000");
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test]
async fn deleting_a_group_asks_first_and_leaves_its_members_ungrouped() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "group@example.jp").await;
    let scope = t.scope_of("group@example.jp").await;
    b.submit(
        "/registrants/groups/new",
        "/registrants/groups/new",
        &[("name", "営業部"), ("confirmed", "1")],
    )
    .await;
    let dup = b
        .submit(
            "/registrants/groups/new",
            "/registrants/groups/new",
            &[("name", "営業部")],
        )
        .await;
    assert!(dup
        .body
        .contains("「営業部」というグループはすでに登録されています。"));
    let g = myna::app::groups::list(&scope).await.unwrap().remove(0);

    let a = b
        .add_registrant(&person("青木", "一", "G001", ""), &[])
        .await
        .registrant_id();
    let c = b
        .add_registrant(&person("千葉", "三", "G002", ""), &[])
        .await
        .registrant_id();
    let members_path = format!("/registrants/groups/{}/members", g.id);
    let form = b.get(&members_path).await;
    assert!(form.body.contains("青木 一") && form.body.contains("千葉 三"));
    b.submit(
        &members_path,
        &members_path,
        &[("member", &a), ("member", &c)],
    )
    .await;
    assert_eq!(
        regs::get(&scope, &a)
            .await
            .unwrap()
            .unwrap()
            .group_id
            .as_deref(),
        Some(g.id.as_str())
    );
    let form = b.get(&members_path).await;
    assert!(
        !form.body.contains("青木 一"),
        "grouped registrants are not offered again"
    );

    let ask = b.get(&format!("/registrants/groups/{}/delete", g.id)).await;
    assert!(ask.body.contains("2人のメンバーがいます") && ask.body.contains("グループなし"));
    let res = b
        .submit(
            &format!("/registrants/groups/{}/delete", g.id),
            &format!("/registrants/groups/{}/delete", g.id),
            &[],
        )
        .await;
    assert_eq!(
        res.location(),
        Some("/registrants/groups?done=group_deleted")
    );
    assert!(myna::app::groups::list(&scope).await.unwrap().is_empty());
    for id in [&a, &c] {
        let r = regs::get(&scope, id)
            .await
            .unwrap()
            .expect("members are kept");
        assert_eq!(r.group_id, None);
    }
    let ungrouped = scope
        .query(&Query::partition(scope.partition("GROUPMEMBERS#NONE")).on(myna::ports::Index::Gsi1))
        .await
        .unwrap();
    assert_eq!(ungrouped.items.len(), 2);
}

#[tokio::test]
async fn another_tenant_cannot_see_or_change_a_registrant_by_guessing_its_id() {
    let (t, mut a) = TestApp::with_owner(COMPANY, "tenant-a@example.jp").await;
    let id = a
        .add_registrant(&person("秘密", "太郎", "S001", NUMBER), &[])
        .await
        .registrant_id();
    t.signup("株式会社ビー", "tenant-b@example.jp", PW).await;
    let mut b = t.login("tenant-b@example.jp", PW, None).await;

    for path in [
        format!("/registrants/{id}"),
        format!("/registrants/{id}/edit"),
        format!("/registrants/{id}/delete"),
    ] {
        let res = b.get(&path).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!res.body.contains("秘密"));
    }
    let delete = b
        .submit("/home", &format!("/registrants/{id}/delete"), &[])
        .await;
    assert_eq!(delete.status, StatusCode::NOT_FOUND);
    let edit = b
        .submit(
            "/home",
            &format!("/registrants/{id}/edit"),
            &person("乗っ取り", "太郎", "S001", ""),
        )
        .await;
    assert_eq!(edit.status, StatusCode::NOT_FOUND);
    assert!(!b.get("/registrants").await.body.contains("秘密"));

    let scope_a = t.scope_of("tenant-a@example.jp").await;
    let r = regs::get(&scope_a, &id)
        .await
        .unwrap()
        .expect("still there");
    assert_eq!(r.person.family_name, "秘密");
    assert!(a
        .get(&format!("/registrants/{id}"))
        .await
        .body
        .contains("秘密 太郎"));
}

#[tokio::test]
async fn a_view_only_user_can_list_but_not_change() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "viewer@example.jp").await;
    let id = b
        .add_registrant(&person("閲覧", "対象", "V001", ""), &[])
        .await
        .registrant_id();
    let scope = t.scope_of("viewer@example.jp").await;
    t.set_role(&scope, "view_only").await;

    assert!(b.get("/registrants").await.body.contains("閲覧 対象"));
    assert_eq!(
        b.get("/registrants/new").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        b.get(&format!("/registrants/{id}/edit")).await.status,
        StatusCode::FORBIDDEN
    );
    let res = b
        .submit("/home", &format!("/registrants/{id}/delete"), &[])
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(regs::get(&scope, &id).await.unwrap().is_some());
}

#[tokio::test]
async fn dependents_have_their_own_status_and_the_list_shows_the_lowest() {
    // GIVEN a registrant with a number.
    let (t, mut b) = TestApp::with_owner(COMPANY, "family@example.jp").await;
    let scope = t.scope_of("family@example.jp").await;
    let id = b
        .add_registrant(&person("山田", "太郎", "F001", NUMBER), &[])
        .await
        .registrant_id();

    // WHEN a spouse with a number (承認待) and a child without (未登録) are added THEN the
    // lowest, 未登録, shows.
    let res = b
        .add_dependent(
            &id,
            &dependent(
                "花子",
                "spouse",
                "national_pension_category3",
                "123456789018",
            ),
            &[],
        )
        .await;
    assert_eq!(
        res.location(),
        Some(format!("/registrants/{id}?done=dep_created#dependents").as_str()),
        "{}",
        res.body
    );
    b.add_dependent(&id, &dependent("一郎", "child", "dependent", ""), &[])
        .await;
    let r = regs::get(&scope, &id).await.unwrap().unwrap();
    assert_eq!(
        (
            r.dependents,
            r.dependents_unregistered,
            r.dependents_pending
        ),
        (2, 1, 1)
    );
    assert_eq!(r.dependents_status.map(|s| s.label()), Some("未登録"));
    let c = tenants::counters(&scope).await.unwrap();
    assert_eq!(
        (
            c.dependents,
            c.dependents_unregistered,
            c.dependents_pending
        ),
        (2, 1, 1)
    );

    let detail = b.get(&format!("/registrants/{id}")).await;
    assert!(
        detail.body.contains("山田 花子")
            && detail.body.contains("配偶者")
            && detail.body.contains("国民年金の第3号被保険者")
    );
    assert!(detail.body.contains("********9018") && !detail.body.contains("123456789018"));
    let list = b.get("/registrants").await;
    assert!(
        list.body.contains("<td class=\"status-pink\">未登録</td>"),
        "aggregate shown in the 扶養 column"
    );

    // WHEN the child's number arrives THEN both dependents 承認待, the aggregate follows.
    let deps = myna::app::dependents::list(&scope, &id).await.unwrap();
    let child = deps.iter().find(|d| d.person.given_name == "一郎").unwrap();
    let edit = format!("/registrants/{id}/dependents/{}/edit", child.id);
    let confirm = b
        .submit(
            &edit,
            &edit,
            &dependent("一郎", "child", "dependent", "123456789000"),
        )
        .await;
    b.post_confirm(&confirm, &edit, &[]).await;
    let r = regs::get(&scope, &id).await.unwrap().unwrap();
    assert_eq!(r.dependents_status.map(|s| s.label()), Some("承認待"));
    assert_eq!(
        tenants::counters(&scope)
            .await
            .unwrap()
            .dependents_unregistered,
        0
    );

    // WHEN a dependent's number is already held by another record THEN it is named before
    // saving.
    let confirm = b
        .submit(
            &format!("/registrants/{id}/dependents/new"),
            &format!("/registrants/{id}/dependents/new"),
            &dependent("二郎", "child", "dependent", NUMBER),
        )
        .await;
    assert!(
        confirm
            .body
            .contains("同じマイナンバーがすでに登録されています。")
            && confirm.body.contains("山田 太郎")
    );

    // WHEN a dependent is deleted THEN it asks first; deleting the registrant takes the rest with
    // it.
    let del = format!("/registrants/{id}/dependents/{}/delete", child.id);
    assert!(b.get(&del).await.body.contains("元に戻せません"));
    b.dispose(&del, "no_longer_needed", "").await;
    assert_eq!(regs::get(&scope, &id).await.unwrap().unwrap().dependents, 1);
    b.dispose(&format!("/registrants/{id}/delete"), "retired", "")
        .await;
    assert!(myna::app::dependents::list(&scope, &id)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        tenants::counters(&scope).await.unwrap(),
        tenants::Counters::default()
    );
    assert!(
        // Two dependents made in one millisecond have no fixed order: pick the numbered one.
        regs::duplicates(
            &scope,
            &deps
                .iter()
                .find_map(|d| d.person.number.as_ref())
                .unwrap()
                .fingerprint,
            None
        )
        .await
        .unwrap()
        .is_empty(),
        "fingerprints removed"
    );
}

#[tokio::test]
async fn a_dependent_form_needs_relationship_and_kind_and_keeps_its_input() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "depform@example.jp").await;
    let id = b
        .add_registrant(&person("山田", "太郎", "F002", ""), &[])
        .await
        .registrant_id();
    let res = b
        .add_dependent(&id, &dependent("花子", "", "", "12345678901"), &[])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("続柄を選択してください。") && res.body.contains("12桁"));
    assert!(res.body.contains("value=\"花子\""));
    // Dependents never count toward the plan.
    let scope = t.scope_of("depform@example.jp").await;
    for i in 0..3 {
        let name = format!("子{i}");
        assert_eq!(
            b.add_dependent(&id, &dependent(&name, "child", "dependent", ""), &[])
                .await
                .status,
            StatusCode::SEE_OTHER
        );
    }
    assert_eq!(tenants::counters(&scope).await.unwrap().registrants, 1);
}

#[tokio::test]
async fn another_tenant_cannot_reach_a_dependent_by_its_ids() {
    let (t, mut a) = TestApp::with_owner(COMPANY, "dep-a@example.jp").await;
    let id = a
        .add_registrant(&person("山田", "太郎", "F003", ""), &[])
        .await
        .registrant_id();
    a.add_dependent(&id, &dependent("花子", "spouse", "dependent", ""), &[])
        .await;
    let scope_a = t.scope_of("dep-a@example.jp").await;
    let dep = myna::app::dependents::list(&scope_a, &id)
        .await
        .unwrap()
        .remove(0);
    t.signup("株式会社ビー", "dep-b@example.jp", PW).await;
    let mut b = t.login("dep-b@example.jp", PW, None).await;
    for path in [
        format!("/registrants/{id}/dependents/new"),
        format!("/registrants/{id}/dependents/{}/edit", dep.id),
        format!("/registrants/{id}/dependents/{}/delete", dep.id),
    ] {
        assert_eq!(b.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let res = b
        .submit(
            "/home",
            &format!("/registrants/{id}/dependents/{}/delete", dep.id),
            &[],
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(
        myna::app::dependents::list(&scope_a, &id)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn document_images_go_straight_to_storage_and_only_verified_images_replace_the_old_one() {
    // GIVEN a registrant without images.
    let (t, mut b) = TestApp::with_owner(COMPANY, "images@example.jp").await;
    let scope = t.scope_of("images@example.jp").await;
    let id = b
        .add_registrant(&person("画像", "太郎", "I001", ""), &[])
        .await
        .registrant_id();
    let base = format!("/registrants/{id}/images/number_proof");
    let jpeg = [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[5u8; 3000]].concat();

    // WHEN a ticket is asked for a PDF THEN it is refused with the formats allowed.
    let (status, err) = b.ticket(&format!("{base}/ticket"), "application/pdf").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        err["error"],
        "画像の形式に対応していません（JPEG・PNG・GIFのみ）。"
    );

    // WHEN a JPEG goes to storage and is completed THEN the detail page shows it uploaded.
    let (status, first) = b.ticket(&format!("{base}/ticket"), "image/jpeg").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["method"], "PUT");
    assert!(t.put(&first, "image/jpeg", jpeg.clone()).await);
    let (status, ok) = b
        .complete(
            &format!("{base}/complete"),
            first["upload"].as_str().unwrap(),
        )
        .await;
    assert_eq!((status, ok["ok"].as_bool()), (StatusCode::OK, Some(true)));
    let detail = b.get(&format!("/registrants/{id}")).await;
    assert!(detail.body.contains("番号確認書類: アップロード済み"));
    assert!(detail.body.contains("/static/upload.js"));
    // THEN the record names the verified copy: the upload's name outside the upload area.
    let verified = |upload: &serde_json::Value| {
        upload["upload"].as_str().unwrap()["incoming/".len()..].to_string()
    };
    let first_name = verified(&first);
    let tenant = tenants::load(&scope).await.unwrap().unwrap();
    let bs = myna::app::images::blob_scope(&tenant, &scope);

    // WHEN a PDF is sent as a JPEG THEN it is refused with the reason, deleted, and the first image
    // stays.
    let (_, second) = b.ticket(&format!("{base}/ticket"), "image/jpeg").await;
    assert!(
        t.put(&second, "image/jpeg", b"%PDF-1.7 pretending".to_vec())
            .await
    );
    let (status, err) = b
        .complete(
            &format!("{base}/complete"),
            second["upload"].as_str().unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        err["error"],
        "画像の形式に対応していません（JPEG・PNG・GIFのみ）。"
    );
    assert!(t
        .app
        .ports
        .blobs
        .head(&bs, second["upload"].as_str().unwrap())
        .await
        .unwrap()
        .is_none());
    let r = regs::get(&scope, &id).await.unwrap().unwrap();
    assert_eq!(r.person.images["image_number_proof"], first_name.as_str());
    assert_eq!(
        t.app
            .ports
            .blobs
            .get(&bs, &first_name)
            .await
            .unwrap()
            .unwrap()
            .0,
        jpeg
    );

    // WHEN it is over 4 MB THEN storage refuses it; completing says the image is missing.
    let (_, big) = b.ticket(&format!("{base}/ticket"), "image/jpeg").await;
    assert!(
        !t.put(
            &big,
            "image/jpeg",
            [&jpeg[..], &vec![0u8; 4 * 1024 * 1024]].concat()
        )
        .await
    );
    let (status, err) = b
        .complete(&format!("{base}/complete"), big["upload"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(err["error"]
        .as_str()
        .unwrap()
        .contains("画像が見つかりません"));

    // WHEN a good replacement is completed THEN it becomes current and the old object is deleted.
    let png = [
        &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A][..],
        &[1u8; 100],
    ]
    .concat();
    let (_, third) = b.ticket(&format!("{base}/ticket"), "image/png").await;
    assert!(t.put(&third, "image/png", png).await);
    assert_eq!(
        b.complete(
            &format!("{base}/complete"),
            third["upload"].as_str().unwrap()
        )
        .await
        .0,
        StatusCode::OK
    );
    assert!(
        t.app
            .ports
            .blobs
            .head(&bs, &first_name)
            .await
            .unwrap()
            .is_none(),
        "old image removed"
    );

    // WHEN the registrant is edited THEN the image is kept; deleting the registrant deletes it.
    let edit = format!("/registrants/{id}/edit");
    let confirm = b
        .submit(&edit, &edit, &person("画像", "次郎", "I001", ""))
        .await;
    b.post_confirm(&confirm, &edit, &[]).await;
    let r = regs::get(&scope, &id).await.unwrap().unwrap();
    assert_eq!(
        r.person.images["image_number_proof"],
        verified(&third).as_str()
    );
    b.dispose(&format!("/registrants/{id}/delete"), "mistaken", "")
        .await;
    assert!(t
        .app
        .ports
        .blobs
        .head(&bs, &verified(&third))
        .await
        .unwrap()
        .is_none());

    let (_, entries) = (
        0,
        t.app
            .audit
            .list(Some(scope.tenant()), 50, None)
            .await
            .unwrap()
            .0,
    );
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.action == "image.upload")
            .count(),
        2
    );
}

#[tokio::test]
async fn an_upload_cannot_be_attached_to_another_record_or_tenant() {
    let (t, mut a) = TestApp::with_owner(COMPANY, "img-a@example.jp").await;
    let one = a
        .add_registrant(&person("一", "太郎", "J001", ""), &[])
        .await
        .registrant_id();
    let two = a
        .add_registrant(&person("二", "太郎", "J002", ""), &[])
        .await
        .registrant_id();
    let (_, tk) = a
        .ticket(
            &format!("/registrants/{one}/images/identity_proof/ticket"),
            "image/jpeg",
        )
        .await;
    assert!(
        t.put(&tk, "image/jpeg", vec![0xFF, 0xD8, 0xFF, 0xE0, 0])
            .await
    );
    // Claiming registrant one's upload for registrant two is refused.
    let (status, _) = a
        .complete(
            &format!("/registrants/{two}/images/identity_proof/complete"),
            tk["upload"].as_str().unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    t.signup("株式会社ビー", "img-b@example.jp", PW).await;
    let mut b = t.login("img-b@example.jp", PW, None).await;
    let (status, _) = b
        .ticket(
            &format!("/registrants/{one}/images/identity_proof/ticket"),
            "image/jpeg",
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = b
        .complete(
            &format!("/registrants/{one}/images/identity_proof/complete"),
            tk["upload"].as_str().unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_group_can_be_renamed_through_the_confirm_step_and_a_dependent_has_a_detail_page() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "rename@example.jp").await;
    let scope = t.scope_of("rename@example.jp").await;
    b.submit(
        "/registrants/groups/new",
        "/registrants/groups/new",
        &[("name", "総務部"), ("confirmed", "1")],
    )
    .await;
    let g = myna::app::groups::list(&scope).await.unwrap().remove(0);
    let path = format!("/registrants/groups/{}/edit", g.id);
    assert!(b.get(&path).await.body.contains("value=\"総務部\""));
    let confirm = b.submit(&path, &path, &[("name", "人事総務部")]).await;
    assert!(confirm.body.contains("以下の内容で登録します") && confirm.body.contains("人事総務部"));
    assert_eq!(
        myna::app::groups::list(&scope).await.unwrap()[0].name,
        "総務部",
        "nothing saved before 登録"
    );
    let done = b
        .submit(&path, &path, &[("name", "人事総務部"), ("confirmed", "1")])
        .await;
    assert_eq!(
        done.location(),
        Some("/registrants/groups?done=group_updated")
    );
    assert_eq!(
        myna::app::groups::list(&scope).await.unwrap()[0].name,
        "人事総務部"
    );
    let empty = b.submit(&path, &path, &[("name", "  ")]).await;
    assert!(empty.body.contains("グループ名を入力してください。"));

    let id = b
        .add_registrant(&person("山田", "太郎", "R001", ""), &[])
        .await
        .registrant_id();
    b.add_dependent(
        &id,
        &dependent(
            "花子",
            "spouse",
            "national_pension_category3",
            "123456789018",
        ),
        &[],
    )
    .await;
    let dep = myna::app::dependents::list(&scope, &id)
        .await
        .unwrap()
        .remove(0);
    let page = b
        .get(&format!("/registrants/{id}/dependents/{}", dep.id))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "山田 花子",
        "配偶者",
        "国民年金の第3号被保険者",
        "********9018",
        "承認待",
        "未アップロード",
    ] {
        assert!(page.body.contains(text), "{text}");
    }
    assert!(!page.body.contains("123456789018"));
}

#[tokio::test]
async fn a_sealed_number_from_a_confirm_page_does_not_open_in_another_session() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "draft@example.jp").await;
    let confirm = b
        .submit(
            "/registrants/new",
            "/registrants/new",
            &person("山田", "太郎", "T001", NUMBER),
        )
        .await;
    let token = confirm
        .body
        .split("name=\"number_token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    assert!(!token.is_empty());
    // Same person, new login: the old page's token no longer opens.
    let mut again = t.login("draft@example.jp", PW, None).await;
    let csrf = again.get("/registrants/new").await.csrf().unwrap();
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("number_token", token.as_str()),
        ("confirmed", "1"),
    ];
    fields.extend(
        person("山田", "太郎", "T001", "")
            .into_iter()
            .filter(|(k, _)| !k.starts_with("number")),
    );
    let res = again.post("/registrants/new", &fields).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .body
        .contains("マイナンバーをもう一度入力してください。"));
    assert_eq!(
        tenants::counters(&t.scope_of("draft@example.jp").await)
            .await
            .unwrap()
            .registrants,
        0
    );
}

#[tokio::test]
async fn the_lists_number_edit_opens_number_editing_and_registrant_edit_sits_under_registrant_info()
{
    // GIVEN a registrant
    let (_t, mut b) = TestApp::with_owner(COMPANY, "numedit@example.jp").await;
    let id = b
        .add_registrant(&person("編集", "花子", "E001", ""), &[])
        .await
        .registrant_id();

    // WHEN the list is opened
    let list = b.get("/registrants").await;

    // THEN 登録者情報 has its own 編集 (登録者編集), after the name as in the manual
    assert!(
        list.body.contains("<th colspan=\"6\">登録者情報</th>"),
        "{}",
        list.body
    );
    assert!(list
        .body
        .contains("<th>登録者名</th><th>編集</th><th>属性</th>"));
    assert!(list.body.contains(&format!(
        "<a href=\"/registrants/{id}/edit\" aria-label=\"編集 花子の登録者情報を編集\">編集</a>"
    )));
    // AND マイナンバー操作「編集」 opens マイナンバー編集, the screen with 拒否
    let number_href = format!("/registrants/{id}/number");
    assert!(list.body.contains(&format!(
        "<a href=\"{number_href}\" aria-label=\"編集 花子のマイナンバーを編集\">編集</a>"
    )));
    let number = b.get(&number_href).await;
    assert_eq!(number.status, StatusCode::OK);
    assert!(number
        .body
        .contains("<h1 class=\"page-title\">マイナンバー編集</h1>"));
    assert!(number.body.contains("マイナンバー登録拒否"));
}

#[tokio::test]
async fn the_search_panel_starts_folded_when_the_list_has_rows_and_no_search_is_active() {
    let (_t, mut b) = TestApp::with_owner(COMPANY, "fold@example.jp").await;
    let open = "<details class=\"card search\" open>";
    let folded = "<details class=\"card search\">";
    // An empty list: the panel is open (there is nothing else to look at).
    assert!(b.get("/registrants").await.body.contains(open));

    b.add_registrant(&person("検索", "太郎", "S001", ""), &[])
        .await;
    // Rows and no search: folded, so the list starts near the top of the page.
    let list = b.get("/registrants").await;
    assert!(list.body.contains(folded), "{}", list.body);
    // An active search keeps the panel open, showing the conditions in use.
    let searched = b.get("/registrants?code=S001").await;
    assert!(searched.body.contains(open));
    assert!(searched.body.contains("1件"));
}

#[tokio::test]
async fn member_registration_says_nobody_was_ticked_instead_of_done_when_no_box_is_ticked() {
    // GIVEN a group and an ungrouped registrant
    let (t, mut b) = TestApp::with_owner(COMPANY, "nomember@example.jp").await;
    let scope = t.scope_of("nomember@example.jp").await;
    b.submit(
        "/registrants/groups/new",
        "/registrants/groups/new",
        &[("name", "経理部"), ("confirmed", "1")],
    )
    .await;
    let g = myna::app::groups::list(&scope).await.unwrap().remove(0);
    let id = b
        .add_registrant(&person("未選", "択", "M001", ""), &[])
        .await
        .registrant_id();
    let path = format!("/registrants/groups/{}/members", g.id);

    // WHEN 登録 is pressed with no box ticked
    let res = b.submit(&path, &path, &[]).await;

    // THEN the page says so, offers the registrant again, and nobody joined
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        res.location()
    );
    assert!(res
        .body
        .contains("メンバーに登録する登録者が選択されていません。"));
    assert!(!res.body.contains("登録しました"));
    assert!(res.body.contains("未選 択"));
    let r = regs::get(&scope, &id).await.unwrap().unwrap();
    assert_eq!(r.group_id, None);
}

#[tokio::test]
async fn adding_past_the_plan_limit_is_refused_before_the_confirm_page() {
    // GIVEN a plan 10 account already holding 10 registrants
    let (t, mut b) = TestApp::with_owner(COMPANY, "planfirst@example.jp").await;
    let scope = t.scope_of("planfirst@example.jp").await;
    let full = tenants::Counters {
        registrants: 10,
        unregistered: 10,
        ..Default::default()
    };
    scope
        .transact(vec![tenants::Counters::delta_op(&scope, &full).unwrap()])
        .await
        .unwrap();

    // WHEN 入力確認 is pressed on 新規追加
    let res = b
        .submit(
            "/registrants/new",
            "/registrants/new",
            &person("上限", "超過", "X001", ""),
        )
        .await;

    // THEN the form itself says the plan is full, keeps the input, and shows no confirm page
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!res.body.contains(CONFIRM_PAGE), "{}", res.body);
    assert!(res
        .body
        .contains("ご契約のプラン（プラン10）の登録可能人数（10人）を超えるため登録できません。"));
    assert!(res.body.contains("value=\"超過\""));
}

#[tokio::test]
async fn the_add_form_says_where_document_images_are_uploaded_instead_of_coming_soon() {
    let (_t, mut b) = TestApp::with_owner(COMPANY, "docnote@example.jp").await;
    let form = b.get("/registrants/new").await;
    assert!(!form.body.contains("準備中"), "{}", form.body);
    assert!(form
        .body
        .contains("「登録者詳細」画面の「本人確認書類のアップロード」からアップロードできます"));
    // The edit form links to the very section of the detail page.
    let id = b
        .add_registrant(&person("画像", "案内", "D001", ""), &[])
        .await
        .registrant_id();
    let edit = b.get(&format!("/registrants/{id}/edit")).await;
    assert!(edit.body.contains(&format!(
        "<a href=\"/registrants/{id}#images\">「登録者詳細」画面</a>"
    )));
    assert!(b
        .get(&format!("/registrants/{id}"))
        .await
        .body
        .contains("<section class=\"card\" id=\"images\">"));
}

#[tokio::test]
async fn back_from_the_confirm_page_keeps_every_typed_value_including_the_number() {
    // GIVEN a filled registrant form on its 入力確認 page (the number is carried sealed)
    let (t, mut b) = TestApp::with_owner(COMPANY, "back@example.jp").await;
    let confirm = b
        .submit(
            "/registrants/new",
            "/registrants/new",
            &person("佐藤", "花子", "E077", NUMBER),
        )
        .await;
    assert!(confirm.body.contains(CONFIRM_PAGE));

    // WHEN the user presses 戻る
    let form = b
        .post_confirm(&confirm, "/registrants/new", &[("back", "1")])
        .await;

    // THEN the form comes back filled, the number in its three boxes, and nothing is saved
    assert_eq!(form.status, StatusCode::OK);
    assert!(!form.body.contains(CONFIRM_PAGE), "{}", form.body);
    for value in [
        "佐藤",
        "花子",
        "E077",
        &NUMBER[..4],
        &NUMBER[4..8],
        &NUMBER[8..],
    ] {
        assert!(
            form.body.contains(&format!("value=\"{value}\"")),
            "{value} kept: {}",
            form.body
        );
    }
    let list = b.get("/registrants").await;
    assert!(
        !list.body.contains("佐藤 花子"),
        "nothing saved: {}",
        list.body
    );
    drop(t);
}
