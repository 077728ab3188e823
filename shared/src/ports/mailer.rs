//! The `Mailer` port: plain-text Japanese mail (OTP codes, notices, collection links).
//! Mail bodies never carry a My Number; callers build them from templates that cannot.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
    pub reply_to: Option<String>,
    pub cc: Vec<String>,
}

impl Mail {
    pub fn new(to: impl Into<String>, subject: impl Into<String>, body: impl Into<String>) -> Self {
        Mail {
            to: to.into(),
            subject: subject.into(),
            body: body.into(),
            reply_to: None,
            cc: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The address was refused (bad address, suppressed); other mails may still go out.
    #[error("recipient refused: {0}")]
    Rejected(String),
    #[error("mail backend error: {0}")]
    Backend(String),
}

#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one mail. Not idempotent by itself: callers that may re-run record what they sent.
    async fn send(&self, mail: &Mail) -> Result<(), MailError>;
}
