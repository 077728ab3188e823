//! Real mail from the one-machine product: the SMTP adapter against a real SMTP server started
//! by the test (tests/src/smtp.rs: STARTTLS with its own CA, AUTH only after TLS). A login code
//! really arrives and logs in; a server that refuses, cannot be reached or offers no TLS gives a
//! clear error, sends nothing in clear and loses nothing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use myna::adapters::embedded::{Embedded, EventQueue, SmtpMailer, SmtpSettings, SmtpTls};
use myna::app::App;
use myna::ports::{Mail, MailError, Mailer, ManualClock};
use myna_tests::smtp::{Behaviour, SmtpServer};
use myna_tests::{signup_fields, test_config, Browser, TempDir};
use time::OffsetDateTime;

const EMAIL: &str = "owner@example.jp";
const PASSWORD: &str = "Passw0rd-for-Smtp";

fn settings(addr: SocketAddr, ca_pem: Option<&str>) -> SmtpSettings {
    let login = Behaviour::default().login;
    SmtpSettings {
        host: addr.ip().to_string(),
        port: addr.port(),
        tls: SmtpTls::StartTls,
        credentials: Some(login),
        from: "マイナクラウド <no-reply@example.jp>".into(),
        ca_pem: ca_pem.map(|p| p.as_bytes().to_vec()),
        timeout: Duration::from_secs(10),
    }
}

/// The product on embedded adapters whose mailer is SMTP (as `myna-local` wires it).
struct SmtpProduct {
    app: Arc<App>,
    router: axum::Router,
    queue: EventQueue,
    _dir: TempDir,
}

impl SmtpProduct {
    fn new(mailer: SmtpMailer) -> SmtpProduct {
        let dir = TempDir::new("smtp");
        let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
        let mut embedded =
            Embedded::open(dir.path(), "http://127.0.0.1:8080", clock).expect("embedded");
        embedded.ports.mailer = Arc::new(mailer);
        let app = App::new(embedded.ports, test_config());
        SmtpProduct {
            router: myna::web::all(app.clone()),
            app,
            queue: embedded.queue,
            _dir: dir,
        }
    }

    async fn run_jobs(&self) {
        for event in self.queue.drain() {
            myna::app::worker::handle(&self.app, &event)
                .await
                .expect("job");
        }
    }

    async fn sign_up(&self) {
        let mut b = Browser::new(self.router.clone(), "198.51.100.7");
        let res = b
            .submit(
                "/signup",
                "/signup",
                &signup_fields("株式会社テスト", EMAIL, PASSWORD),
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        self.run_jobs().await;
    }

    async fn password_step(&self, b: &mut Browser) -> myna_tests::Page {
        b.submit(
            "/login",
            "/login",
            &[("email", EMAIL), ("password", PASSWORD)],
        )
        .await
    }
}

fn otp_of(body: &str) -> Option<String> {
    body.lines()
        .find_map(|l| l.strip_prefix("第二認証コード:"))
        .map(|c| c.trim().to_string())
}

#[tokio::test]
async fn login_code_arrives_over_smtp_with_starttls_when_smtp_is_configured() {
    // Arrange
    let server = SmtpServer::start(Behaviour::default()).await;
    let mailer = SmtpMailer::new(settings(server.addr, Some(&server.ca_pem))).expect("mailer");
    let product = SmtpProduct::new(mailer);
    product.sign_up().await;
    let mut b = Browser::new(product.router.clone(), "203.0.113.10");

    // Act
    let res = product.password_step(&mut b).await;

    // Assert
    assert_eq!(res.location(), Some("/login/otp"), "{}", res.body);
    let mails = server.received();
    let otp_mail = mails.last().expect("a mail arrived");
    assert!(
        otp_mail.over_tls,
        "mail crossed the wire only after STARTTLS"
    );
    assert_eq!(otp_mail.user.as_deref(), Some("myna-mailer"));
    assert_eq!(otp_mail.rcpt, vec![EMAIL.to_string()]);
    assert_eq!(otp_mail.from, "no-reply@example.jp");
    assert_eq!(
        otp_mail.header("Subject").as_deref(),
        Some("【マイナンバー管理】第二認証コードのお知らせ")
    );
    let code = otp_of(&otp_mail.body_text()).expect("code in the mail body");
    let res = b
        .submit("/login/otp", "/login/otp", &[("code", &code)])
        .await;
    assert_eq!(res.location(), Some("/home"), "{}", res.body);
    let welcome = &mails[0];
    assert!(
        welcome.body_text().contains("お客様番号:"),
        "the sign-up mail arrived too: {}",
        welcome.body_text()
    );
}

#[tokio::test]
async fn login_works_once_the_smtp_server_is_back_when_it_was_unreachable_at_first() {
    // Arrange: sign up while the server runs, then stop it.
    let up = SmtpServer::start(Behaviour::default()).await;
    let addr = up.addr;
    let mailer = SmtpMailer::new(settings(addr, Some(&up.ca_pem))).expect("mailer");
    let product = SmtpProduct::new(mailer);
    product.sign_up().await;
    up.stop().await;
    let mut b = Browser::new(product.router.clone(), "203.0.113.10");

    // Act
    let down = product.password_step(&mut b).await;

    // Assert: a clear error page and no half-open login; once the server is back, the same
    // account logs in at once (the failure counted as no wrong password and locked nothing).
    assert_eq!(
        down.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        down.body
    );
    assert!(down.body.contains("エラーが発生しました"), "{}", down.body);
    let back = SmtpServer::start_at(addr, Behaviour::default()).await;
    let res = product.password_step(&mut b).await;
    assert_eq!(res.location(), Some("/login/otp"), "{}", res.body);
    let code = otp_of(&back.received()[0].body_text()).expect("code");
    let res = b
        .submit("/login/otp", "/login/otp", &[("code", &code)])
        .await;
    assert_eq!(res.location(), Some("/home"), "{}", res.body);
}

fn a_mail(to: &str) -> Mail {
    Mail::new(to, "【マイナンバー管理】件名", "本文です。\n")
}

#[tokio::test]
async fn send_is_refused_for_that_recipient_without_quoting_it_when_the_server_rejects_the_address()
{
    // Arrange
    let server = SmtpServer::start(Behaviour {
        refuse_recipients_ending: Some("@nowhere.example.jp".into()),
        ..Behaviour::default()
    })
    .await;
    let mailer = SmtpMailer::new(settings(server.addr, Some(&server.ca_pem))).expect("mailer");

    // Act
    let refused = mailer.send(&a_mail("hanako@nowhere.example.jp")).await;
    let next = mailer.send(&a_mail("taro@example.jp")).await;

    // Assert
    match refused {
        Err(MailError::Rejected(why)) => {
            assert!(why.contains("550"), "{why}");
            assert!(
                !why.contains("hanako"),
                "no address in errors (they reach logs): {why}"
            );
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(next.is_ok(), "other mails still go out: {next:?}");
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn send_fails_without_sending_anything_in_clear_when_the_server_offers_no_starttls() {
    // Arrange
    let server = SmtpServer::start(Behaviour {
        starttls: false,
        ..Behaviour::default()
    })
    .await;
    let mailer = SmtpMailer::new(settings(server.addr, Some(&server.ca_pem))).expect("mailer");

    // Act
    let result = mailer.send(&a_mail("taro@example.jp")).await;

    // Assert
    match result {
        Err(MailError::Backend(why)) => assert!(why.contains("STARTTLS"), "{why}"),
        other => panic!("expected a backend error, got {other:?}"),
    }
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn send_fails_with_a_tls_error_when_the_server_certificate_is_not_trusted() {
    // Arrange: no extra root, so the test CA is unknown.
    let server = SmtpServer::start(Behaviour::default()).await;
    let mailer = SmtpMailer::new(settings(server.addr, None)).expect("mailer");

    // Act
    let result = mailer.send(&a_mail("taro@example.jp")).await;

    // Assert
    match result {
        Err(MailError::Backend(why)) => {
            assert!(why.contains("TLS with the SMTP server failed"), "{why}");
            assert!(why.contains("certificate"), "{why}");
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn send_fails_with_a_clear_error_when_the_server_is_unreachable() {
    // Arrange
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let mailer = SmtpMailer::new(settings(addr, None)).expect("mailer");

    // Act
    let result = mailer.send(&a_mail("taro@example.jp")).await;

    // Assert
    match result {
        Err(MailError::Backend(why)) => {
            assert!(why.contains("cannot reach the SMTP server"), "{why}")
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
}

#[tokio::test]
async fn send_fails_with_the_status_when_the_password_is_wrong() {
    // Arrange
    let server = SmtpServer::start(Behaviour::default()).await;
    let mut s = settings(server.addr, Some(&server.ca_pem));
    s.credentials = Some(("myna-mailer".into(), "wrong".into()));
    let mailer = SmtpMailer::new(s).expect("mailer");

    // Act
    let result = mailer.send(&a_mail("taro@example.jp")).await;

    // Assert: a server problem, not the recipient's (the address is not marked bad).
    match result {
        Err(MailError::Backend(why)) => assert!(why.contains("535"), "{why}"),
        other => panic!("expected a backend error, got {other:?}"),
    }
    assert!(server.received().is_empty());
}
