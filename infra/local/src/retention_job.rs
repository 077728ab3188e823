//! The retention reminders in `myna-local` (in Lambda it is the `retention-reminders` function
//! on a daily EventBridge Scheduler schedule): run in process at start-up and then once a day,
//! and on demand:
//!
//! ```text
//! myna-local retention-now [--data-dir DIR]    one run now; prints what it reported
//! ```
//! The job only mails 最高権限 about registrants whose 削除予定日 has come (once each) and
//! never deletes anything; running it again changes nothing.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use myna::app::App;

pub const USAGE: &str = "usage: myna-local retention-now [--data-dir DIR]
  runs the retention reminders once: 最高権限 users are mailed (outbox or SMTP settings as for
  the server) about registrants whose 削除予定日 has come, once per registrant";

/// How often the server runs the job.
pub const EVERY: Duration = Duration::from_secs(24 * 3600);

/// Runs the job in process: now, then every [`EVERY`].
pub fn spawn(app: Arc<App>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tick.tick().await;
            if let Err(e) = myna::app::retention::run(&app).await {
                tracing::error!(error = %e, "retention reminders failed; retried tomorrow");
            }
        }
    });
}

/// `myna-local retention-now`.
pub fn run(args: &[String]) -> ExitCode {
    let data_dir = match crate::one_shot::data_dir(args, USAGE) {
        Ok(d) => d,
        Err(code) => return code,
    };
    crate::one_shot::run(
        &data_dir,
        crate::mail::SmtpOptions::from_env(),
        |app| async move {
            myna::app::retention::run(&app)
                .await
                .map_err(|e| format!("retention reminders failed: {e}"))
                .map(|report| {
                    let line = format!(
                        "tenants looked at: {}, registrants newly reported: {}, mails: {}",
                        report.tenants, report.reminded, report.mails
                    );
                    (line, true)
                })
        },
    )
}
