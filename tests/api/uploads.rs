//! Document image uploads through the HTTP routes, as an attacker holding an upload ticket
//! would try them: a ticket replayed after its image was verified, and a failing upload after
//! a good one. What the approver is served is the proof.

use axum::http::StatusCode;
use myna_tests::{Browser, TestApp};

use myna_tests::fixtures::{jpeg, person, png, NUMBER};

/// The company every owner here signs up.
const COMPANY: &str = "株式会社レジスト";

/// A registrant waiting for approval (so the approval screen serves its images), and its id.
async fn waiting_registrant(b: &mut Browser) -> String {
    b.add_registrant(&person("画像", "太郎", "U001", NUMBER), &[])
        .await
        .registrant_id()
}

/// The bytes the approval screen serves for the registrant's 番号確認書類.
async fn served(b: &mut Browser, id: &str) -> Vec<u8> {
    let page = b.get(&format!("/approval/{id}/images/number_proof")).await;
    assert_eq!(page.status, StatusCode::OK);
    page.bytes
}

#[tokio::test]
async fn replaying_an_upload_ticket_changes_nothing_when_its_image_was_verified() {
    // Arrange: a PNG uploaded and verified through its ticket.
    let (t, mut b) = TestApp::with_owner(COMPANY, "replay@example.jp").await;
    let id = waiting_registrant(&mut b).await;
    let base = format!("/registrants/{id}/images/number_proof");
    let (status, tk) = b.ticket(&format!("{base}/ticket"), "image/png").await;
    assert_eq!(status, StatusCode::OK, "{tk}");
    assert!(t.put(&tk, "image/png", png()).await);
    let upload = tk["upload"].as_str().unwrap();
    let (status, done) = b.complete(&format!("{base}/complete"), upload).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(served(&mut b, &id).await, png());

    // Act: the same ticket, still within its five minutes, sends other bytes, then nothing;
    // each time someone also asks to complete the same upload again.
    for replay in [jpeg(), Vec::new()] {
        t.put(&tk, "image/png", replay).await;
        let (status, again) = b.complete(&format!("{base}/complete"), upload).await;

        // Assert: the second completion is refused and the verified image is what is served.
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{again}");
        assert_eq!(served(&mut b, &id).await, png());
    }
}

#[tokio::test]
async fn a_failed_upload_keeps_the_previous_image_when_the_new_one_is_not_an_image() {
    // Arrange: a verified PNG.
    let (t, mut b) = TestApp::with_owner(COMPANY, "keep@example.jp").await;
    let id = waiting_registrant(&mut b).await;
    let base = format!("/registrants/{id}/images/number_proof");
    let (_, first) = b.ticket(&format!("{base}/ticket"), "image/png").await;
    assert!(t.put(&first, "image/png", png()).await);
    let upload = first["upload"].as_str().unwrap();
    assert_eq!(
        b.complete(&format!("{base}/complete"), upload).await.0,
        StatusCode::OK
    );

    // Act: a PDF sent as a JPEG, and an empty file.
    for bad in [b"%PDF-1.7 pretending".to_vec(), Vec::new()] {
        let (_, next) = b.ticket(&format!("{base}/ticket"), "image/jpeg").await;
        assert!(t.put(&next, "image/jpeg", bad).await);
        let (status, err) = b
            .complete(
                &format!("{base}/complete"),
                next["upload"].as_str().unwrap(),
            )
            .await;

        // Assert: refused with the reason; the approver still sees the first image.
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            err["error"],
            "画像の形式に対応していません（JPEG・PNG・GIFのみ）。"
        );
        assert_eq!(served(&mut b, &id).await, png());
    }
}

#[tokio::test]
async fn the_phone_shrinks_photos_onto_white_when_the_image_is_transparent() {
    // Arrange
    let t = TestApp::spawn();
    let mut anyone = t.browser("198.51.100.90");

    // Act: the script the upload pages load.
    let script = anyone.get("/static/upload.js").await;

    // Assert: the canvas is painted white before the photo is drawn on it and encoded as
    // JPEG (which has no transparency; unpainted pixels would turn black).
    assert_eq!(script.status, StatusCode::OK);
    let body = script.body;
    let shrink = &body[body.find("async function shrink").expect("shrink")..];
    let fill_style = shrink.find("fillStyle = '#fff'").expect("white fill style");
    let fill = shrink.find("fillRect(0, 0, canvas.width, canvas.height)");
    let draw = shrink.find("drawImage(bitmap").expect("drawImage");
    let encode = shrink.find("toBlob(canvas").expect("JPEG encoding");
    assert!(fill.is_some_and(|f| fill_style < f && f < draw && draw < encode));
}
