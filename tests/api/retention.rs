//! 退職日・削除予定日 (manual ch.12) and the retention reminders: the proposal from the
//! statutory retention with its basis, the list's calendar icons and 削除予定日到来 filter, the
//! CSV columns, and the daily job that mails 最高権限 once and never deletes anything.

use myna::app::registrants as regs;
use myna_tests::fixtures::{person, CONFIRM_PAGE, NUMBER};
use myna_tests::{Browser, Page, TestApp};

const OWNER: &str = "owner@retention.example.jp";
const SUBJECT: &str = "マイナンバー削除予定日が到来しました";

async fn add(b: &mut Browser, family: &str, code: &str, number: &str) -> String {
    let page = b
        .add_registrant(&person(family, "太郎", code, number), &[])
        .await;
    page.registrant_id()
}

/// Posts 登録者編集 with the retention fields (入力確認), returning the confirm page.
async fn edit_dates(b: &mut Browser, id: &str, code: &str, retention: &[(&str, &str)]) -> Page {
    let path = format!("/registrants/{id}/edit");
    let mut fields = person("山田", "太郎", code, "");
    fields.extend_from_slice(retention);
    b.submit(&path, &path, &fields).await
}

async fn set_dates(b: &mut Browser, id: &str, code: &str, retention: &[(&str, &str)]) {
    let confirm = edit_dates(b, id, code, retention).await;
    assert!(confirm.body.contains(CONFIRM_PAGE), "{}", confirm.body);
    let done = b
        .post_confirm(&confirm, &format!("/registrants/{id}/edit"), &[])
        .await;
    assert!(
        done.location().is_some_and(|l| l.contains("done=updated")),
        "{}",
        done.body
    );
}

async fn stored(t: &TestApp, id: &str) -> regs::Registrant {
    let scope = t.scope_of(OWNER).await;
    regs::get(&scope, id).await.unwrap().expect("registrant")
}

fn reminder_mails(t: &TestApp) -> usize {
    t.outbox
        .list()
        .unwrap()
        .iter()
        .filter(|m| m.mail.subject.contains(SUBJECT))
        .count()
}

#[tokio::test]
async fn edit_proposes_a_delete_date_with_its_basis_when_only_a_retirement_date_is_given() {
    // given a registrant
    let (t, mut b) = TestApp::with_owner("退職商事", OWNER).await;
    let id = add(&mut b, "山田", "E1", NUMBER).await;
    // when 退職日 2025/3/31 is entered without a 削除予定日
    let confirm = edit_dates(&mut b, &id, "E1", &[("retired_on", "2025/3/31")]).await;
    // then 入力確認 proposes the day after 7 years from the 法定納期限 2026/1/10, with its basis
    assert!(
        confirm
            .body
            .contains("2033/01/11（令和15年1月11日）（提案。"),
        "{}",
        confirm.body
    );
    assert!(confirm.body.contains("保存期間 7年"));
    assert!(confirm.body.contains("2026/1/10"));
    // and 登録 stores it, the registrant grey on the list with both dates
    let done = b
        .post_confirm(&confirm, &format!("/registrants/{id}/edit"), &[])
        .await;
    assert!(done.location().is_some(), "{}", done.body);
    let r = stored(&t, &id).await;
    assert_eq!(
        r.retired_on.map(|d| d.to_string()).as_deref(),
        Some("2025-03-31")
    );
    assert_eq!(
        r.delete_on.map(|d| d.to_string()).as_deref(),
        Some("2033-01-11")
    );
    let list = b.get("/registrants").await;
    assert!(list.body.contains("class=\"retired\""), "{}", list.body);
    assert!(list.body.contains("2025/03/31") && list.body.contains("2033/01/11"));
    // and HOME counts a 退職者
    let home = b.get("/home").await;
    assert!(home.body.contains("<span id=\"count-retired\">1</span>"));
}

#[tokio::test]
async fn detail_shows_the_retirement_dates_when_they_are_set() {
    // given a registrant whose 退職日, 削除予定日 and 最終申告書年 were entered
    let (_t, mut b) = TestApp::with_owner("退職商事", OWNER).await;
    let id = add(&mut b, "山田", "E1", NUMBER).await;
    let before = b.get(&format!("/registrants/{id}")).await;
    assert!(!before.body.contains("2025/03/31"));
    set_dates(
        &mut b,
        &id,
        "E1",
        &[
            ("retired_on", "2025/3/31"),
            ("delete_on", "2034/1/11"),
            ("last_declaration_year", "2026"),
        ],
    )
    .await;
    // when the detail page is opened
    let detail = b.get(&format!("/registrants/{id}")).await;
    // then it shows all three beside 入社日
    assert!(
        detail.body.contains("<th>退職日</th><td>2025/03/31"),
        "{}",
        detail.body
    );
    assert!(detail
        .body
        .contains("<th>マイナンバー削除予定日</th><td>2034/01/11"));
    assert!(detail.body.contains("<th>最終申告書年</th><td>2026年</td>"));
}

#[tokio::test]
async fn proposal_counts_from_the_last_declaration_year_when_it_is_later() {
    let (t, mut b) = TestApp::with_owner("退職商事", OWNER).await;
    let id = add(&mut b, "山田", "E1", NUMBER).await;
    set_dates(
        &mut b,
        &id,
        "E1",
        &[
            ("retired_on", "2025/3/31"),
            ("last_declaration_year", "2026"),
        ],
    )
    .await;
    let r = stored(&t, &id).await;
    assert_eq!(
        r.delete_on.map(|d| d.to_string()).as_deref(),
        Some("2034-01-11")
    );
    assert_eq!(r.last_declaration_year, Some(2026));
}

#[tokio::test]
async fn edit_refuses_a_delete_date_before_the_retirement_date_and_keeps_the_input() {
    let (t, mut b) = TestApp::with_owner("退職商事", OWNER).await;
    let id = add(&mut b, "山田", "E1", NUMBER).await;
    let page = edit_dates(
        &mut b,
        &id,
        "E1",
        &[("retired_on", "2025/3/31"), ("delete_on", "2024/1/1")],
    )
    .await;
    assert_eq!(
        page.status,
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains("マイナンバー削除予定日は退職日より後の日付を入力してください。"));
    assert!(page.body.contains("value=\"2024/1/1\""));
    assert!(page.body.contains("value=\"2025/3/31\""));
    assert_eq!(stored(&t, &id).await.retired_on, None);
}

#[tokio::test]
async fn security_setting_changes_the_retention_behind_the_proposal() {
    // given the company keeps numbers 10 years (セキュリティ, 入力確認 → 登録)
    let (t, mut b) = TestApp::with_owner("退職商事", OWNER).await;
    let confirm = b
        .submit(
            "/security",
            "/security/settings",
            &[("retention_years", "10")],
        )
        .await;
    assert!(confirm.body.contains("10年"), "{}", confirm.body);
    let done = b.post_confirm(&confirm, "/security/settings", &[]).await;
    assert_eq!(done.location(), Some("/security?done=settings"));
    // when a retirement date is set
    let id = add(&mut b, "山田", "E1", NUMBER).await;
    set_dates(&mut b, &id, "E1", &[("retired_on", "2025/3/31")]).await;
    // then the proposal counts 10 years, and the change is in the operation log
    let r = stored(&t, &id).await;
    assert_eq!(
        r.delete_on.map(|d| d.to_string()).as_deref(),
        Some("2036-01-11")
    );
    let scope = t.scope_of(OWNER).await;
    assert!(t.audit_of(&scope).await.iter().any(|e| e
        .detail
        .contains("法定保存期間（削除予定日の提案） 7年→10年")));
}

#[tokio::test]
async fn security_setting_refuses_years_out_of_range_and_keeps_the_input() {
    let (_t, mut b) = TestApp::with_owner("退職商事", OWNER).await;
    let page = b
        .submit(
            "/security",
            "/security/settings",
            &[("retention_years", "0")],
        )
        .await;
    assert_eq!(
        page.status,
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains("保存年数は1〜20の数字で入力してください。"));
    assert!(page.body.contains("value=\"0\""));
}

#[tokio::test]
async fn retention_job_mails_owners_once_across_two_runs_and_deletes_nothing() {
    // given a registrant whose 削除予定日 is today, and one whose date is still ahead
    let (t, mut b) = TestApp::with_owner("退職商事", OWNER).await;
    let due = add(&mut b, "山田", "E1", NUMBER).await;
    let later = add(&mut b, "佐藤", "E2", &myna_tests::fixtures::valid_number(3)).await;
    let today = myna::domain::format_slash(t.clock_today());
    set_dates(
        &mut b,
        &due,
        "E1",
        &[("retired_on", "2021/3/31"), ("delete_on", &today)],
    )
    .await;
    set_dates(&mut b, &later, "E2", &[("retired_on", "2025/3/31")]).await;
    // when the job runs twice (the worker sending its mails after each run)
    let first = myna::app::retention::run(&t.app).await.unwrap();
    t.run_jobs().await;
    let second = myna::app::retention::run(&t.app).await.unwrap();
    t.run_jobs().await;
    // then the owner got one mail, naming nobody, linking the filtered list
    assert_eq!((first.reminded, first.mails), (1, 1));
    assert_eq!((second.reminded, second.mails), (0, 0));
    assert_eq!(reminder_mails(&t), 1);
    let mail = t.outbox.latest_to(OWNER).unwrap().unwrap().mail;
    assert!(mail.body.contains("/registrants?due=1"), "{}", mail.body);
    assert!(mail.body.contains("1名"));
    // (the greeting names the owner; the registrant is named by neither code nor number)
    assert!(!mail.body.contains("E1") && !mail.body.contains(&NUMBER[8..]));
    // and nothing was deleted
    let r = stored(&t, &due).await;
    assert!(r.person.number.is_some());
    // and a later date moved to today is mailed on the next run, once
    let today_iso = myna::domain::format_slash(t.clock_today());
    set_dates(
        &mut b,
        &later,
        "E2",
        &[("retired_on", "2021/3/31"), ("delete_on", &today_iso)],
    )
    .await;
    myna::app::retention::run(&t.app).await.unwrap();
    t.run_jobs().await;
    myna::app::retention::run(&t.app).await.unwrap();
    t.run_jobs().await;
    assert_eq!(reminder_mails(&t), 2);
}

#[tokio::test]
async fn home_shows_delete_date_due_with_a_link_that_filters_the_list() {
    // given one registrant due and one not
    let (t, mut b) = TestApp::with_owner("退職商事", OWNER).await;
    let due = add(&mut b, "山田", "E1", NUMBER).await;
    add(&mut b, "佐藤", "E2", &myna_tests::fixtures::valid_number(4)).await;
    let home = b.get("/home").await;
    assert!(!home.body.contains("id=\"retention-due\""));
    let today = myna::domain::format_slash(t.clock_today());
    set_dates(
        &mut b,
        &due,
        "E1",
        &[("retired_on", "2021/3/31"), ("delete_on", &today)],
    )
    .await;
    // when the job has run
    myna::app::retention::run(&t.app).await.unwrap();
    // then HOME says 削除予定日到来 with the count and the link
    let home = b.get("/home").await;
    assert!(home.body.contains("id=\"retention-due\""), "{}", home.body);
    assert!(home.body.contains("削除予定日が到来した登録者が1名います"));
    assert!(home.body.contains("href=\"/registrants?due=1\""));
    // and the link lists only the due registrant
    let list = b.get("/registrants?due=1").await;
    assert!(list.body.contains("山田"), "{}", list.body);
    assert!(!list.body.contains("佐藤"));
    assert!(list.body.contains("1件"));
    // and a 削除予定日 moved later takes the notice away at once
    set_dates(
        &mut b,
        &due,
        "E1",
        &[("retired_on", "2021/3/31"), ("delete_on", "2099/1/1")],
    )
    .await;
    assert!(!b.get("/home").await.body.contains("id=\"retention-due\""));
}

#[tokio::test]
async fn list_calendar_icons_open_the_edit_form_at_the_dates() {
    let (_t, mut b) = TestApp::with_owner("退職商事", OWNER).await;
    let id = add(&mut b, "山田", "E1", NUMBER).await;
    let list = b.get("/registrants").await;
    assert!(list
        .body
        .contains(&format!("href=\"/registrants/{id}/edit#retirement\"")));
    assert!(list
        .body
        .contains(&format!("href=\"/registrants/{id}/edit#deletion\"")));
    let form = b.get(&format!("/registrants/{id}/edit")).await;
    assert!(form.body.contains("id=\"retirement\"") && form.body.contains("id=\"deletion\""));
    // 退職者の処理 (HOME's panel) leads to the list
    let retirement = b.get("/retirement").await;
    assert_eq!(retirement.location(), Some("/registrants"));
}

#[tokio::test]
async fn retirees_are_left_out_of_the_collection_send_list() {
    let (t, mut b) = TestApp::with_owner("退職商事", OWNER).await;
    let retired = add(&mut b, "山田", "E1", "").await;
    let active = add(&mut b, "佐藤", "E2", "").await;
    set_dates(&mut b, &retired, "E1", &[("retired_on", "2025/3/31")]).await;
    let scope = t.scope_of(OWNER).await;
    let ids: Vec<String> = myna::app::collection::blast_candidates(&scope)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert!(ids.contains(&active));
    assert!(!ids.contains(&retired));
}

#[tokio::test]
async fn csv_reads_and_writes_the_retention_columns() {
    // given a file with 退職日, an empty 削除予定日 and 最終申告書年
    let (t, mut b) = TestApp::with_owner("退職商事", OWNER).await;
    let header = "種別,社員コード,属性,氏名（姓）,氏名（名）,フリガナ（セイ）,フリガナ（メイ）,生年月日,性別,マイナンバー,続柄,入社日,メールアドレス,グループ,備考,退職日,マイナンバー削除予定日,最終申告書年";
    let text = format!(
        "{header}\n登録者,E1,従業員1,山田,太郎,ヤマダ,タロウ,1980/1/1,男性,,,2020/4/1,,,,2025/3/31,,2026\n\
         登録者,E2,従業員1,佐藤,次郎,サトウ,ジロウ,1981/1/1,男性,,,2020/4/1,,,,,,\n"
    );
    // when it is uploaded and committed (登録)
    let page = "/registrants/csv-upload";
    let staged = b.upload(page, page, text.as_bytes(), true).await;
    assert_eq!(staged.status, axum::http::StatusCode::OK, "{}", staged.body);
    let id = b.confirm_import(&staged).await;
    t.run_jobs().await;
    for _ in 0..50 {
        let status = b.get(&format!("/registrants/csv-upload/{id}")).await;
        if !status.body.contains("data-progress") {
            break;
        }
    }
    // then the dates are stored, the 削除予定日 proposed from the later 申告書 year
    let scope = t.scope_of(OWNER).await;
    let all = regs::select(&scope, &regs::Filter::default())
        .await
        .unwrap()
        .0;
    let e1 = all.iter().find(|r| r.code == "E1").expect("E1 imported");
    assert_eq!(
        e1.retired_on.map(|d| d.to_string()).as_deref(),
        Some("2025-03-31")
    );
    assert_eq!(
        e1.delete_on.map(|d| d.to_string()).as_deref(),
        Some("2034-01-11")
    );
    assert_eq!(e1.last_declaration_year, Some(2026));
    // and the download writes the three columns back
    let form = b.get("/registrants/csv").await;
    let token = form.csrf().unwrap();
    let file = b
        .post(
            "/registrants/csv",
            &[
                ("csrf", token.as_str()),
                ("password", myna_tests::fixtures::PW),
                ("purpose", "employment_insurance"),
                ("encoding", "utf8"),
            ],
        )
        .await;
    assert_eq!(file.status, axum::http::StatusCode::OK, "{}", file.body);
    assert!(file
        .body
        .contains("備考,退職日,マイナンバー削除予定日,最終申告書年"));
    assert!(
        file.body.contains(",2025/03/31,2034/01/11,2026"),
        "{}",
        file.body
    );
}

#[tokio::test]
async fn collection_mail_to_a_retiree_is_not_sent_and_says_why() {
    // given a retiree with a mail address
    let (t, mut b) = TestApp::with_owner("退職商事", OWNER).await;
    let mut fields = person("山田", "太郎", "E1", "");
    fields.retain(|(k, _)| *k != "email");
    fields.push(("email", "retiree@retention.example.jp"));
    let id = b.add_registrant(&fields, &[]).await.registrant_id();
    let path = format!("/registrants/{id}/edit");
    fields.push(("retired_on", "2025/3/31"));
    let confirm = b.submit(&path, &path, &fields).await;
    b.post_confirm(&confirm, &path, &[]).await;
    // when a collection mail is sent to them (the list's mail icon)
    let result = b
        .send_collection_mail(
            &format!("/collection/mail?ids={id}"),
            std::slice::from_ref(&id),
            &[],
        )
        .await;
    t.run_jobs().await;
    // then nothing is mailed and the result says why
    assert!(t
        .outbox
        .latest_to("retiree@retention.example.jp")
        .unwrap()
        .is_none());
    let page = b.get(&result).await;
    assert!(
        page.body.contains("退職者のため送信しませんでした"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn clearing_a_retirement_date_is_refused_when_the_plan_has_no_room_for_one_more() {
    // given プラン60, where retirees are not counted, full: 59 staff, a retiree and one more
    let (t, mut b) = TestApp::with_owner("退職者復帰株式会社", OWNER).await;
    let scope = t.scope_of(OWNER).await;
    myna_tests::seed::set_plan(&scope, 60).await;
    myna_tests::seed::registrants(&scope, 59, 1).await;
    let retiree = add(&mut b, "山田", "R1", NUMBER).await;
    set_dates(&mut b, &retiree, "R1", &[("retired_on", "2025/3/31")]).await;
    let other = add(&mut b, "佐藤", "R2", "").await;
    // when the retiree's 退職日 (and 削除予定日) are cleared on 登録者編集
    let page = edit_dates(
        &mut b,
        &retiree,
        "R1",
        &[("retired_on", ""), ("delete_on", "")],
    )
    .await;
    // then it is refused before 入力確認, naming the plan, and the retiree stays retired
    assert_eq!(page.status.as_u16(), 422, "{}", page.body);
    assert!(!page.body.contains(CONFIRM_PAGE));
    assert!(
        page.body.contains(
            "ご契約のプラン（プラン60）の登録可能人数（60人）を超えるため登録できません。"
        ),
        "{}",
        page.body
    );
    assert!(stored(&t, &retiree).await.retired_on.is_some());
    // and once there is room (the other one retires), the same edit goes through
    set_dates(&mut b, &other, "R2", &[("retired_on", "2025/3/31")]).await;
    set_dates(&mut b, &retiree, "R1", &[]).await;
    assert_eq!(stored(&t, &retiree).await.retired_on, None);
}
