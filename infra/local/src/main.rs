//! `myna-local`: the whole product on one machine. Embedded adapters under the data directory
//! (SQLite file, sealed files, key files, mail outbox), every router, one listening socket.
//!
//! ```text
//! cargo run -p myna-local -- [--listen 127.0.0.1:8080] [--data-dir ./data]
//! cargo run -p myna-local -- verify-audit [--data-dir ./data | --aws] [--tenant ID]
//! ```
//! `verify-audit` checks every operation log's hash chain and exits 1 on a broken one
//! (verify_audit.rs). `purge-now` runs the month-end purge once (purge_job.rs); the server
//! runs it in process every hour.
//! (verify_audit.rs). `retention-now` runs the retention reminders once (retention_job.rs);
//! the server runs them in process at start-up and daily.
//! `MYNA_LISTEN` / `MYNA_DATA_DIR` do the same; `MYNA_SIGNUP=closed` closes sign-up;
//! `MYNA_BASE_URL` sets the origin written into mails.
//!
//! Mail: with `--smtp-host` (`MYNA_SMTP_HOST`) mail is really sent over SMTP (mail.rs); without
//! it, mail goes to the outbox under the data directory, and `/dev/outbox` shows it only on a
//! loopback listener and only with the random token printed at start-up (outbox_page.rs).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use myna::adapters::embedded::Embedded;
use myna::app::{App, Config};
use myna::ports::SystemClock;

mod mail;
mod one_shot;
mod outbox_page;
mod purge_job;
mod retention_job;
mod uploads;
mod verify_audit;

const USAGE: &str = "usage: myna-local [--listen ADDR] [--data-dir DIR] [--smtp-host HOST ...]
  --listen ADDR    address to serve on (default 127.0.0.1:8080, env MYNA_LISTEN)
  --data-dir DIR   where data is kept (default ./data, env MYNA_DATA_DIR)
  --postal-dir DIR the postal table made by infra/postal.sh, for 契約者情報's address autofill
                   (default build/postal, env MYNA_POSTAL_DIR; missing: addresses typed by hand)
mail (without --smtp-host, mail goes to the outbox: /dev/outbox?token=... printed at start-up,
loopback listeners only):
  --smtp-host HOST           SMTP server; sends real mail (env MYNA_SMTP_HOST)
  --smtp-port PORT           default 587 (env MYNA_SMTP_PORT)
  --smtp-tls MODE            starttls (default, required) | none (loopback servers only)
                             (env MYNA_SMTP_TLS)
  --smtp-user USER           login user; the password comes from MYNA_SMTP_PASSWORD or
                             --smtp-password-file, never the command line (env MYNA_SMTP_USER)
  --smtp-password-file FILE  file holding the password (env MYNA_SMTP_PASSWORD_FILE)
  --smtp-from ADDRESS        sender, e.g. 'マイナクラウド <no-reply@example.jp>' (env MYNA_SMTP_FROM)
  --smtp-ca-file FILE        extra trusted CA (PEM) beside the system's (env MYNA_SMTP_CA_FILE)
environment: MYNA_SIGNUP=open|closed (default open), MYNA_BASE_URL (default http://<listen>)
myna-local verify-audit --help: check the operation logs' hash chains
myna-local purge-now --help: run the month-end purge now
myna-local retention-now --help: run the retention reminders (削除予定日到来) now";

struct Options {
    listen: String,
    data_dir: PathBuf,
    postal_dir: PathBuf,
    smtp: mail::SmtpOptions,
}

fn options() -> Result<Options, String> {
    let mut listen = std::env::var("MYNA_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let mut data_dir =
        PathBuf::from(std::env::var("MYNA_DATA_DIR").unwrap_or_else(|_| "./data".into()));
    let mut postal_dir =
        PathBuf::from(std::env::var("MYNA_POSTAL_DIR").unwrap_or_else(|_| "build/postal".into()));
    let mut smtp = mail::SmtpOptions::from_env();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or(format!("{name} needs a value"))
        };
        match name.as_str() {
            "--listen" => listen = value()?,
            "--data-dir" => data_dir = PathBuf::from(value()?),
            "--postal-dir" => postal_dir = PathBuf::from(value()?),
            "--smtp-password" => {
                return Err(
                    "--smtp-password: a password on the command line is visible to every user \
                     (ps); set MYNA_SMTP_PASSWORD or use --smtp-password-file FILE"
                        .into(),
                )
            }
            "-h" | "--help" => return Err(String::new()),
            flag if flag.starts_with("--smtp-") => smtp.set(flag, value()?)?,
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(Options {
        listen,
        data_dir,
        postal_dir,
        smtp,
    })
}

fn fail(message: &str) -> ExitCode {
    eprintln!("myna-local: {message}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("verify-audit") {
        return verify_audit::run(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("purge-now") {
        return purge_job::run(&args[1..], mail::SmtpOptions::from_env());
    }
    if args.first().map(String::as_str) == Some("retention-now") {
        return retention_job::run(&args[1..]);
    }
    let opts = match options() {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => return fail(&format!("{e}\n{USAGE}")),
    };
    let addr: SocketAddr = match opts.listen.parse() {
        Ok(a) => a,
        Err(_) => {
            return fail(&format!(
                "--listen {}: not an address like 127.0.0.1:8080",
                opts.listen
            ))
        }
    };
    if let Err(e) = check_writable(&opts.data_dir) {
        return fail(&format!(
            "the data directory {} is not writable: {e}\n  choose another with --data-dir DIR",
            opts.data_dir.display()
        ));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    runtime.block_on(serve(addr, opts.data_dir, opts.postal_dir, opts.smtp))
}

fn check_writable(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"ok")?;
    std::fs::remove_file(probe)
}

async fn serve(
    addr: SocketAddr,
    data_dir: PathBuf,
    postal_dir: PathBuf,
    smtp: mail::SmtpOptions,
) -> ExitCode {
    let origin = std::env::var("MYNA_BASE_URL").unwrap_or_else(|_| format!("http://{addr}"));
    // Bad mail settings stop the start, before any data is touched.
    let smtp = match smtp.mailer() {
        Ok(m) => m,
        Err(e) => return fail(&e),
    };
    let mut embedded = match Embedded::open(&data_dir, &origin, Arc::new(SystemClock)) {
        Ok(e) => e,
        Err(e) => return fail(&e.to_string()),
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            return fail(&format!(
                "{addr} is already in use (another myna-local running?)\n  choose another with --listen 127.0.0.1:PORT"
            ))
        }
        Err(e) => return fail(&format!("cannot listen on {addr}: {e}")),
    };
    let config = Config {
        base_url: origin,
        signup_open: std::env::var("MYNA_SIGNUP")
            .map(|v| v != "closed")
            .unwrap_or(true),
        // Browsers drop Secure cookies on plain http; only loopback may go without.
        secure_cookies: !addr.ip().is_loopback(),
        postal_dir: Some(postal_dir),
        ..Config::default()
    };
    let mail_mode = mail::Mode::choose(smtp, embedded.outbox.clone(), addr.ip().is_loopback());
    if let Some(mailer) = mail_mode.mailer() {
        embedded.ports.mailer = mailer;
    }
    let app = App::new(embedded.ports, config);
    // Background work runs in process, one event at a time, as the job functions would.
    let worker_app = app.clone();
    let queue = embedded.queue;
    tokio::spawn(async move {
        while let Some(event) = queue.next().await {
            if let Err(e) = myna::app::worker::handle(&worker_app, &event).await {
                tracing::error!(kind = %event.kind, error = %e, "background job failed");
            }
        }
    });
    // The month-end purge (a scheduled Lambda in AWS) runs in process too.
    purge_job::spawn(app.clone());
    // The retention reminders (a scheduled Lambda in AWS) run in process too.
    retention_job::spawn(app.clone());
    // Uploads stand in for S3 pre-signed URLs: outside the session/CSRF layer, like S3.
    let router = myna::web::group_with(
        app.clone(),
        myna::web::routes(&app).merge(mail_mode.routes()),
        uploads::router(embedded.files),
    );
    println!(
        "マイナクラウド (local) on http://{addr}  data: {}",
        data_dir.display()
    );
    mail_mode.announce(addr, &data_dir).await;
    let served = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("server stopped: {e}")),
    }
}
