//! 操作ガイド (the product's own help) and the one list of 本人確認 documents every page shows.

use axum::http::StatusCode;
use myna::web::guide::PAGES;
use myna_tests::{Browser, TestApp};

const PW: &str = "Sakura-2026x";

async fn owner(t: &TestApp, email: &str) -> Browser {
    t.signup("株式会社ガイド", email, PW).await;
    t.login(email, PW, None).await
}

/// The items of the `<ul class="documents…" data-documents="{list}">` lists on a page.
fn list_items(body: &str, list: &str) -> Vec<String> {
    let marker = format!("data-documents=\"{list}\">");
    body.split(&marker)
        .skip(1)
        .flat_map(|rest| {
            let ul = rest.split("</ul>").next().unwrap_or_default();
            ul.split("<li>")
                .skip(1)
                .map(|li| li.split("</li>").next().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A page showing 番号確認 documents offers the current ones only: 個人番号通知書 is named as
/// refused, 通知カード only with its condition.
pub(crate) fn assert_number_documents_current(body: &str, page: &str) {
    let number = list_items(body, "number");
    assert!(!number.is_empty(), "{page}: no 番号確認 list");
    assert!(
        number.iter().all(|d| !d.contains("個人番号通知書")),
        "{page}: 個人番号通知書 offered as 番号確認"
    );
    assert!(
        number
            .iter()
            .filter(|d| d.contains("通知カード"))
            .all(|d| d.contains("住民票と一致している場合に限ります")),
        "{page}: 通知カード offered without its condition"
    );
    assert!(list_items(body, "not-number")
        .iter()
        .any(|d| d.contains("「個人番号通知書」は使えません")));
}

/// A page showing 身元確認 documents offers 資格確認書, and 健康保険証 / 年金手帳 only as what
/// they are today.
pub(crate) fn assert_identity_documents_current(body: &str, page: &str) {
    let current: Vec<String> = list_items(body, "photo")
        .into_iter()
        .chain(list_items(body, "no-photo"))
        .collect();
    assert!(!current.is_empty(), "{page}: no 身元確認 list");
    assert!(
        current.iter().any(|d| d.contains("資格確認書")),
        "{page}: 資格確認書 missing"
    );
    assert!(
        current.iter().all(|d| !d.contains("健康保険証")),
        "{page}: 健康保険証 offered as current"
    );
    assert!(
        current.iter().any(|d| d.contains("基礎年金番号通知書")),
        "{page}: 基礎年金番号通知書 missing"
    );
    assert!(!body.contains("各種保険証"), "{page}: 各種保険証");
}

/// Every link in `html` opens a page (200) that is not a 準備中 place; returns how many.
pub(crate) async fn assert_links_lead_to_working_screens(
    b: &mut Browser,
    html: &str,
    from: &str,
) -> usize {
    let hrefs: Vec<&str> = html
        .split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    for href in &hrefs {
        let target = href.split('#').next().unwrap_or(href);
        let res = b.get(target).await;
        assert_eq!(res.status, StatusCode::OK, "{from} links {href}");
        assert!(
            !res.body.contains("この機能は現在準備中です"),
            "{from} links {href} (準備中)"
        );
    }
    hrefs.len()
}

#[tokio::test]
async fn every_guide_page_answers_with_its_own_help_and_links_only_to_screens_that_exist() {
    // GIVEN a logged-in administrator
    let t = TestApp::spawn();
    let mut b = owner(&t, "guide@example.jp").await;

    for (path, title) in PAGES {
        // WHEN a guide page is opened
        let page = b.get(path).await;

        // THEN it is the guide's page (not 準備中), with the 操作ガイド tab current
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(
            page.body
                .contains(&format!("<h1 class=\"page-title\">{title}</h1>")),
            "{path}"
        );
        assert!(!page.body.contains("準備中"), "{path} says 準備中");
        assert!(page
            .body
            .contains("<a href=\"/guide\" class=\"current\" aria-current=\"page\">操作ガイド</a>"));
        // AND every link inside the guide leads to a working screen
        let main = page
            .body
            .split("<article class=\"guide-body\">")
            .nth(1)
            .unwrap();
        assert_links_lead_to_working_screens(
            &mut b,
            main.split("</article>").next().unwrap(),
            path,
        )
        .await;
    }
    // The index leads to one page per task of the manual, and the FAQ.
    let index = b.get("/guide").await;
    for (path, _) in &PAGES[1..] {
        assert!(index.body.contains(&format!("href=\"{path}\"")), "{path}");
    }
}

#[tokio::test]
async fn the_faq_answers_carrier_mail_documents_and_cancellation() {
    let t = TestApp::spawn();
    let mut b = owner(&t, "faq@example.jp").await;
    let faq = b.get("/guide/faq").await;
    for text in [
        // mail not received on a carrier phone: allow the domain per carrier, or the QR code
        "携帯電話のメールアドレスで収集メールが受け取れません",
        "docomo",
        "受信リスト設定",
        "au",
        "SoftBank",
        "受信許可リスト",
        "QRコード生成",
        // what happens to the data on cancellation
        "解約するとマイナンバーのデータはどうなりますか",
        "元に戻すことはできません",
        "CSVダウンロード",
    ] {
        assert!(faq.body.contains(text), "FAQ lacks {text}");
    }
    assert_number_documents_current(&faq.body, "/guide/faq");
    assert_identity_documents_current(&faq.body, "/guide/faq");
}

#[tokio::test]
async fn the_approval_screen_and_the_guide_list_the_current_identity_documents() {
    // GIVEN a registrant with a number, waiting for approval
    let t = TestApp::spawn();
    let mut b = owner(&t, "docs@example.jp").await;
    let res = crate::registrants::add(
        &mut b,
        &crate::registrants::person("書類", "確認", "K001", "621498320257"),
        &[],
    )
    .await;
    let id = crate::registrants::registrant_id(&res);

    // WHEN the approval screen and the guide's approval page are opened
    let approval = b.get(&format!("/approval/{id}")).await;
    let guide = b.get("/guide/approve").await;

    // THEN both list the documents valid today
    assert_eq!(approval.status, StatusCode::OK, "{}", approval.body);
    for (page, body) in [
        ("approval", &approval.body),
        ("/guide/approve", &guide.body),
    ] {
        assert_number_documents_current(body, page);
        assert_identity_documents_current(body, page);
        assert!(body.contains("資格確認書の写しは、保険者番号と被保険者等記号・番号を隠した"));
    }
    // AND the upload slots summarise the same lists
    let detail = b.get(&format!("/registrants/{id}")).await;
    assert!(!detail.body.contains("各種保険証"));
    assert!(detail.body.contains("資格確認書"));
    assert!(detail.body.contains(
        "通知カード（氏名・住所などの記載事項が現在の住民票と一致している場合に限ります）"
    ));
}
