//! The month-end purge in `myna-local` (in Lambda it is the `purge` function on a daily
//! EventBridge Scheduler schedule): run in process at start-up and then every hour (the job
//! does nothing until a 解約日 has ended, and resumes an interrupted purge), and on demand:
//!
//! ```text
//! myna-local purge-now [--data-dir DIR]    one run now; prints what it purged
//! ```
//! `purge-now` uses the same data directory as the server (stop the server first or let the
//! two share the SQLite file; the job is idempotent either way) and sends the certificate
//! mail through the outbox or SMTP like the server.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use myna::app::App;

pub const USAGE: &str = "usage: myna-local purge-now [--data-dir DIR]
  runs the month-end purge once: tenants whose 解約日 has ended are deleted, their keys
  destroyed and their データ破棄証明書 mailed (outbox or SMTP settings as for the server)";

/// How often the server runs the job.
pub const EVERY: Duration = Duration::from_secs(3600);

/// Runs the job in process: now, then every [`EVERY`].
pub fn spawn(app: Arc<App>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tick.tick().await;
            match myna::app::purge::run(&app).await {
                Ok(r) if r.purged.is_empty() && r.failed.is_empty() && r.orphan_keys == 0 => {}
                Ok(r) => tracing::info!(
                    purged = r.purged.len(),
                    failed = r.failed.len(),
                    orphan_keys = r.orphan_keys,
                    "month-end purge ran"
                ),
                Err(e) => tracing::error!(error = %e, "month-end purge failed; retried next hour"),
            }
        }
    });
}

/// `myna-local purge-now`.
pub fn run(args: &[String], smtp: crate::mail::SmtpOptions) -> ExitCode {
    let data_dir = match crate::one_shot::data_dir(args, USAGE) {
        Ok(d) => d,
        Err(code) => return code,
    };
    crate::one_shot::run(&data_dir, smtp, |app| async move {
        myna::app::purge::run(&app)
            .await
            .map_err(|e| format!("purge failed: {e}"))
            .map(|report| {
                let mut lines: Vec<String> = report
                    .purged
                    .iter()
                    .map(|t| format!("purged {t}"))
                    .collect();
                lines.extend(
                    report
                        .failed
                        .iter()
                        .map(|t| format!("FAILED {t} (run again to resume)")),
                );
                lines.push(format!(
                    "orphaned master keys destroyed: {}",
                    report.orphan_keys
                ));
                (lines.join("\n"), report.failed.is_empty())
            })
    })
}
