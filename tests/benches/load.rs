//! Benchmark: 200 logged-in sessions browsing a large tenant over a real socket while a CSV
//! import and a collection mail blast run (issue 14, item 4).
//!
//! - The product's router (every function's routes) served by `axum::serve` on a loopback
//!   port, on the embedded adapters in a fresh directory, with the background worker running
//!   in process as in `myna-local`.
//! - Company A: 10,000 registrants with one dependent each (seeded straight to the store) and
//!   200 sessions of its owner, each logged in through the password and the mailed code.
//! - Debian's `wrk` (`-c 200`, fixed duration, `load.lua`) rotating those cookies over list
//!   pages, name/kana/社員コード searches and detail pages.
//! - During the run: company A sends a collection mail to 1,000 of its registrants (the
//!   worker mails them to the outbox), and company B uploads and commits a 10,000-row CSV
//!   (1,000 registrants with 9 dependents each: the largest plan, プラン1000, cannot hold a
//!   10,000-registrant import, so it runs in a second company on the same server). Both are
//!   driven through the same router and app in process (the test `Browser`), not the socket.
//!
//! Prints JSON on stdout (`infra/bench.sh load` writes docs/perf/load.json and load.md) and
//! exits 1 on any error: a response other than 200 (a redirect means a lost session), a
//! socket error or timeout, or an import or blast that did not complete exactly.
//! `MYNA_LOAD=smoke` is the CI version (`infra/test.sh load`): 1,000 registrants, 5 s, still 200
//! connections, a 1,000-row import and a 100-mail blast; it asserts no timing.
//!
//! Run: `cargo bench -p myna-tests --bench load` (needs `wrk` on PATH).

// A benchmark: a failed `unwrap` stops the run, which is what it should do.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::Router;
use myna::adapters::embedded::{Embedded, Outbox};
use myna::app::collection as coll;
use myna::app::keys::TenantScope;
use myna::app::registrants::{self as regs, Filter};
use myna::app::App;
use myna::ports::SystemClock;
use myna_tests::{otp_in, seed, signed_up, test_config, Browser, TempDir};

const PW: &str = "Sakura-2026x";
const SESSIONS: usize = 200;
/// How long the import and the blast may take after the browsing ends before the run fails.
const FINISH_WITHIN: Duration = Duration::from_secs(600);

/// The sizes of one run.
#[derive(Clone, Copy)]
struct Profile {
    name: &'static str,
    registrants: usize,
    import_registrants: usize,
    import_dependents_each: usize,
    blast: usize,
    seconds: u64,
    /// wrk's timeout: an answer slower than this counts as an error. The smoke asserts no
    /// timing, so its timeout is longer than the run.
    timeout_seconds: u64,
}

const FULL: Profile = Profile {
    name: "full",
    registrants: 10_000,
    import_registrants: 1_000,
    import_dependents_each: 9,
    blast: 1_000,
    seconds: 30,
    timeout_seconds: 10,
};

const SMOKE: Profile = Profile {
    name: "smoke",
    registrants: 1_000,
    import_registrants: 100,
    import_dependents_each: 9,
    blast: 100,
    seconds: 5,
    timeout_seconds: 60,
};

fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

fn log(line: &str) {
    eprintln!("load: {line}");
}

/// A new session of `email`, through the password and the mailed second-factor code.
async fn session_cookie(router: Router, outbox: &Outbox, email: &str, ip: &str) -> String {
    let mut b = Browser::new(router, ip);
    let res = b
        .submit(
            "/login",
            "/login",
            &[("email", email), ("password", PW), ("customer_number", "")],
        )
        .await;
    assert_eq!(res.location(), Some("/login/otp"), "password step");
    let code = otp_in(outbox, email).unwrap();
    let res = b
        .submit("/login/otp", "/login/otp", &[("code", &code)])
        .await;
    assert_eq!(res.location(), Some("/home"), "second factor");
    b.cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The pages wrk asks for, a third each: list pages (all 50-row pages in turn, and each
/// group), searches (name in kanji, kana in hiragana and katakana, 社員コード) and detail pages.
fn paths(seeded: &seed::Seeded) -> Vec<String> {
    let q = |k: &str, v: &str| serde_urlencoded::to_string([(k, v)]).unwrap();
    let pages = seeded.registrant_ids.len().div_ceil(50);
    let mut out = Vec::new();
    for i in 0..100 {
        out.push(match i % 4 {
            0 => format!("/registrants?page={}", 1 + (i * 37) % pages),
            1 => format!(
                "/registrants?{}",
                q("group", &seeded.group_ids[i % seeded.group_ids.len()])
            ),
            2 => "/registrants".to_string(),
            _ => format!("/registrants?page={}&sort=name", 1 + (i * 13) % pages),
        });
        out.push(match i % 4 {
            0 => format!("/registrants?{}", q("name", &format!("社員{}", i % 97))),
            1 => format!("/registrants?{}", q("name", "しゃいん")),
            2 => format!("/registrants?{}", q("name", "シャイン　タロウ")),
            _ => format!("/registrants?{}", q("code", &format!("E{:05}", i * 7))),
        });
        let ids = &seeded.registrant_ids;
        out.push(format!("/registrants/{}", ids[(i * 7919) % ids.len()]));
    }
    out
}

/// Company B's CSVアップロード: upload, 登録, then the status page until it says done.
/// Returns the seconds it took and the registrants company B then holds.
async fn import(mut b: Browser, scope: TenantScope, file: Vec<u8>) -> (f64, usize) {
    let started = Instant::now();
    let form = "/registrants/csv-upload";
    let staged = b.upload(form, form, &file, true).await;
    assert_eq!(staged.status, StatusCode::OK, "upload refused");
    let at = staged.body.find("/commit\"").unwrap();
    let id = staged.body[at - 26..at].to_string();
    let res = b
        .post(
            &format!("/registrants/csv-upload/{id}/commit"),
            &[("csrf", &staged.csrf().unwrap())],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "commit refused");
    while !b
        .get(&format!("/registrants/csv-upload/{id}"))
        .await
        .body
        .contains("CSVアップロードは完了です")
    {
        assert!(started.elapsed() < FINISH_WITHIN, "import did not finish");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let held = regs::select(&scope, &Filter::default())
        .await
        .unwrap()
        .0
        .len();
    (started.elapsed().as_secs_f64(), held)
}

/// Company A's 収集メール一括送信 to `ids`, then the blast record until the worker is done.
/// Returns the seconds it took and the blast as recorded (total, sent, failed).
async fn blast(mut b: Browser, scope: TenantScope, ids: Vec<String>) -> (f64, [i64; 3]) {
    let started = Instant::now();
    let token = b.get("/collection/blast").await.csrf().unwrap();
    let mut fields = vec![("csrf", token.as_str()), ("message", "")];
    fields.extend(ids.iter().map(|id| ("ids", id.as_str())));
    let res = b.post("/collection/blast", &fields).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "blast refused");
    let id = res
        .location()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    loop {
        let (record, _) = coll::load_blast(&scope, &id).await.unwrap().unwrap();
        if record.done {
            let counts = [record.total, record.sent, record.failed];
            return (started.elapsed().as_secs_f64(), counts);
        }
        assert!(started.elapsed() < FINISH_WITHIN, "blast did not finish");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Runs wrk against `base` and returns its `LOADJSON` line, parsed.
fn wrk(profile: &Profile, base: &str, work: &Path) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/load.lua");
    let out = std::process::Command::new("wrk")
        .args(["-t", "2", "-c", &SESSIONS.to_string()])
        .args(["-d", &format!("{}s", profile.seconds), "--timeout"])
        .arg(format!("{}s", profile.timeout_seconds))
        .arg("-s")
        .arg(&script)
        .arg(base)
        .arg("--")
        .arg(work.join("paths.txt"))
        .arg(work.join("cookies.txt"))
        .output()
        .expect("wrk (apt install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wrk failed: {text}");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("LOADJSON "))
        .unwrap_or_else(|| panic!("no LOADJSON line from wrk: {text}"));
    serde_json::from_str(line).unwrap()
}

#[tokio::main]
async fn main() {
    let profile = match std::env::var("MYNA_LOAD").as_deref() {
        Ok("smoke") => SMOKE,
        _ => FULL,
    };
    let dir = TempDir::new("load");
    let embedded =
        Embedded::open(dir.path(), "http://127.0.0.1:8080", Arc::new(SystemClock)).unwrap();
    let outbox = embedded.outbox.clone();
    let app: Arc<App> = App::new(embedded.ports, test_config());
    let router = myna::web::all(app.clone());
    // Background work in process, one event at a time, as myna-local runs it.
    let worker_app = app.clone();
    let queue = embedded.queue;
    tokio::spawn(async move {
        while let Some(event) = queue.next().await {
            // A failed job would leave the import or the blast waiting: stop the run at once.
            if let Err(e) = myna::app::worker::handle(&worker_app, &event).await {
                log(&format!(
                    "FAILED: background job {} failed: {e}",
                    event.kind
                ));
                std::process::exit(1);
            }
        }
    });

    let started = Instant::now();
    let (owner_a, scope_a) =
        signed_up(&app, router.clone(), &outbox, "load-a@example.jp", PW).await;
    let seeded = seed::registrants(&scope_a, profile.registrants, 20).await;
    let (owner_b, scope_b) =
        signed_up(&app, router.clone(), &outbox, "load-b@example.jp", PW).await;
    seed::set_plan(&scope_b, 1000).await;
    let file = seed::import_csv(profile.import_registrants, profile.import_dependents_each);
    let import_rows = profile.import_registrants * (1 + profile.import_dependents_each);
    log(&format!(
        "seeded {} registrants in {:.1} s",
        profile.registrants,
        started.elapsed().as_secs_f64()
    ));

    let started = Instant::now();
    let mut cookies = Vec::with_capacity(SESSIONS);
    for i in 0..SESSIONS {
        let ip = format!("198.18.{}.{}", i / 250, i % 250 + 1);
        cookies.push(session_cookie(router.clone(), &outbox, "load-a@example.jp", &ip).await);
    }
    log(&format!(
        "{SESSIONS} sessions logged in in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    let work = TempDir::new("load-wrk");
    std::fs::write(work.path().join("paths.txt"), paths(&seeded).join("\n")).unwrap();
    std::fs::write(work.path().join("cookies.txt"), cookies.join("\n")).unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });

    // The import and the blast start, then the browsing: all three run together.
    let run_started = Instant::now();
    let importing = tokio::spawn(import(owner_b, scope_b, file));
    let blast_ids = seeded.registrant_ids[..profile.blast].to_vec();
    let blasting = tokio::spawn(blast(owner_a, scope_a, blast_ids));
    log(&format!(
        "wrk: {SESSIONS} connections for {} s against {base}",
        profile.seconds
    ));
    let work_dir = work.path().to_path_buf();
    let base_url = base.clone();
    let browsing = tokio::task::spawn_blocking(move || wrk(&profile, &base_url, &work_dir))
        .await
        .unwrap();
    let browsing_ended = run_started.elapsed().as_secs_f64();
    let (import_secs, held) = importing.await.unwrap();
    let (blast_secs, [total, sent, failed]) = blasting.await.unwrap();
    let mailed = outbox
        .list()
        .unwrap()
        .iter()
        .filter(|m| m.mail.subject == coll::SUBJECT)
        .count();

    let b = &browsing;
    let n = |k: &str| b[k].as_i64().unwrap_or(-1);
    let errors = n("status_3xx")
        + n("status_4xx")
        + n("status_5xx")
        + n("connect_errors")
        + n("read_errors")
        + n("write_errors")
        + n("timeouts");
    let import_ok = held == profile.import_registrants;
    let blast_ok =
        total == profile.blast as i64 && sent == total && failed == 0 && mailed == profile.blast;
    let seconds = n("duration_us") as f64 / 1e6;
    let report = serde_json::json!({
        "load": {
            "profile": profile.name,
            "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "registrants": profile.registrants,
            "dependents_each": 1,
            "sessions": SESSIONS,
            "connections": SESSIONS,
            "seconds": round(seconds, 1),
            "timeout_seconds": profile.timeout_seconds,
            "paths": paths(&seeded).len(),
            "requests": n("requests"),
            "requests_per_second": round(n("requests") as f64 / seconds, 1),
            "latency_ms": b["latency_ms"],
            "errors": errors,
            "errors_by_kind": {
                "redirect": n("status_3xx"),
                "status_4xx": n("status_4xx"),
                "status_5xx": n("status_5xx"),
                "connect": n("connect_errors"),
                "read": n("read_errors"),
                "write": n("write_errors"),
                "timeout": n("timeouts"),
            },
            "browsing_ended_after_seconds": round(browsing_ended, 1),
            "import": {
                "rows": import_rows,
                "registrants": profile.import_registrants,
                "seconds": round(import_secs, 1),
                "registrants_after": held,
                "completed": import_ok,
            },
            "blast": {
                "recipients": profile.blast,
                "seconds": round(blast_secs, 1),
                "sent": sent,
                "failed": failed,
                "mails_in_outbox": mailed,
                "completed": blast_ok,
            },
        }
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    if errors != 0 || !import_ok || !blast_ok {
        log(&format!(
            "FAILED: {errors} errors, import completed: {import_ok}, blast completed: {blast_ok}"
        ));
        // exit skips destructors: remove the data directories first.
        drop(work);
        drop(dir);
        std::process::exit(1);
    }
}
