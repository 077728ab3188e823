//! Fault injection for the job tests (`tests/api/faults.rs`): the real Store, Blobs and Mailer
//! adapters wrapped so that the Nth call to one of them returns an error instead of being
//! made, while every call is counted; and a prepared data directory that any number of fresh
//! products can be opened on, so each injected fault starts from the very same state (same
//! ids, same ciphertexts) and end states compare item by item.
//!
//! Not here: what a job is, how it is re-run, and which differences are legitimate (the test
//! module decides). The Store wrapper is [`HookedStore`]; Blobs and Mailer get the same
//! shape of hook here. All three Store ports (main, audit, sessions) count as one adapter:
//! in AWS they are tables of the one DynamoDB service, and a fault in the audit table must
//! be survived like any other.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use myna::app::worker;
use myna::ports::{
    BlobError, BlobInfo, BlobPrefix, BlobScope, Blobs, Event, Mail, MailError, Mailer, ManualClock,
    Ports, StoreError, UploadTicket,
};
use time::{Duration, OffsetDateTime};

use crate::store_hook::HookedStore;
use crate::{test_config, TempDir, TestApp};

/// The adapter a fault is injected into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Port {
    Store,
    Blobs,
    Mailer,
}

impl Port {
    pub const ALL: [Port; 3] = [Port::Store, Port::Blobs, Port::Mailer];

    fn index(self) -> usize {
        match self {
            Port::Store => 0,
            Port::Blobs => 1,
            Port::Mailer => 2,
        }
    }
}

/// Counts calls per adapter once [`Faults::count`] or [`Faults::arm`] was called, and fails
/// the armed one. Shared by the wrappers of one product.
#[derive(Default)]
pub struct Faults {
    calls: [AtomicUsize; 3],
    counting: AtomicBool,
    armed: Mutex<Option<(Port, usize)>>,
    /// What the failed call was (operation name), once it failed.
    fired: Mutex<Option<&'static str>>,
}

impl Faults {
    pub fn new() -> Arc<Faults> {
        Arc::new(Faults::default())
    }

    /// Starts counting calls from zero (nothing fails).
    pub fn count(&self) {
        for c in &self.calls {
            c.store(0, Ordering::SeqCst);
        }
        self.counting.store(true, Ordering::SeqCst);
    }

    /// Starts counting from zero; call `n` (1-based) of `port` fails.
    pub fn arm(&self, port: Port, n: usize) {
        self.count();
        *self.armed.lock().unwrap() = Some((port, n));
    }

    /// No further call fails (counting goes on).
    pub fn disarm(&self) {
        *self.armed.lock().unwrap() = None;
    }

    /// Calls of `port` counted so far.
    pub fn calls(&self, port: Port) -> usize {
        self.calls[port.index()].load(Ordering::SeqCst)
    }

    /// The operation that was failed, if the armed call came.
    pub fn fired(&self) -> Option<&'static str> {
        *self.fired.lock().unwrap()
    }

    /// Counts one call of `port`; `Err` if it is the armed one.
    fn check(&self, port: Port, op: &'static str) -> Result<(), String> {
        if !self.counting.load(Ordering::SeqCst) {
            return Ok(());
        }
        let n = self.calls[port.index()].fetch_add(1, Ordering::SeqCst) + 1;
        if *self.armed.lock().unwrap() == Some((port, n)) {
            *self.fired.lock().unwrap() = Some(op);
            return Err(format!("injected fault: {port:?} call {n} ({op})"));
        }
        Ok(())
    }

    /// Wraps every Store port, the Blobs and the Mailer of `ports`.
    pub fn wrap(self: &Arc<Self>, ports: &mut Ports) {
        for store in [
            &mut ports.store,
            &mut ports.audit_store,
            &mut ports.sessions,
        ] {
            let faults = self.clone();
            *store = HookedStore::wrap(store.clone(), move |op, _| {
                faults.check(Port::Store, op).map_err(StoreError::Backend)
            });
        }
        let faults = self.clone();
        ports.blobs = Arc::new(HookedBlobs {
            inner: ports.blobs.clone(),
            hook: Box::new(move |op| faults.check(Port::Blobs, op).map_err(BlobError::Backend)),
        });
        let faults = self.clone();
        ports.mailer = Arc::new(HookedMailer {
            inner: ports.mailer.clone(),
            hook: Box::new(move || {
                faults
                    .check(Port::Mailer, "send")
                    .map_err(MailError::Backend)
            }),
        });
    }
}

type BlobHook = dyn Fn(&'static str) -> Result<(), BlobError> + Send + Sync;

/// `Blobs` running a hook (the operation's name) before each call, like [`HookedStore`].
pub struct HookedBlobs {
    inner: Arc<dyn Blobs>,
    hook: Box<BlobHook>,
}

#[async_trait]
impl Blobs for HookedBlobs {
    async fn put(
        &self,
        scope: &BlobScope,
        name: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), BlobError> {
        (self.hook)("put")?;
        self.inner.put(scope, name, bytes, content_type).await
    }
    async fn get(
        &self,
        scope: &BlobScope,
        name: &str,
    ) -> Result<Option<(Vec<u8>, String)>, BlobError> {
        (self.hook)("get")?;
        self.inner.get(scope, name).await
    }
    async fn copy(
        &self,
        scope: &BlobScope,
        from: &str,
        to: &str,
        version: &str,
    ) -> Result<bool, BlobError> {
        (self.hook)("copy")?;
        self.inner.copy(scope, from, to, version).await
    }
    async fn delete(&self, scope: &BlobScope, name: &str) -> Result<(), BlobError> {
        (self.hook)("delete")?;
        self.inner.delete(scope, name).await
    }
    async fn delete_tenant(&self, tenant_id: &str) -> Result<u64, BlobError> {
        (self.hook)("delete_tenant")?;
        self.inner.delete_tenant(tenant_id).await
    }
    async fn count_tenant(&self, tenant_id: &str) -> Result<u64, BlobError> {
        (self.hook)("count_tenant")?;
        self.inner.count_tenant(tenant_id).await
    }
    async fn head(&self, scope: &BlobScope, name: &str) -> Result<Option<BlobInfo>, BlobError> {
        (self.hook)("head")?;
        self.inner.head(scope, name).await
    }
    async fn read_prefix(
        &self,
        scope: &BlobScope,
        name: &str,
        len: usize,
    ) -> Result<Option<BlobPrefix>, BlobError> {
        (self.hook)("read_prefix")?;
        self.inner.read_prefix(scope, name, len).await
    }
    async fn presign_upload(
        &self,
        scope: &BlobScope,
        name: &str,
        content_type: &str,
        expires_in: Duration,
    ) -> Result<UploadTicket, BlobError> {
        (self.hook)("presign_upload")?;
        self.inner
            .presign_upload(scope, name, content_type, expires_in)
            .await
    }
}

type MailHook = dyn Fn() -> Result<(), MailError> + Send + Sync;

/// `Mailer` running a hook before each send.
pub struct HookedMailer {
    inner: Arc<dyn Mailer>,
    hook: Box<MailHook>,
}

#[async_trait]
impl Mailer for HookedMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        (self.hook)()?;
        self.inner.send(mail).await
    }
}

/// A data directory copied from a running product at one instant, to open fresh products on.
pub struct Prepared {
    dir: TempDir,
    now: OffsetDateTime,
    /// The cookies of the browser that prepared it (its sessions are in the copy).
    pub cookies: BTreeMap<String, String>,
}

impl Prepared {
    /// Copies `t`'s data directory (the database consistently, through `VACUUM INTO`, while
    /// the product stays open) and its clock; `cookies` are kept for [`Prepared::browser`].
    pub fn copy(t: &TestApp, cookies: &BTreeMap<String, String>) -> Prepared {
        use myna::ports::Clock;
        let dir = scratch("prepared");
        copy_data_dir(t.dir.path(), dir.path());
        Prepared {
            dir,
            now: t.clock.now(),
            cookies: cookies.clone(),
        }
    }

    /// A fresh product on a copy of the prepared directory, its ports wrapped by `faults`,
    /// its clock at the prepared instant.
    pub fn open(&self, faults: &Arc<Faults>) -> TestApp {
        let dir = scratch("fault");
        // The prepared copy is never opened, so its files copy as they are.
        copy_files(self.dir.path(), dir.path(), false);
        let clock = Arc::new(ManualClock::new(self.now));
        TestApp::open_wrapping(dir, clock, test_config(), |ports| faults.wrap(ports))
    }
}

/// A directory for one copy, in memory where the machine has a tmpfs: a fault run copies and
/// fsyncs a database dozens of times, which on a shared disk costs seconds.
fn scratch(label: &str) -> TempDir {
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        return TempDir::new(label);
    }
    let dir = shm.join(format!("myna-{label}-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// Copies a live data directory: the database through `VACUUM INTO` (consistent while the
/// product holds it open), every other file as it is.
fn copy_data_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    let db = rusqlite::Connection::open(from.join("myna.sqlite3")).unwrap();
    db.execute(
        "VACUUM INTO ?1",
        [to.join("myna.sqlite3").to_str().unwrap()],
    )
    .unwrap();
    copy_files(from, to, true);
}

/// Copies every file below `from`, the database files too unless `skip_db`.
fn copy_files(from: &Path, to: &Path, skip_db: bool) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if skip_db && name.to_string_lossy().starts_with("myna.sqlite3") {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_files(&entry.path(), &target, false);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every item of the `main` and `audit` tables of a product's data directory as (table, pk,
/// sk, attributes), in key order: the whole stored state a job can change. The registrant
/// directory's stamps are random per write, so each reads "stamp": which items a run stamped
/// is compared, not the draw.
pub fn stored_items(dir: &Path) -> Vec<(String, String, String, serde_json::Value)> {
    let db = rusqlite::Connection::open(dir.join("myna.sqlite3")).unwrap();
    let mut out = Vec::new();
    for table in ["main", "audit"] {
        let mut stmt = db
            .prepare(&format!(
                "SELECT pk, sk, attrs FROM {table} ORDER BY pk, sk"
            ))
            .unwrap();
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .unwrap();
        for row in rows {
            let (pk, sk, attrs) = row.unwrap();
            let mut attrs: serde_json::Value = serde_json::from_str(&attrs).unwrap();
            if let (myna::app::directory::VERSION, Some(map)) = (sk.as_str(), attrs.as_object_mut())
            {
                for (name, value) in map.iter_mut() {
                    if name.starts_with(myna::app::directory::STAMP) {
                        *value = "stamp".into();
                    }
                }
            }
            out.push((table.to_string(), pk, sk, attrs));
        }
    }
    out
}

/// Runs `events` as the worker would, then whatever they publish, until none is left;
/// returns the events that failed (what EventBridge would deliver again).
pub async fn deliver(t: &TestApp, events: Vec<Event>) -> Vec<Event> {
    let mut pending = events;
    let mut failed = Vec::new();
    while !pending.is_empty() {
        for e in std::mem::take(&mut pending) {
            if worker::handle(&t.app, &e).await.is_err() {
                failed.push(e);
            }
        }
        pending = t.queue.drain();
    }
    failed
}
