//! Collection (manual ch.6–8): 簡易登録, the send list, collection mails run by the worker,
//! QR codes, and the registrant's own journey on the phone pages.

use axum::http::StatusCode;
use myna::app::collection::{self as coll, SUBJECT};
use myna::app::dependents as deps;
use myna::app::registrants as regs;
use myna::app::tenants;
use myna::domain::status::Status;
use myna_tests::fixtures::{
    assert_identity_documents_current, assert_number_documents_current, holds_number_message,
    status_of, NUMBER, REG_PW,
};
use myna_tests::{Browser, Page, TestApp};

/// The company every owner here signs up.
const COMPANY: &str = "株式会社コレクト";

fn mails_to(t: &TestApp, to: &str) -> usize {
    t.outbox
        .list()
        .unwrap()
        .iter()
        .filter(|m| m.mail.to == to)
        .count()
}

#[tokio::test]
async fn quick_registration_saves_valid_pages_only_and_respects_the_plan() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "quick@example.jp").await;
    let scope = t.scope_of("quick@example.jp").await;

    // One bad row refuses the whole page, keeps what was typed, marks the cell.
    let res = b
        .quick(
            &[
                ("山田", "花子", "hanako@example.jp"),
                ("鈴木", "一郎", "not-an-address"),
            ],
            "more",
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .body
        .contains("メールアドレスの形式が正しくありません。"));
    assert!(res.body.contains("value=\"hanako@example.jp\""));
    assert!(res.body.contains("まだ保存されていません"));
    assert_eq!(tenants::counters(&scope).await.unwrap().registrants, 0);

    let res = b
        .quick(
            &[
                ("山田", "花子", "hanako@example.jp"),
                ("鈴木", "一郎", "ichiro@example.jp"),
                ("佐藤", "", "sato@example.jp"),
            ],
            "list",
        )
        .await;
    assert_eq!(res.location(), Some("/collection/send-list?added=3"));
    let list = b.get("/collection/send-list?added=3").await;
    assert!(list.body.contains("3件の登録者を追加しました。"));
    assert!(list
        .body
        .contains("対象者: <span id=\"target-count\">3</span>名"));
    assert!(list.body.contains("山田 花子") && list.body.contains("sato@example.jp"));
    // No passcode yet: the manual's warning, and sending is still offered.
    assert!(list.body.contains("パスコードが入力されていません。"));
    assert!(list.body.contains(">送信</button>"));
    let r = regs::get(&scope, &t.send_list_ids("quick@example.jp").await[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.person.status, r.attribute.code()),
        (Status::Unregistered, "employee1")
    );

    // The trial plan takes 10: eight more are refused as a whole.
    let form = b.get("/collection/quick").await;
    assert!(form.body.contains("登録可能人数: <strong>7</strong>"));
    let eight: Vec<(String, String)> = (0..8)
        .map(|i| (format!("追加{i}"), format!("extra{i}@example.jp")))
        .collect();
    let rows: Vec<(&str, &str, &str)> = eight
        .iter()
        .map(|(n, e)| (n.as_str(), "", e.as_str()))
        .collect();
    let res = b.quick(&rows, "more").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("入力した登録者は保存されていません"));
    assert_eq!(tenants::counters(&scope).await.unwrap().registrants, 3);
}

#[tokio::test]
async fn a_blast_mails_everyone_once_and_reports_the_address_that_failed() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "blast@example.jp").await;
    let scope = t.scope_of("blast@example.jp").await;
    b.quick(
        &[
            ("山田", "花子", "hanako@example.jp"),
            ("不達", "太郎", "nobody@mail.invalid"),
            ("鈴木", "一郎", "ichiro@example.jp"),
        ],
        "list",
    )
    .await;
    let ids = t.send_list_ids("blast@example.jp").await;
    let blast = b
        .send_collection_mail(
            "/collection/send-list",
            &ids,
            &[
                ("message", "今月末までにご登録ください。"),
                ("reply_to", "jinji@example.jp"),
                ("copy", "on"),
            ],
        )
        .await;

    // Before the worker runs: progress, refreshing itself.
    let progress = b.get(&blast).await;
    assert!(progress.body.contains("送信しています"));
    assert_eq!(progress.headers.get("refresh").unwrap(), "2");

    assert_eq!(t.run_jobs().await, 1);
    let result = b.get(&blast).await;
    assert!(
        result.body.contains("<strong>2名</strong>に送信しました"),
        "{}",
        result.body
    );
    assert!(result.body.contains("送信できなかった対象者"));
    assert!(result.body.contains("nobody@mail.invalid"));
    assert!(result.headers.get("refresh").is_none());

    let mail = t.outbox.latest_to("hanako@example.jp").unwrap().unwrap();
    assert_eq!(mail.mail.reply_to.as_deref(), Some("jinji@example.jp"));
    assert!(mail.mail.body.contains("山田 花子 様"));
    assert!(mail.mail.body.contains("今月末までにご登録ください。"));
    assert!(mail.mail.body.contains("株式会社コレクト"));
    // The copy to the logged-in user carries no working link.
    let copy = t.outbox.latest_to("blast@example.jp").unwrap().unwrap();
    assert!(copy.mail.subject.contains(SUBJECT));
    assert!(!copy.mail.body.contains("/r/"));

    // Sent people leave the send list; the failed one stays for a retry.
    let left = t.send_list_ids("blast@example.jp").await;
    assert_eq!(left.len(), 1);
    let failed = regs::get(&scope, &left[0]).await.unwrap().unwrap();
    assert_eq!(failed.email.as_deref(), Some("nobody@mail.invalid"));

    // The same event delivered again (EventBridge retries) sends nothing twice.
    let copies = mails_to(&t, "blast@example.jp");
    let blast_id = blast.rsplit('/').next().unwrap();
    t.app
        .ports
        .events
        .publish(vec![coll::blast_event(scope.tenant(), blast_id)])
        .await
        .unwrap();
    coll::run_blast(&t.app, scope.tenant(), blast_id)
        .await
        .unwrap();
    t.run_jobs().await;
    assert_eq!(mails_to(&t, "hanako@example.jp"), 1);
    assert_eq!(mails_to(&t, "ichiro@example.jp"), 1);
    assert_eq!(mails_to(&t, "blast@example.jp"), copies);
}

#[tokio::test]
async fn a_send_stuck_mid_way_is_reported_not_repeated() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "stuck@example.jp").await;
    let scope = t.scope_of("stuck@example.jp").await;
    b.quick(&[("山田", "花子", "hanako@example.jp")], "list")
        .await;
    let ids = t.send_list_ids("stuck@example.jp").await;
    let blast = b
        .send_collection_mail("/collection/send-list", &ids, &[])
        .await;
    let blast_id = blast.rsplit('/').next().unwrap().to_string();
    // A worker claimed the recipient and crashed before recording the outcome.
    let key = scope.key(&format!("BLAST#{blast_id}#TO#{}", ids[0]));
    let mut item = scope.get(&key).await.unwrap().unwrap();
    item.attrs.insert("state".into(), "sending".into());
    scope.put(item, myna::ports::Condition::None).await.unwrap();
    t.run_jobs().await;
    assert_eq!(
        mails_to(&t, "hanako@example.jp"),
        0,
        "fresh claim: left alone"
    );
    t.clock.advance(time::Duration::minutes(11));
    coll::run_blast(&t.app, scope.tenant(), &blast_id)
        .await
        .unwrap();
    assert_eq!(mails_to(&t, "hanako@example.jp"), 0, "never sent twice");
    let result = b.get(&blast).await;
    assert!(result.body.contains("送信されたか確認できません"));
}

#[tokio::test]
async fn the_registrant_enters_number_photos_and_dependents_on_the_phone() {
    // GIVEN a company with a passcode and one registrant mailed a registration link.
    let (t, mut b) = TestApp::with_owner(COMPANY, "journey@example.jp").await;
    let scope = t.scope_of("journey@example.jp").await;
    let res = b
        .submit(
            "/collection/passcode",
            "/collection/passcode",
            &[("passcode", "8315")],
        )
        .await;
    assert_eq!(res.location(), Some("/collection/passcode?done=1"));
    let (id, link) = t
        .mailed_registrant(&mut b, "journey@example.jp", "hanako@example.jp")
        .await;

    // WHEN the registrant opens the link THEN the first visit shows who, the passcode box, the
    // purposes, the consent button.
    let mut phone = t.browser("198.51.100.20");
    let page = phone.get(&link).await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "山田 花子様",
        "hanako@example.jp",
        "企業パスコード",
        "給与所得・退職所得の源泉徴収票作成事務",
        "下記の利用目的に同意してログイン",
        "パスワード確認",
    ] {
        assert!(page.body.contains(text), "{text}");
    }
    assert!(!page.body.contains("ログアウト"), "no administrator chrome");
    let res = phone
        .submit(
            &link,
            &link,
            &[
                ("password", REG_PW),
                ("password_confirm", "Other-Pass-77"),
                ("passcode", "8315"),
            ],
        )
        .await;
    assert!(res
        .body
        .contains("パスワードとパスワード確認が一致しません。"));
    let mut phone = t.phone_login(&link, "8315", "198.51.100.20").await;
    assert!(phone.cookies.contains_key("myna_rsid"));
    assert!(!phone.cookies.contains_key("myna_sid"));
    assert_eq!(phone.get("/r/me").await.location(), Some("/r/me/step1"));

    // WHEN ステップ1 is sent THEN a bad check digit is refused with the typed values kept; then saved.
    let step1 = |n: &'static str| {
        vec![
            ("sex", "female"),
            ("birth_year", "1985"),
            ("birth_month", "2"),
            ("birth_day", "28"),
            ("number1", &n[0..4]),
            ("number2", &n[4..8]),
            ("number3", &n[8..12]),
        ]
    };
    let res = phone
        .submit("/r/me/step1", "/r/me/step1", &step1("621498320258"))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.body.contains("チェックデジット") || res.body.contains("正しくありません"),
        "{}",
        res.body
    );
    assert!(res.body.contains("<option value=\"1985\" selected>"));
    let res = phone
        .submit("/r/me/step1", "/r/me/step1", &step1(NUMBER))
        .await;
    assert_eq!(res.location(), Some("/r/me/step2"));
    // A reload (or a lost connection) loses nothing; the status waits for 登録を終了.
    assert!(phone.get("/r/me/step1").await.body.contains("********0257"));
    assert_eq!(phone.get("/r/me").await.location(), Some("/r/me/step2"));
    let r = regs::get(&scope, &id).await.unwrap().unwrap();
    assert_eq!(r.person.status, Status::Unregistered);

    let step2 = phone.get("/r/me/step2").await;
    assert!(step2
        .body
        .contains("個人番号カード（マイナンバーカード）の裏面"));
    assert!(step2.body.contains("写真を撮る/選択") && step2.body.contains("/static/upload.js"));
    t.phone_upload(&mut phone, "/r/me", "number_proof").await;
    t.phone_upload(&mut phone, "/r/me", "identity_proof").await;
    assert_eq!(phone.get("/r/me").await.location(), Some("/r/me/review"));

    // WHEN a 第3号 dependent is added THEN it goes on to its own photos; finishing without them is
    // refused.
    let dep = |kind: &'static str, given: &'static str, n: &'static str| {
        vec![
            ("family_name", "山田"),
            ("given_name", given),
            ("sex", "male"),
            ("birth_year", "1983"),
            ("birth_month", "5"),
            ("birth_day", "1"),
            ("relationship", "spouse"),
            ("kind", kind),
            ("number1", &n[0..4]),
            ("number2", &n[4..8]),
            ("number3", &n[8..12]),
        ]
    };
    let res = phone
        .submit(
            "/r/me/dependents/new",
            "/r/me/dependents/new",
            &dep("national_pension_category3", "太郎", "123456789018"),
        )
        .await;
    let step5 = res.location().unwrap().to_string();
    assert!(step5.ends_with("/step5"), "{step5}");
    let dep_base = step5.trim_end_matches("/step5").to_string();
    let res = phone.submit("/r/me/review", "/r/me/finish", &[]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .body
        .contains("国民年金の第3号被保険者）の番号確認書類の画像がアップロードされていません"));
    t.phone_upload(&mut phone, &dep_base, "number_proof").await;
    t.phone_upload(&mut phone, &dep_base, "identity_proof")
        .await;
    let res = phone
        .submit(
            "/r/me/dependents/new",
            "/r/me/dependents/new",
            &dep("dependent", "次郎", "234567890121"),
        )
        .await;
    assert_eq!(res.location(), Some("/r/me/dependents"), "{}", res.body);
    let list = phone.get("/r/me/dependents").await;
    assert!(list.body.contains("山田 太郎") && list.body.contains("山田 次郎"));

    let review = phone.get("/r/me/review").await;
    assert!(review.body.contains("********0257") && !review.body.contains(NUMBER));
    let res = phone.submit("/r/me/review", "/r/me/finish", &[]).await;
    assert_eq!(res.location(), Some("/r/me/done"), "{}", res.body);
    assert!(phone
        .get("/r/me/done")
        .await
        .body
        .contains("マイナンバーの登録作業は正常に完了いたしました。"));

    let r = regs::get(&scope, &id).await.unwrap().unwrap();
    assert_eq!(r.person.status, Status::Pending);
    assert!(deps::list(&scope, &id)
        .await
        .unwrap()
        .iter()
        .all(|d| d.person.status == Status::Pending));
    let c = tenants::counters(&scope).await.unwrap();
    assert_eq!((c.pending, c.unregistered, c.dependents_pending), (1, 0, 2));
    let tenant = tenants::load(&scope).await.unwrap().unwrap();
    let sealed = r.person.number.unwrap().sealed;
    assert_eq!(
        t.app
            .vault
            .open_number(&tenant.keys, &id, &sealed)
            .await
            .unwrap()
            .expose(),
        NUMBER
    );
    // WHEN 登録を終了 THEN finishing ends the session; the same link and the password let them fix
    // things.
    assert_eq!(phone.get("/r/me").await.status, StatusCode::UNAUTHORIZED);
    let mut again = t.browser("198.51.100.20");
    let login = again.get(&link).await;
    assert!(login.body.contains(">ログイン</button>") && !login.body.contains("パスワード確認"));
    let res = again
        .submit(&link, &link, &[("password", REG_PW), ("passcode", "8315")])
        .await;
    assert_eq!(res.location(), Some("/r/me"));

    // WHEN the administrator sends it back (差戻し) THEN the registrant sees the reason on the phone
    // and sends again.
    let base = format!("/approval/{id}");
    let res = b
        .decide(
            &base,
            "send-back",
            "本人確認書類が不鮮明です。撮り直してください。",
        )
        .await;
    assert!(
        res.status.is_success() || res.status.is_redirection(),
        "{}",
        res.body
    );
    assert_eq!(
        regs::get(&scope, &id).await.unwrap().unwrap().person.status,
        Status::SentBack
    );
    let mail_form = b
        .get(&format!(
            "/collection/mail?ids={id}&message=%E6%92%AE%E3%82%8A%E7%9B%B4%E3%81%97"
        ))
        .await;
    assert!(mail_form.body.contains(">撮り直し</textarea>"));
    let step1 = again.get("/r/me/step1").await;
    assert!(step1
        .body
        .contains("本人確認書類が不鮮明です。撮り直してください。"));
    let res = again.submit("/r/me/review", "/r/me/finish", &[]).await;
    assert_eq!(res.location(), Some("/r/me/done"), "{}", res.body);
    assert_eq!(
        regs::get(&scope, &id).await.unwrap().unwrap().person.status,
        Status::Pending
    );

    // WHEN the administrator approves (承認) THEN the login is locked: the next visit and the link
    // explain the lock.
    let res = b.decide(&base, "approve", "").await;
    assert!(res.status.is_redirection(), "{}", res.body);
    let mut later = t.browser("198.51.100.21");
    let res = later.get(&link).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.body.contains("ログインロック"));
    assert!(later.get(&link).await.body.contains("ログインロックを解除"));
}

#[tokio::test]
async fn replaced_and_expired_links_tell_the_person_to_ask_their_administrator() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "links@example.jp").await;
    let (id, first) = t
        .mailed_registrant(&mut b, "links@example.jp", "hanako@example.jp")
        .await;
    b.send_collection_mail(
        &format!("/collection/mail?ids={id}"),
        std::slice::from_ref(&id),
        &[],
    )
    .await;
    t.run_jobs().await;
    let second = t.link_in_mail("hanako@example.jp");
    assert_ne!(first, second);

    let mut phone = t.browser("198.51.100.30");
    let old = phone.get(&first).await;
    assert_eq!(old.status, StatusCode::GONE);
    assert!(old.body.contains("新しい登録用URLが発行された"));
    assert!(old
        .body
        .contains("担当者に、収集メールの再送信を依頼してください"));
    assert_eq!(phone.get(&second).await.status, StatusCode::OK);
    let forged = format!("{}x", second);
    assert_eq!(phone.get(&forged).await.status, StatusCode::NOT_FOUND);

    // The QR code is a new link too: the mailed one stops working.
    let qr = show_qr(&mut b, &id).await;
    assert!(qr.body.contains("<svg") && qr.body.contains("株式会社コレクト"));
    assert!(qr.body.contains("山田 花子 様"));
    assert_eq!(phone.get(&second).await.status, StatusCode::GONE);

    t.clock.advance(time::Duration::days(91));
    let url_line = qr
        .body
        .split("QRコードを読み取れない場合のURL: ")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .trim()
        .trim_start_matches("http://127.0.0.1:8080")
        .to_string();
    let expired = phone.get(&url_line).await;
    assert_eq!(expired.status, StatusCode::GONE);
    assert!(expired.body.contains("有効期限（90日間）が切れています"));
}

#[tokio::test]
async fn wrong_passcodes_lock_the_link_from_that_address_but_not_its_owner_elsewhere() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "guard@example.jp").await;
    b.submit(
        "/collection/passcode",
        "/collection/passcode",
        &[("passcode", "8315")],
    )
    .await;
    let (_, link) = t
        .mailed_registrant(&mut b, "guard@example.jp", "hanako@example.jp")
        .await;
    let mut phone = t.browser("198.51.100.40");
    let try_passcode = |passcode: &'static str| {
        [
            ("password", REG_PW),
            ("password_confirm", REG_PW),
            ("passcode", passcode),
        ]
    };
    for _ in 0..5 {
        let res = phone.submit(&link, &link, &try_passcode("0000")).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert!(res.body.contains("企業パスコードが正しくありません。"));
    }
    // Now even the right passcode is refused on this link from that address...
    let res = phone.submit(&link, &link, &try_passcode("8315")).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.body.contains("しばらくログインできません"));
    let scope = t.scope_of("guard@example.jp").await;
    let id = regs::load_all(&scope, None).await.unwrap().0[0].id.clone();
    assert!(regs::get(&scope, &id)
        .await
        .unwrap()
        .unwrap()
        .password_hash
        .is_none());
    // ...but whoever else holds the link cannot lock its owner out: from another address the
    // right passcode works at once.
    t.phone_login(&link, "8315", "198.51.100.41").await;
}

#[tokio::test]
async fn wrong_passcodes_from_many_addresses_make_the_link_wait() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "guard2@example.jp").await;
    b.submit(
        "/collection/passcode",
        "/collection/passcode",
        &[("passcode", "8315")],
    )
    .await;
    let (_, link) = t
        .mailed_registrant(&mut b, "guard2@example.jp", "hanako@example.jp")
        .await;
    {
        use myna::ports::Clock;
        let into = t.clock.now().unix_timestamp().rem_euclid(3600);
        t.clock.advance(time::Duration::seconds(3600 - into));
    }
    let fields = |passcode: &'static str| {
        [
            ("password", REG_PW),
            ("password_confirm", REG_PW),
            ("passcode", passcode),
        ]
    };
    for i in 0..10 {
        let mut phone = t.browser(&format!("198.18.5.{i}"));
        let res = phone.submit(&link, &link, &fields("0000")).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let mut owner_phone = t.browser("198.51.100.42");
    let res = owner_phone.submit(&link, &link, &fields("8315")).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.body.contains("1秒ほど待って"), "{}", res.body);
    assert_eq!(res.headers.get("retry-after").unwrap(), "1");
    t.clock.advance(time::Duration::seconds(1));
    t.phone_login(&link, "8315", "198.51.100.42").await;
}

#[tokio::test]
async fn registrant_and_administrator_sessions_never_open_each_others_pages() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "split@example.jp").await;
    let (_, link_a) = t
        .mailed_registrant(&mut b, "split@example.jp", "a@example.jp")
        .await;
    let (_, link_b) = t
        .mailed_registrant(&mut b, "split@example.jp", "b@example.jp")
        .await;
    let mut a = t.phone_login(&link_a, "", "198.51.100.50").await;
    let mut other = t.phone_login(&link_b, "", "198.51.100.51").await;
    let res = other
        .submit(
            "/r/me/dependents/new",
            "/r/me/dependents/new",
            &[
                ("family_name", "別人"),
                ("given_name", "家族"),
                ("sex", "male"),
                ("birth_year", "2010"),
                ("birth_month", "1"),
                ("birth_day", "1"),
                ("relationship", "child"),
                ("kind", "dependent"),
                ("number1", "1234"),
                ("number2", "5678"),
                ("number3", "9018"),
            ],
        )
        .await;
    assert_eq!(res.location(), Some("/r/me/dependents"));
    let page = other.get("/r/me/dependents").await;
    let dep_id = page
        .body
        .split("/r/me/dependents/")
        .nth(2)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    // Another registrant's dependent is not found from A's session.
    assert_eq!(
        a.get(&format!("/r/me/dependents/{dep_id}")).await.status,
        StatusCode::NOT_FOUND
    );
    // The registrant's session opens no administrator page, and the reverse.
    assert_eq!(a.get("/registrants").await.location(), Some("/login"));
    assert_eq!(a.get("/home").await.location(), Some("/login"));
    assert_eq!(b.get("/r/me").await.status, StatusCode::UNAUTHORIZED);
}

/// The `<tr>` of the send table that carries `name`.
fn send_row<'a>(page: &'a Page, name: &str) -> Option<&'a str> {
    page.body
        .split("<tr>")
        .find(|row| row.contains(&format!("<td>{name}</td>")))
}

#[tokio::test]
async fn the_blast_lists_everyone_but_retirees_with_only_unregistered_and_sent_back_ticked() {
    // GIVEN one registrant in each status, and a retired one
    let (t, mut b) = TestApp::with_owner(COMPANY, "everyone@example.jp").await;
    let scope = t.scope_of("everyone@example.jp").await;
    b.quick(
        &[
            ("未登", "録子", "a@example.jp"),
            ("承認", "待子", "b@example.jp"),
            ("差戻", "し子", "c@example.jp"),
            ("完了", "済子", "d@example.jp"),
            ("拒否", "済子", "e@example.jp"),
            ("退職", "済子", "f@example.jp"),
        ],
        "list",
    )
    .await;
    let mut completed_id = String::new();
    for id in t.send_list_ids("everyone@example.jp").await {
        let mut r = regs::get(&scope, &id).await.unwrap().unwrap();
        match r.name().as_str() {
            "承認 待子" => r.person.status = Status::Pending,
            "差戻 し子" => r.person.status = Status::SentBack,
            "完了 済子" => {
                r.person.status = Status::Completed;
                completed_id = id.clone();
            }
            "拒否 済子" => r.person.status = Status::Refused,
            "退職 済子" => r.retired_on = Some(time::macros::date!(2026 - 03 - 31)),
            _ => continue,
        }
        scope
            .put(r.to_item(&scope), myna::ports::Condition::None)
            .await
            .unwrap();
    }

    // WHEN the administrator opens 収集メール一括送信
    let page = b.get("/collection/blast").await;

    // THEN every status is listed, the retiree is not, and only 未登録 and 差戻し are ticked
    assert_eq!(page.status, StatusCode::OK);
    for (name, ticked) in [
        ("未登 録子", true),
        ("承認 待子", false),
        ("差戻 し子", true),
        ("完了 済子", false),
        ("拒否 済子", false),
    ] {
        let row = send_row(&page, name).unwrap_or_else(|| panic!("{name} missing: {}", page.body));
        assert_eq!(row.contains(" checked"), ticked, "{name}: {row}");
    }
    assert!(send_row(&page, "退職 済子").is_none(), "retiree listed");
    // 対象者 counts the ticked rows, and the page's script keeps it in step with the ticks.
    assert!(
        page.body
            .contains("対象者: <span id=\"target-count\">2</span>名"),
        "{}",
        page.body
    );
    let script = b.get("/static/collection.js").await;
    assert!(script.body.contains("target-count"));

    // AND a ticked 完了 registrant can be sent to deliberately
    let blast = b
        .send_collection_mail(
            "/collection/blast",
            std::slice::from_ref(&completed_id),
            &[],
        )
        .await;
    t.run_jobs().await;
    assert!(b
        .get(&blast)
        .await
        .body
        .contains("<strong>1名</strong>に送信しました"));
    assert_eq!(mails_to(&t, "d@example.jp"), 1);
}

#[tokio::test]
async fn the_phone_document_steps_list_the_current_documents() {
    // GIVEN a registrant logged in on the phone from the collection mail
    let (t, mut b) = TestApp::with_owner(COMPANY, "phonedocs@example.jp").await;
    let (_, link) = t
        .mailed_registrant(&mut b, "phonedocs@example.jp", "pd@example.jp")
        .await;
    let mut phone = t.phone_login(&link, "", "198.51.100.61").await;

    // WHEN ステップ2 (番号確認) and ステップ3 (身元確認) are opened
    let step2 = phone.get("/r/me/step2").await;
    let step3 = phone.get("/r/me/step3").await;

    // THEN they list the documents valid today, from the same lists as the approval screen
    assert_eq!(step2.status, StatusCode::OK, "{}", step2.body);
    assert_number_documents_current(&step2.body, "step2");
    assert_eq!(step3.status, StatusCode::OK, "{}", step3.body);
    assert_identity_documents_current(&step3.body, "step3");
    assert!(!step3.body.contains("健康保険証の場合"));
}

/// The administrator issues a QR code (a new link) for `id`; the QR page.
async fn show_qr(b: &mut Browser, id: &str) -> Page {
    let page = format!("/registrants/{id}/qr");
    let qr = b.submit(&page, &page, &[]).await;
    assert_eq!(qr.status, StatusCode::OK);
    qr
}

/// The administrator mails the collection mail to `id` again; the new link (path only).
async fn mail_again(t: &TestApp, b: &mut Browser, id: &str, to: &str) -> String {
    b.send_collection_mail(
        &format!("/collection/mail?ids={id}"),
        &[id.to_string()],
        &[],
    )
    .await;
    t.run_jobs().await;
    t.link_in_mail(to)
}

/// ステップ1 with the test number, posted with the CSRF token `csrf` of an open page.
async fn post_step1(phone: &mut Browser, csrf: &str) -> Page {
    phone
        .post(
            "/r/me/step1",
            &[
                ("csrf", csrf),
                ("sex", "female"),
                ("birth_year", "1985"),
                ("birth_month", "2"),
                ("birth_day", "28"),
                ("number1", &NUMBER[0..4]),
                ("number2", &NUMBER[4..8]),
                ("number3", &NUMBER[8..12]),
            ],
        )
        .await
}

/// The message of the page a phone session lands on once its link no longer works.
async fn phone_refused(phone: &mut Browser, path: &str) -> Page {
    let res = phone.get(path).await;
    assert_eq!(res.status, StatusCode::GONE, "{}", res.body);
    res
}

#[tokio::test]
async fn an_open_phone_session_ends_when_a_new_link_is_mailed_or_shown_as_a_qr_code() {
    // Arrange: the registrant is logged in on the phone through the mailed link.
    let (t, mut b) = TestApp::with_owner(COMPANY, "reissue@example.jp").await;
    let scope = t.scope_of("reissue@example.jp").await;
    let (id, first) = t
        .mailed_registrant(&mut b, "reissue@example.jp", "hanako@example.jp")
        .await;
    let mut phone = t.phone_login(&first, "", "198.51.100.60").await;
    let open = phone.get("/r/me/step1").await;
    assert_eq!(open.status, StatusCode::OK);
    let csrf = open.csrf().unwrap();

    // Act: the administrator mails the collection mail again.
    let second = mail_again(&t, &mut b, &id, "hanako@example.jp").await;

    // Assert: the old session's next request is sent to the "link replaced" page, saving
    // nothing, and the session is gone for good.
    let res = post_step1(&mut phone, &csrf).await;
    assert_eq!(res.status, StatusCode::GONE, "{}", res.body);
    assert!(
        res.body.contains("新しい登録用URLが発行された"),
        "{}",
        res.body
    );
    assert!(regs::get(&scope, &id)
        .await
        .unwrap()
        .unwrap()
        .person
        .number
        .is_none());
    assert_eq!(
        phone.get("/r/me/step1").await.status,
        StatusCode::UNAUTHORIZED
    );

    // The new link works; a QR code issued afterwards ends that session too.
    let mut phone = t.phone_login(&second, "", "198.51.100.60").await;
    assert_eq!(phone.get("/r/me/step1").await.status, StatusCode::OK);
    show_qr(&mut b, &id).await;
    let page = phone_refused(&mut phone, "/r/me/step1").await;
    assert!(page.body.contains("新しい登録用URLが発行された"));
}

#[tokio::test]
async fn refusing_a_registrant_voids_the_link_and_its_sessions_and_a_new_mail_reopens_collection() {
    // Arrange: a registrant logged in on the phone.
    let (t, mut b) = TestApp::with_owner(COMPANY, "refused@example.jp").await;
    let scope = t.scope_of("refused@example.jp").await;
    let (id, link) = t
        .mailed_registrant(&mut b, "refused@example.jp", "hanako@example.jp")
        .await;
    let mut phone = t.phone_login(&link, "", "198.51.100.70").await;
    let csrf = phone.get("/r/me/step1").await.csrf().unwrap();
    let mut fresh = t.browser("198.51.100.71");
    let login_csrf = fresh.get(&link).await.csrf().unwrap();

    // Act: the administrator marks them 拒否 on マイナンバー編集.
    let page = format!("/registrants/{id}/number");
    let form = b.get(&page).await;
    let res = b
        .submit(
            &page,
            &format!("{page}/refuse"),
            &[
                ("version", &form.hidden("version")),
                ("reason", "本人が提供を拒否（法律上の義務を説明済み）"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);

    // Assert: the open session can save nothing and says collection ended; so does the link.
    let res = post_step1(&mut phone, &csrf).await;
    assert_eq!(res.status, StatusCode::GONE, "{}", res.body);
    assert!(res.body.contains("登録の受付が終了しました"));
    let r = regs::get(&scope, &id).await.unwrap().unwrap();
    assert!(r.person.number.is_none());
    assert_eq!(r.person.status, Status::Refused);
    let res = phone_refused(&mut fresh, &link).await;
    assert!(
        res.body.contains("登録の受付が終了しました"),
        "{}",
        res.body
    );
    let res = fresh
        .post(
            &link,
            &[
                ("csrf", &login_csrf),
                ("password", REG_PW),
                ("passcode", ""),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::GONE, "{}", res.body);

    // A new collection mail re-opens collection; a number saved then goes to 承認待.
    let again = mail_again(&t, &mut b, &id, "hanako@example.jp").await;
    let mut phone = t.phone_login(&again, "", "198.51.100.72").await;
    assert_eq!(
        status_of(&scope, &id).await,
        Status::Refused,
        "re-opening alone changes nothing"
    );
    let csrf = phone.get("/r/me/step1").await.csrf().unwrap();
    let res = post_step1(&mut phone, &csrf).await;
    assert_eq!(res.location(), Some("/r/me/step2"), "{}", res.body);
    assert_eq!(status_of(&scope, &id).await, Status::Pending);
}

#[tokio::test]
async fn a_collection_mail_is_not_sent_when_its_message_holds_a_my_number() {
    // Arrange
    let (t, mut b) = TestApp::with_owner(COMPANY, "message@example.jp").await;
    b.quick(&[("山田", "花子", "hanako@example.jp")], "list")
        .await;
    let id = t.send_list_ids("message@example.jp").await.pop().unwrap();
    let page = format!("/collection/mail?ids={id}");
    let message = "お疲れさまです。先日伺った番号 6214-9832-0257 で登録をお願いします。";

    // Act
    let res = b
        .submit(&page, &page, &[("ids", &id), ("message", message)])
        .await;

    // Assert: refused on the field, the message kept, nothing queued or mailed.
    assert!(
        res.body
            .contains(&holds_number_message("ご担当者からのメッセージ")),
        "{}",
        res.body
    );
    assert!(res.body.contains(message));
    assert_eq!(t.run_jobs().await, 0);
    assert_eq!(mails_to(&t, "hanako@example.jp"), 0);
}

#[tokio::test]
async fn quick_registration_refuses_a_name_when_it_holds_a_my_number() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "quickname@example.jp").await;

    let res = b
        .quick(&[("山田", "621498320257", "hanako@example.jp")], "list")
        .await;

    assert!(
        res.body.contains(&holds_number_message("登録者名（名前）")),
        "{}",
        res.body
    );
    assert!(res.body.contains("hanako@example.jp"));
    assert!(t.send_list_ids("quickname@example.jp").await.is_empty());
}
