//! 操作ガイド (the product's own help) and the one list of 本人確認 documents every page shows.

use axum::http::StatusCode;
use myna::web::guide::PAGES;
use myna_tests::fixtures::{
    assert_identity_documents_current, assert_number_documents_current, person,
};
use myna_tests::TestApp;

/// The company every owner here signs up.
const COMPANY: &str = "株式会社ガイド";

#[tokio::test]
async fn every_guide_page_answers_with_its_own_help_and_links_only_to_screens_that_exist() {
    // GIVEN a logged-in administrator
    let (_t, mut b) = TestApp::with_owner(COMPANY, "guide@example.jp").await;

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
        b.assert_links_lead_to_working_screens(main.split("</article>").next().unwrap(), path)
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
    let (_t, mut b) = TestApp::with_owner(COMPANY, "faq@example.jp").await;
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
    let (_t, mut b) = TestApp::with_owner(COMPANY, "docs@example.jp").await;
    let res = b
        .add_registrant(&person("書類", "確認", "K001", "621498320257"), &[])
        .await;
    let id = res.registrant_id();

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
