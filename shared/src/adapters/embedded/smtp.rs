//! `Mailer` that really sends: SMTP through `lettre`, STARTTLS required by default, rustls
//! with ring, the system's CA store plus an optional extra root (a private CA, or a test's).
//! The one-machine product's counterpart of the SES adapter; the outbox stays for trying it out.
//!
//! Not a queue: one connection per mail, no retries here (the in-process worker retries a
//! failed job, as Lambda retries an asynchronous invocation). Plain SMTP (`none`) is refused
//! unless the server is on this machine (loopback), so credentials and codes never cross a
//! network in clear.
//!
//! Error texts name the SMTP status code and the kind of failure, never the server's own words:
//! servers echo the recipient's address there, and these errors reach logs.

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::ports::mailer::{Mail, MailError, Mailer};

/// How the connection to the SMTP server is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS; a server that does not offer it is refused.
    StartTls,
    /// No TLS at all: only for a server on this machine (a local relay, tests).
    None,
}

impl SmtpTls {
    /// Parses the flag/env value (`starttls` or `none`).
    pub fn parse(value: &str) -> Option<SmtpTls> {
        match value.to_ascii_lowercase().as_str() {
            "starttls" => Some(SmtpTls::StartTls),
            "none" => Some(SmtpTls::None),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SmtpTls::StartTls => "STARTTLS",
            SmtpTls::None => "no TLS (loopback only)",
        }
    }
}

/// Where and how to send. The password is never printed by `Debug`.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// User and password for `AUTH`; `None` sends without logging in (an open local relay).
    pub credentials: Option<(String, String)>,
    /// The `From:` of every mail, e.g. `マイナクラウド <no-reply@example.jp>`.
    pub from: String,
    /// An extra trusted root in PEM (a private CA); the system's roots stay trusted.
    pub ca_pem: Option<Vec<u8>>,
    /// Connect, TLS and each command; a mail that takes longer fails instead of hanging a job.
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

/// Settings that cannot work; reported at start-up, before anything is served.
#[derive(Debug, thiserror::Error)]
pub enum SmtpConfigError {
    #[error("the sender address {0:?} is not a mail address (e.g. \"マイナクラウド <no-reply@example.jp>\")")]
    Sender(String),
    #[error("TLS mode none is only allowed for a server on this machine (localhost, 127.0.0.1, ::1), not {0}: use starttls")]
    PlainToRemote(String),
    #[error("the CA file is not a PEM certificate: {0}")]
    Ca(String),
    #[error("cannot prepare TLS: {0}")]
    Tls(String),
}

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// Whether `host` names this machine: the only place a plain SMTP connection may go.
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl SmtpMailer {
    pub fn new(settings: SmtpSettings) -> Result<SmtpMailer, SmtpConfigError> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|_| SmtpConfigError::Sender(settings.from.clone()))?;
        let tls = match settings.tls {
            SmtpTls::None if !is_loopback_host(&settings.host) => {
                return Err(SmtpConfigError::PlainToRemote(settings.host));
            }
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls => {
                let mut params = TlsParameters::builder(settings.host.clone());
                if let Some(pem) = &settings.ca_pem {
                    let root = Certificate::from_pem(pem)
                        .map_err(|e| SmtpConfigError::Ca(e.to_string()))?;
                    params = params.add_root_certificate(root);
                }
                Tls::Required(
                    params
                        .build_rustls()
                        .map_err(|e| SmtpConfigError::Tls(e.to_string()))?,
                )
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(settings.timeout));
        if let Some((user, password)) = settings.credentials {
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(SmtpMailer {
            transport: builder.build(),
            from,
        })
    }

    /// Connects (with STARTTLS and login as configured) and says goodbye: the start-up check.
    pub async fn check(&self) -> Result<(), MailError> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(MailError::Backend(
                "the SMTP server did not answer NOOP".into(),
            )),
            Err(e) => Err(backend_error(&e)),
        }
    }

    fn message(&self, mail: &Mail) -> Result<Message, MailError> {
        let address = |a: &str| -> Result<Mailbox, MailError> {
            a.parse()
                .map_err(|_| MailError::Rejected("メールアドレスの形式が正しくありません".into()))
        };
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(address(&mail.to)?)
            .subject(mail.subject.clone());
        if let Some(reply_to) = &mail.reply_to {
            builder = builder.reply_to(address(reply_to)?);
        }
        for cc in &mail.cc {
            builder = builder.cc(address(cc)?);
        }
        // The sender's domain, not this machine's name, identifies the message.
        let id = ulid::Ulid::new().to_string().to_ascii_lowercase();
        builder = builder.message_id(Some(format!("<{id}@{}>", self.from.email.domain())));
        // Base64 keeps Japanese text intact through any relay (7-bit clean, short lines).
        builder
            .header(ContentType::TEXT_PLAIN)
            .body(
                Body::new_with_encoding(mail.body.clone(), ContentTransferEncoding::Base64)
                    .map_err(|_| MailError::Backend("cannot encode the mail body".into()))?,
            )
            .map_err(|e| MailError::Backend(format!("cannot build the mail: {e}")))
    }
}

/// SMTP replies that mean "this recipient, not the server": other mails may still go out.
const RECIPIENT_CODES: [&str; 3] = ["550", "551", "553"];

fn map_error(e: &lettre::transport::smtp::Error) -> MailError {
    match e.status().map(|code| code.to_string()) {
        Some(code) if e.is_permanent() && RECIPIENT_CODES.contains(&code.as_str()) => {
            MailError::Rejected(format!("SMTP {code} 宛先不明または受信拒否"))
        }
        _ => backend_error(e),
    }
}

fn backend_error(e: &lettre::transport::smtp::Error) -> MailError {
    // lettre reports a refused certificate as a connection error; say what it is.
    let tls = e.is_tls() || e.to_string().contains("certificate");
    let what = if let Some(code) = e.status() {
        // The server's words are left out: they may quote the address.
        format!("the SMTP server answered {code}")
    } else if e.is_timeout() {
        "the SMTP server did not answer in time".to_string()
    } else if tls {
        format!("TLS with the SMTP server failed (is the certificate valid for the host, or its CA given?): {e}")
    } else if e.is_client() {
        // e.g. "STARTTLS is not supported by this server".
        format!("the SMTP exchange failed: {e}")
    } else {
        format!("cannot reach the SMTP server: {e}")
    };
    MailError::Backend(what)
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let message = self.message(mail)?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| map_error(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(host: &str, tls: SmtpTls) -> SmtpSettings {
        SmtpSettings {
            host: host.into(),
            port: 25,
            tls,
            credentials: Some(("user".into(), "secret-password".into())),
            from: "マイナクラウド <no-reply@example.jp>".into(),
            ca_pem: None,
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn new_refuses_plain_smtp_when_the_server_is_not_loopback() {
        let result = SmtpMailer::new(settings("smtp.example.jp", SmtpTls::None));
        assert!(matches!(result, Err(SmtpConfigError::PlainToRemote(_))));
    }

    #[test]
    fn new_accepts_plain_smtp_when_the_server_is_loopback() {
        for host in ["localhost", "127.0.0.1", "::1", "[::1]"] {
            assert!(
                SmtpMailer::new(settings(host, SmtpTls::None)).is_ok(),
                "{host}"
            );
        }
    }

    #[test]
    fn new_refuses_a_sender_that_is_not_an_address() {
        let mut s = settings("smtp.example.jp", SmtpTls::StartTls);
        s.from = "no-reply".into();
        assert!(matches!(
            SmtpMailer::new(s),
            Err(SmtpConfigError::Sender(_))
        ));
    }

    #[test]
    fn debug_never_prints_the_password() {
        let shown = format!("{:?}", settings("smtp.example.jp", SmtpTls::StartTls));
        assert!(!shown.contains("secret-password"), "{shown}");
        assert!(shown.contains("smtp.example.jp"), "{shown}");
    }
}
