//! The whole journey in one test, in the order people do it: each stage needs the one before
//! (the registrant's link comes from the administrator's mail, the approval from the
//! registrant's photos). Stages are functions named for what the person does.

use std::sync::{Arc, Mutex};

use myna_tests::browser::{artefact_dir, scan, Driver, Problems, Server, Tab, Tools};

use crate::photos;

const OWNER: &str = "owner@browser.example.jp";
const OWNER_PW: &str = "Sakura-2026x";

/// Signs the company up, logs in with the mailed code and lands on HOME.
async fn sign_up_and_log_in(admin: &mut Tab, server: &Server) {
    admin.goto("/", "start").await;
    admin.goto("/signup", "signup").await;
    admin.fill("company_name", "ブラウザ試験株式会社").await;
    admin.fill("family_name", "管理").await;
    admin.fill("given_name", "花子").await;
    admin.fill("email", OWNER).await;
    admin.fill("password", OWNER_PW).await;
    admin.fill("password_confirm", OWNER_PW).await;
    admin.press("申し込む", "signup-done").await;
    let welcome = server.mail_to(OWNER, "");
    assert!(welcome.body.contains("お客様番号"), "{}", welcome.body);
    // Login by keyboard alone: Tab to each field (focus visible on every stop), Enter submits.
    admin.goto("/login", "login").await;
    admin.tab_to("email").await;
    admin.type_keys(OWNER).await;
    admin.tab_to("password").await;
    let enter = char::from(fantoccini::key::Key::Enter);
    admin.type_keys(&format!("{OWNER_PW}{enter}")).await;
    admin.settle().await;
    admin.check("otp").await;
    let mail = server.mail_to(OWNER, "認証コード");
    let code = mail
        .body
        .lines()
        .find_map(|l| l.strip_prefix("第二認証コード:"))
        .expect("code line")
        .trim()
        .to_string();
    admin.fill("code", &code).await;
    admin.press("送信", "home").await;
    assert_eq!(admin.path().await, "/home");
}

const REGISTRANT: &str = "hanako@browser.example.jp";
const GROUP: &str = "営業部";
const PASSCODE: &str = "Kaisha2026";
const PHONE_PW: &str = "Phone-Pass-77";
/// The numbers typed in the journey (valid check digits); the scan looks for them afterwards.
const NUMBER: &str = myna_tests::fixtures::NUMBER;
/// The dependent's number.
fn dep_number() -> String {
    myna_tests::fixtures::valid_number(1)
}

/// A group, the company passcode, a registrant in the group, and the collection mail to them.
/// Returns the registration link from the mail.
async fn add_registrant_and_mail_them(admin: &mut Tab, server: &Server) -> (String, String) {
    admin.goto("/registrants/groups", "groups").await;
    admin.press("新規登録", "group-new").await;
    admin.fill("name", GROUP).await;
    admin.press("入力確認", "group-confirm").await;
    admin.press("登録", "group-saved").await;
    admin.expect(GROUP).await;

    admin.goto("/collection/passcode", "passcode").await;
    admin.fill("passcode", PASSCODE).await;
    admin.press("設定", "passcode-set").await;

    admin.goto("/registrants/new", "registrant-new").await;
    admin.fill("family_name", "山田").await;
    admin.fill("given_name", "花子").await;
    admin.fill("family_kana", "ヤマダ").await;
    admin.fill("given_kana", "ハナコ").await;
    admin.fill("code", "E-1001").await;
    admin.pick("attribute", "employee1").await;
    admin.pick_label("group_id", GROUP).await;
    admin.fill("email", REGISTRANT).await;
    admin.click("input[name=sex][value=female]").await;
    admin.fill("birth_date", "S60/4/1").await;
    admin.fill("hire_date", "2020/4/1").await;
    admin.press("入力確認", "registrant-confirm").await;
    admin.press("登録", "registrant-saved").await;
    let detail = admin.path().await;
    let id = detail
        .trim_start_matches("/registrants/")
        .split(['?', '/', '#'])
        .next()
        .unwrap()
        .to_string();

    admin.goto("/registrants", "list").await;
    admin.expect("山田").await;
    admin
        .click(&format!("a[href='/collection/mail?ids={id}']"))
        .await;
    admin.settle().await;
    admin.check("collection-mail").await;
    admin
        .fill("message", "マイナンバーの登録をお願いします。")
        .await;
    admin.press("送信", "collection-sent").await;
    admin
        .wait_until(
            "return document.body.innerText.includes('完了')",
            "the mail blast finishing",
        )
        .await;
    admin.check("collection-result").await;
    let mail = server.mail_to(REGISTRANT, "");
    let link = mail
        .body
        .lines()
        .find(|l| l.contains("/r/"))
        .expect("registration link in the collection mail")
        .trim()
        .to_string();
    assert!(link.starts_with(&server.base), "{link}");
    (id, link)
}

/// Uploads `file` through the page's own file input and waits for the page to show it stored.
async fn upload_photo(phone: &mut Tab, file: &std::path::Path, step: &str) {
    phone.choose_file("input[type=file]", file).await;
    phone
        .wait_until(
            "return document.body.innerText.includes('アップロード済み') || !!document.querySelector('.upload-status.bad')",
            "the photo upload",
        )
        .await;
    phone.check(step).await;
    phone.expect("アップロード済み").await;
}

/// The registrant's phone: the link, password + passcode + consent, the number, two photos, a
/// 第3号 dependent with photos; the phone pages also at 320 and 360; then 登録を終了.
async fn register_on_the_phone(phone: &mut Tab, link: &str, files: &Files) {
    phone.goto(link, "phone-login").await;
    phone.fill("password", PHONE_PW).await;
    phone.fill("password_confirm", PHONE_PW).await;
    phone.fill("passcode", PASSCODE).await;
    phone
        .press("下記の利用目的に同意してログイン", "phone-me")
        .await;

    phone.goto("/r/me/step1", "step1").await;
    phone.click("input[name=sex][value=female]").await;
    phone.pick("birth_year", "1985").await;
    phone.pick("birth_month", "4").await;
    phone.pick("birth_day", "1").await;
    phone.fill("number1", &NUMBER[..4]).await;
    phone.fill("number2", &NUMBER[4..8]).await;
    phone.fill("number3", &NUMBER[8..]).await;
    phone.press("決定", "step2").await;
    upload_photo(phone, &files.jpeg, "step2-uploaded").await;
    phone.press("決定", "step3").await;
    upload_photo(phone, &files.png, "step3-uploaded").await;
    phone.press("決定", "after-step3").await;

    phone.goto("/r/me/dependents", "dependents").await;
    phone.press("扶養家族追加", "dependent-new").await;
    phone.fill("family_name", "山田").await;
    phone.fill("given_name", "一郎").await;
    phone.pick("relationship", "spouse").await;
    phone.pick("kind", "national_pension_category3").await;
    phone.click("input[name=sex][value=male]").await;
    phone.pick("birth_year", "1983").await;
    phone.pick("birth_month", "6").await;
    phone.pick("birth_day", "15").await;
    let dep = dep_number();
    phone.fill("number1", &dep[..4]).await;
    phone.fill("number2", &dep[4..8]).await;
    phone.fill("number3", &dep[8..]).await;
    phone.press("決定", "step5").await;
    upload_photo(phone, &files.jpeg, "step5-uploaded").await;
    phone.press("決定", "step6").await;
    upload_photo(phone, &files.png, "step6-uploaded").await;
    phone.press("決定", "dependents-done").await;
    phone
        .press("扶養家族編集を終了して登録情報の確認", "review")
        .await;

    // The same pages at the narrowest phones (the dependent's own pages too).
    phone.goto("/r/me/dependents", "dependents-list").await;
    let dependent = phone
        .js("return [...document.querySelectorAll('a')].map((a) => a.getAttribute('href')).find((h) => h && h.startsWith('/r/me/dependents/') && h.split('/').length === 5 && !h.endsWith('/new')) || ''")
        .await
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        !dependent.is_empty(),
        "no link to the dependent on /r/me/dependents"
    );
    let pages = [
        "/r/me".to_string(),
        "/r/me/step1".into(),
        "/r/me/step2".into(),
        "/r/me/step3".into(),
        "/r/me/family".into(),
        "/r/me/dependents".into(),
        "/r/me/dependents/new".into(),
        dependent.clone(),
        format!("{dependent}/edit"),
        format!("{dependent}/step5"),
        format!("{dependent}/step6"),
        "/r/me/review".into(),
    ];
    for width in [320, 360] {
        phone.resize(width, 844, true).await;
        for path in &pages {
            phone.goto(path, &format!("w{width}{path}")).await;
        }
    }
    phone.resize(390, 844, true).await;
    phone.goto("/r/me/review", "review-again").await;
    phone.press("登録を終了", "finished").await;
    assert_eq!(phone.path().await, "/r/me/done");
}

/// What the viewer shows of the image captioned `label`: the stored image's size in bytes,
/// the canvas's displayed width and height, its pixel width and the top-left pixel (RGB).
async fn viewer_state(admin: &Tab, label: &str) -> serde_json::Value {
    let script = format!(
        r#"const done = arguments[arguments.length - 1];
        const figure = [...document.querySelectorAll('figure.viewer')].find((f) => f.innerText.includes('{label}'));
        if (!figure) {{ done(null); return; }}
        const img = figure.querySelector('img');
        const canvas = figure.querySelector('canvas');
        const pixel = canvas ? [...canvas.getContext('2d').getImageData(2, 2, 1, 1).data].slice(0, 3) : null;
        fetch(img.src).then((r) => r.blob()).then((b) => done({{
            bytes: b.size, type: b.type,
            shownWidth: canvas ? canvas.getBoundingClientRect().width : 0,
            shownHeight: canvas ? canvas.getBoundingClientRect().height : 0,
            width: canvas ? canvas.width : 0, height: canvas ? canvas.height : 0, pixel }}));"#
    );
    admin.client.execute_async(&script, vec![]).await.unwrap()
}

/// Approves the registrant with the viewer, then the dependent.
async fn approve_with_the_viewer(admin: &mut Tab) {
    admin.goto("/approval", "approval-list").await;
    admin.expect("山田").await;
    admin.press("承認", "approval-view").await;
    admin
        .wait_until(
            "return document.querySelectorAll('figure.viewer canvas').length === 2",
            "both images drawn",
        )
        .await;
    admin
        .expect(&format!(
            "{} {} {}",
            &NUMBER[..4],
            &NUMBER[4..8],
            &NUMBER[8..]
        ))
        .await;

    let card = viewer_state(admin, "番号確認").await;
    let licence = viewer_state(admin, "身元確認").await;
    // The >4 MB JPEG arrived shrunk below 4 MB; the transparent PNG's background is white.
    let bytes = card["bytes"].as_u64().unwrap();
    assert!(
        bytes > 0 && bytes < 4 * 1024 * 1024,
        "stored number-proof image: {card}"
    );
    println!(
        "the number-proof photo (a test JPEG over 4 MB) was stored as {bytes} bytes ({})",
        card["type"]
    );
    assert!(
        licence["pixel"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c.as_u64().unwrap() > 235),
        "transparent PNG turned dark: {licence}"
    );

    // 拡大 grows the shown image, 回転 turns it a quarter (width and height swap).
    let before = licence["shownWidth"].as_f64().unwrap();
    let zoom = "[...document.querySelectorAll('figure.viewer')].find((f) => f.innerText.includes('身元確認')).querySelector('button[data-viewer=in]').click()";
    admin.js(zoom).await;
    let zoomed = viewer_state(admin, "身元確認").await;
    assert!(
        zoomed["shownWidth"].as_f64().unwrap() > before * 1.2,
        "拡大: {licence} → {zoomed}"
    );
    admin
        .js(&zoom.replace("data-viewer=in", "data-viewer=rotate"))
        .await;
    let turned = viewer_state(admin, "身元確認").await;
    assert_eq!(
        (turned["width"].clone(), turned["height"].clone()),
        (zoomed["height"].clone(), zoomed["width"].clone()),
        "回転: {zoomed} → {turned}"
    );
    admin.check("viewer-zoomed-rotated").await;

    admin.press("承認", "approved").await;
    admin.goto("/approval", "approval-list-dependent").await;
    admin.press("承認", "approval-dependent").await;
    admin
        .wait_until(
            "return document.querySelectorAll('figure.viewer canvas').length === 2",
            "the dependent's images drawn",
        )
        .await;
    admin.press("承認", "dependent-approved").await;
    admin.goto("/approval", "approval-empty").await;
}

/// 表示 with password + purpose, the CSV download (CP932, the person in it), the operation log.
async fn reveal_download_and_read_the_log(admin: &mut Tab, id: &str) {
    admin.goto(&format!("/registrants/{id}"), "detail").await;
    admin.press("マイナンバー表示", "reveal-form").await;
    admin.fill("password", OWNER_PW).await;
    admin
        .click("input[name=purpose][value=salary_withholding]")
        .await;
    admin.press("表示", "revealed").await;
    admin
        .expect(&format!(
            "{} {} {}",
            &NUMBER[..4],
            &NUMBER[4..8],
            &NUMBER[8..]
        ))
        .await;

    admin.goto("/registrants/csv", "csv-form").await;
    admin.fill("password", OWNER_PW).await;
    admin
        .click("input[name=purpose][value=salary_withholding]")
        .await;
    admin.click("input[name=encoding][value=cp932]").await;
    admin.press("ダウンロード", "csv-downloaded").await;
    let file = wait_for_download(&admin.downloads).await;
    let raw = std::fs::read(&file).unwrap();
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&raw);
    assert!(!bad, "the CSV is not CP932");
    assert!(
        std::str::from_utf8(&raw).is_err(),
        "the CSV is plain UTF-8, not CP932"
    );
    let row = text
        .lines()
        .find(|l| l.contains("山田") && l.contains("花子"))
        .unwrap_or_else(|| panic!("no 山田 花子 row:\n{text}"));
    assert!(row.contains(NUMBER), "the row lacks the number: {row}");
    assert!(
        text.contains(&dep_number()),
        "the dependent's row is missing"
    );

    admin.goto("/audit-log", "audit-log").await;
    for entry in ["承認", "表示", "CSV"] {
        admin.expect(entry).await;
    }
}

/// A finished download in `dir` (Chromium writes `.crdownload` until it is complete).
async fn wait_for_download(dir: &std::path::Path) -> std::path::PathBuf {
    for _ in 0..300 {
        let done: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| !p.display().to_string().ends_with(".crdownload"))
            .collect();
        if let Some(file) = done.into_iter().next() {
            return file;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no download in {}", dir.display());
}

/// 退職日 through the edit form, then 登録者削除 with a reason, listed on /disposal.
async fn retire_and_delete(admin: &mut Tab, id: &str) {
    admin.goto(&format!("/registrants/{id}/edit"), "edit").await;
    admin.fill("retired_on", "2026/3/31").await;
    admin.press("入力確認", "edit-confirm").await;
    admin.press("登録", "retired").await;
    admin
        .goto(&format!("/registrants/{id}"), "detail-retired")
        .await;
    admin.expect("2026").await;

    admin
        .goto(&format!("/registrants/{id}/delete"), "delete-form")
        .await;
    admin.click("input[name=reason][value=retired]").await;
    admin.press("入力確認", "delete-confirm").await;
    admin.press("削除", "deleted").await;
    admin.goto("/disposal", "disposal-list").await;
    admin.expect("山田").await;
    admin.press("削除証明書", "disposal-certificate").await;
}

/// Item 2: no typed number and no image bytes in clear in the data dir (every file, outbox
/// included), the server's log or any address the browser visited.
fn assert_nothing_in_clear(
    server: &Server,
    visited: &Mutex<Vec<String>>,
    files: &Files,
    when: &str,
) {
    let mut needles = scan::Needle::number("the registrant's number", NUMBER);
    needles.extend(scan::Needle::number(
        "the dependent's number",
        &dep_number(),
    ));
    needles.extend(scan::Needle::image_signatures());
    needles.extend(scan::Needle::chunks_of("the test JPEG", &files.jpeg_bytes));
    needles.extend(scan::Needle::chunks_of("the test PNG", &files.png_bytes));
    let mut found = Vec::new();
    let scanned = scan::scan_dir(&server.data_dir, &needles, &mut found);
    if when == "while stored" {
        // Not a vacuous scan: the sealed photos are there (the shrunk JPEG alone is megabytes).
        let largest = scan::files_under(&server.data_dir)
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .max()
            .unwrap_or(0);
        assert!(
            largest > 1_000_000,
            "no sealed photo in the data dir (largest file {largest} bytes)"
        );
    }
    assert!(
        scanned >= 3,
        "the data dir holds only {scanned} files: the scan would prove nothing"
    );
    let log = server.log_text();
    assert!(!log.is_empty(), "the server logged nothing");
    scan::scan_bytes("the server's log", log.as_bytes(), &needles, &mut found);
    let urls = visited.lock().unwrap().clone();
    for url in &urls {
        scan::scan_bytes(
            &format!("the address {url}"),
            url.as_bytes(),
            &needles,
            &mut found,
        );
    }
    println!(
        "plaintext scan {when}: {scanned} files, {} bytes of log, {} addresses: {} found",
        log.len(),
        urls.len(),
        found.len()
    );
    assert!(
        found.is_empty(),
        "in clear {when}:\n{}",
        found
            .iter()
            .map(|f| format!("{} in {}", f.needle, f.place))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The test's photo files and their bytes.
struct Files {
    jpeg: std::path::PathBuf,
    png: std::path::PathBuf,
    jpeg_bytes: Vec<u8>,
    png_bytes: Vec<u8>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_collects_approves_uses_and_disposes_of_a_number_in_a_real_browser() {
    let tools = Tools::find().unwrap_or_else(|reason| panic!("browser suite cannot run: {reason}"));
    let work = myna_tests::TempDir::new("journey");
    let shots = artefact_dir();
    println!("screenshots: {}", shots.display());
    let server = Server::start(&tools, work.path());
    let driver = Driver::start(&tools, work.path());
    let problems = Problems::default();
    let visited = Arc::new(Mutex::new(Vec::new()));
    let axe = Arc::new(tools.axe.clone());

    let mut admin = Tab::open(
        &driver,
        "admin",
        &server.base,
        axe.clone(),
        shots.clone(),
        problems.clone(),
        visited.clone(),
        (1280, 900, false),
    )
    .await;
    let jpeg = work.path().join("card.jpg");
    let png = work.path().join("license.png");
    let files = Files {
        jpeg_bytes: photos::noise_jpeg(&jpeg),
        png_bytes: photos::transparent_png(&png),
        jpeg,
        png,
    };
    assert!(
        files.jpeg_bytes.len() > 4 * 1024 * 1024,
        "the test JPEG is {} bytes",
        files.jpeg_bytes.len()
    );

    sign_up_and_log_in(&mut admin, &server).await;
    let (id, link) = add_registrant_and_mail_them(&mut admin, &server).await;
    let mut phone = Tab::open(
        &driver,
        "phone",
        &server.base,
        axe.clone(),
        shots.clone(),
        problems.clone(),
        visited.clone(),
        (390, 844, true),
    )
    .await;
    register_on_the_phone(&mut phone, &link, &files).await;
    phone.close().await;

    approve_with_the_viewer(&mut admin).await;
    reveal_download_and_read_the_log(&mut admin, &id).await;
    // While the number and the photos are stored (sealed), and again after their deletion.
    assert_nothing_in_clear(&server, &visited, &files, "while stored");
    retire_and_delete(&mut admin, &id).await;

    admin.close().await;
    assert_nothing_in_clear(&server, &visited, &files, "after the journey");
    let found = problems.take();
    assert!(
        found.is_empty(),
        "{} problems on the pages visited:\n{}",
        found.len(),
        found.join("\n")
    );
}
