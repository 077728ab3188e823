//! `myna-local verify-audit`: checks the hash chain of every operation log (each tenant's,
//! then the `SYSTEM` log) and prints one line per log, the same report as the 操作履歴
//! screen's 検証 button. Exit code 0 when every chain holds, 1 when one is broken, 2 when
//! the check could not run.
//!
//! ```text
//! myna-local verify-audit [--data-dir DIR] [--tenant ID]   the embedded store under DIR
//! myna-local verify-audit --aws [--tenant ID]              the deployment's DynamoDB audit table
//! ```
//! `--aws` reads `AWS_REGION`, `MYNA_TABLE_AUDIT` and optionally `MYNA_AWS_ENDPOINT` (an
//! emulator) and the usual AWS credentials; it only reads the table.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use myna::app::audit::{ChainedAudit, LogCheck};
use myna::app::keys::TenantId;
use myna::ports::{Clock, Store, SystemClock};

pub const USAGE: &str = "usage: myna-local verify-audit [--data-dir DIR | --aws] [--tenant ID]
  --data-dir DIR  the local data directory (default ./data, env MYNA_DATA_DIR)
  --aws           the AWS audit table named by MYNA_TABLE_AUDIT in AWS_REGION
                  (MYNA_AWS_ENDPOINT points at an emulator)
  --tenant ID     only this tenant's log
exit code: 0 every chain intact, 1 a chain is broken, 2 the check could not run";

enum Source {
    Local(PathBuf),
    Aws,
}

struct Options {
    source: Source,
    tenant: Option<TenantId>,
}

fn options(args: &[String]) -> Result<Options, String> {
    let mut data_dir =
        PathBuf::from(std::env::var("MYNA_DATA_DIR").unwrap_or_else(|_| "./data".into()));
    let (mut aws, mut tenant) = (false, None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().cloned().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--data-dir" => data_dir = PathBuf::from(value()?),
            "--aws" => aws = true,
            "--tenant" => {
                let raw = value()?;
                tenant =
                    Some(TenantId::parse(&raw).ok_or(format!("--tenant {raw}: not a tenant id"))?);
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(Options {
        source: if aws {
            Source::Aws
        } else {
            Source::Local(data_dir)
        },
        tenant,
    })
}

/// Runs the command with the arguments after `verify-audit`.
pub fn run(args: &[String]) -> ExitCode {
    let opts = match options(args) {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("myna-local verify-audit: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("myna-local verify-audit: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(check(opts))
}

async fn check(opts: Options) -> ExitCode {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = match audit_store(&opts.source, clock.clone()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("myna-local verify-audit: {e}");
            return ExitCode::from(2);
        }
    };
    let audit = ChainedAudit::new(store, clock);
    let checks = match &opts.tenant {
        Some(t) => audit.verify(Some(t)).await.map(|result| {
            vec![LogCheck {
                tenant: Some(t.clone()),
                result,
            }]
        }),
        None => audit.verify_all().await,
    };
    let checks = match checks {
        Ok(c) => c,
        Err(e) => {
            eprintln!("myna-local verify-audit: cannot read the audit log: {e}");
            return ExitCode::from(2);
        }
    };
    let mut broken = 0;
    for c in &checks {
        let name = c
            .tenant
            .as_ref()
            .map_or("SYSTEM".to_string(), |t| format!("tenant {t}"));
        println!("{name}: {}", c.result.summary());
        broken += usize::from(c.result.broken_at.is_some());
    }
    println!("{} logs checked, {broken} broken", checks.len());
    if broken > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn audit_store(source: &Source, clock: Arc<dyn Clock>) -> Result<Arc<dyn Store>, String> {
    match source {
        Source::Local(dir) => {
            if !dir.join("myna.sqlite3").exists() {
                return Err(format!(
                    "no data in {} (choose it with --data-dir DIR)",
                    dir.display()
                ));
            }
            let origin = "http://127.0.0.1";
            myna::adapters::embedded::Embedded::open(dir, origin, clock)
                .map(|e| e.ports.audit_store)
                .map_err(|e| e.to_string())
        }
        Source::Aws => myna::adapters::aws::audit_store_from_env()
            .await
            .map_err(|e| format!("--aws: {e}")),
    }
}
