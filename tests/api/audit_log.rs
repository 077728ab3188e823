//! 操作履歴 (manual ch.14): what the screen shows and finds, its CSV, the 検証 of the hash
//! chain against a tampered store; the 取扱状況 report; a registrant's 対応記録 (evidence of a
//! refusal); and that every kind of operation reaches the log with its 操作内容.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use myna::app::keys::TenantScope;
use myna::ports::{Condition, Key, Store};
use myna_tests::fixtures::{person, valid_number, PW};
use myna_tests::{Browser, Page, TestApp};

const COMPANY: &str = "株式会社監査ログ";

async fn registrant(b: &mut Browser, family: &str, code: &str, number: &str) -> String {
    let saved = b
        .add_registrant(&person(family, "一郎", code, number), &[])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    saved.registrant_id()
}

/// The rows of the table `#id` as text, cells joined by ` | `.
fn table_rows(body: &str, id: &str) -> Vec<String> {
    let Some(start) = body.find(&format!("id=\"{id}\"")) else {
        return Vec::new();
    };
    let table = &body[start..];
    let table = &table[..table.find("</table>").unwrap()];
    let tbody = table.split("<tbody>").nth(1).unwrap_or_default();
    tbody
        .split("<tr")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let inner = &cell[cell.find('>').unwrap() + 1..];
                    inner.split("</td>").next().unwrap().trim().to_string()
                })
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect()
}

fn log_rows(page: &Page) -> Vec<String> {
    table_rows(&page.body, "audit-log")
}

/// Posts `fields` with the page's token to `action`, as a browser sending `user_agent`.
async fn post_as(b: &mut Browser, page: &str, action: &str, user_agent: &str) -> Page {
    let csrf = b.get(page).await.csrf().unwrap();
    let body = serde_urlencoded::to_string([("csrf", csrf.as_str())]).unwrap();
    b.send(
        Request::post(action)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::USER_AGENT, user_agent)
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

/// Appends `n` entries to the tenant's log straight through the audit port.
async fn append(t: &TestApp, scope: &TenantScope, n: usize) {
    use myna::ports::Audit;
    for i in 0..n {
        t.app
            .audit
            .record(myna_tests::fixtures::audit_event(
                scope.tenant(),
                format!("大量の操作{i:03}"),
            ))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn audit_log_shows_operations_newest_first_with_actor_registrant_ip_and_agent_when_opened() {
    // Given an owner who logged in and added a registrant with a number
    let (_t, mut b) = TestApp::with_owner(COMPANY, "log@example.jp").await;
    let number = valid_number(11);
    registrant(&mut b, "佐藤", "A001", &number).await;

    // When they open 操作履歴, and run 検証 from a browser naming itself
    let page = b.get("/audit-log").await;
    let verified = post_as(
        &mut b,
        "/audit-log",
        "/audit-log/verify",
        "TestBrowser/1.0 (監査)",
    )
    .await;

    // Then the newest operation comes first, naming who, whom (name and 社員コード) and where
    assert_eq!(page.status, StatusCode::OK);
    for column in [
        "日時",
        "実施者",
        "登録者",
        "操作内容",
        "IPアドレス",
        "ユーザーエージェント",
    ] {
        assert!(
            page.body.contains(&format!("<th>{column}</th>")),
            "{column}"
        );
    }
    let rows = log_rows(&page);
    assert!(
        rows[0].contains("山田 太郎")
            && rows[0].contains("佐藤 一郎（A001）")
            && rows[0].contains("203.0.113.10"),
        "{rows:?}"
    );
    assert!(rows.iter().any(|r| r.contains("| ログイン |")), "{rows:?}");
    assert!(!page.body.contains(&number) && !page.body.contains(&number[..4]));
    assert!(
        verified.body.contains("操作履歴の検証: 正常"),
        "{}",
        verified.body
    );
    let newest = &log_rows(&verified)[0];
    assert!(
        newest.contains("操作履歴の検証（正常") && newest.contains("TestBrowser/1.0 (監査)"),
        "{newest}"
    );
}

#[tokio::test]
async fn audit_log_search_narrows_by_date_actor_registrant_and_operation_and_keeps_the_fields() {
    // Given two registrants added today and one two days later
    let (t, mut b) = TestApp::with_owner(COMPANY, "search@example.jp").await;
    registrant(&mut b, "佐藤", "A001", "").await;
    registrant(&mut b, "鈴木", "B002", "").await;
    let first_day = t.clock_today();
    t.clock.advance(time::Duration::days(2));
    let mut b = t.login("search@example.jp", PW, None).await;
    registrant(&mut b, "高橋", "C003", "").await;
    let later = t.clock_today();
    let day = |d: time::Date| format!("{}/{}/{}", d.year(), u8::from(d.month()), d.day());

    // When they search by 社員コード, by operation, by a day range and by an unknown actor
    let by_code = b.get("/audit-log?subject=B002").await;
    let logins = b
        .get("/audit-log?operation=%E3%83%AD%E3%82%B0%E3%82%A4%E3%83%B3") // ログイン
        .await;
    let first = b
        .get(&format!("/audit-log?from={0}&to={0}", day(first_day)))
        .await;
    let since = b.get(&format!("/audit-log?from={}", day(later))).await;
    let nobody = b.get("/audit-log?actor=%E7%84%A1%E5%90%8D").await; // 無名
    let bad = b
        .get("/audit-log?from=2026%2F13%2F45&actor=%E5%B1%B1%E7%94%B0")
        .await;

    // Then each finds exactly its entries, and a bad date is explained with the fields kept
    let rows = log_rows(&by_code);
    assert!(
        !rows.is_empty() && rows.iter().all(|r| r.contains("鈴木 一郎（B002）")),
        "{rows:?}"
    );
    let rows = log_rows(&logins);
    assert!(
        rows.len() >= 2 && rows.iter().all(|r| r.contains("ログイン")),
        "{rows:?}"
    );
    let rows = log_rows(&first);
    assert!(
        rows.iter().any(|r| r.contains("佐藤")) && !rows.iter().any(|r| r.contains("高橋")),
        "{rows:?}"
    );
    let rows = log_rows(&since);
    assert!(
        rows.iter().any(|r| r.contains("高橋")) && !rows.iter().any(|r| r.contains("佐藤")),
        "{rows:?}"
    );
    assert!(nobody.body.contains("条件に合う操作履歴はありません。"));
    assert!(
        bad.body.contains("日付（開始）を読み取れません")
            && bad.body.contains("value=\"2026/13/45\"")
            && bad.body.contains("value=\"山田\""),
        "{}",
        bad.body
    );
}

#[tokio::test]
async fn audit_log_pages_fifty_entries_at_a_time_newest_first_when_the_log_is_long() {
    // Given a log of well over 50 entries
    let (t, mut b) = TestApp::with_owner(COMPANY, "paging@example.jp").await;
    let scope = t.scope_of("paging@example.jp").await;
    append(&t, &scope, 70).await;

    // When the owner opens the log, then follows 次の50件
    let first = b.get("/audit-log").await;
    let next = first
        .body
        .split("href=\"")
        .find(|s| s.contains("id=\"audit-next\""))
        .and_then(|s| s.split('"').next())
        .unwrap()
        .replace("&#38;", "&");
    let second = b.get(&next).await;

    // Then the first page holds the newest 50, the second goes on below without overlap
    let (one, two) = (log_rows(&first), log_rows(&second));
    assert_eq!(one.len(), 50);
    assert!(
        one[0].contains("大量の操作069") && one[49].contains("大量の操作020"),
        "{one:?}"
    );
    assert!(two[0].contains("大量の操作019"), "{:?}", two[0]);
    assert!(two.iter().any(|r| r.contains("ログイン")));
    assert!(second.body.contains("最新の操作</a>"));
}

#[tokio::test]
async fn csv_download_holds_the_filtered_log_in_cp932_or_utf8_with_bom_and_is_itself_recorded() {
    // Given a log with a registrant's entries and logins
    let (_t, mut b) = TestApp::with_owner(COMPANY, "csv@example.jp").await;
    registrant(&mut b, "佐藤", "A001", "").await;

    // When the owner downloads the log narrowed to 佐藤, in both encodings
    let fields = |enc: &'static str| [("subject", "A001"), ("encoding", enc)];
    let sjis = b
        .submit("/audit-log", "/audit-log/csv", &fields("cp932"))
        .await;
    let utf8 = b
        .submit("/audit-log", "/audit-log/csv", &fields("utf8"))
        .await;

    // Then each file holds the header and only 佐藤's entries, and the download is logged
    assert_eq!(sjis.status, StatusCode::OK);
    assert!(sjis.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .contains("Shift_JIS"));
    assert!(sjis.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&sjis.bytes);
    assert!(!bad);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "日時,実施者,登録者,操作内容,IPアドレス,ユーザーエージェント"
    );
    assert!(
        lines.len() >= 2 && lines[1..].iter().all(|l| l.contains("佐藤 一郎（A001）")),
        "{text}"
    );
    assert!(utf8.bytes.starts_with(b"\xEF\xBB\xBF"));
    assert_eq!(String::from_utf8_lossy(&utf8.bytes[3..]), text);
    let rows = log_rows(&b.get("/audit-log").await);
    assert!(rows[0].contains("操作履歴のCSVダウンロード"), "{rows:?}");
}

/// The owner's 検証 result after `tamper` changed the stored log.
async fn verify_after(tamper: impl AsyncFnOnce(&dyn Store, &str)) -> String {
    let (t, mut b) = TestApp::with_owner(COMPANY, "verify@example.jp").await;
    let scope = t.scope_of("verify@example.jp").await;
    append(&t, &scope, 5).await;
    let pk = format!("T#{}", scope.tenant());
    tamper(t.app.ports.audit_store.as_ref(), &pk).await;
    let page = b.submit("/audit-log", "/audit-log/verify", &[]).await;
    let result = page
        .body
        .split("id=\"verify-result\"")
        .nth(1)
        .unwrap_or_default();
    result[..result.find("</div>").unwrap_or(0)].to_string()
}

fn entry_key(pk: &str, seq: i64) -> Key {
    Key::new(pk, format!("LOG#{seq:012}"))
}

#[tokio::test]
async fn verify_names_the_first_altered_missing_or_reordered_entry_when_the_store_is_tampered() {
    // Given an intact log, then one whose 4th entry was edited, one whose 4th was deleted,
    // and one whose 4th and 5th entries swapped places
    let intact = verify_after(async |_, _| {}).await;
    let edited = verify_after(async |store, pk| {
        let mut item = store.get(&entry_key(pk, 4)).await.unwrap().unwrap();
        item.attrs
            .insert("detail".into(), "何もしていません".into());
        store.put(item, Condition::None).await.unwrap();
    })
    .await;
    let deleted = verify_after(async |store, pk| {
        store
            .delete(&entry_key(pk, 4), Condition::None)
            .await
            .unwrap();
    })
    .await;
    let reordered = verify_after(async |store, pk| {
        let mut four = store.get(&entry_key(pk, 4)).await.unwrap().unwrap();
        let mut five = store.get(&entry_key(pk, 5)).await.unwrap().unwrap();
        std::mem::swap(&mut four.key, &mut five.key);
        store.put(four, Condition::None).await.unwrap();
        store.put(five, Condition::None).await.unwrap();
    })
    .await;

    // Then 検証 says 正常 for the first and names the entry and the kind of damage for the others
    assert!(intact.contains("正常"), "{intact}");
    assert!(
        edited.contains("異常: 4番目の記録で記録の内容が書き換えられています"),
        "{edited}"
    );
    assert!(
        deleted.contains("異常: 4番目の記録で記録が欠落しています"),
        "{deleted}"
    );
    assert!(
        reordered.contains("異常: 4番目の記録で記録の順序が入れ替えられています"),
        "{reordered}"
    );
}

#[tokio::test]
async fn audit_log_screens_are_refused_when_the_user_may_only_view() {
    // Given a 閲覧のみ user
    let (t, mut b) = TestApp::with_owner(COMPANY, "viewer@example.jp").await;
    let id = registrant(&mut b, "佐藤", "A001", "").await;
    let scope = t.scope_of("viewer@example.jp").await;
    t.set_role(&scope, "view_only").await;

    // When they open the log, the report or a registrant's evidence
    // Then each is refused
    for path in [
        "/audit-log",
        "/audit-log/report",
        &format!("/registrants/{id}/evidence"),
    ] {
        assert_eq!(b.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
}

#[tokio::test]
async fn every_kind_of_operation_reaches_the_log_with_its_description() {
    // Given an owner whose first login attempt failed
    let t = TestApp::spawn();
    let email = "all@example.jp";
    t.signup(COMPANY, email, PW).await;
    let mut stranger = t.browser("198.51.100.77");
    stranger
        .submit(
            "/login",
            "/login",
            &[("email", email), ("password", "wrong-password-1")],
        )
        .await;
    let mut b = t.login(email, PW, None).await;

    // When they go through the product's kinds of operations
    let id = registrant(&mut b, "佐藤", "A001", &valid_number(21)).await;
    let reveal = format!("/registrants/{id}/reveal");
    b.submit(
        &reveal,
        &reveal,
        &[("password", PW), ("purpose", "employment_insurance")],
    )
    .await;
    b.submit(
        "/collection/passcode",
        "/collection/passcode",
        &[("passcode", "8315")],
    )
    .await;
    b.submit(
        "/registrants/groups/new",
        "/registrants/groups/new",
        &[("name", "総務部"), ("confirmed", "1")],
    )
    .await;
    t.mailed_registrant(&mut b, email, "hanako@example.jp")
        .await;
    let gone = registrant(&mut b, "鈴木", "B002", "").await;
    let path = format!("/registrants/{gone}/delete");
    b.dispose(&path, "mistaken", "").await;
    let page = b.get("/audit-log").await;
    b.submit("/home", "/logout", &[]).await;
    let mut again = t.login(email, PW, None).await;
    let after_logout = again.get("/audit-log").await;

    // Then 操作履歴 names each of them
    let rows = log_rows(&page).join("\n");
    for expected in [
        "ログイン失敗",
        "| ログイン |",
        "登録者「佐藤 一郎」",
        "マイナンバー表示（利用目的: 雇用保険届出事務）",
        "パスコード",
        "グループ「総務部」",
        "マイナンバー収集メールの送信（1名）",
        "登録者「山田 花子」へのマイナンバー収集メールの送信",
        "鈴木 一郎",
    ] {
        assert!(rows.contains(expected), "missing {expected}:\n{rows}");
    }
    assert!(log_rows(&after_logout)
        .iter()
        .any(|r| r.contains("ログアウト")));
}

#[tokio::test]
async fn handling_report_sums_reveals_by_purpose_and_person_and_counts_the_month_without_numbers() {
    // Given a month with a reveal for 雇用保険, a registration and a refusal
    let (t, mut b) = TestApp::with_owner(COMPANY, "report@example.jp").await;
    let number = valid_number(31);
    let id = registrant(&mut b, "佐藤", "A001", &number).await;
    let reveal = format!("/registrants/{id}/reveal");
    for _ in 0..2 {
        b.submit(
            &reveal,
            &reveal,
            &[("password", PW), ("purpose", "employment_insurance")],
        )
        .await;
    }
    let month = {
        let d = t.clock_today();
        format!("{:04}-{:02}", d.year(), u8::from(d.month()))
    };

    // When the owner opens 取扱状況 for this month and downloads it
    let page = b.get(&format!("/audit-log/report?month={month}")).await;
    let csv = b
        .submit(
            &format!("/audit-log/report?month={month}"),
            "/audit-log/report/csv",
            &[("month", &month), ("encoding", "utf8")],
        )
        .await;
    let earlier = b.get("/audit-log/report?month=2001-01").await;

    // Then reveals are summed per purpose and person, the counts are there, and no number is
    let uses = table_rows(&page.body, "report-uses");
    assert_eq!(
        uses,
        vec!["表示 | 雇用保険届出事務 | 山田 太郎 | 2 | 2".to_string()]
    );
    assert!(
        page.body.contains("登録者の登録</th><td class=\"num\">1件"),
        "{}",
        page.body
    );
    assert!(page.body.contains("ログイン</th><td class=\"num\">1件"));
    assert!(!page.body.contains(&number) && !csv.body.contains(&number));
    assert!(
        csv.body.contains("表示,雇用保険届出事務,山田 太郎,2,2"),
        "{}",
        csv.body
    );
    assert!(earlier
        .body
        .contains("この月のマイナンバーの表示・ダウンロードはありません。"));
    let bad = b.get("/audit-log/report?month=13").await;
    assert!(bad.body.contains("年月を読み取れません"));
}

#[tokio::test]
async fn evidence_lists_every_step_about_a_refused_registrant_oldest_first_and_is_linked_from_detail(
) {
    // Given a registrant mailed a collection request and then refused
    let (t, mut b) = TestApp::with_owner(COMPANY, "evidence@example.jp").await;
    registrant(&mut b, "鈴木", "B002", "").await;
    let (id, _) = t
        .mailed_registrant(&mut b, "evidence@example.jp", "hanako@example.jp")
        .await;
    let page = format!("/registrants/{id}/number");
    let form = b.get(&page).await;
    let version = form.hidden("version");
    let reason = "本人が提供を拒否（説明済み）";
    b.submit(
        &page,
        &format!("{page}/refuse"),
        &[("version", &version), ("reason", reason)],
    )
    .await;

    // When the owner opens the registrant's detail and its 対応記録, and downloads it
    let detail = b.get(&format!("/registrants/{id}")).await;
    let evidence = b.get(&format!("/registrants/{id}/evidence")).await;
    let csv = b
        .submit(
            &format!("/registrants/{id}/evidence"),
            &format!("/registrants/{id}/evidence/csv"),
            &[("encoding", "utf8")],
        )
        .await;

    // Then the steps come oldest first: the registration, the mail, the refusal, and nothing
    // about anyone else; the download is itself recorded under the registrant
    assert!(detail
        .body
        .contains(&format!("href=\"/registrants/{id}/evidence\"")));
    let rows = table_rows(&evidence.body, "evidence");
    let mail = rows
        .iter()
        .position(|r| r.contains("収集メールの送信"))
        .unwrap();
    let refused = rows.iter().position(|r| r.contains("拒否")).unwrap();
    assert!(mail < refused, "{rows:?}");
    assert!(!evidence.body.contains("鈴木"), "{rows:?}");
    assert!(csv.bytes.starts_with(b"\xEF\xBB\xBF"));
    assert_eq!(csv.body.lines().count(), rows.len() + 1, "{}", csv.body);
    let again = table_rows(
        &b.get(&format!("/registrants/{id}/evidence")).await.body,
        "evidence",
    );
    assert!(again.last().unwrap().contains("対応記録のCSVダウンロード"));
}
