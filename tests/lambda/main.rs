//! The product proven as Lambdas: every function binary of `template.yaml` under a local
//! Lambda Runtime API, on the moto server that `infra/test.sh lambda` starts, requests routed
//! by the template's route table and bus events by its rules (`myna_tests::lambda`). A path
//! missing from the template, or sent to the wrong function, fails the journey here.

// Tests and their helpers: a failed `unwrap` is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use myna::app::App;
use myna::ports::SystemClock;
use myna_tests::fixtures::{person, valid_number};
use myna_tests::lambda::Stack;
use myna_tests::{scope_of, signup_fields, test_config, Browser};

const OWNER: &str = "owner@lambda.example.jp";
const PASSWORD: &str = "Sakura-2026x";
const COMPANY: &str = "株式会社ラムダ";
const STAFF: &str = "hanako@lambda.example.jp";

/// The newest mail moto recorded to `to` whose subject holds `subject`: its body.
async fn mail_to(stack: &Stack, to: &str, subject: &str) -> Option<String> {
    stack
        .emulator
        .sent_mail()
        .await
        .into_iter()
        .rev()
        .find(|m| m.0 == to && m.1.contains(subject))
        .map(|m| m.2)
}

/// The value after `label` on its line of `body`.
fn line_value(body: &str, label: &str) -> String {
    body.lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label} in {body}"))
        .trim()
        .to_string()
}

async fn signup_and_login(stack: &Stack, b: &mut Browser) {
    let top = b.get("/").await;
    assert_eq!(top.location(), Some("/signup"), "{}", top.body);
    let res = b
        .submit(
            "/signup",
            "/signup",
            &signup_fields(COMPANY, OWNER, PASSWORD),
        )
        .await;
    assert_eq!(res.location(), Some("/signup/done"), "{}", res.body);

    // The welcome mail goes through the bus to the job function, which sends it through SES.
    let handled = stack.deliver_events(Duration::from_secs(10)).await;
    assert!(!handled.is_empty(), "sign-up put no event on the bus");
    let welcome = mail_to(stack, OWNER, "本人確認")
        .await
        .expect("welcome mail sent by the job function");
    let customer = line_value(&welcome, "お客様番号:");

    let res = b
        .submit(
            "/login",
            "/login",
            &[
                ("email", OWNER),
                ("password", PASSWORD),
                ("customer_number", &customer),
            ],
        )
        .await;
    assert_eq!(res.location(), Some("/login/otp"), "{}", res.body);
    let otp = mail_to(stack, OWNER, "第二認証コード")
        .await
        .expect("OTP mail in moto");
    let code = line_value(&otp, "第二認証コード:");
    let res = b
        .submit("/login/otp", "/login/otp", &[("code", &code)])
        .await;
    assert_eq!(res.location(), Some("/home"), "{}", res.body);
    let home = b.get("/home").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains(COMPANY), "{}", home.body);
}

/// Adds a registrant with `number`, shows the number, exports the CSV: the registrant's id.
async fn registrant_reveal_and_export(b: &mut Browser, number: &str) -> String {
    let saved = b
        .add_registrant(&person("山田", "太郎", "E001", number), &[])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let id = saved.registrant_id();
    let page = b.get(&format!("/registrants/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("山田") && !page.body.contains(number));

    let reveal = format!("/registrants/{id}/reveal");
    let shown = b
        .submit(
            &reveal,
            &reveal,
            &[("password", PASSWORD), ("purpose", "salary_withholding")],
        )
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    let spaced = format!("{} {} {}", &number[..4], &number[4..8], &number[8..]);
    assert!(shown.body.contains(&spaced), "{}", shown.body);

    let form = b.get("/registrants/csv").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let file = b
        .submit(
            "/registrants/csv",
            "/registrants/csv",
            &[
                ("password", PASSWORD),
                ("purpose", "salary_withholding"),
                ("encoding", "utf8"),
            ],
        )
        .await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.body);
    assert!(
        file.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"),
        "{:?}",
        file.headers
    );
    let text = String::from_utf8_lossy(&file.bytes);
    assert!(
        text.contains("山田") && text.contains(number),
        "the export holds the person: {text}"
    );
    id
}

/// 簡易登録 of a registrant with an address, the collection mail to them, and the blast
/// handled by the job function from the bus; the mailed link opens the phone page.
async fn mail_blast(stack: &Stack, b: &mut Browser) {
    let res = b.quick(&[("佐藤", "花子", STAFF)], "list").await;
    assert!(res.status.is_redirection(), "{}", res.body);
    // The send list read on the same moto tables (read-only, in the test process).
    let app = App::new(stack.emulator.ports(Arc::new(SystemClock)), test_config());
    let scope = scope_of(&app, OWNER).await;
    let id = myna::app::collection::send_list(&scope)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .next_back()
        .expect("the registrant is on the send list");
    b.send_collection_mail(
        &format!("/collection/mail?ids={id}"),
        std::slice::from_ref(&id),
        &[],
    )
    .await;
    let handled = stack.deliver_events(Duration::from_secs(10)).await;
    assert!(!handled.is_empty(), "the blast put no event on the bus");
    let mail = mail_to(stack, STAFF, myna::app::collection::SUBJECT)
        .await
        .unwrap_or_else(|| panic!("no collection mail sent; jobs handled: {handled:?}"));
    let link = mail
        .lines()
        .find(|l| l.contains("/r/"))
        .expect("link line")
        .trim()
        .trim_start_matches("https://localhost")
        .to_string();
    let mut phone = stack.browser("198.51.100.77");
    let page = phone.get(&link).await;
    assert_eq!(page.status, StatusCode::OK, "{link}: {}", page.body);
}

/// A CSVアップロード confirmed with 登録 and committed by the import-commit job function from
/// the bus: the status page alone would not commit it for 20 s (`app::staging::stalled`).
async fn csv_import(stack: &Stack, b: &mut Browser) {
    let text = format!(
        "種別,社員コード,属性,氏名（姓）,氏名（名）,フリガナ（セイ）,フリガナ（メイ）,生年月日,性別,マイナンバー,続柄,入社日,メールアドレス,グループ,備考\n\
         登録者,L001,従業員1,鈴木,一郎,スズキ,イチロウ,1980/1/1,男性,{},,2020/4/1,,,\n",
        valid_number(7)
    );
    let page = "/registrants/csv-upload";
    let staged = b.upload(page, page, text.as_bytes(), true).await;
    assert_eq!(staged.status, StatusCode::OK, "{}", staged.body);
    let id = b.confirm_import(&staged).await;
    let handled = stack.deliver_events(Duration::from_secs(10)).await;
    assert!(!handled.is_empty(), "the 登録 put no event on the bus");
    let done = b.get(&format!("/registrants/csv-upload/{id}")).await;
    assert!(
        done.body.contains("CSVアップロードは完了です。登録者1人"),
        "jobs handled: {handled:?}; {}",
        done.body
    );
}

#[tokio::test]
async fn the_journey_runs_on_the_function_binaries_routed_by_the_template() {
    let stack = Stack::start().await;
    println!("\n{}", stack.init_report());
    let mut b = stack.browser("203.0.113.60");

    signup_and_login(&stack, &mut b).await;
    let number = valid_number(42);
    registrant_reveal_and_export(&mut b, &number).await;
    mail_blast(&stack, &mut b).await;
    csv_import(&stack, &mut b).await;

    // A path no route of the template holds reaches the $default route's 404 page.
    let missing = b.get("/no-such-page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // No function logged a number or an address, even at debug (the SDK's lines included).
    let logs = stack.all_logs();
    assert!(!logs.is_empty(), "the functions wrote no log at all");
    for secret in [number.as_str(), OWNER, STAFF] {
        assert!(!logs.contains(secret), "a function logged personal data");
    }
}
