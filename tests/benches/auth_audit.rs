//! Benchmark: the login's password step and the operation log, on the embedded store.
//!
//! - Login: the full password step through the HTTP router with the production password
//!   setting (argon2id m=19 MiB, t=2, p=1: `Params::RECOMMENDED`): the POST of `/login`
//!   (CSRF, rate limits, user look-up, argon2id verification, the second-factor code mailed,
//!   the audit entry) until its redirect to `/login/otp`. Each attempt comes from a browser of
//!   its own, so one attempt's session or address never helps the next. p50 / p99.
//! - Audit: `MYNA_AUDIT_ENTRIES` (100,000) entries appended one after the other to one
//!   tenant's hash-chained log (each append a transaction: the entry and the head), then the
//!   whole chain verified as 操作履歴 → 検証 does it: entries per second, seconds.
//!
//! Prints JSON on stdout (`infra/bench.sh auth` writes it to docs/perf/). Not a test: nothing
//! here asserts a time.
//! Run: `cargo bench -p myna-tests --bench auth_audit`

// A benchmark: a failed `unwrap` stops the run, which is what it should do.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use myna::app::passwords::Params;
use myna::app::Config;
use myna::ports::audit::AuditEvent;
use myna_tests::{test_config, TestApp};
use serde_json::json;

const EMAIL: &str = "bench-owner@example.jp";
const PW: &str = "Sakura-2026x";
const DEFAULT_LOGINS: usize = 100;
const DEFAULT_ENTRIES: usize = 100_000;

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

/// The value below which `p` of the sorted `times` lie (nearest rank).
fn percentile(times: &[Duration], p: f64) -> Duration {
    let rank = ((p * times.len() as f64).ceil() as usize).clamp(1, times.len());
    times[rank - 1]
}

async fn login_latency(t: &TestApp, runs: usize) -> serde_json::Value {
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        // A fresh browser from its own address (10.1.x.y): the per-address
        // limits never come into play, as for many staff logging in one morning.
        let ip = format!("10.1.{}.{}", i / 250, 1 + i % 250);
        let mut b = t.browser(&ip);
        let form = b.get("/login").await;
        let csrf = form.csrf().unwrap();
        let started = Instant::now();
        let res = b
            .post(
                "/login",
                &[
                    ("csrf", csrf.as_str()),
                    ("email", EMAIL),
                    ("password", PW),
                    ("customer_number", ""),
                ],
            )
            .await;
        times.push(started.elapsed());
        assert_eq!(res.location(), Some("/login/otp"), "{}", res.body);
    }
    times.sort();
    json!({
        "password_setting": "argon2id m=19456 KiB, t=2, p=1",
        "runs": runs,
        "p50_ms": ms(percentile(&times, 0.50)),
        "p99_ms": ms(percentile(&times, 0.99)),
        "max_ms": ms(times[times.len() - 1]),
    })
}

async fn audit_chain(t: &TestApp, entries: usize) -> serde_json::Value {
    let scope = t.scope_of(EMAIL).await;
    let tenant = scope.tenant().to_string();
    let before = t.app.audit.verify(Some(scope.tenant())).await.unwrap();
    let started = Instant::now();
    for i in 0..entries {
        t.app
            .audit()
            .record(AuditEvent {
                tenant_id: Some(tenant.clone()),
                actor_id: Some("U-bench".into()),
                actor_name: Some("ベンチ 太郎".into()),
                action: "registrant.view".into(),
                target: Some(format!("R-{i:06}")),
                detail: "登録者詳細を表示".into(),
                ip: Some("203.0.113.1".into()),
            })
            .await
            .unwrap();
    }
    let append = started.elapsed();
    let started = Instant::now();
    let check = t.app.audit.verify(Some(scope.tenant())).await.unwrap();
    let verify = started.elapsed();
    assert!(check.broken_at.is_none(), "{}", check.summary());
    assert_eq!(check.entries, before.entries + entries as u64);
    json!({
        "entries": entries,
        "append_seconds": (append.as_secs_f64() * 100.0).round() / 100.0,
        "append_entries_per_second": (entries as f64 / append.as_secs_f64()).round(),
        "verify_entries": check.entries,
        "verify_seconds": (verify.as_secs_f64() * 1000.0).round() / 1000.0,
    })
}

#[tokio::main]
async fn main() {
    let t = TestApp::spawn_with(Config {
        password_params: Params::RECOMMENDED,
        ..test_config()
    });
    t.signup("株式会社ベンチ", EMAIL, PW).await;
    let login = login_latency(&t, env_count("MYNA_LOGIN_RUNS", DEFAULT_LOGINS)).await;
    let audit = audit_chain(&t, env_count("MYNA_AUDIT_ENTRIES", DEFAULT_ENTRIES)).await;
    let report = json!({ "auth_audit": { "login": login, "audit": audit } });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
