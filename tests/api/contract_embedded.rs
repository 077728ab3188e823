//! The port contract suites on the embedded adapters (the AWS adapters run the same suites
//! against the emulator).

use std::sync::Arc;

use async_trait::async_trait;
use myna::adapters::embedded::{event_channel, EventQueue, FileBlobs, FileKeys, SqliteDb};
use myna::ports::{Event, Keys, UploadTicket};
use myna_tests::contract::{self, Destruction};
use myna_tests::TempDir;

#[tokio::test]
async fn embedded_store_passes_the_store_contract() {
    let dir = TempDir::new("contract");
    let db = SqliteDb::open(&dir.path().join("db.sqlite3")).unwrap();
    contract::run_store_suite(Arc::new(db.table("main").unwrap())).await;
}

#[tokio::test]
async fn embedded_keys_pass_the_keys_contract() {
    let dir = TempDir::new("contract");
    contract::run_keys_suite(
        Arc::new(FileKeys::open(&dir.path().join("keys")).unwrap()),
        Destruction::Enforced,
    )
    .await;
}

#[tokio::test]
async fn embedded_blobs_pass_the_blobs_contract() {
    let dir = TempDir::new("contract");
    let keys: Arc<dyn Keys> = Arc::new(FileKeys::open(&dir.path().join("keys")).unwrap());
    let blobs = FileBlobs::open(
        &dir.path().join("blobs"),
        keys.clone(),
        "http://127.0.0.1:8080",
    )
    .unwrap();
    contract::run_blobs_suite(Arc::new(blobs), keys, Destruction::Enforced).await;
}

struct LocalUploader(Arc<FileBlobs>);

#[async_trait]
impl contract::Uploader for LocalUploader {
    async fn upload(&self, ticket: &UploadTicket, content_type: &str, body: Vec<u8>) -> bool {
        let token = ticket.url.rsplit('/').next().unwrap_or_default();
        self.0
            .accept_upload(token, content_type, body)
            .await
            .is_ok()
    }
}

#[tokio::test]
async fn embedded_uploads_pass_the_upload_contract() {
    let dir = TempDir::new("contract");
    let keys: Arc<dyn Keys> = Arc::new(FileKeys::open(&dir.path().join("keys")).unwrap());
    let files = Arc::new(
        FileBlobs::open(
            &dir.path().join("blobs"),
            keys.clone(),
            "http://127.0.0.1:8080",
        )
        .unwrap(),
    );
    contract::run_upload_suite(files.clone(), keys, &LocalUploader(files)).await;
}

#[tokio::test]
async fn local_upload_tickets_cannot_be_forged_or_reused_for_another_type() {
    let dir = TempDir::new("contract");
    let keys: Arc<dyn Keys> = Arc::new(FileKeys::open(&dir.path().join("keys")).unwrap());
    let files = FileBlobs::open(
        &dir.path().join("blobs"),
        keys.clone(),
        "http://127.0.0.1:8080",
    )
    .unwrap();
    let tenant = "01ARZ3NDEKTSV4RRFFQ69G5FAV".to_string();
    let scope = myna::ports::BlobScope {
        master_key: keys.create_master_key(&tenant).await.unwrap(),
        tenant_id: tenant,
    };
    let ticket = myna::app::uploads::ticket(&files, &scope, "incoming/x", "image/jpeg")
        .await
        .unwrap();
    let token = ticket.url.rsplit('/').next().unwrap().to_string();
    let jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
    assert!(
        files
            .accept_upload(&token, "image/png", jpeg.clone())
            .await
            .is_err(),
        "type not signed"
    );
    let (payload, _) = token.split_once('.').unwrap();
    assert!(
        files
            .accept_upload(&format!("{payload}.00"), "image/jpeg", jpeg.clone())
            .await
            .is_err(),
        "forged mac"
    );
    assert!(files
        .accept_upload(&token, "image/jpeg", jpeg)
        .await
        .is_ok());
}

struct QueueSink(EventQueue);

#[async_trait]
impl contract::EventSink for QueueSink {
    async fn delivered(&self) -> Vec<Event> {
        self.0.drain()
    }
}

#[tokio::test]
async fn in_process_events_pass_the_events_contract() {
    let (events, queue) = event_channel();
    contract::run_events_suite(Arc::new(events), &QueueSink(queue)).await;
}

#[cfg(unix)]
#[tokio::test]
async fn master_key_files_are_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("contract");
    let keys = FileKeys::open(&dir.path().join("keys")).unwrap();
    let id = keys
        .create_master_key("01ARZ3NDEKTSV4RRFFQ69G5FAV")
        .await
        .unwrap();
    let mode = std::fs::metadata(dir.path().join("keys").join(format!("{id}.key")))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}
