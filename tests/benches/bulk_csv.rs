//! Benchmark: CSVアップロード and CSVダウンロード on the embedded store, through the HTTP router.
//!
//! - Import: a generated 10,000-row CSV (1,000 registrants, the largest plan, with 9
//!   dependents each), uploaded (read, checked, numbers sealed, staged) and committed (the 登録
//!   button, then the status page until done): rows per second for each part.
//! - Export: 10,000 registrants with numbers (seeded directly, like the list benchmark),
//!   downloaded in CP932: rows per second, data-key unwraps per download (with a cold key
//!   cache), and the same sealed values opened and written by a bare loop in the same run
//!   (the ratio is what the product adds: session, password check, filter, audit, streaming).
//! - Memory: the heap's peak above its level at the start of each phase (a counting global
//!   allocator), and the process's VmHWM.
//!
//! Prints JSON on stdout (`infra/bench.sh bulk` writes it to docs/perf/).
//! Run: `cargo bench -p myna-tests --bench bulk_csv`

// A benchmark: a failed `unwrap` stops the run, which is what it should do.
#![allow(clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::http::StatusCode;
use myna::adapters::embedded::Embedded;
use myna::app::keys::TenantScope;
use myna::app::person::{Names, PersonCore};
use myna::app::registrants::{self as regs, Filter, Registrant, SealedNumber};
use myna::app::tenants::{self, Counters};
use myna::app::App;
use myna::domain::my_number::MyNumber;
use myna::domain::person::{Attribute, Sex};
use myna::domain::status::Status;
use myna::ports::store::{Condition, WriteOp};
use myna::ports::ManualClock;
use myna_tests::seed::{import_csv, my_number as number};
use myna_tests::{signed_up, test_config, TempDir};

const IMPORT_REGISTRANTS: usize = 1_000;
const DEPENDENTS_EACH: usize = 9;
const EXPORT_REGISTRANTS: usize = 10_000;
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

fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

async fn set_plan(scope: &TenantScope, size: u16) {
    let mut item = scope.get(&scope.key("PROFILE")).await.unwrap().unwrap();
    item.attrs.insert("plan".into(), size.into());
    scope.put(item, Condition::None).await.unwrap();
}

/// 10,000 registrants with sealed numbers, written straight to the store.
async fn seed_export(app: &App, scope: &TenantScope) -> Vec<Registrant> {
    let tenant = tenants::load(scope).await.unwrap().unwrap();
    let cipher = app.vault.cipher(&tenant.keys).await.unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut ops = Vec::new();
    let mut out = Vec::new();
    for i in 0..EXPORT_REGISTRANTS {
        let id = ulid::Ulid::new().to_string();
        let n = MyNumber::parse(&number(100_000 + i as u64)).unwrap();
        let mut person = PersonCore::new(
            Names {
                family_name: format!("社員{}", i % 97),
                given_name: "太郎".into(),
                family_kana: "シャイン".into(),
                given_kana: "タロウ".into(),
            },
            Some(Sex::ALL[i % 2]),
            Some(time::macros::date!(1980 - 01 - 01)),
            now,
        );
        person.number = Some(SealedNumber {
            sealed: cipher.seal(&id, &n),
            fingerprint: cipher.fingerprint(&n).unwrap(),
            last4: n.last4().to_string(),
        });
        person.status = Status::Completed;
        let r = Registrant {
            id: id.clone(),
            group_id: None,
            code: format!("X{i:05}"),
            person,
            attribute: Attribute::ALL[i % 2],
            email: Some(format!("staff{i}@example.jp")),
            password_hash: None,
            login_lock: false,
            hire_date: None,
            note: String::new(),
            dependents: 0,
            dependents_unregistered: 0,
            dependents_pending: 0,
            dependents_status: None,
            retired_on: None,
            delete_on: None,
            last_declaration_year: None,
        };
        ops.push(WriteOp::put(r.to_item(scope)));
        out.push(r);
    }
    scope.batch_write(ops).await.unwrap();
    let delta = Counters {
        registrants: EXPORT_REGISTRANTS as i64,
        ..Default::default()
    };
    scope
        .transact(vec![Counters::delta_op(scope, &delta).unwrap()])
        .await
        .unwrap();
    out
}

/// The bare work of a download: open every number and write its row, nothing else.
fn bare_loop(cipher: &myna::app::vault::TenantCipher, rows: &[Registrant]) -> usize {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for r in rows {
        let n = r.person.number.as_ref().unwrap();
        let number = cipher.open(&r.id, &n.sealed).unwrap();
        let birth = r
            .person
            .birth_date
            .map(|d| d.to_string())
            .unwrap_or_default();
        w.write_record([
            "登録者",
            &r.code,
            r.attribute.label(),
            &r.person.family_name,
            &r.person.given_name,
            &r.person.family_kana,
            &r.person.given_kana,
            &birth,
            r.person.sex.map_or("", Sex::label),
            number.expose(),
            "",
            "",
            r.email.as_deref().unwrap_or_default(),
            "",
            &r.note,
        ])
        .unwrap();
    }
    let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
    encoding_rs::SHIFT_JIS.encode(&text).0.len()
}

#[tokio::main]
async fn main() {
    // ---- import
    let dir = TempDir::new("bench-bulk");
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let embedded = Embedded::open(dir.path(), "http://127.0.0.1:8080", clock.clone()).unwrap();
    let outbox = embedded.outbox.clone();
    let app: Arc<App> = App::new(embedded.ports, test_config());
    let router = myna::web::all(app.clone());
    let (mut b, scope) = signed_up(&app, router, &outbox, "bench@example.jp", PW).await;
    set_plan(&scope, 1000).await;

    let file = import_csv(IMPORT_REGISTRANTS, DEPENDENTS_EACH);
    let rows = IMPORT_REGISTRANTS * (1 + DEPENDENTS_EACH);
    let heap = phase_start();
    let started = Instant::now();
    let form = "/registrants/csv-upload";
    let staged = b.upload(form, form, &file, true).await;
    let upload_secs = started.elapsed().as_secs_f64();
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
    let import_heap = phase_peak_mib(heap);
    let imported = regs::select(&scope, &Filter::default())
        .await
        .unwrap()
        .0
        .len();
    assert_eq!(imported, IMPORT_REGISTRANTS);
    let import_hwm = vm_hwm_mib();

    // ---- export, on a second tenant with 10,000 registrants
    let dir2 = TempDir::new("bench-export");
    let clock2 = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let embedded = Embedded::open(dir2.path(), "http://127.0.0.1:8080", clock2.clone()).unwrap();
    let outbox = embedded.outbox.clone();
    let app2: Arc<App> = App::new(embedded.ports, test_config());
    let router2 = myna::web::all(app2.clone());
    let (mut b2, scope2) = signed_up(&app2, router2, &outbox, "bench@example.jp", PW).await;
    let seeded = seed_export(&app2, &scope2).await;
    let form = b2.get("/registrants/csv").await;
    let token = form.csrf().unwrap();

    // A cold key cache, as for a download more than 5 minutes after the last use.
    clock2.advance(time::Duration::minutes(6));
    let unwraps_before = app2.vault.unwrap_count();
    let heap = phase_start();
    let started = Instant::now();
    let file = b2
        .post(
            "/registrants/csv",
            &[
                ("csrf", &token),
                ("password", PW),
                ("purpose", "salary_withholding"),
                ("encoding", "cp932"),
            ],
        )
        .await;
    let export_secs = started.elapsed().as_secs_f64();
    let export_heap = phase_peak_mib(heap);
    assert_eq!(file.status, StatusCode::OK);
    let unwraps = app2.vault.unwrap_count() - unwraps_before;
    let lines = file
        .bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    assert_eq!(lines, EXPORT_REGISTRANTS + 1);

    // Of the download's time, what reading the rows from the store takes (the list's walk).
    let started = Instant::now();
    let selected = regs::select(&scope2, &Filter::default()).await.unwrap().0;
    let select_secs = started.elapsed().as_secs_f64();
    assert_eq!(selected.len(), EXPORT_REGISTRANTS);

    let tenant = tenants::load(&scope2).await.unwrap().unwrap();
    let cipher = app2.vault.cipher(&tenant.keys).await.unwrap();
    let heap = phase_start();
    let started = Instant::now();
    let bare_bytes = bare_loop(&cipher, &seeded);
    let bare_secs = started.elapsed().as_secs_f64();
    let bare_heap = phase_peak_mib(heap);

    let report = serde_json::json!({
        "bulk_csv": {
            "import": {
                "rows": rows,
                "registrants": IMPORT_REGISTRANTS,
                "dependents_each": DEPENDENTS_EACH,
                "file_bytes": import_csv(IMPORT_REGISTRANTS, DEPENDENTS_EACH).len(),
                "upload_check_stage_seconds": round(upload_secs, 2),
                "commit_seconds": round(commit_secs, 2),
                "status_page_requests": polls,
                "rows_per_second": round(rows as f64 / (upload_secs + commit_secs), 0),
                "heap_peak_mib": import_heap,
            },
            "export": {
                "registrants": EXPORT_REGISTRANTS,
                "encoding": "CP932",
                "bytes": file.bytes.len(),
                "seconds": round(export_secs, 3),
                "rows_per_second": round(EXPORT_REGISTRANTS as f64 / export_secs, 0),
                "data_key_unwraps": unwraps,
                "of_which_reading_the_rows_seconds": round(select_secs, 3),
                "heap_peak_mib": export_heap,
            },
            "bare_loop": {
                "seconds": round(bare_secs, 3),
                "rows_per_second": round(EXPORT_REGISTRANTS as f64 / bare_secs, 0),
                "bytes": bare_bytes,
                "heap_peak_mib": bare_heap,
                "export_to_bare_time_ratio": round(export_secs / bare_secs, 2),
            },
            "vm_hwm_mib": { "after_import": import_hwm, "after_export": vm_hwm_mib() },
        }
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
