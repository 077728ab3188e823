//! Faults (issue 14, item 5): a CSV import commit, a collection-mail blast and the month-end
//! purge, each interrupted at every call it makes to the Store, the Blobs and the Mailer (the
//! call fails instead of being made) and then run again the way production would (the same
//! event delivered again, the next daily purge), reach the end state of a run without faults:
//! the same stored items, the same people with the same numbers (opened), the same images, the
//! same audit entries with an intact chain, and the same mails, none sent twice, none lost.
//!
//! Each case starts from one prepared data directory (`myna_tests::faults::Prepared`), so the
//! ids and ciphertexts made before the job are the same in every run; what may legitimately
//! differ is only when things happened (the re-run comes later) and the random tokens of
//! registration links, which are named after the registrant their `LINK#` item points at.
//! Also here: a Blobs fault while an upload is accepted keeps the previous image.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use myna::app::keys::TenantScope;
use myna::app::{collection as coll, purge, staging, tenants};
use myna::ports::{Condition, Event};
use myna_tests::faults::{deliver, stored_items, Faults, Port, Prepared};
use myna_tests::fixtures::valid_number;
use myna_tests::TestApp;
use serde_json::Value;
use time::Duration;

const OWNER: &str = "owner@faults.example.jp";
const COMPANY: &str = "株式会社フォールト";

/// When an event comes again: after a blast's claim on a recipient has lapsed.
const EVENT_RETRY: Duration = Duration::minutes(11);
/// When the purge runs again: the next day.
const PURGE_RETRY: Duration = Duration::days(1);

/// Attributes that say when something happened (or hash what includes it): a re-run writes
/// them later than the first run would have.
const TIMES: [&str; 11] = [
    "at",
    "changed_at",
    "hash",
    "prev",
    "issued_at",
    "expires_at",
    "ttl",
    "started_at",
    "key_destroyed_at",
    "finished_at",
    "last_login_at",
];

/// The job under test and how production runs it.
#[allow(dead_code)]
enum Job {
    /// An event for the worker (import commit, blast): re-delivered while it fails.
    Event(Event),
    /// The scheduled purge: its next daily run, with the worker for the certificate mail.
    Purge,
}

impl Job {
    /// The first run; returns the events that failed.
    async fn first(&self, t: &TestApp) -> Vec<Event> {
        match self {
            Job::Event(e) => deliver(t, vec![e.clone()]).await,
            Job::Purge => {
                let _ = purge::run(&t.app).await;
                deliver(t, t.queue.drain()).await
            }
        }
    }

    /// Runs again, later, as production would, until nothing fails (a few rounds at most).
    async fn again(&self, t: &TestApp, mut failed: Vec<Event>) {
        for _ in 0..4 {
            match self {
                Job::Event(_) => {
                    t.clock.advance(EVENT_RETRY);
                    failed = deliver(t, failed).await;
                }
                Job::Purge => {
                    t.clock.advance(PURGE_RETRY);
                    let report = purge::run(&t.app).await.unwrap();
                    assert!(report.failed.is_empty(), "{report:?}");
                    failed.extend(t.queue.drain());
                    failed = deliver(t, failed).await;
                }
            }
        }
        assert!(failed.is_empty(), "still failing: {failed:?}");
    }
}

/// What a job leaves behind, normalised (see the module docs).
#[derive(Debug, PartialEq, Eq)]
struct EndState {
    items: Vec<String>,
    people: Vec<String>,
    files: Vec<String>,
    mails: BTreeMap<String, Vec<String>>,
}

async fn end_state(t: &TestApp) -> EndState {
    let items = stored_items(t.dir.path());
    // Link tokens are random: each is named after the registrant whose current link it is.
    let mut tokens: BTreeMap<String, String> = BTreeMap::new();
    for (_, _, sk, attrs) in &items {
        if let (Some(reg), Some(hash)) = (sk.strip_prefix("LINK#"), attrs["token_hash"].as_str()) {
            tokens.insert(hash.to_string(), format!("LINK({reg})"));
        }
    }
    let name_token = |s: String| {
        let mut s = s;
        for (hash, name) in &tokens {
            s = s.replace(hash, name);
        }
        s
    };
    let mut lines = Vec::new();
    for (table, pk, sk, attrs) in &items {
        let mut attrs = attrs.clone();
        if let Value::Object(map) = &mut attrs {
            for t in TIMES {
                map.remove(t);
            }
        }
        let line = name_token(format!("{table} {pk} {sk} {attrs}"));
        // A token no current link points at: only its state matters.
        let line = match sk.strip_prefix("TOKEN#") {
            Some(hash) if !tokens.contains_key(hash) => line.replace(hash, "unlinked"),
            _ => line,
        };
        lines.push(line);
    }
    // Every tenant's log (and the system log) still verifies.
    for tenant in t.app.audit.tenants().await.unwrap() {
        let v = t.app.audit.verify(Some(&tenant)).await.unwrap();
        assert!(v.broken_at.is_none(), "{v:?}");
    }
    assert!(t.app.audit.verify(None).await.unwrap().broken_at.is_none());
    EndState {
        items: lines,
        people: people(t, &items).await,
        files: files(t.dir.path()),
        mails: mails(t, &tokens).await,
    }
}

/// Every stored registrant and dependent with its number opened.
async fn people(t: &TestApp, items: &[(String, String, String, Value)]) -> Vec<String> {
    let mut out = Vec::new();
    for (table, pk, sk, attrs) in items {
        let Some(rest) = sk.strip_prefix("REG#") else {
            continue;
        };
        let (Some(sealed), "main") = (attrs["number"].as_str(), table.as_str()) else {
            continue;
        };
        let id = rest.rsplit('#').next().unwrap();
        let tenant_id = myna::app::keys::TenantId::parse(pk.trim_start_matches("T#")).unwrap();
        let scope = TenantScope::new(tenant_id, t.app.ports.store.clone());
        let tenant = tenants::load(&scope).await.unwrap().unwrap();
        let number = t
            .app
            .vault
            .open_number(&tenant.keys, id, sealed)
            .await
            .unwrap();
        out.push(format!(
            "{sk} {} {} {}",
            attrs["family_name"],
            attrs["given_name"],
            number.expose()
        ));
    }
    out
}

/// The image objects and key files on disk (names and sizes).
fn files(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.join("blobs"), dir.join("keys")];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                dirs.push(e.path());
            } else {
                let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
                out.push(format!("{rel} {}", e.metadata().unwrap().len()));
            }
        }
    }
    out.sort();
    out
}

/// Every mail in the outbox by recipient: subject and body, the link in it named after whose
/// current link it is (or what state it is in), the certificate's times left out.
async fn mails(t: &TestApp, tokens: &BTreeMap<String, String>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for sent in t.outbox.list().unwrap() {
        let mut body = String::new();
        for line in sent.mail.body.lines() {
            if line.contains("日本時間") {
                continue;
            }
            match line.find("/r/") {
                Some(at) => body.push_str(&link_name(t, &line[at..], tokens).await),
                None => body.push_str(line),
            }
            body.push('\n');
        }
        out.entry(sent.mail.to.clone())
            .or_default()
            .push(format!("{}\n{body}", sent.mail.subject));
    }
    for list in out.values_mut() {
        list.sort();
    }
    out
}

async fn link_name(t: &TestApp, path: &str, tokens: &BTreeMap<String, String>) -> String {
    let mut parts = path.trim().trim_start_matches("/r/").split('/');
    let (Some(tenant), Some(token)) = (parts.next(), parts.next()) else {
        return "LINK(malformed)".into();
    };
    let scope = TenantScope::new(
        myna::app::keys::TenantId::parse(tenant).unwrap(),
        t.app.ports.store.clone(),
    );
    match coll::resolve(&t.app, &scope, token).await.unwrap() {
        coll::LinkState::Valid { token_hash, .. } => tokens
            .get(&token_hash)
            .cloned()
            .unwrap_or_else(|| "LINK(not current)".into()),
        other => format!("LINK({other:?})"),
    }
}

/// Runs `job` on `prepared` without faults and then with each call failing in turn; every
/// run must end as the fault-free one did. Returns how many faults were injected.
async fn every_fault_reaches_the_same_end_state(prepared: &Prepared, job: &Job) -> usize {
    // GIVEN the job run once without faults (and "again", which must change nothing)
    let faults = Faults::new();
    let t = prepared.open(&faults);
    faults.count();
    let failed = job.first(&t).await;
    assert!(failed.is_empty(), "fault-free run failed: {failed:?}");
    let calls: Vec<(Port, usize)> = Port::ALL.iter().map(|p| (*p, faults.calls(*p))).collect();
    job.again(&t, failed).await;
    let expected = end_state(&t).await;
    drop(t);
    let mut injected = 0;
    for (port, count) in calls {
        for n in 1..=count {
            // WHEN call n of the port fails, and the job is run again as production would
            let faults = Faults::new();
            let t = prepared.open(&faults);
            faults.arm(port, n);
            let failed = job.first(&t).await;
            let op = faults.fired();
            assert!(op.is_some(), "{port:?} call {n} never came");
            faults.disarm();
            job.again(&t, failed).await;
            // THEN the end state is the fault-free one: nothing lost, nothing twice
            let got = end_state(&t).await;
            let what = format!("{port:?} call {n} of {count} ({})", op.unwrap());
            for (to, list) in &expected.mails {
                assert_eq!(
                    got.mails.get(to).map_or(0, Vec::len),
                    list.len(),
                    "mails to {to} after {what}"
                );
            }
            let mails = |m: &BTreeMap<String, Vec<String>>| {
                m.iter()
                    .flat_map(|(to, l)| l.iter().map(move |b| format!("{to}: {b}")))
                    .collect::<Vec<_>>()
            };
            same(&mails(&got.mails), &mails(&expected.mails), "mails", &what);
            same(&got.people, &expected.people, "people", &what);
            same(&got.files, &expected.files, "files", &what);
            same(&got.items, &expected.items, "stored items", &what);
            injected += 1;
        }
    }
    injected
}

/// Fails with only the lines that differ (a whole state is too long to read).
fn same(got: &[String], expected: &[String], what: &str, after: &str) {
    if got == expected {
        return;
    }
    let missing: Vec<&String> = expected.iter().filter(|l| !got.contains(l)).collect();
    let extra: Vec<&String> = got.iter().filter(|l| !expected.contains(l)).collect();
    panic!(
        "{what} differ after {after}\n missing: {missing:#?}\n extra: {extra:#?}\n ({} vs {} lines)",
        got.len(),
        expected.len()
    );
}

/// Leaves the queue empty and returns the events of `kind` that were in it.
fn take_events(t: &TestApp, kind: &str) -> Vec<Event> {
    let all = t.queue.drain();
    all.into_iter().filter(|e| e.kind == kind).collect()
}

const HEADER: &str = "種別,社員コード,属性,氏名（姓）,氏名（名）,フリガナ（セイ）,フリガナ（メイ）,生年月日,性別,マイナンバー,続柄,入社日,メールアドレス,グループ,備考";

/// A file of `n` registrants with numbers, the first with a dependent (from about 33 rows on,
/// the import takes more than one transaction).
fn import_file(n: u64) -> String {
    let mut out = vec![HEADER.to_string()];
    for i in 0..n {
        out.push(format!(
            "登録者,F{i:03},従業員1,社員,{i},シャイン,タロウ,1980/1/1,男性,{},,2020/4/1,,,",
            valid_number(i)
        ));
        if i == 0 {
            out.push(format!(
                "扶養家族,F000,扶養者,社員,花子,,,2010/2/2,女性,{},子,,,,",
                valid_number(1000)
            ));
        }
    }
    out.join("\n") + "\n"
}

/// An owner on プラン300 who uploaded `n` registrants and pressed 登録: the commit event
/// not yet run.
async fn staged_import(n: u64) -> (Prepared, Job) {
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    let scope = t.scope_of(OWNER).await;
    let mut profile = scope.get(&scope.key("PROFILE")).await.unwrap().unwrap();
    profile.attrs.insert("plan".into(), 300.into());
    scope.put(profile, Condition::None).await.unwrap();
    let page = "/registrants/csv-upload";
    let staged = b.upload(page, page, import_file(n).as_bytes(), true).await;
    assert_eq!(staged.status, StatusCode::OK, "{}", staged.body);
    b.confirm_import(&staged).await;
    let events = take_events(&t, staging::COMMIT_JOB);
    assert_eq!(events.len(), 1);
    let event = events.into_iter().next().unwrap();
    (Prepared::copy(&t, &b.cookies), Job::Event(event))
}

#[tokio::test]
async fn an_import_commit_reaches_the_same_end_state_when_any_call_fails_and_the_event_comes_again()
{
    for rows in [3, 40] {
        let (prepared, job) = staged_import(rows).await;
        let injected = every_fault_reaches_the_same_end_state(&prepared, &job).await;
        assert!(injected > 5, "{rows} rows: {injected} faults");
    }
}
