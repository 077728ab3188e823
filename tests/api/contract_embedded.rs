//! The port contract suites on the embedded adapters (the AWS adapters run the same suites
//! against the emulator).

use std::sync::Arc;

use myna::adapters::embedded::{FileBlobs, FileKeys, SqliteDb};
use myna::ports::Keys;
use myna_tests::{contract, TempDir};

#[tokio::test]
async fn embedded_store_passes_the_store_contract() {
    let dir = TempDir::new("contract");
    let db = SqliteDb::open(&dir.path().join("db.sqlite3")).unwrap();
    contract::run_store_suite(Arc::new(db.table("main").unwrap())).await;
}

#[tokio::test]
async fn embedded_keys_pass_the_keys_contract() {
    let dir = TempDir::new("contract");
    contract::run_keys_suite(Arc::new(FileKeys::open(&dir.path().join("keys")).unwrap())).await;
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
    contract::run_blobs_suite(Arc::new(blobs), keys).await;
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
