//! Embedded adapters: the whole product on one machine under one data directory.
//!
//! ```text
//! <data>/myna.sqlite3        all tables (main, audit, sessions) in one SQLite file
//! <data>/keys/<id>.key       one master key per tenant, mode 0600
//! <data>/blobs/<tenant>/...  objects sealed with AES-256-GCM under per-object data keys
//! <data>/outbox/<ulid>.json  every mail "sent" (unless SMTP is configured)
//! ```
//!
//! With the `smtp` feature, `SmtpMailer` sends real mail instead of the outbox.

mod blobs;
mod events;
mod keys;
mod outbox;
#[cfg(feature = "smtp")]
mod smtp;
mod sqlite;

pub use blobs::FileBlobs;
pub use events::{channel as event_channel, EventQueue, InProcessEvents};
pub use keys::FileKeys;
pub use outbox::{Outbox, SentMail};
#[cfg(feature = "smtp")]
pub use smtp::{is_loopback_host, SmtpConfigError, SmtpMailer, SmtpSettings, SmtpTls};
pub use sqlite::{SqliteDb, SqliteStore};

use std::path::Path;
use std::sync::Arc;

use crate::ports::{Clock, Ports};

/// The embedded adapters opened on one data directory, plus the outbox for the dev page.
pub struct Embedded {
    pub ports: Ports,
    pub outbox: Arc<Outbox>,
    /// The local sealed-file store, for the server's `/uploads/<token>` route.
    pub files: Arc<FileBlobs>,
    /// Published background work, for the in-process worker.
    pub queue: EventQueue,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot open the data directory {dir}: {reason}")]
pub struct OpenError {
    pub dir: String,
    pub reason: String,
}

impl Embedded {
    /// Opens (creating if needed) every embedded adapter under `dir`.
    /// `origin` is where the local server answers (upload tickets point there).
    pub fn open(dir: &Path, origin: &str, clock: Arc<dyn Clock>) -> Result<Embedded, OpenError> {
        let fail = |reason: String| OpenError {
            dir: dir.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
        let db_path = dir.join("myna.sqlite3");
        let db = SqliteDb::open(&db_path).map_err(|e| fail(e.to_string()))?;
        restrict(dir, &db_path).map_err(|e| fail(e.to_string()))?;
        let keys: Arc<dyn crate::ports::Keys> =
            Arc::new(FileKeys::open(&dir.join("keys")).map_err(|e| fail(e.to_string()))?);
        let files = Arc::new(
            FileBlobs::open(&dir.join("blobs"), keys.clone(), origin)
                .map_err(|e| fail(e.to_string()))?,
        );
        let (events, queue) = event_channel();
        let outbox = Arc::new(Outbox::open(&dir.join("outbox")).map_err(|e| fail(e.to_string()))?);
        let table = |name: &str| -> Result<Arc<dyn crate::ports::Store>, OpenError> {
            Ok(Arc::new(db.table(name).map_err(|e| fail(e.to_string()))?))
        };
        Ok(Embedded {
            ports: Ports {
                store: table("main")?,
                audit_store: table("audit")?,
                sessions: table("sessions")?,
                keys,
                blobs: files.clone(),
                mailer: outbox.clone(),
                events: Arc::new(events),
                clock,
            },
            outbox,
            files,
            queue,
        })
    }
}

/// Only the owner may read the data directory and the database file.
#[cfg(unix)]
fn restrict(dir: &Path, db: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    std::fs::set_permissions(db, std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn restrict(_: &Path, _: &Path) -> std::io::Result<()> {
    Ok(())
}
