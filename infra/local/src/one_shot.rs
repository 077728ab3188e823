//! Running a scheduled job once from the command line (`purge-now`, `retention-now`): open the
//! data directory as the server would (same mail settings), run the job, then send the mails it
//! queued for the mail job, and print its report.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use myna::adapters::embedded::Embedded;
use myna::app::{App, Config};
use myna::ports::SystemClock;

/// The data directory a one-shot command names (`--data-dir`, else `MYNA_DATA_DIR`, else
/// `./data`), or the exit code when it printed help or refused an argument.
pub fn data_dir(args: &[String], usage: &str) -> Result<PathBuf, ExitCode> {
    let mut data_dir =
        PathBuf::from(std::env::var("MYNA_DATA_DIR").unwrap_or_else(|_| "./data".into()));
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--data-dir" => match args.next() {
                Some(d) => data_dir = PathBuf::from(d),
                None => return Err(crate::fail("--data-dir needs a value")),
            },
            "-h" | "--help" => {
                println!("{usage}");
                return Err(ExitCode::SUCCESS);
            }
            other => return Err(crate::fail(&format!("unknown argument: {other}\n{usage}"))),
        }
    }
    Ok(data_dir)
}

/// Runs `job` once on the data in `data_dir`; `job` returns the lines to print after the mails
/// went out and whether the run succeeded, or the reason it failed.
pub fn run<F, Fut>(data_dir: &Path, smtp: crate::mail::SmtpOptions, job: F) -> ExitCode
where
    F: FnOnce(Arc<App>) -> Fut,
    Fut: Future<Output = Result<(String, bool), String>>,
{
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return crate::fail(&format!("cannot start the runtime: {e}")),
    };
    runtime.block_on(async move {
        let smtp = match smtp.mailer() {
            Ok(m) => m,
            Err(e) => return crate::fail(&e),
        };
        let origin =
            std::env::var("MYNA_BASE_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
        let mut embedded = match Embedded::open(data_dir, &origin, Arc::new(SystemClock)) {
            Ok(e) => e,
            Err(e) => return crate::fail(&e.to_string()),
        };
        if let Some((mailer, _)) = smtp {
            embedded.ports.mailer = mailer;
        }
        let config = Config {
            base_url: origin,
            ..Config::default()
        };
        let app = App::new(embedded.ports, config);
        let (report, ok) = match job(app.clone()).await {
            Ok(r) => r,
            Err(e) => return crate::fail(&e),
        };
        // The job queued its mails for the mail job: send them now.
        for event in embedded.queue.drain() {
            if let Err(e) = myna::app::worker::handle(&app, &event).await {
                eprintln!("myna-local: a mail could not be sent ({e}); run the job again");
            }
        }
        println!("{report}");
        if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    })
}
