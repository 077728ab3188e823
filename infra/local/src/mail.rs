//! How `myna-local` delivers mail: the SMTP settings from flags and env, and the choice between
//! real SMTP and the outbox (with or without its page). Not the sending itself: that is the
//! `SmtpMailer` and `Outbox` adapters in `myna::adapters::embedded`.
//!
//! The SMTP password comes from `MYNA_SMTP_PASSWORD` or a file, never from argv: any user of
//! the machine can read another process's command line (`ps`), not its environment.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use myna::adapters::embedded::{Outbox, SmtpMailer, SmtpSettings, SmtpTls};
use myna::ports::Mailer;
use myna::web::AppState;

use crate::outbox_page;

/// The SMTP settings as given (flags over env); checked by `mailer`.
#[derive(Default)]
pub struct SmtpOptions {
    host: Option<String>,
    port: Option<String>,
    tls: Option<String>,
    user: Option<String>,
    password: Option<String>,
    password_file: Option<String>,
    from: Option<String>,
    ca_file: Option<String>,
}

impl SmtpOptions {
    pub fn from_env() -> SmtpOptions {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        SmtpOptions {
            host: var("MYNA_SMTP_HOST"),
            port: var("MYNA_SMTP_PORT"),
            tls: var("MYNA_SMTP_TLS"),
            user: var("MYNA_SMTP_USER"),
            password: var("MYNA_SMTP_PASSWORD"),
            password_file: var("MYNA_SMTP_PASSWORD_FILE"),
            from: var("MYNA_SMTP_FROM"),
            ca_file: var("MYNA_SMTP_CA_FILE"),
        }
    }

    /// Applies one `--smtp-*` flag.
    pub fn set(&mut self, flag: &str, value: String) -> Result<(), String> {
        let slot = match flag {
            "--smtp-host" => &mut self.host,
            "--smtp-port" => &mut self.port,
            "--smtp-tls" => &mut self.tls,
            "--smtp-user" => &mut self.user,
            "--smtp-password-file" => &mut self.password_file,
            "--smtp-from" => &mut self.from,
            "--smtp-ca-file" => &mut self.ca_file,
            other => return Err(format!("unknown argument: {other}")),
        };
        *slot = Some(value);
        Ok(())
    }

    /// The SMTP mailer and a one-line description, `None` when no host is set (outbox), or
    /// what is wrong with the settings.
    pub fn mailer(self) -> Result<Option<(Arc<SmtpMailer>, String)>, String> {
        let Some(host) = self.host else {
            let stray = [
                ("MYNA_SMTP_USER / --smtp-user", self.user.is_some()),
                ("MYNA_SMTP_FROM / --smtp-from", self.from.is_some()),
                ("MYNA_SMTP_PASSWORD", self.password.is_some()),
                ("MYNA_SMTP_PASSWORD_FILE", self.password_file.is_some()),
                ("MYNA_SMTP_PORT / --smtp-port", self.port.is_some()),
            ];
            if let Some((name, _)) = stray.iter().find(|(_, set)| *set) {
                return Err(format!(
                    "{name} is set but MYNA_SMTP_HOST / --smtp-host is not: set the SMTP host \
                     to send real mail, or unset {name} to use the outbox"
                ));
            }
            return Ok(None);
        };
        let port = match self.port.as_deref() {
            None => 587,
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| format!("--smtp-port {p}: not a port number (e.g. 587)"))?,
        };
        let tls = match self.tls.as_deref() {
            None => SmtpTls::StartTls,
            Some(t) => SmtpTls::parse(t)
                .ok_or_else(|| format!("--smtp-tls {t}: use starttls (default) or none"))?,
        };
        let from = self.from.ok_or(
            "MYNA_SMTP_FROM / --smtp-from is required with an SMTP host \
             (e.g. 'マイナクラウド <no-reply@example.jp>')",
        )?;
        let password = match (self.password, self.password_file) {
            (Some(_), Some(_)) => {
                return Err("set MYNA_SMTP_PASSWORD or --smtp-password-file, not both".to_string())
            }
            (Some(p), None) => Some(p),
            (None, Some(file)) => Some(
                std::fs::read_to_string(&file)
                    .map_err(|e| format!("--smtp-password-file {file}: {e}"))?
                    .trim_end_matches(['\r', '\n'])
                    .to_string(),
            ),
            (None, None) => None,
        };
        let credentials = match (self.user, password) {
            (Some(user), Some(password)) => Some((user, password)),
            (Some(_), None) => {
                return Err("--smtp-user needs a password: set MYNA_SMTP_PASSWORD \
                            or --smtp-password-file FILE"
                    .into())
            }
            (None, Some(_)) => {
                return Err("an SMTP password is set without --smtp-user / MYNA_SMTP_USER".into())
            }
            (None, None) => None,
        };
        let ca_pem = match self.ca_file {
            None => None,
            Some(file) => {
                Some(std::fs::read(&file).map_err(|e| format!("--smtp-ca-file {file}: {e}"))?)
            }
        };
        let description = format!(
            "SMTP {host}:{port} ({}{})",
            tls.label(),
            credentials
                .as_ref()
                .map_or(String::new(), |(user, _)| format!(", user {user}"))
        );
        let mailer = SmtpMailer::new(SmtpSettings {
            host,
            port,
            tls,
            credentials,
            from,
            ca_pem,
            timeout: Duration::from_secs(30),
        })
        .map_err(|e| format!("mail settings: {e}"))?;
        Ok(Some((Arc::new(mailer), description)))
    }
}

/// Where mail goes in this run.
pub enum Mode {
    Smtp {
        mailer: Arc<SmtpMailer>,
        description: String,
    },
    /// Mail is written to the outbox; `token` opens the page (`None`: no page, the listener
    /// is reachable from other machines).
    Outbox {
        outbox: Arc<Outbox>,
        token: Option<String>,
    },
}

impl Mode {
    pub fn choose(
        smtp: Option<(Arc<SmtpMailer>, String)>,
        outbox: Arc<Outbox>,
        loopback: bool,
    ) -> Mode {
        match smtp {
            Some((mailer, description)) => Mode::Smtp {
                mailer,
                description,
            },
            None => Mode::Outbox {
                outbox,
                token: loopback.then(myna::crypto::random_token),
            },
        }
    }

    /// The mailer replacing the outbox, if any.
    pub fn mailer(&self) -> Option<Arc<dyn Mailer>> {
        match self {
            Mode::Smtp { mailer, .. } => Some(mailer.clone()),
            Mode::Outbox { .. } => None,
        }
    }

    /// `/dev/outbox` when it may be served; nothing otherwise (the product's 404 answers).
    pub fn routes(&self) -> Router<AppState> {
        match self {
            Mode::Outbox {
                outbox,
                token: Some(token),
            } => outbox_page::router(outbox.clone(), token.clone()),
            _ => Router::new(),
        }
    }

    /// Says at start-up which mail mode is active (and checks an SMTP server once).
    pub async fn announce(&self, addr: SocketAddr, data_dir: &Path) {
        match self {
            Mode::Smtp {
                mailer,
                description,
            } => {
                println!("mail: {description}");
                match mailer.check().await {
                    Ok(()) => println!("mail: the SMTP server answered"),
                    Err(e) => eprintln!(
                        "myna-local: warning: the SMTP server cannot be used now ({e}); \
                         mails fail until it can"
                    ),
                }
            }
            Mode::Outbox {
                token: Some(token), ..
            } => println!(
                "mail: outbox, for trying the product out (no mail leaves this machine); \
                 read it at http://{addr}{}?token={token}",
                outbox_page::PATH
            ),
            Mode::Outbox { token: None, .. } => eprintln!(
                "myna-local: warning: no SMTP server is set and {addr} is not a loopback \
                 address, so no mail is sent and /dev/outbox is not served (mails are only \
                 written to {}). Set --smtp-host and --smtp-from to send real mail.",
                data_dir.join("outbox").display()
            ),
        }
    }
}
