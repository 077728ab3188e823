//! `Mailer` that writes every mail to `<data>/outbox/<ulid>.json` instead of sending it, so
//! the local product (and its tests) can read OTP codes and links. Local mode only, and only
//! without SMTP: the `/dev/outbox` page of `myna-local` lists these files to whoever brings the
//! token printed at start-up, on a loopback listener (a 404 otherwise).
//!
//! Addresses under the reserved `.invalid` top-level domain (RFC 2606) are refused, as a mail
//! service refuses an undeliverable address, so partial failures can be exercised locally.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ports::mailer::{Mail, MailError, Mailer};

/// One mail found in the outbox.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SentMail {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
    pub mail: Mail,
}

pub struct Outbox {
    dir: PathBuf,
    /// Monotonic ids, so file names sort in sending order even within one millisecond.
    ids: std::sync::Mutex<ulid::Generator>,
}

impl Outbox {
    pub fn open(dir: &Path) -> Result<Self, MailError> {
        std::fs::create_dir_all(dir).map_err(|e| MailError::Backend(e.to_string()))?;
        Ok(Outbox {
            dir: dir.to_path_buf(),
            ids: std::sync::Mutex::new(ulid::Generator::new()),
        })
    }

    /// Every mail in the outbox, newest first.
    pub fn list(&self) -> Result<Vec<SentMail>, MailError> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .map_err(|e| MailError::Backend(e.to_string()))?
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(".json"))
            .collect();
        names.sort_unstable_by(|a, b| b.cmp(a));
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let raw = std::fs::read(self.dir.join(&name))
                .map_err(|e| MailError::Backend(e.to_string()))?;
            if let Ok(mail) = serde_json::from_slice::<SentMail>(&raw) {
                out.push(mail);
            }
        }
        Ok(out)
    }

    /// The newest mail sent to `to`, if any.
    pub fn latest_to(&self, to: &str) -> Result<Option<SentMail>, MailError> {
        Ok(self
            .list()?
            .into_iter()
            .find(|m| m.mail.to.eq_ignore_ascii_case(to)))
    }
}

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        if mail.to.to_ascii_lowercase().ends_with(".invalid") {
            return Err(MailError::Rejected("address does not exist".into()));
        }
        let id = {
            let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
            ids.generate()
                .map_err(|e| MailError::Backend(e.to_string()))?
                .to_string()
        };
        let sent = SentMail {
            id: id.clone(),
            sent_at: OffsetDateTime::now_utc(),
            mail: mail.clone(),
        };
        let json =
            serde_json::to_vec_pretty(&sent).map_err(|e| MailError::Backend(e.to_string()))?;
        let tmp = self.dir.join(format!("{id}.tmp"));
        std::fs::write(&tmp, json).map_err(|e| MailError::Backend(e.to_string()))?;
        std::fs::rename(&tmp, self.dir.join(format!("{id}.json")))
            .map_err(|e| MailError::Backend(e.to_string()))
    }
}
