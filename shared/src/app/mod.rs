//! Use cases, one module per capability, written once on top of the ports.
//!
//! [`App`] holds the ports and the configuration; the web layer calls its capability modules.
//! Nothing here knows whether it runs in Lambda or in `myna-local`.

pub mod actor;
pub mod approval;
pub mod audit;
pub mod auth;
pub mod bulk;
pub mod cancel;
pub mod collection;
pub mod contract;
pub mod contractor;
pub mod csv_io;
pub mod dependents;
pub mod directory;
pub mod disposal;
pub mod download;
pub mod enrol;
pub mod groups;
pub mod home;
pub mod images;
pub mod import_gate;
pub mod keys;
pub mod passwords;
pub mod person;
pub mod purge;
pub mod rate_limit;
pub mod record;
pub mod registrants;
pub mod reminders;
pub mod retention;
pub mod secrets;
pub mod security;
pub mod sessions;
pub mod signup;
pub mod staging;
pub mod tenants;
pub mod uploads;
pub mod usage;
pub mod users;
pub mod vault;
pub mod worker;

use std::sync::Arc;

use time::Duration;

pub use crate::ports::Ports;
use crate::ports::{Audit, StoreError};

/// Operator settings. Defaults are the secure production values.
#[derive(Clone, Debug)]
pub struct Config {
    /// Public origin, e.g. `https://myna.example.jp` (used in mails).
    pub base_url: String,
    /// Whether the site offers sign-up.
    pub signup_open: bool,
    /// `Secure` attribute on cookies; only plain-http localhost turns it off.
    pub secure_cookies: bool,
    /// Trust the first `X-Forwarded-For` address (behind API Gateway), else the socket peer.
    pub trust_forwarded_for: bool,
    /// CSP `connect-src`: where the page's script may send uploads (`'self'` locally; the
    /// documents bucket's origin in AWS).
    pub connect_src: String,
    pub password_params: passwords::Params,
    pub session_idle: Duration,
    pub session_absolute: Duration,
    pub otp_validity: Duration,
    pub trial_days: i64,
    /// Where the postal table's shards (`<3 digits>.json`, made by `infra/postal.sh`) are read
    /// from for 契約者情報's address autofill; `None` or a missing file: no autofill, the
    /// address is typed by hand.
    pub postal_dir: Option<std::path::PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            base_url: "http://127.0.0.1:8080".into(),
            signup_open: true,
            secure_cookies: true,
            trust_forwarded_for: false,
            connect_src: "'self'".into(),
            password_params: passwords::Params::RECOMMENDED,
            session_idle: Duration::minutes(30),
            session_absolute: Duration::hours(12),
            otp_validity: Duration::minutes(10),
            trial_days: 30,
            postal_dir: None,
        }
    }
}

/// Everything the use cases need, shared by all requests.
pub struct App {
    pub ports: Ports,
    pub config: Config,
    pub audit: audit::ChainedAudit,
    pub vault: vault::Vault,
    /// A password hash nobody knows, verified against when an address is unknown.
    pub(crate) dummy_hash: tokio::sync::OnceCell<String>,
}

impl App {
    pub fn new(ports: Ports, config: Config) -> Arc<App> {
        let audit = audit::ChainedAudit::new(ports.audit_store.clone(), ports.clock.clone());
        let vault = vault::Vault::new(ports.keys.clone(), ports.clock.clone());
        Arc::new(App {
            ports,
            config,
            audit,
            vault,
            dummy_hash: tokio::sync::OnceCell::new(),
        })
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.ports.clock.now()
    }

    pub fn audit(&self) -> &dyn Audit {
        &self.audit
    }
}

/// Failures of the infrastructure beneath a use case (never shown verbatim to users).
#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] crate::ports::KeyError),
    #[error(transparent)]
    Mail(#[from] crate::ports::MailError),
    #[error(transparent)]
    Audit(#[from] crate::ports::AuditError),
    #[error(transparent)]
    Events(#[from] crate::ports::events::EventError),
    #[error(transparent)]
    Blobs(#[from] crate::ports::blobs::BlobError),
    #[error("corrupt record: {0}")]
    Corrupt(&'static str),
    #[error("background task failed")]
    Task,
}
