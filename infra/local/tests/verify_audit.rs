//! `myna-local verify-audit`: the command an operator runs over the data directory reports
//! every operation log as intact, or names the first broken entry and exits 1, after the
//! SQLite file was changed behind the product's back.

// Tests and their helpers: a failed `unwrap` is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use myna::adapters::embedded::Embedded;
use myna::app::audit::ChainedAudit;
use myna::app::keys::TenantId;
use myna::ports::{Audit, Condition, Key, SystemClock};

fn temp_dir(label: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("myna-verify-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `n` entries to a new tenant's log in the data directory `dir`.
async fn write_log(dir: &Path, n: usize) -> TenantId {
    let e = Embedded::open(dir, "http://127.0.0.1", Arc::new(SystemClock)).unwrap();
    let audit = ChainedAudit::new(e.ports.audit_store, Arc::new(SystemClock));
    let tenant = TenantId::new();
    for i in 0..n {
        audit
            .record(myna_tests::fixtures::audit_event(
                &tenant,
                format!("操作{i}"),
            ))
            .await
            .unwrap();
    }
    tenant
}

fn verify(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_myna-local"))
        .arg("verify-audit")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[tokio::test]
async fn verify_audit_exits_1_naming_the_entry_when_the_sqlite_file_lost_an_entry() {
    // Given a data directory with two tenants' logs
    let dir = temp_dir("missing");
    let intact = write_log(&dir, 2).await;
    let damaged = write_log(&dir, 3).await;
    let d = dir.to_str().unwrap();

    // When the operator checks it, then deletes an entry from the file and checks again
    let (before, report_before) = verify(&["--data-dir", d]);
    {
        let e = Embedded::open(&dir, "http://127.0.0.1", Arc::new(SystemClock)).unwrap();
        let key = Key::new(format!("T#{damaged}"), "LOG#000000000002");
        e.ports
            .audit_store
            .delete(&key, Condition::None)
            .await
            .unwrap();
    }
    let (after, report_after) = verify(&["--data-dir", d]);
    let (one, report_one) = verify(&["--data-dir", d, "--tenant", intact.as_str()]);

    // Then the first check passes, the second exits 1 naming the tenant and entry 2
    assert_eq!(before, 0, "{report_before}");
    assert!(
        report_before.contains(&format!("tenant {intact}: 正常（2件）")),
        "{report_before}"
    );
    assert!(
        report_before.contains("3 logs checked, 0 broken"),
        "{report_before}"
    );
    assert_eq!(after, 1, "{report_after}");
    assert!(
        report_after.contains(&format!(
            "tenant {damaged}: 異常: 2番目の記録で記録が欠落しています"
        )),
        "{report_after}"
    );
    assert_eq!(one, 0, "{report_one}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn verify_audit_exits_2_with_a_clear_message_when_there_is_no_data() {
    // Given a directory without a product's data
    let dir = temp_dir("empty");

    // When the operator checks it
    let (code, report) = verify(&["--data-dir", dir.to_str().unwrap()]);

    // Then it says where it looked, and checks nothing
    assert_eq!(code, 2, "{report}");
    assert!(report.contains("no data in"), "{report}");
}
