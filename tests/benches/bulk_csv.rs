//! Benchmark: CSVアップロード and CSVダウンロード on the embedded store, through the HTTP router.
//!
//! - Import: a generated 10,000-row CSV (1,000 registrants, the largest plan, with 9
//!   dependents each), uploaded (read, checked, numbers sealed, staged) and committed (the 登録
//!   button, the import-commit job, then the status page): rows per second for each part.
//! - Export: 10,000 and 50,000 registrants with one dependent each, numbers for all (seeded
//!   straight into the store), downloaded in CP932: rows per second, data-key unwraps per
//!   download (with a cold key cache), heap peak at both sizes (it must not grow with N), and
//!   a fair bare loop in the same run: the same rows read from the same SQLite file through
//!   the store's own query, page by page, each sealed number opened, each row written and
//!   encoded CP932 (the ratio is what the product adds: session, password check, filter,
//!   the count and CP932 check from the registrant directory, audit, streaming), and the
//!   pages each read from the registrant partition (the download walks it once, like the
//!   bare loop). The download form (which reads the directory into the container's cache,
//!   shared with the list) is timed and its heap measured apart.
//! - Memory: the heap's peak above its level at the start of each phase (a counting global
//!   allocator), and the process's VmHWM.
//!
//! Prints JSON on stdout (`infra/bench.sh bulk` writes it to docs/perf/).
//! Run: `cargo bench -p myna-tests --bench bulk_csv` (`BULK_PHASE=import` or `=export`: one phase).

// A benchmark: a failed `unwrap` stops the run, which is what it should do.
#![allow(clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use myna::adapters::embedded::Embedded;
use myna::app::keys::TenantScope;
use myna::app::registrants::{self as regs, Filter};
use myna::app::tenants;
use myna::app::vault::TenantCipher;
use myna::app::App;
use myna::ports::store::{Condition, Item, Query};
use myna::ports::ManualClock;
use myna_tests::seed::import_csv;
use myna_tests::store_hook::HookedStore;
use myna_tests::{signed_up, test_config, TempDir};
use tower::ServiceExt;

const IMPORT_REGISTRANTS: usize = 1_000;
const DEPENDENTS_EACH: usize = 9;
const EXPORT_SIZES: [usize; 2] = [10_000, 50_000];
const PW: &str = "Sakura-2026x";

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now = CURRENT.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                    - layout.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Starts measuring a phase's heap: returns the level at its start.
fn phase_start() -> usize {
    let now = CURRENT.load(Ordering::Relaxed);
    PEAK.store(now, Ordering::Relaxed);
    now
}

/// The phase's peak heap above its start, in MiB.
fn phase_peak_mib(start: usize) -> f64 {
    round((PEAK.load(Ordering::Relaxed) - start) as f64 / 1048576.0, 1)
}

fn vm_hwm_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    round(kib / 1024.0, 1)
}

/// CPU seconds the process has used (user + system, all threads): on a shared machine the
/// wall time of a phase includes other people's work, its CPU time does not.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: f64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}

fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

async fn set_plan(scope: &TenantScope, size: u16) {
    let mut item = scope.get(&scope.key("PROFILE")).await.unwrap().unwrap();
    item.attrs.insert("plan".into(), size.into());
    scope.put(item, Condition::None).await.unwrap();
}

/// A text attribute of a stored item, or "".
fn text<'a>(item: &'a Item, name: &str) -> &'a str {
    item.str(name).unwrap_or_default()
}

/// The fair bare loop: what any download must do and nothing more. The same rows from the
/// same SQLite file through the store's query (the same pages), each sealed number opened
/// with the same cipher, each row written by the csv crate and every page encoded CP932.
/// Returns the bytes written and the rows.
async fn bare_loop(scope: &TenantScope, cipher: &TenantCipher) -> (usize, usize) {
    let mut cursor = None;
    let (mut bytes, mut rows) = (0, 0);
    loop {
        let page = scope
            .query(
                &Query::partition(scope.pk())
                    .prefix("REG#")
                    .limit(500)
                    .after(cursor),
            )
            .await
            .unwrap();
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        for item in &page.items {
            let id = item.key.sk.rsplit('#').next().unwrap();
            let sealed = text(item, "number");
            let number = cipher.open(id, sealed).unwrap();
            let dependent = item.key.sk.contains("#DEP#");
            w.write_record([
                if dependent {
                    "扶養家族"
                } else {
                    "登録者"
                },
                text(item, "code"),
                text(item, "attribute"),
                text(item, "family_name"),
                text(item, "given_name"),
                text(item, "family_kana"),
                text(item, "given_kana"),
                text(item, "birth_date"),
                text(item, "sex"),
                number.expose(),
                text(item, "relationship"),
                text(item, "hire_date"),
                text(item, "email"),
                "",
                text(item, "note"),
                "",
                "",
                "",
            ])
            .unwrap();
            rows += 1;
        }
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        bytes += encoding_rs::SHIFT_JIS.encode(&text).0.len();
        match page.next {
            Some(next) => cursor = Some(next),
            None => return (bytes, rows),
        }
    }
}

/// One download size: a fresh store with `n` registrants (and a dependent each), the download
/// through the router, then the bare loop over the same file.
async fn export_run(n: usize) -> serde_json::Value {
    let dir = TempDir::new("bench-export");
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let mut embedded = Embedded::open(dir.path(), "http://127.0.0.1:8080", clock.clone()).unwrap();
    // Pages read from the registrant partition (`REG#…`), counted: the walks of the rows.
    let pages = Arc::new(AtomicUsize::new(0));
    let counter = pages.clone();
    embedded.ports.store = HookedStore::wrap(embedded.ports.store, move |op, key| {
        if op == "query" && key.is_some_and(|k| k.sk == "REG#") {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    let outbox = embedded.outbox.clone();
    let app: Arc<App> = App::new(embedded.ports, test_config());
    let router = myna::web::all(app.clone());
    let (mut b, scope) = signed_up(&app, router.clone(), &outbox, "bench@example.jp", PW).await;
    set_plan(&scope, 1000).await;
    myna_tests::seed_sealed::registrants(&app, &scope, n, 100_000, |_| 1).await;
    // The download form counts from the registrant directory: in a container that has not
    // read it yet, this is where the directory is read and kept (the list's cache, O(N)).
    let heap = phase_start();
    let started = Instant::now();
    let form = b.get("/registrants/csv").await;
    let form_secs = started.elapsed().as_secs_f64();
    let form_heap = phase_peak_mib(heap);
    assert!(form.body.contains(&format!("<strong>{n}人</strong>")));
    let token = form.csrf().unwrap();

    // A cold key cache, as for a download more than 5 minutes after the last use.
    clock.advance(time::Duration::minutes(6));
    let unwraps_before = app.vault.unwrap_count();
    // The body is read frame by frame and dropped, as a socket would send it: the heap peak
    // is the download's own.
    let form = serde_urlencoded::to_string([
        ("csrf", token.as_str()),
        ("password", PW),
        ("purpose", "salary_withholding"),
        ("encoding", "cp932"),
    ])
    .unwrap();
    let cookie: Vec<String> = b.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut req = Request::post("/registrants/csv")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookie.join("; "))
        .body(Body::from(form))
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 50000))));
    let heap = phase_start();
    let cpu = cpu_seconds();
    let pages_before = pages.load(Ordering::Relaxed);
    let started = Instant::now();
    let res = router.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.into_body();
    let (mut bytes, mut lines, mut first_piece) = (0, 0, None);
    while let Some(frame) = body.frame().await {
        let frame = frame.unwrap();
        if let Some(data) = frame.data_ref() {
            first_piece.get_or_insert_with(|| started.elapsed().as_secs_f64());
            bytes += data.len();
            lines += data.iter().filter(|b| **b == b'\n').count();
        }
    }
    let export_secs = started.elapsed().as_secs_f64();
    let export_cpu = cpu_seconds() - cpu;
    let export_heap = phase_peak_mib(heap);
    let unwraps = app.vault.unwrap_count() - unwraps_before;
    let export_pages = pages.load(Ordering::Relaxed) - pages_before;
    assert_eq!(lines, 2 * n + 1);

    let tenant = tenants::load(&scope).await.unwrap().unwrap();
    let cipher = app.vault.cipher(&tenant.keys).await.unwrap();
    let heap = phase_start();
    let cpu = cpu_seconds();
    let pages_before = pages.load(Ordering::Relaxed);
    let started = Instant::now();
    let (bare_bytes, bare_rows) = bare_loop(&scope, &cipher).await;
    let bare_secs = started.elapsed().as_secs_f64();
    let bare_cpu = cpu_seconds() - cpu;
    let bare_heap = phase_peak_mib(heap);
    let bare_pages = pages.load(Ordering::Relaxed) - pages_before;
    assert_eq!(bare_rows, 2 * n);
    let rows = 2 * n;
    serde_json::json!({
        "registrants": n,
        "dependents": n,
        "encoding": "CP932",
        "bytes": bytes,
        "seconds": round(export_secs, 3),
        "cpu_seconds": round(export_cpu, 2),
        "first_piece_seconds": round(first_piece.unwrap_or(export_secs), 3),
        "rows_per_second": round(rows as f64 / export_secs, 0),
        "data_key_unwraps": unwraps,
        "heap_peak_mib": export_heap,
        "partition_pages_read": export_pages,
        "form": { "seconds": round(form_secs, 3), "heap_peak_mib": form_heap },
        "bare_loop": {
            "seconds": round(bare_secs, 3),
            "cpu_seconds": round(bare_cpu, 2),
            "rows_per_second": round(rows as f64 / bare_secs, 0),
            "bytes": bare_bytes,
            "heap_peak_mib": bare_heap,
            "partition_pages_read": bare_pages,
        },
        "export_to_bare_time_ratio": round(export_secs / bare_secs, 2),
        "export_to_bare_cpu_ratio": round(export_cpu / bare_cpu.max(0.01), 2),
    })
}

/// The import: upload, check, stage, then 登録 (the commit job) and the status page.
async fn import_run() -> serde_json::Value {
    let dir = TempDir::new("bench-bulk");
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let embedded = Embedded::open(dir.path(), "http://127.0.0.1:8080", clock.clone()).unwrap();
    let outbox = embedded.outbox.clone();
    let queue = embedded.queue;
    let app: Arc<App> = App::new(embedded.ports, test_config());
    let router = myna::web::all(app.clone());
    let (mut b, scope) = signed_up(&app, router, &outbox, "bench@example.jp", PW).await;
    set_plan(&scope, 1000).await;
    queue.drain();

    let file = import_csv(IMPORT_REGISTRANTS, DEPENDENTS_EACH);
    let rows = IMPORT_REGISTRANTS * (1 + DEPENDENTS_EACH);
    let heap = phase_start();
    let cpu = cpu_seconds();
    let started = Instant::now();
    let form = "/registrants/csv-upload";
    let staged = b.upload(form, form, &file, true).await;
    let upload_secs = started.elapsed().as_secs_f64();
    let upload_cpu = cpu_seconds() - cpu;
    assert_eq!(
        staged.status,
        StatusCode::OK,
        "{}",
        &staged.body[..2000.min(staged.body.len())]
    );
    let at = staged.body.find("/commit\"").unwrap();
    let id = staged.body[at - 26..at].to_string();
    let started = Instant::now();
    let res = b
        .post(
            &format!("/registrants/csv-upload/{id}/commit"),
            &[("csrf", &staged.csrf().unwrap())],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    // The 登録 button published `import.commit`: the import-commit job runs it to the end, as
    // the worker (or the Lambda function) would.
    for event in queue.drain() {
        myna::app::worker::handle(&app, &event).await.unwrap();
    }
    let mut polls = 0;
    loop {
        polls += 1;
        let page = b.get(&format!("/registrants/csv-upload/{id}")).await;
        if page.body.contains("CSVアップロードは完了です") {
            break;
        }
        assert!(polls < 1000, "import did not finish");
    }
    let commit_secs = started.elapsed().as_secs_f64();
    let commit_cpu = cpu_seconds() - cpu - upload_cpu;
    let import_heap = phase_peak_mib(heap);
    let imported = regs::select(&scope, &Filter::default())
        .await
        .unwrap()
        .0
        .len();
    assert_eq!(imported, IMPORT_REGISTRANTS);
    serde_json::json!({
                "rows": rows,
                "registrants": IMPORT_REGISTRANTS,
                "dependents_each": DEPENDENTS_EACH,
                "file_bytes": import_csv(IMPORT_REGISTRANTS, DEPENDENTS_EACH).len(),
                "upload_check_stage_seconds": round(upload_secs, 2),
                "upload_check_stage_cpu_seconds": round(upload_cpu, 2),
                "commit_seconds": round(commit_secs, 2),
                "commit_cpu_seconds": round(commit_cpu, 2),
                "status_page_requests": polls,
                "rows_per_second": round(rows as f64 / (upload_secs + commit_secs), 0),
                // Rows per CPU second: what the import achieves on an idle core, whatever
                // else the machine was doing during the run.
                "rows_per_cpu_second": round(rows as f64 / (upload_cpu + commit_cpu).max(0.01), 0),
                "heap_peak_mib": import_heap,
    })
}

#[tokio::main]
async fn main() {
    // BULK_PHASE=import or =export runs one phase alone (to profile it).
    let phase = std::env::var("BULK_PHASE").unwrap_or_default();
    let import = if phase == "export" {
        serde_json::Value::Null
    } else {
        import_run().await
    };
    let import_hwm = vm_hwm_mib();
    // Each size on its own store.
    let mut exports = Vec::new();
    if phase != "import" {
        for n in EXPORT_SIZES {
            exports.push(export_run(n).await);
        }
    }
    let report = serde_json::json!({
        "bulk_csv": {
            "import": import,
            "export": exports,
            "vm_hwm_mib": { "after_import": import_hwm, "after_export": vm_hwm_mib() },
        }
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
