//! CSVダウンロード as a stream over the store: the first rows leave before the last page of
//! the registrant partition is read, dependents stay with their registrant across page
//! boundaries, the file holds exactly whom the list's filter selects, and rows of an import
//! not yet committed stay out. (Password, purpose, audit and encodings: `bulk.rs`.)

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use myna::app::keys::TenantScope;
use myna::app::registrants::{self as regs, Filter};
use myna::app::staging::{self, Budget, State};
use myna::app::tenants;
use myna::ports::Condition;
use myna_tests::fixtures::valid_number;
use myna_tests::store_hook::HookedStore;
use myna_tests::{seed_sealed as seed, test_config, Browser, TestApp};
use tower::ServiceExt;

const COMPANY: &str = "株式会社ストリーム";

async fn download(b: &mut Browser, query: &str) -> String {
    let fields = b.csv_download_fields(query, "utf8").await;
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let file = b.post("/registrants/csv", &refs).await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.body);
    file.body
}

/// The 社員コード of the registrant rows of a downloaded file.
fn registrant_codes(file: &str) -> BTreeSet<String> {
    file.lines()
        .filter(|l| l.trim_start_matches('\u{feff}').starts_with("登録者,"))
        .map(|l| l.split(',').nth(1).unwrap().to_string())
        .collect()
}

async fn set_plan(scope: &TenantScope, size: u16) {
    let mut item = scope.get(&scope.key("PROFILE")).await.unwrap().unwrap();
    item.attrs.insert("plan".into(), size.into());
    scope.put(item, Condition::None).await.unwrap();
}

#[tokio::test]
async fn download_sends_its_first_rows_before_the_last_store_page_is_read_when_the_tenant_is_large()
{
    // GIVEN 1,000 registrants with 0, 1 or 2 dependents each (about 2,000 items: several
    // store pages), on a store that counts its queries
    let queries = Arc::new(AtomicUsize::new(0));
    let counter = queries.clone();
    let t = TestApp::spawn_wrapping_store(test_config(), move |inner| {
        HookedStore::wrap(inner, move |op, _| {
            if op == "query" {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            Ok(())
        })
    });
    let mut b = t.owner(COMPANY, "stream@example.jp").await;
    let scope = t.scope_of("stream@example.jp").await;
    let seeded = seed::registrants(&t.app, &scope, 1_000, 0, |i| i % 3).await;
    let fields = b.csv_download_fields("", "utf8").await;

    // WHEN the download is requested and its body read piece by piece
    let cookie: Vec<String> = b.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut req = Request::post("/registrants/csv")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookie.join("; "))
        .body(Body::from(serde_urlencoded::to_string(&fields).unwrap()))
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 50000))));
    let res = t.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let at_headers = queries.load(Ordering::SeqCst);
    let mut body = res.into_body();
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    let mut read_before = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            read_before.push(queries.load(Ordering::SeqCst) - at_headers);
            pieces.push(data.to_vec());
        }
    }
    let pages = queries.load(Ordering::SeqCst) - at_headers;

    // THEN the first piece left after one page of the partition was read, and the rest
    // followed page by page
    assert!(pages >= 4, "{pages} pages");
    assert_eq!(read_before.first(), Some(&1), "{read_before:?}");
    assert_eq!(pieces.len(), pages, "one piece per page");
    assert!(read_before.windows(2).all(|w| w[1] == w[0] + 1));

    // THEN the file holds everyone, each dependent right after its registrant
    let file = String::from_utf8(pieces.concat()).unwrap();
    let lines: Vec<&str> = file.lines().skip(1).collect();
    assert_eq!(lines.len(), seeded.codes.len() + seeded.dependents);
    let mut owner = "";
    for line in &lines {
        let cells: Vec<&str> = line.split(',').collect();
        match cells[0] {
            "登録者" => owner = cells[1],
            _ => assert_eq!(cells[1], owner, "{line}"),
        }
    }
    assert_eq!(
        registrant_codes(&file),
        seeded.codes.iter().cloned().collect()
    );
    let last_seed = (seeded.codes.len() + seeded.dependents) as u64;
    assert!(file.contains(&valid_number(1)) && file.contains(&valid_number(last_seed)));
}

#[tokio::test]
async fn download_holds_exactly_whom_the_list_selects_for_each_filter() {
    // GIVEN 120 registrants (two attributes, 97 family names, one retired, one in a group)
    let (t, mut b) = TestApp::with_owner(COMPANY, "filters@example.jp").await;
    let scope = t.scope_of("filters@example.jp").await;
    seed::registrants(&t.app, &scope, 120, 0, |i| i % 2).await;
    let group = myna::app::groups::new_group("経理部".into(), time::OffsetDateTime::now_utc());
    scope
        .put(group.to_item(&scope), Condition::None)
        .await
        .unwrap();
    let all = regs::select(&scope, &Filter::default()).await.unwrap().0;
    for (i, mut r) in all.into_iter().take(2).enumerate() {
        if i == 0 {
            r.retired_on = Some(time::macros::date!(2025 - 03 - 31));
        } else {
            r.group_id = Some(group.id.clone());
        }
        scope.put(r.to_item(&scope), Condition::None).await.unwrap();
    }
    let attribute = myna::domain::person::Attribute::ALL[1].code();
    let group_query = format!("?group={}", group.id);
    let attribute_query = format!("?attribute={attribute}");
    let cases = [
        "",
        "?code=X0001",
        // 社員3, 社員30…39: partial; half-width kana finds full-width.
        "?name=%E7%A4%BE%E5%93%A13",
        "?name=%EF%BD%BC%EF%BD%AC%EF%BD%B2%EF%BE%9D",
        attribute_query.as_str(),
        "?retired=only",
        "?retired=exclude",
        "?retired_month=2025-03",
        group_query.as_str(),
        "?group=none&sort=name",
        "?email=staff11",
    ];
    for query in cases {
        // WHEN the list's filter is downloaded
        let file = download(&mut b, query).await;
        // THEN the file holds the registrants the list selects, no more, no fewer
        let filter: Filter = serde_urlencoded::from_str(query.trim_start_matches('?')).unwrap();
        let listed: BTreeSet<String> = regs::select(&scope, &filter)
            .await
            .unwrap()
            .0
            .into_iter()
            .map(|r| r.code)
            .collect();
        assert!(!listed.is_empty(), "{query}");
        assert_eq!(registrant_codes(&file), listed, "{query}");
    }
}

#[tokio::test]
async fn download_leaves_out_the_rows_of_an_import_until_it_is_committed() {
    // GIVEN 3 registrants, and a CSV import of 100 more stopped after its first chunk
    let (t, mut b) = TestApp::with_owner(COMPANY, "gate@example.jp").await;
    let scope = t.scope_of("gate@example.jp").await;
    set_plan(&scope, 300).await;
    seed::registrants(&t.app, &scope, 3, 0, |_| 1).await;
    let mut text = String::from("種別,社員コード,属性,氏名（姓）,氏名（名）,フリガナ（セイ）,フリガナ（メイ）,生年月日,性別,マイナンバー,続柄,入社日,メールアドレス,グループ,備考\n");
    for i in 0..100u64 {
        text.push_str(&format!(
            "登録者,C{i:03},従業員1,社員,{i},,,1980/1/1,男性,{},,,,,\n",
            valid_number(500 + i)
        ));
    }
    let form = "/registrants/csv-upload";
    let staged = b.upload(form, form, text.as_bytes(), true).await;
    assert_eq!(staged.status, StatusCode::OK, "{}", staged.body);
    let at = staged.body.find("/commit\"").unwrap();
    let id = staged.body[at - 26..at].to_string();
    let tenant = tenants::load(&scope).await.unwrap().unwrap();
    let import = staging::load(&scope, &id).await.unwrap().unwrap();
    assert!(staging::start(&t.app, &scope, &import).await.unwrap());
    let budget = |steps| Budget {
        steps: Some(steps),
        until: None,
    };
    let stopped = staging::run(&t.app, &scope, &tenant, &id, budget(1))
        .await
        .unwrap();
    assert_eq!(stopped.state, State::Committing);

    // WHEN downloading THEN only the 3 are in the file
    let file = download(&mut b, "").await;
    assert_eq!(registrant_codes(&file).len(), 3, "{file}");
    assert!(!file.contains(&valid_number(500)));

    // WHEN the import is committed THEN all 103 are
    let done = staging::run(&t.app, &scope, &tenant, &id, budget(1_000))
        .await
        .unwrap();
    assert!(done.state.visible());
    let file = download(&mut b, "").await;
    assert_eq!(registrant_codes(&file).len(), 103);
    assert!(file.contains(&valid_number(500)) && file.contains(&valid_number(599)));
}
