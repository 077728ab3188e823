//! Faults (issue 14, item 5): a CSV import commit, a collection-mail blast and the month-end
//! purge, each interrupted at every call it makes to the Store, the Blobs and the Mailer (the
//! call fails instead of being made) and then run again the way production would (the same
//! event delivered again once a blast's claim has lapsed, or, when the event's retries were
//! spent, the owner's look at the blast's result page or the import's status page; the next
//! daily purge), reach the end state of a run without faults:
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
use myna::app::{cancel, collection as coll, purge, staging, tenants};
use myna::ports::{BlobScope, Clock, Condition, Event};
use myna_tests::faults::{deliver, stored_items, Faults, Port, Prepared};
use myna_tests::fixtures::{dependent, jpeg, person, png, valid_number, NUMBER};
use myna_tests::{Browser, TestApp};
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
enum Job {
    /// An event for the worker (import commit, blast): re-delivered while it fails.
    Event(Event),
    /// The scheduled purge: its next daily run, with the worker for the certificate mail.
    Purge,
    /// An event that is never delivered again after it failed (its retries were spent): the
    /// owner's look at its page (`.1`: a blast's result, an import's status) carries it on.
    Seen(Event, String),
}

impl Job {
    /// The first run; returns the events that failed.
    async fn first(&self, t: &TestApp) -> Vec<Event> {
        match self {
            Job::Event(e) | Job::Seen(e, _) => deliver(t, vec![e.clone()]).await,
            Job::Purge => {
                let _ = purge::run(&t.app).await;
                deliver(t, t.queue.drain()).await
            }
        }
    }

    /// Runs again, later, as production would, until nothing fails (a few rounds at most).
    async fn again(&self, t: &TestApp, cookies: &BTreeMap<String, String>, mut failed: Vec<Event>) {
        for round in 0..4 {
            match self {
                Job::Event(_) if failed.is_empty() => return,
                Job::Purge if failed.is_empty() && round > 0 => return,
                Job::Seen(_, page) => {
                    t.clock.advance(EVENT_RETRY);
                    let mut owner = Browser::new(t.router.clone(), "203.0.113.10");
                    owner.cookies = cookies.clone();
                    let shown = owner.get(page).await;
                    assert_eq!(shown.status, StatusCode::OK, "{page}");
                    // (What the first run left failing is lost: only what the page does counts.)
                    failed = deliver(t, t.queue.drain()).await;
                }
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
        assert!(
            failed.is_empty() || matches!(self, Job::Seen(..)),
            "still failing: {failed:?}"
        );
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
        if sk.ends_with("#NUDGE") {
            // When a stalled blast's page handed it on: the run that stalled it, not its end.
            continue;
        }
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
    // (Random token names sort at random: the order after naming them is the comparable one.)
    lines.sort();
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
/// run must end as the fault-free one did. Returns the fault-free end state and how many
/// faults were injected.
async fn every_fault_reaches_the_same_end_state(
    prepared: &Prepared,
    job: &Job,
) -> (EndState, usize) {
    // GIVEN the job run once without faults (and "again", which must change nothing)
    let faults = Faults::new();
    let t = prepared.open(&faults);
    faults.count();
    let failed = job.first(&t).await;
    assert!(failed.is_empty(), "fault-free run failed: {failed:?}");
    let calls: Vec<(Port, usize)> = Port::ALL.iter().map(|p| (*p, faults.calls(*p))).collect();
    job.again(&t, &prepared.cookies, failed).await;
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
            job.again(&t, &prepared.cookies, failed).await;
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
    (expected, injected)
}

/// `job`'s event, carried on by the owner's page `<base>/<id>` (the id the event's `field`
/// names) instead of a re-delivery.
fn seen(job: Job, field: &str, base: &str) -> Job {
    let Job::Event(event) = job else {
        panic!("not an event job")
    };
    let page = format!("{base}/{}", event.detail[field].as_str().unwrap());
    Job::Seen(event, page)
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
    // (3 rows: the one-transaction commit; 35: two chunks, the flip and the tidy)
    for rows in [3, 35] {
        // GIVEN a staged import whose commit event has not run
        let (prepared, job) = staged_import(rows).await;
        // WHEN / THEN (see the function)
        let (expected, injected) = every_fault_reaches_the_same_end_state(&prepared, &job).await;
        // AND the fault-free run imported everyone, numbers and all, and logged it once
        assert_eq!(expected.people.len(), rows as usize + 1);
        assert!(expected.people[0].ends_with(&valid_number(0)));
        let logged = expected
            .items
            .iter()
            .filter(|l| l.contains("\"action\":\"csv.import\""))
            .count();
        assert_eq!(logged, 1);
        assert!(injected > 5, "{rows} rows: {injected} faults");
    }
}

#[tokio::test]
async fn an_import_stopped_by_a_failure_is_finished_when_the_owner_views_its_status_page() {
    // GIVEN a staged import of two chunks whose failed event is never delivered again
    let (prepared, job) = staged_import(35).await;
    let job = seen(job, "import", "/registrants/csv-upload");
    // WHEN any call fails and, once the import stood still, the owner opens its status page
    let (expected, injected) = every_fault_reaches_the_same_end_state(&prepared, &job).await;
    // THEN everyone is imported, as without the fault
    assert_eq!(expected.people.len(), 36);
    assert!(injected > 5, "{injected} faults");
}

const ALICE: &str = "alice@example.jp";
const BOB: &str = "bob@example.jp";
const CAROL: &str = "carol@example.jp";

#[tokio::test]
async fn a_blast_left_standing_by_a_failure_is_finished_when_the_owner_views_its_result_page() {
    // GIVEN a blast to three people whose failed event is never delivered again
    let (prepared, job) = started_blast().await;
    let job = seen(job, "blast", "/collection/blasts");
    // WHEN any call fails and, after the claim lapsed, the owner opens the result page
    let (expected, injected) = every_fault_reaches_the_same_end_state(&prepared, &job).await;
    // THEN everyone is mailed exactly once, as without the fault
    for to in [ALICE, BOB, CAROL] {
        assert_eq!(expected.mails[to].len(), 1, "{to}");
    }
    assert!(injected > 10, "{injected} faults");
}

#[tokio::test]
async fn a_recipient_is_reported_failed_when_the_mail_server_fails_them_three_times() {
    // GIVEN a blast to three people
    let (prepared, job) = started_blast().await;
    let Job::Event(event) = job else {
        unreachable!()
    };
    let faults = Faults::new();
    let t = prepared.open(&faults);
    // WHEN the mail server fails the first send of each of three deliveries
    for attempt in 1..=3 {
        faults.arm(Port::Mailer, 1);
        let failed = deliver(&t, vec![event.clone()]).await;
        assert_eq!(failed.is_empty(), attempt == 3, "delivery {attempt}");
    }
    // THEN that recipient is reported with the reason and the others were mailed once
    let mut owner = Browser::new(t.router.clone(), "203.0.113.10");
    owner.cookies = prepared.cookies.clone();
    let id = event.detail["blast"].as_str().unwrap();
    let page = owner.get(&format!("/collection/blasts/{id}")).await;
    assert!(page.headers.get("refresh").is_none(), "{}", page.body);
    assert!(
        page.body
            .contains("メールサーバの一時的なエラーで送信できませんでした"),
        "{}",
        page.body
    );
    let mails = end_state(&t).await.mails;
    let mailed: Vec<usize> = [ALICE, BOB, CAROL]
        .iter()
        .map(|to| mails.get(*to).map_or(0, Vec::len))
        .collect();
    assert_eq!(mailed.iter().sum::<usize>(), 2, "{mailed:?}");
    assert!(mailed.iter().all(|n| *n <= 1), "{mailed:?}");
}

/// An owner who printed a QR code for Alice (her first link) and has just sent a blast (with a
/// message, a reply-to and a copy to themself) to Alice, Bob and Carol: the blast event not
/// yet run.
async fn started_blast() -> (Prepared, Job) {
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    b.quick(
        &[
            ("有栖", "花子", ALICE),
            ("坊", "一郎", BOB),
            ("唐木", "次郎", CAROL),
        ],
        "list",
    )
    .await;
    let ids = t.send_list_ids(OWNER).await;
    let scope = t.scope_of(OWNER).await;
    for id in &ids {
        let r = myna::app::registrants::get(&scope, id)
            .await
            .unwrap()
            .unwrap();
        if r.email.as_deref() == Some(ALICE) {
            coll::issue_link(&t.app, &scope, id).await.unwrap();
        }
    }
    b.send_collection_mail(
        "/collection/send-list",
        &ids,
        &[
            ("message", "今月末までにご登録ください。"),
            ("reply_to", "jinji@example.jp"),
            ("copy", "on"),
        ],
    )
    .await;
    let events = take_events(&t, coll::BLAST_JOB);
    assert_eq!(events.len(), 1);
    let event = events.into_iter().next().unwrap();
    (Prepared::copy(&t, &b.cookies), Job::Event(event))
}

#[tokio::test]
async fn a_blast_mails_everyone_exactly_once_when_any_call_fails_and_the_event_comes_again() {
    // GIVEN a blast to three people, one of them mailed before
    let (prepared, job) = started_blast().await;
    // WHEN / THEN (see the function)
    let (expected, injected) = every_fault_reaches_the_same_end_state(&prepared, &job).await;
    // AND the fault-free run mailed each once, with their own current link, and voided
    // Alice's earlier one
    for to in [ALICE, BOB, CAROL] {
        let mails = &expected.mails[to];
        assert_eq!(mails.len(), 1, "{to}: {mails:#?}");
        let link = mails[0].lines().find(|l| l.contains("LINK(")).unwrap();
        assert!(
            link.starts_with("LINK(") && !link.contains("Replaced"),
            "{link}"
        );
    }
    let replaced = expected
        .items
        .iter()
        .filter(|l| l.contains("TOKEN#unlinked") && l.contains("\"state\":\"replaced\""))
        .count();
    assert_eq!(replaced, 1);
    // AND the copy went to the owner once
    assert_eq!(
        expected.mails[OWNER]
            .iter()
            .filter(|m| m.starts_with("[控え]"))
            .count(),
        1
    );
    assert!(injected > 10, "{injected} faults");
}

/// A company with a registrant, a dependent (both with numbers) and a stored image, whose
/// cancellation was requested and whose 解約日 has ended: the month-end purge not yet run.
async fn cancelled_company() -> (Prepared, Job) {
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    let res = b
        .add_registrant(&person("山田", "太郎", "K-001", NUMBER), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let id = res.registrant_id();
    let res = b
        .add_dependent(
            &id,
            &dependent("花子", "child", "dependent", &valid_number(7)),
            &[],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let scope = t.scope_of(OWNER).await;
    let tenant = tenants::load(&scope).await.unwrap().unwrap();
    let blobs = BlobScope {
        tenant_id: scope.tenant().to_string(),
        master_key: tenant.keys.master_key.clone(),
    };
    t.app
        .ports
        .blobs
        .put(&blobs, "images/card.jpg", jpeg(), "image/jpeg")
        .await
        .unwrap();
    b.request_cancellation().await;
    // The day after the 解約日, Japan time.
    let now = t.clock.now();
    let after = cancel::due_date(now)
        .next_day()
        .unwrap()
        .midnight()
        .assume_offset(time::macros::offset!(+9));
    t.clock.advance(after - now + Duration::hours(1));
    t.run_jobs().await;
    (Prepared::copy(&t, &b.cookies), Job::Purge)
}

#[tokio::test]
async fn the_purge_destroys_everything_and_mails_one_certificate_when_any_call_fails_and_it_runs_again(
) {
    // GIVEN a cancelled company past its 解約日
    let (prepared, job) = cancelled_company().await;
    // WHEN / THEN (see the function)
    let (expected, injected) = every_fault_reaches_the_same_end_state(&prepared, &job).await;
    // AND the fault-free run left nothing of the company but its number-free purge record,
    // no image, no key, and mailed one certificate with the counts
    let tenant_items: Vec<&String> = expected
        .items
        .iter()
        .filter(|l| l.contains("T#") && !l.contains("PURGES"))
        .collect();
    assert!(tenant_items.is_empty(), "{tenant_items:#?}");
    assert!(expected.people.is_empty());
    assert_eq!(expected.files, ["blobs/.upload-signing.key 32"]);
    let certificates: Vec<&String> = expected.mails[OWNER]
        .iter()
        .filter(|m| m.starts_with(purge::CERTIFICATE_SUBJECT))
        .collect();
    assert_eq!(certificates.len(), 1);
    for text in [
        "登録者: 1人",
        "扶養家族: 1人",
        "画像（通知カード・身分証明書等）: 1件",
    ] {
        assert!(
            certificates[0].contains(text),
            "{text}: {}",
            certificates[0]
        );
    }
    assert!(injected > 10, "{injected} faults");
}

#[tokio::test]
async fn a_replacement_photo_keeps_the_previous_one_when_any_storage_call_fails() {
    // GIVEN a registrant whose 番号確認書類 is a verified PNG
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    let id = b
        .add_registrant(&person("画像", "太郎", "U001", NUMBER), &[])
        .await
        .registrant_id();
    let base = format!("/registrants/{id}/images/number_proof");
    replace_photo(&t, &mut b, &base, "image/png", png()).await;
    let prepared = Prepared::copy(&t, &b.cookies);
    drop((t, b));
    let open = |faults: &std::sync::Arc<Faults>| {
        let t = prepared.open(faults);
        let mut b = Browser::new(t.router.clone(), "203.0.113.10");
        b.cookies = prepared.cookies.clone();
        (t, b)
    };
    let faults = Faults::new();
    let (t, mut b) = open(&faults);
    faults.count();
    assert_eq!(
        replace_photo(&t, &mut b, &base, "image/jpeg", jpeg()).await,
        StatusCode::OK
    );
    let calls = faults.calls(Port::Blobs);
    assert!(calls >= 3, "{calls} storage calls");
    let mut refused = 0;
    for n in 1..=calls {
        // WHEN a JPEG replaces it and storage call n fails
        let faults = Faults::new();
        let (t, mut b) = open(&faults);
        let scope = t.scope_of(OWNER).await;
        let logged = uploads_logged(&t, &scope).await;
        faults.arm(Port::Blobs, n);
        let status = replace_photo(&t, &mut b, &base, "image/jpeg", jpeg()).await;
        let what = format!("call {n} ({:?})", faults.fired());
        faults.disarm();
        // THEN either the upload is refused and the approver still sees the PNG, or (the
        // failed call was only the old object's clean-up) it is taken, shown and logged
        if status == StatusCode::OK {
            assert_eq!(shown(&mut b, &id).await, jpeg(), "{what}");
            assert_eq!(uploads_logged(&t, &scope).await, logged + 1, "{what}");
            continue;
        }
        refused += 1;
        assert_eq!(shown(&mut b, &id).await, png(), "{what}");
        assert_eq!(uploads_logged(&t, &scope).await, logged, "{what}");
        // AND sending it again works
        let again = replace_photo(&t, &mut b, &base, "image/jpeg", jpeg()).await;
        assert_eq!(again, StatusCode::OK, "{what}");
        assert_eq!(shown(&mut b, &id).await, jpeg(), "{what}");
    }
    assert_eq!(refused, calls - 1, "only the clean-up may fail unnoticed");
}

/// A photo through the browser's path: ticket, the upload straight to storage, 完了; the
/// status of the ticket request if it failed, else of 完了.
async fn replace_photo(
    t: &TestApp,
    b: &mut Browser,
    base: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> StatusCode {
    let (status, ticket) = b.ticket(&format!("{base}/ticket"), content_type).await;
    if status != StatusCode::OK {
        return status;
    }
    assert!(t.put(&ticket, content_type, bytes).await);
    let upload = ticket["upload"].as_str().unwrap();
    b.complete(&format!("{base}/complete"), upload).await.0
}

/// The bytes the approval screen serves for the registrant's 番号確認書類.
async fn shown(b: &mut Browser, id: &str) -> Vec<u8> {
    let page = b.get(&format!("/approval/{id}/images/number_proof")).await;
    assert_eq!(page.status, StatusCode::OK);
    page.bytes
}

/// How many uploads the tenant's operation log holds.
async fn uploads_logged(t: &TestApp, scope: &TenantScope) -> usize {
    let entries = t.audit_of(scope).await;
    entries
        .iter()
        .filter(|e| e.action == "image.upload")
        .count()
}
