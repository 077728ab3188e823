//! Ports: the traits the use cases depend on. Adapters implement them; the use cases never
//! name an adapter. Every trait is object-safe so a binary can choose its adapters at run time.

pub mod audit;
pub mod blobs;
pub mod clock;
pub mod events;
pub mod keys;
pub mod mailer;
pub mod store;

use std::sync::Arc;

pub use audit::{Audit, AuditError, AuditEvent};
pub use blobs::{BlobError, BlobInfo, BlobPrefix, BlobScope, Blobs, UploadTicket};
pub use clock::{Clock, ManualClock, SystemClock};
pub use events::{Event, EventError, Events};
pub use keys::{DataKey, EncryptionContext, KeyError, Keys, WrappedKey};
pub use mailer::{Mail, MailError, Mailer};
pub use store::{
    Attrs, Condition, Index, Item, Key, Page, Query, SkRange, Store, StoreError, WriteOp,
};

/// The adapters a deployment plugs in.
#[derive(Clone)]
pub struct Ports {
    /// Main data: tenants, users, registrants, global login look-ups.
    pub store: Arc<dyn Store>,
    /// The operation log (its own table, so only the purge job may delete from it).
    pub audit_store: Arc<dyn Store>,
    /// Sessions and rate-limit windows (items expire through `ttl`).
    pub sessions: Arc<dyn Store>,
    pub keys: Arc<dyn Keys>,
    pub blobs: Arc<dyn Blobs>,
    pub mailer: Arc<dyn Mailer>,
    pub events: Arc<dyn Events>,
    pub clock: Arc<dyn Clock>,
}
