//! 複数一括登録, CSVアップロード and CSVダウンロード, through the HTTP routes: all or nothing,
//! every bad row reported, encodings, the download's password/purpose/audit, one data-key
//! unwrap per download, and a staged import that stops half-way.

use axum::http::StatusCode;
use myna::app::keys::TenantScope;
use myna::app::registrants::{self as regs, Filter};
use myna::app::staging::{self, Budget, State};
use myna::app::{dependents, groups, tenants};
use myna::ports::{Condition, Query};
use myna_tests::fixtures::{person, valid_number, PW};
use myna_tests::{Browser, Page, TestApp};

/// The company every owner here signs up.
const COMPANY: &str = "株式会社バルク";

const HEADER: &str = "種別,社員コード,属性,氏名（姓）,氏名（名）,フリガナ（セイ）,フリガナ（メイ）,生年月日,性別,マイナンバー,続柄,入社日,メールアドレス,グループ,備考";

/// The same number with a wrong check digit.
fn bad_check(seed: u64) -> String {
    let good = valid_number(seed);
    let last = good.as_bytes()[11] - b'0';
    format!("{}{}", &good[..11], (last + 1) % 10)
}

fn reg(code: &str, family: &str, given: &str, birth: &str, number: &str) -> String {
    format!(
        "登録者,{code},従業員1,{family},{given},ヤマダ,タロウ,{birth},男性,{number},,2020/4/1,,,"
    )
}

fn dep(code: &str, family: &str, given: &str, birth: &str, number: &str) -> String {
    format!("扶養家族,{code},扶養者,{family},{given},,,{birth},女性,{number},子,,,,")
}

/// `n` registrants with codes `<prefix>000`, ... and numbers `valid_number(0)`, ...
fn staff(prefix: &str, n: u64) -> Vec<String> {
    (0..n)
        .map(|i| {
            reg(
                &format!("{prefix}{i:03}"),
                "社員",
                &format!("{i}"),
                "1980/1/1",
                &valid_number(i),
            )
        })
        .collect()
}

fn csv(rows: &[String]) -> String {
    let mut out = vec![HEADER.to_string()];
    out.extend(rows.iter().cloned());
    out.join("\n") + "\n"
}

async fn set_plan(t: &TestApp, email: &str, size: u16) {
    let scope = t.scope_of(email).await;
    let mut item = scope.get(&scope.key("PROFILE")).await.unwrap().unwrap();
    item.attrs.insert("plan".into(), size.into());
    scope.put(item, Condition::None).await.unwrap();
}

/// Posts a file to the upload form as a browser would (multipart, the form's CSRF field).
async fn upload(b: &mut Browser, bytes: &[u8]) -> Page {
    let page = "/registrants/csv-upload";
    b.upload(page, page, bytes, true).await
}

/// The import id on a confirm (入力確認) page.
fn import_id(page: &Page) -> String {
    let start = page
        .body
        .find("/registrants/csv-upload/")
        .and_then(|_| page.body.find("/commit\""))
        .unwrap_or_else(|| panic!("no confirm page: {}", page.body));
    page.body[start - 26..start].to_string()
}

/// 登録 on the confirm page, the `import.commit` job as the worker runs it, then the status
/// page until the import is over.
async fn confirm(t: &TestApp, b: &mut Browser, page: &Page) -> Page {
    let id = b.confirm_import(page).await;
    t.run_jobs().await;
    for _ in 0..100 {
        let status = b.get(&format!("/registrants/csv-upload/{id}")).await;
        if !status.body.contains("data-progress") {
            return status;
        }
    }
    panic!("import did not finish");
}

async fn import(t: &TestApp, b: &mut Browser, text: &str) -> Page {
    let staged = upload(b, text.as_bytes()).await;
    assert_eq!(staged.status, StatusCode::OK, "{}", staged.body);
    confirm(t, b, &staged).await
}

fn count(page: &Page, id: &str) -> i64 {
    let marker = format!("<span id=\"{id}\">");
    let start = page.body.find(&marker).expect(id) + marker.len();
    let end = page.body[start..].find('<').unwrap() + start;
    page.body[start..end].parse().unwrap()
}

async fn all(scope: &TenantScope) -> Vec<regs::Registrant> {
    regs::select(scope, &Filter::default()).await.unwrap().0
}

#[tokio::test]
async fn a_file_with_bad_rows_imports_nothing_and_lists_every_bad_line() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "badrows@example.jp").await;
    import(
        &t,
        &mut b,
        &csv(&[reg("E900", "既存", "一郎", "1970/1/1", &valid_number(900))]),
    )
    .await;
    let text = csv(&[
        reg("E001", "山田", "太郎", "S55/1/1", &valid_number(1)), // 2: fine
        reg("E002", "佐藤", "次郎", "1981/2/2", &bad_check(2)),   // 3: check digit
        "登録者,E003,社長,鈴木,三郎,,,1982/3/3,男性,,,,,,".into(), // 4: unknown 属性
        reg("E004", "高橋", "四郎", "H31/5/1", &valid_number(4)), // 5: outside 平成
        reg("E005", "田中", "五郎", "令和0年5月1日", &valid_number(5)), // 6: 令和0年
        reg("E001", "伊藤", "六郎", "1986/6/6", &valid_number(6)), // 7: code twice in the file
        dep("E999", "渡辺", "花子", "2010/1/1", &valid_number(7)), // 8: unknown registrant
        "登録者,E008,従業員1,中村,七郎".into(),                   // 9: column count
        reg("E009", "", "八郎", "1989/9/9", &valid_number(9)),    // 10: 姓 missing
        reg("E010", "小林", "九郎", "1990/10/10", &valid_number(1)), // 11: number twice
        reg("E900", "加藤", "十郎", "1991/1/1", &valid_number(11)), // 12: code already taken
        reg("E012", "吉田", "十一", "1992/1/1", &valid_number(900)), // 13: number already held
    ]);
    let res = upload(&mut b, text.as_bytes()).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .body
        .contains("ファイルに誤りがあります。登録は行っていません。"));
    let expect = [
        ("3行目", "チェックデジットが一致しません"),
        ("4行目", "属性「社長」は使えません"),
        ("5行目", "平成31年5月1日"),
        ("6行目", "和暦の年は1（元年）以上"),
        ("7行目", "社員コード「E001」が2行目と重複しています。"),
        (
            "8行目",
            "社員コード「E999」の登録者の行が、この行より前にありません。",
        ),
        (
            "9行目",
            "列の数が正しくありません（15列必要なところ、5列あります）。",
        ),
        ("10行目", "氏名（姓）を入力してください。"),
        ("11行目", "同じマイナンバーが2行目にもあります。"),
        ("12行目", "社員コード「E900」はすでに登録されています。"),
        (
            "13行目",
            "このマイナンバーはすでに登録されています（既存 一郎（社員コード E900））。",
        ),
    ];
    for (line, reason) in expect {
        let listed = res
            .body
            .split("<tr>")
            .filter(|r| r.contains(&format!(">{line}<")))
            .any(|r| r.contains(reason));
        assert!(listed, "{line} {reason} not listed: {}", res.body);
    }
    assert!(
        !res.body.contains(">2行目<"),
        "the good row is not an error"
    );
    assert!(
        !res.body.contains(&valid_number(1)) && !res.body.contains(&bad_check(2)),
        "no number is echoed"
    );
    let home = b.get("/home").await;
    assert_eq!(count(&home, "count-registrants"), 1, "nothing imported");
    assert_eq!(all(&t.scope_of("badrows@example.jp").await).await.len(), 1);
}

#[tokio::test]
async fn a_file_over_the_plan_or_in_an_unknown_encoding_imports_nothing() {
    let (_t, mut b) = TestApp::with_owner(COMPANY, "limit@example.jp").await;
    let rows = staff("P", 11);
    let res = upload(&mut b, csv(&rows).as_bytes()).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.body
            .contains("登録可能人数（10人）を超えるため登録できません")
            && res.body.contains("登録しようとした人数: 11人"),
        "{}",
        res.body
    );

    // Latin-1 bytes are neither UTF-8 nor CP932 without replacement.
    let mut bytes = format!("{HEADER}\n").into_bytes();
    bytes.extend_from_slice(b"\xff\xfe\x80,E1,\xa0\xff\n");
    let res = upload(&mut b, &bytes).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("文字コードを判別できません"));

    let no_token = b
        .upload(
            "/registrants/csv-upload",
            "/registrants/csv-upload",
            csv(&rows[..1]).as_bytes(),
            false,
        )
        .await;
    assert_eq!(
        no_token.status,
        StatusCode::FORBIDDEN,
        "the upload form needs its CSRF field"
    );
    let home = b.get("/home").await;
    assert_eq!(count(&home, "count-registrants"), 0);
}

#[tokio::test]
async fn a_cp932_file_with_crlf_and_quoted_fields_imports_after_confirmation() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "sjis@example.jp").await;
    let text = [
        HEADER.to_string(),
        format!("登録者,E001,\"従業員2（パート、アルバイト）\",髙橋,\"一,郎\",タカハシ,イチロウ,昭和55年1月1日,男,{},,R2/4/1,taro@example.jp,,\"備考に\"\"引用\"\"と\r\n改行\"", valid_number(1)),
        format!("扶養家族,E001,国民年金の第3号被保険者,髙橋,花子,,,1982/2/2,女性,{},配偶者,,,,", valid_number(2)),
    ]
    .join("\r\n")
        + "\r\n";
    let (bytes, _, bad) = encoding_rs::SHIFT_JIS.encode(&text);
    assert!(!bad);
    let staged = upload(&mut b, &bytes).await;
    assert_eq!(staged.status, StatusCode::OK, "{}", staged.body);
    assert!(
        staged.body.contains("Shift_JIS（CP932）")
            && staged.body.contains("以下の内容で登録します。")
    );
    assert!(staged
        .body
        .contains("<td id=\"import-registrants\">1人</td>"));
    let scope = t.scope_of("sjis@example.jp").await;
    assert!(all(&scope).await.is_empty(), "nothing before 登録");

    let done = confirm(&t, &mut b, &staged).await;
    assert!(done
        .body
        .contains("CSVアップロードは完了です。登録者1人・扶養家族1人を登録しました。"));
    let r = all(&scope).await.remove(0);
    assert_eq!(
        (r.person.family_name.as_str(), r.person.given_name.as_str()),
        ("髙橋", "一,郎")
    );
    assert_eq!(r.note, "備考に\"引用\"と\r\n改行");
    assert_eq!(r.person.birth_date.unwrap().to_string(), "1980-01-01");
    assert_eq!(r.hire_date.unwrap().to_string(), "2020-04-01");
    assert_eq!(r.person.status.label(), "承認待");
    let d = dependents::list(&scope, &r.id).await.unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].kind.label(), "国民年金の第3号被保険者");
    let home = b.get("/home").await;
    assert_eq!(count(&home, "count-registrants"), 1);
    assert_eq!(count(&home, "count-dependents-pending"), 1);
    let entries = t.audit_of(&scope).await;
    let audited = entries
        .iter()
        .find(|e| e.action == "csv.import")
        .expect("audited");
    assert!(audited.detail.contains("登録者1人・扶養家族1人"));
    assert!(entries.iter().all(|e| !e.detail.contains(&valid_number(1))));
}

#[tokio::test]
async fn utf8_files_import_with_or_without_bom() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "utf8@example.jp").await;
    let plain = csv(&[reg("U1", "𠮷田", "太郎", "1980/1/1", &valid_number(1))]);
    import(&t, &mut b, &plain).await;
    let with_bom = format!(
        "\u{feff}{}",
        csv(&[reg("U2", "山田", "花子", "1981/1/1", &valid_number(2))])
    );
    import(&t, &mut b, &with_bom).await;
    let scope = t.scope_of("utf8@example.jp").await;
    let names: Vec<String> = all(&scope).await.iter().map(|r| r.name()).collect();
    assert_eq!(names, ["𠮷田 太郎", "山田 花子"]);
}

/// Everything a round trip must keep, numbers opened.
async fn people(t: &TestApp, email: &str) -> Vec<String> {
    let scope = t.scope_of(email).await;
    let tenant = tenants::load(&scope).await.unwrap().unwrap();
    let mut out = Vec::new();
    for r in all(&scope).await {
        let open = |id: String, n: Option<regs::SealedNumber>| {
            let keys = tenant.keys.clone();
            async move {
                match n {
                    Some(n) => t
                        .app
                        .vault
                        .open_number(&keys, &id, &n.sealed)
                        .await
                        .unwrap()
                        .expose()
                        .to_string(),
                    None => String::new(),
                }
            }
        };
        out.push(format!(
            "{}|{}|{}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{}",
            r.code,
            r.name(),
            r.kana(),
            r.attribute.code(),
            r.person.sex,
            r.person.birth_date,
            r.hire_date,
            r.email,
            r.note,
            open(r.id.clone(), r.person.number.clone()).await
        ));
        for d in dependents::list(&scope, &r.id).await.unwrap() {
            out.push(format!(
                "  {}|{}|{}|{:?}|{:?}|{}",
                d.name(),
                d.relationship.code(),
                d.kind.code(),
                d.person.sex,
                d.person.birth_date,
                open(d.id.clone(), d.person.number.clone()).await
            ));
        }
    }
    out
}

/// A download in UTF-8 with the right password and a purpose.
async fn download_utf8(b: &mut Browser, query: &str) -> Page {
    let fields = [
        ("password", PW),
        ("purpose", "salary_withholding"),
        ("encoding", "utf8"),
    ];
    download(b, query, &fields).await
}

async fn download(b: &mut Browser, query: &str, fields: &[(&str, &str)]) -> Page {
    let form = format!("/registrants/csv{query}");
    let page = b.get(&form).await;
    let mut all = vec![("csrf".to_string(), page.csrf().unwrap())];
    for chunk in page.body.split("<input type=\"hidden\" name=\"").skip(1) {
        let name = chunk.split('"').next().unwrap().to_string();
        if name == "csrf" {
            continue;
        }
        let value = chunk
            .split("value=\"")
            .nth(1)
            .and_then(|v| v.split('"').next())
            .unwrap_or("");
        all.push((name, value.to_string()));
    }
    let mut refs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    refs.extend_from_slice(fields);
    b.post("/registrants/csv", &refs).await
}

#[tokio::test]
async fn an_export_imported_into_a_fresh_tenant_gives_the_same_people_and_numbers() {
    let (t, mut a) = TestApp::with_owner(COMPANY, "source@example.jp").await;
    let text = csv(&[
        reg("E001", "山田", "太郎", "S55/1/1", &valid_number(1)),
        dep("E001", "山田", "花子", "H22/4/1", &valid_number(2)),
        dep("", "山田", "次郎", "2012/5/5", ""),
        "登録者,,報酬等の支払先,=SUM(A1),外注,,,,,,,,x@example.jp,,\"メモ, 1\"".into(),
        dep("", "外注", "家族", "2000/1/1", &valid_number(3)),
        reg("-7", "佐藤", "三郎", "1975/7/7", ""),
    ]);
    import(&t, &mut a, &text).await;
    let before = people(&t, "source@example.jp").await;
    assert_eq!(before.len(), 6);

    let file = download(
        &mut a,
        "",
        &[("password", PW), ("purpose", "salary_withholding")],
    )
    .await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.body);
    assert_eq!(file.headers["content-type"], "text/csv; charset=Shift_JIS");
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&file.bytes);
    assert!(!bad);
    assert!(
        text.contains("'=SUM(A1)") && text.contains("'-7"),
        "formulas are defused: {text}"
    );
    assert!(text.contains(&valid_number(1)) && text.contains("\r\n"));

    let mut fresh = t.owner(COMPANY, "target@example.jp").await;
    let staged = upload(&mut fresh, &file.bytes).await;
    assert_eq!(staged.status, StatusCode::OK, "{}", staged.body);
    confirm(&t, &mut fresh, &staged).await;
    assert_eq!(people(&t, "target@example.jp").await, before);
}

#[tokio::test]
async fn the_download_needs_password_and_purpose_is_rate_limited_and_audited() {
    // GIVEN a tenant with two registrants and a dependent, imported.
    let (t, mut b) = TestApp::with_owner(COMPANY, "export@example.jp").await;
    import(
        &t,
        &mut b,
        &csv(&[
            reg("E1", "山田", "太郎", "1980/1/1", &valid_number(1)),
            dep("E1", "山田", "花子", "2010/1/1", &valid_number(2)),
            reg("E2", "佐藤", "次郎", "1981/1/1", &valid_number(3)),
        ]),
    )
    .await;
    // THEN the download form asks for the password and a purpose.
    let form = b.get("/registrants/csv").await;
    assert!(
        form.body
            .contains("外注先・業務委託者に関する源泉徴収票・支払調書作成事務")
            && form.body.contains("<strong>2人</strong>")
    );

    // WHEN either is missing THEN nothing is downloaded and the form says which.
    let no_password = download(&mut b, "", &[("purpose", "salary_withholding")]).await;
    assert_eq!(no_password.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        no_password.body.contains("パスワードを入力してください。")
            && !no_password.body.contains(&valid_number(1))
    );
    let no_purpose = download(&mut b, "", &[("password", PW)]).await;
    assert!(
        no_purpose.body.contains("利用目的を選択してください。")
            && !no_purpose.body.contains(&valid_number(1))
    );

    // WHEN both are given THEN the file comes as an attachment with every person.
    let file = download(
        &mut b,
        "",
        &[
            ("password", PW),
            ("purpose", "employment_insurance"),
            ("encoding", "utf8"),
        ],
    )
    .await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.headers["cache-control"], "no-store");
    assert_eq!(file.headers["content-type"], "text/csv; charset=UTF-8");
    let disposition = file.headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"mynumber_")
            && disposition.ends_with(".csv\"")
    );
    assert!(file.bytes.starts_with(b"\xEF\xBB\xBF"));
    assert_eq!(
        file.body.lines().count(),
        4,
        "header, 2 registrants, 1 dependent"
    );
    assert!(file.body.contains(&valid_number(2)));

    // THEN the download is audited with its purpose and how many people it held.
    let scope = t.scope_of("export@example.jp").await;
    let entries = t.audit_of(&scope).await;
    let export = entries
        .iter()
        .find(|e| e.action == "csv.export")
        .expect("audited");
    assert!(
        export.detail.contains("利用目的: 雇用保険届出事務") && export.detail.contains("計3人"),
        "{}",
        export.detail
    );
    assert!(entries.iter().all(|e| !e.detail.contains(&valid_number(1))));

    // WHEN five wrong passwords follow THEN the next download is refused even with the right one,
    // and each failure is audited.
    for _ in 0..5 {
        let res = download(
            &mut b,
            "",
            &[
                ("password", "Wrong-pass-1"),
                ("purpose", "salary_withholding"),
            ],
        )
        .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.body.contains("パスワードが正しくありません。"));
    }
    let locked = download(
        &mut b,
        "",
        &[("password", PW), ("purpose", "salary_withholding")],
    )
    .await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        !locked.body.contains(&valid_number(1))
            && !locked.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
    );
    let entries = t.audit_of(&scope).await;
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.action == "csv.export_denied")
            .count(),
        5
    );
}

#[tokio::test]
async fn a_download_unwraps_the_data_key_once_and_follows_the_list_filter() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "filter@example.jp").await;
    set_plan(&t, "filter@example.jp", 100).await;
    let scope = t.scope_of("filter@example.jp").await;
    let group = groups::new_group("経理部".into(), time::OffsetDateTime::now_utc());
    scope
        .put(group.to_item(&scope), Condition::None)
        .await
        .unwrap();
    let mut rows = Vec::new();
    for i in 0..40u64 {
        let g = if i % 4 == 0 { "経理部" } else { "" };
        rows.push(format!(
            "登録者,F{i:03},従業員1,社員{i},太郎,,,1980/1/1,男性,{},,,,{g},",
            valid_number(i)
        ));
        rows.push(dep(
            &format!("F{i:03}"),
            "家族",
            &format!("{i}"),
            "2010/1/1",
            &valid_number(1000 + i),
        ));
    }
    import(&t, &mut b, &csv(&rows)).await;

    // A cold cache: the download must unwrap once, not once per number.
    t.clock.advance(time::Duration::minutes(6));
    let before = t.app.vault.unwrap_count();
    let file = download_utf8(&mut b, "").await;
    assert_eq!(file.body.lines().count(), 81);
    assert_eq!(
        t.app.vault.unwrap_count() - before,
        1,
        "one unwrap for 80 numbers"
    );

    let list = b.get(&format!("/registrants?group={}", group.id)).await;
    let link = list
        .body
        .split("id=\"csv-download\" href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    assert!(link.starts_with("/registrants/csv?") && link.contains(&group.id));
    let form = b.get(&link).await;
    assert!(form.body.contains("<strong>10人</strong>"), "{link}");
    let query = link.trim_start_matches("/registrants/csv");
    let file = download_utf8(&mut b, query).await;
    assert_eq!(
        file.body.lines().count(),
        21,
        "10 members and their dependents"
    );
    assert!(
        file.body.contains("社員0,")
            && file.body.contains("社員36,")
            && !file.body.contains("社員1,")
    );
    assert!(file
        .body
        .lines()
        .skip(1)
        .all(|l| l.contains("経理部") || l.starts_with("扶養家族")));
}

#[tokio::test]
async fn a_cp932_download_is_refused_for_a_name_it_cannot_hold_and_utf8_is_offered() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "kanji@example.jp").await;
    import(
        &t,
        &mut b,
        &csv(&[
            reg("K1", "山田", "太郎", "1980/1/1", &valid_number(1)),
            reg("K2", "𠮷田", "花子", "1981/1/1", &valid_number(2)),
        ]),
    )
    .await;
    let refused = download(
        &mut b,
        "",
        &[("password", PW), ("purpose", "salary_withholding")],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains(
            "<td class=\"num\">3行目</td><td>𠮷田 花子</td><td>氏名（姓）</td><td>「𠮷」</td>"
        ),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("UTF-8（BOM付き）") && !refused.body.contains(&valid_number(1)));
    let file = download_utf8(&mut b, "").await;
    assert!(file.body.contains("𠮷田"));
}

#[tokio::test]
async fn the_template_and_the_column_spec_are_offered() {
    let (_t, mut b) = TestApp::with_owner(COMPANY, "template@example.jp").await;
    let page = b.get("/registrants/csv-upload").await;
    assert!(
        page.body.contains("マイナンバー登録者追加用CSVサンプル")
            && page.body.contains("CSVサンプルのご利用方法")
    );
    assert!(page.body.contains("<td>続柄</td><td>扶養家族は必須</td>"));
    let file = b.get("/registrants/csv-upload/template.csv").await;
    assert_eq!(file.headers["content-type"], "text/csv; charset=Shift_JIS");
    let (text, _, _) = encoding_rs::SHIFT_JIS.decode(&file.bytes);
    // (HEADER is the older fifteen columns, which still import; the template has all.)
    assert_eq!(
        text.lines().next().unwrap(),
        format!("{HEADER},退職日,マイナンバー削除予定日,最終申告書年")
    );
    // The example uploads as it is.
    let staged = upload(&mut b, &file.bytes).await;
    assert!(
        staged
            .body
            .contains("<td id=\"import-dependents\">1人</td>"),
        "{}",
        staged.body
    );
}

#[tokio::test]
async fn an_import_stopped_half_way_shows_nothing_and_completes_when_run_again() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "crash@example.jp").await;
    set_plan(&t, "crash@example.jp", 300).await;
    let rows = staff("C", 100);
    let staged = upload(&mut b, csv(&rows).as_bytes()).await;
    let id = import_id(&staged);
    let scope = t.scope_of("crash@example.jp").await;
    let tenant = tenants::load(&scope).await.unwrap().unwrap();
    let import = staging::load(&scope, &id).await.unwrap().unwrap();
    assert!(import.chunks >= 3, "{} chunks", import.chunks);

    // GIVEN a commit that stops after two chunks (a crash, a timeout)
    assert!(staging::start(&t.app, &scope, &import).await.unwrap());
    let stopped = staging::run(
        &t.app,
        &scope,
        &tenant,
        &id,
        Budget {
            steps: Some(2),
            until: None,
        },
    )
    .await
    .unwrap();
    assert_eq!((stopped.state, stopped.committed), (State::Committing, 2));
    // THEN rows are written but nothing is visible: not the list, not HOME, not by id
    let written = scope
        .query(&Query::partition(scope.pk()).prefix("REG#").limit(500))
        .await
        .unwrap();
    // Two chunks of about 23 people (each row also writes its directory entry).
    assert!(written.items.len() >= 40, "{}", written.items.len());
    let some_id = written.items[0]
        .key
        .sk
        .trim_start_matches("REG#")
        .to_string();
    assert!(regs::get(&scope, &some_id).await.unwrap().is_none());
    assert!(all(&scope).await.is_empty());
    let list = b.get("/registrants").await;
    assert!(
        list.body.contains("登録者はまだいません。"),
        "{}",
        list.body
    );
    assert_eq!(count(&b.get("/home").await, "count-registrants"), 0);
    assert_eq!(
        b.get(&format!("/registrants/{some_id}")).await.status,
        StatusCode::NOT_FOUND
    );
    // ... and the claimed 社員コード is already unique against anyone else
    let taken = b
        .submit(
            "/registrants/new",
            "/registrants/new",
            &[
                ("family_name", "別人"),
                ("attribute", "employee1"),
                ("code", "C000"),
            ],
        )
        .await;
    let confirm_fields: Vec<(String, String)> = taken
        .body
        .split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|c| {
            (
                c.split('"').next().unwrap().to_string(),
                c.split("value=\"")
                    .nth(1)
                    .and_then(|v| v.split('"').next())
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = confirm_fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = b.post("/registrants/new", &refs).await;
    assert!(
        res.body.contains("この社員コードはすでに使われています。"),
        "{}",
        res.body
    );

    // WHEN its event is lost and the status page is opened once the import has stood still
    // long enough, the page resumes it and it completes
    t.clock.advance(time::Duration::seconds(20));
    let page = b.get(&format!("/registrants/csv-upload/{id}")).await;
    assert!(
        page.body.contains("CSVアップロードは完了です。登録者100人"),
        "{}",
        page.body
    );
    assert_eq!(all(&scope).await.len(), 100);
    assert_eq!(count(&b.get("/home").await, "count-registrants"), 100);
    assert!(regs::get(&scope, &some_id).await.unwrap().is_some());
    let after = scope
        .query(&Query::partition(scope.pk()).prefix("REG#").limit(500))
        .await
        .unwrap();
    assert!(
        after.items.iter().all(|i| i.str("import_id").is_none()),
        "tidied"
    );
    let done = staging::load(&scope, &id).await.unwrap().unwrap();
    assert_eq!(done.state, State::Finished);
}

#[tokio::test]
async fn a_code_taken_before_the_commit_fails_the_import_and_leaves_nothing() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "race@example.jp").await;
    set_plan(&t, "race@example.jp", 300).await;
    let rows = staff("R", 70);
    let staged = upload(&mut b, csv(&rows).as_bytes()).await;
    // Someone takes R050 (in the second chunk) after the file was checked.
    import(
        &t,
        &mut b,
        &csv(&[reg("R050", "先客", "太郎", "1970/1/1", &valid_number(5000))]),
    )
    .await;
    let done = confirm(&t, &mut b, &staged).await;
    assert!(
        done.body
            .contains("社員コード「R050」は、ファイルの確認後に他の操作で使われました。"),
        "{}",
        done.body
    );
    let scope = t.scope_of("race@example.jp").await;
    assert_eq!(all(&scope).await.len(), 1);
    assert_eq!(count(&b.get("/home").await, "count-registrants"), 1);
    let left = scope
        .query(&Query::partition(scope.pk()).prefix("REGCODE#").limit(500))
        .await
        .unwrap();
    assert_eq!(
        left.items.len(),
        1,
        "the first chunk's claims were rolled back"
    );
}

// ---------------------------------------------------------------- 複数一括登録

fn row(
    n: usize,
    family: &str,
    given: &str,
    birth: &str,
    code: &str,
    number: &str,
) -> Vec<(String, String)> {
    [
        ("attribute", "employee1"),
        ("family_name", family),
        ("given_name", given),
        ("birth_date", birth),
        ("sex", "male"),
        ("code", code),
        ("hire_date", "2020/4/1"),
        ("number", number),
    ]
    .iter()
    .map(|(k, v)| (format!("r{n}_{k}"), v.to_string()))
    .collect()
}

fn dependent_of(n: usize, j: usize, given: &str, number: &str) -> Vec<(String, String)> {
    [
        ("relationship", "child"),
        ("family_name", "山田"),
        ("given_name", given),
        ("birth_date", "H22/4/1"),
        ("sex", "female"),
        ("kind", "dependent"),
        ("number", number),
    ]
    .iter()
    .map(|(k, v)| (format!("r{n}_d{j}_{k}"), v.to_string()))
    .collect()
}

async fn post_grid(b: &mut Browser, action: &str, fields: &[(String, String)]) -> Page {
    let page = b.get("/registrants/bulk").await;
    let mut all = vec![
        ("csrf".to_string(), page.csrf().unwrap()),
        ("action".to_string(), action.to_string()),
    ];
    all.extend_from_slice(fields);
    let refs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    b.post("/registrants/bulk", &refs).await
}

#[tokio::test]
async fn a_grid_with_errors_marks_each_cell_keeps_the_input_and_saves_nothing() {
    let (_t, mut b) = TestApp::with_owner(COMPANY, "grid@example.jp").await;
    let page = b.get("/registrants/bulk").await;
    assert!(
        page.body
            .contains("登録可能人数: <strong id=\"remaining\">10</strong>")
            && page.body.contains("扶養家族+")
    );
    let mut fields = Vec::new();
    fields.extend(row(1, "山田", "太郎", "S55/1/1", "G1", &bad_check(1)));
    fields.extend(row(2, "佐藤", "次郎", "H31/5/1", "G2", &valid_number(2)));
    fields.extend(row(3, "鈴木", "三郎", "1980/1/1", "G1", &valid_number(3)));
    fields.extend(row(4, "高橋", "四郎", "1980/1/1", "G4", &valid_number(4)));
    fields.push(("r4_deps".into(), "1".into()));
    fields.extend(dependent_of(4, 0, "花子", &valid_number(4)));
    let res = post_grid(&mut b, "save_next", &fields).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let cell = |name: &str| {
        let at = res
            .body
            .find(&format!("name=\"{name}\""))
            .unwrap_or_else(|| panic!("{name}"));
        let start = res.body[..at].rfind("<td").unwrap();
        let end = res.body[at..].find("</td>").unwrap() + at;
        res.body[start..end].to_string()
    };
    assert!(
        cell("r1_number").contains("class=\"invalid\"")
            && cell("r1_number").contains("チェックデジットが一致しません")
    );
    assert!(cell("r2_birth_date").contains("平成31年5月1日"));
    assert!(cell("r3_code").contains("社員コード「G1」が1行目と重複しています。"));
    assert!(cell("r4_d0_number").contains("同じマイナンバーが4行目にもあります。"));
    assert!(!cell("r4_family_name").contains("invalid"));
    assert!(
        cell("r2_family_name").contains("value=\"佐藤\"")
            && cell("r2_number").contains(&valid_number(2)),
        "kept as typed"
    );
    assert!(res.body.contains("何も保存されていません。"));
    assert_eq!(count(&b.get("/home").await, "count-registrants"), 0);
}

#[tokio::test]
async fn a_valid_grid_saves_every_row_as_completed_and_counts_it() {
    let (t, mut b) = TestApp::with_owner(COMPANY, "gridok@example.jp").await;
    let added = post_grid(
        &mut b,
        "add_dep:2",
        &row(2, "山田", "太郎", "S55/1/1", "G2", &valid_number(2)),
    )
    .await;
    assert!(
        added.body.contains("name=\"r2_d0_relationship\"") && added.body.contains("value=\"山田\"")
    );
    let mut fields = Vec::new();
    fields.extend(row(1, "佐藤", "一郎", "1979/1/1", "G1", &valid_number(1)));
    fields.extend(row(2, "山田", "太郎", "S55/1/1", "G2", &valid_number(2)));
    fields.push(("r2_deps".into(), "2".into()));
    fields.extend(dependent_of(2, 0, "花子", &valid_number(3)));
    // r2_d1 left empty: ignored
    let res = post_grid(&mut b, "save_next", &fields).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(
        res.body.contains("2人を保存しました。")
            && res.body.contains("<td class=\"status-white\">完了</td>")
    );
    assert!(res
        .body
        .contains("登録可能人数: <strong id=\"remaining\">8</strong>"));
    assert!(
        !res.body.contains(&valid_number(1)),
        "the fresh page is empty"
    );
    let home = b.get("/home").await;
    assert_eq!(count(&home, "count-registrants"), 2);
    assert_eq!(count(&home, "count-dependents"), 1);
    assert_eq!(count(&home, "count-pending"), 0);
    assert_eq!(count(&home, "count-unregistered"), 0);
    let scope = t.scope_of("gridok@example.jp").await;
    let saved = all(&scope).await;
    assert!(saved.iter().all(|r| r.person.status.label() == "完了"));
    let d = dependents::list(&scope, &saved[1].id).await.unwrap();
    assert_eq!((d.len(), d[0].person.status.label()), (1, "完了"));

    let finish = post_grid(
        &mut b,
        "finish",
        &row(1, "田中", "三郎", "1990/1/1", "G3", &valid_number(5)),
    )
    .await;
    assert_eq!(finish.location(), Some("/registrants?done=bulk"));
    let entries = t.audit_of(&scope).await;
    assert_eq!(
        entries.iter().filter(|e| e.action == "bulk.import").count(),
        2
    );
}

#[tokio::test]
async fn a_grid_over_the_plan_limit_saves_nothing() {
    let (_t, mut b) = TestApp::with_owner(COMPANY, "gridplan@example.jp").await;
    let nine: Vec<(String, String)> = (1..=9)
        .flat_map(|n| {
            row(
                n,
                "社員",
                "太郎",
                "1980/1/1",
                &format!("L{n}"),
                &valid_number(n as u64),
            )
        })
        .collect();
    assert_eq!(
        post_grid(&mut b, "save_next", &nine).await.status,
        StatusCode::OK
    );
    let mut two = row(1, "超過", "一郎", "1980/1/1", "X1", &valid_number(20));
    two.extend(row(2, "超過", "二郎", "1980/1/1", "X2", &valid_number(21)));
    let res = post_grid(&mut b, "save_next", &two).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.body
            .contains("登録可能人数（10人）を超えるため登録できません"),
        "{}",
        res.body
    );
    assert_eq!(count(&b.get("/home").await, "count-registrants"), 9);
}

#[tokio::test]
async fn a_large_file_passes_the_csrf_check_and_is_refused_past_the_row_limit() {
    let (_t, mut b) = TestApp::with_owner(COMPANY, "large@example.jp").await;
    let row = reg("E1", "山田", "太郎", "1980/1/1", "") + &"備考".repeat(30);
    let text = csv(&vec![row; 20_001]);
    assert!(
        text.len() > 2 * 1024 * 1024,
        "larger than axum's default limit"
    );
    let res = upload(&mut b, text.as_bytes()).await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        &res.body[..500]
    );
    assert!(res
        .body
        .contains("1つのファイルで登録できるのは20000行までです。"));
    assert_eq!(count(&b.get("/home").await, "count-registrants"), 0);
}

// ------------------------------------------------ issue 16: lines, numbers, CP932, sizes, dates

/// Whether the error table lists `reason` on the row of `line`.
fn listed(page: &Page, line: usize, reason: &str) -> bool {
    listed_in(page, line, "", reason)
}

/// Same, in the column `column` (any column when empty).
fn listed_in(page: &Page, line: usize, column: &str, reason: &str) -> bool {
    let column = format!("<td>{column}</td>");
    page.body
        .split("<tr>")
        .filter(|r| r.contains(&format!(">{line}行目<")))
        .any(|r| r.contains(reason) && (column == "<td></td>" || r.contains(&column)))
}

#[tokio::test]
async fn upload_reports_the_line_of_the_file_when_lf_crlf_or_cr_with_or_without_quoted_breaks() {
    // Arrange
    let (t, mut b) = TestApp::with_owner(COMPANY, "lines@example.jp").await;
    for (ending, name) in [("\n", "LF"), ("\r\n", "CRLF"), ("\r", "CR")] {
        for quoted in [false, true] {
            let note = match quoted {
                true => format!("\"一行目{ending}二行目\""),
                false => "備考".to_string(),
            };
            let text = [
                HEADER.to_string(),
                reg("L1", "山田", "太郎", "1980/1/1", &valid_number(1)) + &note,
                reg("L2", "佐藤", "次郎", "1981/2/2", &bad_check(2)) + &note,
                "登録者,L3,社長,鈴木,三郎,,,1982/3/3,男性,,,,,,".to_string(),
            ]
            .join(ending)
                + ending;
            // Act
            let res = upload(&mut b, text.as_bytes()).await;
            // Assert: each row starts one line later per quoted break above it.
            let (check, attribute) = if quoted { (4, 6) } else { (3, 4) };
            let case = format!("{name}, quoted break: {quoted}");
            assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{case}");
            assert!(
                listed(&res, check, "チェックデジットが一致しません"),
                "{case}: {}",
                res.body
            );
            assert!(
                listed(&res, attribute, "属性「社長」は使えません"),
                "{case}: {}",
                res.body
            );
        }
    }
    assert!(all(&t.scope_of("lines@example.jp").await).await.is_empty());
}

#[tokio::test]
async fn a_13_digit_number_in_the_grid_is_refused_with_the_length_message_and_nothing_is_stored() {
    // Arrange
    let (t, mut b) = TestApp::with_owner(COMPANY, "digits@example.jp").await;
    let typed = format!("{}3", valid_number(1));
    // Act
    let res = post_grid(
        &mut b,
        "save_next",
        &row(1, "山田", "太郎", "1980/1/1", "D1", &typed),
    )
    .await;
    // Assert
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.body
            .contains("マイナンバーは12桁で入力してください（入力は13桁）。"),
        "{}",
        res.body
    );
    assert!(
        res.body.contains(&format!("value=\"{typed}\"")),
        "kept as typed"
    );
    let scope = t.scope_of("digits@example.jp").await;
    assert!(all(&scope).await.is_empty(), "nothing stored");

    // Separators and full-width digits are what was typed too.
    let n = valid_number(2);
    let wide: String = n[8..]
        .chars()
        .map(|c| char::from_u32(u32::from(c) + 0xFEE0).unwrap())
        .collect();
    let spaced = format!("{}-{} {}", &n[..4], &n[4..8], wide);
    let res = post_grid(
        &mut b,
        "save_next",
        &row(1, "山田", "太郎", "1980/1/1", "D1", &spaced),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let saved = all(&scope).await;
    assert_eq!(saved[0].person.number.as_ref().unwrap().last4, n[8..]);
}

#[test]
fn no_my_number_input_has_a_maxlength_that_could_cut_what_is_typed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "html") {
            continue;
        }
        let html = std::fs::read_to_string(&path).unwrap();
        for tag in html.split("<input").skip(1) {
            let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
            if !tag.contains("number") || tag.contains("customer_number") {
                continue;
            }
            checked += 1;
            assert!(
                !tag.contains("maxlength"),
                "{}: a number input cuts what is typed: <input{tag}>",
                path.display()
            );
        }
    }
    // The grid, the registrant and dependent forms, マイナンバー編集 and the phone's step 1.
    assert!(checked >= 13, "only {checked} number inputs found");
}

#[tokio::test]
async fn a_cp932_download_writes_the_windows_look_alikes_of_unicode_dashes_and_tildes() {
    // Arrange
    let (t, mut b) = TestApp::with_owner(COMPANY, "alike@example.jp").await;
    let text =
        csv(&[reg("A1", "山田", "太郎", "1980/1/1", &valid_number(1)) + "9時〜17時 − — ‖ ¢ £ ¬"]);
    import(&t, &mut b, &text).await;
    // Act
    let file = download(
        &mut b,
        "",
        &[("password", PW), ("purpose", "salary_withholding")],
    )
    .await;
    // Assert
    assert_eq!(file.status, StatusCode::OK, "{}", file.body);
    assert_eq!(file.headers["content-type"], "text/csv; charset=Shift_JIS");
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&file.bytes);
    assert!(!bad);
    assert!(text.contains("9時～17時 － ― ∥ ￠ ￡ ￢"), "{text}");
}

#[tokio::test]
async fn a_cp932_download_is_refused_listing_every_cell_it_cannot_hold() {
    // Arrange
    let (t, mut b) = TestApp::with_owner(COMPANY, "cells@example.jp").await;
    import(
        &t,
        &mut b,
        &csv(&[
            reg("C1", "𠮷田", "花子", "1980/1/1", &valid_number(1)),
            reg("C2", "山田", "太郎", "1981/1/1", &valid_number(2)),
            reg("C3", "佐藤", "𩸽子", "1982/1/1", &valid_number(3)) + "𠮷野家にて",
        ]),
    )
    .await;
    // Act
    let refused = download(
        &mut b,
        "",
        &[("password", PW), ("purpose", "salary_withholding")],
    )
    .await;
    // Assert
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused
        .body
        .contains("Shift_JIS（CP932）で表せない文字が3か所にあります。"));
    let start = refused.body.find("id=\"unwritable\"").expect("a list");
    let end = refused.body[start..].find("</table>").unwrap() + start;
    let table = &refused.body[start..end];
    for (line, name, column, chars) in [
        ("2行目", "𠮷田 花子", "氏名（姓）", "「𠮷」"),
        ("4行目", "佐藤 𩸽子", "氏名（名）", "「𩸽」"),
        ("4行目", "佐藤 𩸽子", "備考", "「𠮷」"),
    ] {
        let row = format!(
            "<td class=\"num\">{line}</td><td>{name}</td><td>{column}</td><td>{chars}</td>"
        );
        assert!(table.contains(&row), "{row} missing: {table}");
    }
    assert!(
        !table.contains("山田"),
        "the row CP932 can hold is not listed"
    );
}

#[tokio::test]
async fn an_upload_with_gaiji_is_refused_naming_the_line_and_the_column() {
    // Arrange: CP932 bytes F040 (the first user-defined character) in a name.
    let (t, mut b) = TestApp::with_owner(COMPANY, "gaiji@example.jp").await;
    let text = csv(&[
        reg("G1", "山田", "太郎", "1980/1/1", &valid_number(1)),
        reg("G2", "髙橋", "GAIJI", "1981/1/1", &valid_number(2)),
    ]);
    let (bytes, _, bad) = encoding_rs::SHIFT_JIS.encode(&text);
    assert!(!bad);
    let at = bytes.windows(5).position(|w| w == b"GAIJI").unwrap();
    let mut bytes = bytes.into_owned();
    bytes.splice(at..at + 5, [0xF0, 0x40, 0x88, 0xEA]);
    // Act
    let res = upload(&mut b, &bytes).await;
    // Assert
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(listed_in(&res, 3, "氏名（名）", "外字"), "{}", res.body);
    assert!(all(&t.scope_of("gaiji@example.jp").await).await.is_empty());
}

#[tokio::test]
async fn an_upload_over_the_size_limit_says_the_file_is_too_large() {
    // Arrange
    let (_t, mut b) = TestApp::with_owner(COMPANY, "huge@example.jp").await;
    let bytes = vec![b'a'; myna::web::UPLOAD_BODY_LIMIT + 1];
    // Act
    let res = upload(&mut b, &bytes).await;
    // Assert
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        res.body.contains("ファイルが大きすぎます（上限 20MB）"),
        "{}",
        res.body
    );
    assert!(!res.body.contains("フォームの有効期限が切れた"));
    assert!(
        res.body.contains("action=\"/registrants/csv-upload\""),
        "the form to try again"
    );
}

#[tokio::test]
async fn an_empty_file_and_an_unclosed_quote_each_get_their_own_message() {
    // Arrange
    let (t, mut b) = TestApp::with_owner(COMPANY, "quote@example.jp").await;
    let unclosed = csv(&[
        reg("Q1", "山田", "太郎", "1980/1/1", &valid_number(1)),
        reg("Q2", "佐藤", "次郎", "1981/1/1", &valid_number(2)) + "\"閉じていない引用",
        reg("Q3", "鈴木", "三郎", "1982/1/1", &valid_number(3)),
    ]);
    // Act
    let empty = upload(&mut b, b"").await;
    let quote = upload(&mut b, unclosed.as_bytes()).await;
    // Assert
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        empty.body.contains("選択したファイルは空です"),
        "{}",
        empty.body
    );
    assert_eq!(
        quote.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        quote.body
    );
    assert!(
        listed_in(
            &quote,
            3,
            "備考",
            "この項目の引用符「&#34;」が閉じられていません"
        ),
        "{}",
        quote.body
    );
    assert!(all(&t.scope_of("quote@example.jp").await).await.is_empty());
}

#[tokio::test]
async fn a_hire_date_before_the_birth_date_is_refused_on_the_form_the_grid_and_the_csv() {
    // Arrange
    let (t, mut b) = TestApp::with_owner(COMPANY, "hire@example.jp").await;
    let message = "入社日が生年月日より前になっています。";
    // Act: the registrant form
    let mut fields = person("山田", "太郎", "H1", "");
    fields[8] = ("birth_date", "2001/4/2");
    fields[9] = ("hire_date", "2001/4/1");
    let form = b
        .submit("/registrants/new", "/registrants/new", &fields)
        .await;
    // Act: the grid (hire date 2020/4/1)
    let grid = post_grid(
        &mut b,
        "save_next",
        &row(1, "山田", "太郎", "2021/5/1", "H2", &valid_number(2)),
    )
    .await;
    // Act: the CSV
    let file = upload(
        &mut b,
        csv(&[reg("H3", "山田", "太郎", "2021/5/1", &valid_number(3))]).as_bytes(),
    )
    .await;
    // Assert
    assert_eq!(form.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(form.body.contains(message), "{}", form.body);
    assert_eq!(grid.status, StatusCode::UNPROCESSABLE_ENTITY);
    let at = grid.body.find("name=\"r1_hire_date\"").unwrap();
    let cell = &grid.body[at..at + grid.body[at..].find("</td>").unwrap()];
    assert!(cell.contains(message), "{cell}");
    assert!(listed_in(&file, 2, "入社日", message), "{}", file.body);
    assert!(all(&t.scope_of("hire@example.jp").await).await.is_empty());

    // The first day of 昭和 written in 大正, as old documents do, is a birth date.
    let old = post_grid(
        &mut b,
        "save_next",
        &row(1, "明治", "生", "大正15年12月25日", "H4", &valid_number(4)),
    )
    .await;
    assert_eq!(old.status, StatusCode::OK, "{}", old.body);
}

#[tokio::test]
async fn the_bulk_grid_fits_1280_px_with_every_column_visible() {
    // Arrange
    let (_t, mut b) = TestApp::with_owner(COMPANY, "wide@example.jp").await;
    // Act
    let page = b.get("/registrants/bulk").await;
    let css = b.get("/static/app.css").await.body;
    // Assert: one fixed-width column per header cell...
    let head = &page.body[page.body.find("<thead>").unwrap()..page.body.find("</thead>").unwrap()];
    let cols: Vec<&str> = page
        .body
        .split("<col class=\"")
        .skip(1)
        .map(|c| c.split('"').next().unwrap())
        .collect();
    assert_eq!(cols.len(), head.matches("</th>").count(), "{head}");
    assert!(css.contains("table.grid { table-layout: fixed; }"));
    // ...adding up to less than the content width at 1280 px: .app-main is 1100 px wide with
    // 1 rem padding, the card 1.2 rem padding and a 1 px border each side.
    let width = |class: &str| -> f64 {
        let rule = format!("table.grid col.{class} {{ width: ");
        let at = css
            .find(&rule)
            .unwrap_or_else(|| panic!("no width for {class}"))
            + rule.len();
        css[at..].split("rem").next().unwrap().parse().unwrap()
    };
    let total: f64 = cols.iter().map(|c| width(c) * 16.0).sum();
    let content = 1100.0 - 2.0 * 16.0 - 2.0 * 1.2 * 16.0 - 2.0;
    assert!(total <= content, "{total}px of columns in {content}px");
}
