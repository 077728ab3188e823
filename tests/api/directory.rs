//! The registrant list's directory (issue 15): every write path shows in the list at once, in
//! this container and in another one whose copy was warm (a second product over the same data
//! file, as a second Lambda container shares the table), concurrent writers lose nothing,
//! tenants stay apart, and data written before the directory existed lists as before. Store
//! calls are counted by a hook on the second container's store; nothing here is timed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use myna::adapters::embedded::Embedded;
use myna::app::directory;
use myna::app::keys::TenantScope;
use myna::app::person::{Names, PersonCore};
use myna::app::registrants::{self as regs, Filter, ListPage, Registrant};
use myna::app::App;
use myna::domain::status::Status;
use myna::ports::store::{Condition, Query, StoreError, WriteOp};
use myna_tests::fixtures::{bare_registrant, dependent, person};
use myna_tests::store_hook::HookedStore;
use myna_tests::{test_config, Browser, TestApp};

const COMPANY: &str = "株式会社ディレクトリ";
const NUMBER: &str = "621498320257";
/// No My Number typed.
const NUMBER_FREE: &str = "";

/// Another container: its own product (and so its own copy of the directory) over the same
/// data, its store calls counted.
struct Container {
    app: Arc<App>,
    calls: Arc<AtomicUsize>,
}

fn second_container(t: &TestApp) -> Container {
    let mut embedded = Embedded::open(t.dir.path(), "http://127.0.0.1:8080", t.clock.clone())
        .expect("the same data directory opens twice");
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    embedded.ports.store = HookedStore::wrap(embedded.ports.store, move |_, _| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    Container {
        app: App::new(embedded.ports, test_config()),
        calls,
    }
}

impl Container {
    fn scope(&self, of: &TenantScope) -> TenantScope {
        TenantScope::new(of.tenant().clone(), self.app.ports.store.clone())
    }

    /// The list page for `filter` in this container, and the Store calls it took.
    async fn list(&self, of: &TenantScope, filter: Filter) -> (ListPage, usize) {
        let before = self.calls.load(Ordering::SeqCst);
        let page = regs::list(&self.scope(of), &filter).await.unwrap();
        let calls = self.calls.load(Ordering::SeqCst) - before;
        assert_eq!(page.store_calls, calls, "the page reports what it made");
        (page, calls)
    }

    async fn codes(&self, of: &TenantScope, filter: Filter) -> Vec<String> {
        let (page, _) = self.list(of, filter).await;
        page.rows.iter().map(|r| r.code.clone()).collect()
    }
}

fn filter(set: impl FnOnce(&mut Filter)) -> Filter {
    let mut f = Filter::default();
    set(&mut f);
    f
}

async fn edit(b: &mut Browser, id: &str, fields: &[(&str, &str)]) {
    let path = format!("/registrants/{id}/edit");
    let confirm = b.submit(&path, &path, fields).await;
    let saved = b.post_confirm(&confirm, &path, &[]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
}

async fn add_group(b: &mut Browser, name: &str, scope: &TenantScope) -> String {
    let path = "/registrants/groups/new";
    b.submit(path, path, &[("name", name), ("confirmed", "1")])
        .await;
    myna::app::groups::list(scope)
        .await
        .unwrap()
        .into_iter()
        .find(|g| g.name == name)
        .expect("the group")
        .id
}

#[tokio::test]
async fn list_shows_a_save_an_edit_and_a_deletion_at_once_when_another_container_had_a_warm_copy() {
    // given a tenant listed once in another container: one query, then one version check
    let (t, mut b) = TestApp::with_owner(COMPANY, "dir-save@example.jp").await;
    let scope = t.scope_of("dir-save@example.jp").await;
    let other = second_container(&t);
    let (empty, cold) = other.list(&scope, Filter::default()).await;
    assert_eq!((empty.total, cold), (0, 1));
    assert_eq!(other.list(&scope, Filter::default()).await.1, 1);

    // when a registrant is saved here
    let id = b
        .add_registrant(&person("山田", "太郎", "D001", ""), &[])
        .await
        .registrant_id();
    // then the other container lists it at once: the version check and one query
    let (page, calls) = other.list(&scope, Filter::default()).await;
    assert_eq!((page.total, calls), (1, 2));
    assert_eq!(
        (page.rows[0].name(), page.rows[0].status),
        ("山田 太郎".to_string(), Status::Unregistered)
    );
    assert_eq!(other.list(&scope, Filter::default()).await.1, 1, "warm");

    // when the name changes and a 退職日 is set
    let mut fields = person("佐藤", "太郎", "D001", "");
    fields.push(("retired_on", "2026/3/31"));
    edit(&mut b, &id, &fields).await;
    // then the other container searches by the new name only, and counts them retired
    let by_name = |n: &'static str| filter(move |f| f.name = n.into());
    assert_eq!(other.codes(&scope, by_name("佐藤")).await, ["D001"]);
    assert!(other.codes(&scope, by_name("山田")).await.is_empty());
    assert_eq!(
        other
            .codes(&scope, filter(|f| f.retired = "only".into()))
            .await,
        ["D001"]
    );
    assert!(other
        .codes(&scope, filter(|f| f.retired = "exclude".into()))
        .await
        .is_empty());

    // when it is deleted (廃棄 with confirmation)
    let (_, done) = b
        .dispose(&format!("/registrants/{id}/delete"), "mistaken", "")
        .await;
    assert!(done.location().unwrap().starts_with("/disposal/"));
    // then neither container lists it
    assert_eq!(other.list(&scope, Filter::default()).await.0.total, 0);
    assert!(b
        .get("/registrants")
        .await
        .body
        .contains("登録者はまだいません。"));
}

#[tokio::test]
async fn list_shows_approval_dependents_and_groups_at_once_when_another_container_had_a_warm_copy()
{
    // given a registrant with a number (承認待) listed in another container
    let (t, mut b) = TestApp::with_owner(COMPANY, "dir-approve@example.jp").await;
    let scope = t.scope_of("dir-approve@example.jp").await;
    let other = second_container(&t);
    let id = b
        .add_registrant(&person("承認", "太郎", "A001", NUMBER), &[])
        .await
        .registrant_id();
    let status = |s: Status| filter(move |f| f.status = s.code().into());
    assert_eq!(other.codes(&scope, status(Status::Pending)).await, ["A001"]);

    // when it is approved
    let res = b.decide(&format!("/approval/{id}"), "approve", "").await;
    assert_eq!(
        res.location(),
        Some("/approval?done=approved"),
        "{}",
        res.body
    );
    // then the other container files it under 完了
    assert_eq!(
        other.codes(&scope, status(Status::Completed)).await,
        ["A001"]
    );
    assert!(other
        .codes(&scope, status(Status::Pending))
        .await
        .is_empty());

    // when a dependent is added
    let res = b
        .add_dependent(&id, &dependent("花子", "spouse", "dependent", ""), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    // then the row shows it, and the status filter finds the dependent's 未登録
    let (page, _) = other.list(&scope, Filter::default()).await;
    assert_eq!(
        (page.rows[0].dependents, page.rows[0].dependents_status),
        (1, Some(Status::Unregistered))
    );
    assert_eq!(
        other.codes(&scope, status(Status::Unregistered)).await,
        ["A001"]
    );

    // when it joins a group, and the group is renamed
    let group = add_group(&mut b, "総務部", &scope).await;
    let mut fields = person("承認", "太郎", "A001", "");
    fields.push(("group_id", &group));
    edit(&mut b, &id, &fields).await;
    let in_group = filter(|f| f.group = group.clone());
    assert_eq!(other.codes(&scope, in_group.clone()).await, ["A001"]);
    let path = format!("/registrants/groups/{group}/edit");
    let renamed = b
        .submit(&path, &path, &[("name", "人事部"), ("confirmed", "1")])
        .await;
    assert_eq!(renamed.status, StatusCode::SEE_OTHER, "{}", renamed.body);
    // then the other container shows the new name
    let (page, _) = other.list(&scope, in_group).await;
    assert_eq!(page.groups.get(&group).map(String::as_str), Some("人事部"));

    // when the group is deleted, its member is ungrouped everywhere
    let path = format!("/registrants/groups/{group}/delete");
    let deleted = b.submit(&path, &path, &[("confirmed", "1")]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
    assert_eq!(
        other
            .codes(&scope, filter(|f| f.group = "none".into()))
            .await,
        ["A001"]
    );
    assert!(other
        .list(&scope, Filter::default())
        .await
        .0
        .groups
        .is_empty());
}

/// Uploads a checked CSV file of three registrants I000..I002 (トリコミ), staged for
/// 入力確認 but not committed.
async fn stage_three_rows(b: &mut Browser) -> myna_tests::Page {
    let header = "種別,社員コード,属性,氏名（姓）,氏名（名）,フリガナ（セイ）,フリガナ（メイ）,生年月日,性別,マイナンバー,続柄,入社日,メールアドレス,グループ,備考";
    let rows: Vec<String> = (0..3)
        .map(|i| {
            format!("登録者,I00{i},従業員1,取込,{i}郎,トリコミ,タロウ,1980/1/1,男性,,,2020/4/1,,,")
        })
        .collect();
    let file = format!("{header}\n{}\n", rows.join("\n"));
    b.upload(
        "/registrants/csv-upload",
        "/registrants/csv-upload",
        file.as_bytes(),
        true,
    )
    .await
}

#[tokio::test]
async fn imported_rows_list_only_once_the_import_is_committed_in_every_container() {
    // given a checked CSV file, staged (入力確認) but not committed
    let (t, mut b) = TestApp::with_owner(COMPANY, "dir-import@example.jp").await;
    let scope = t.scope_of("dir-import@example.jp").await;
    let other = second_container(&t);
    let staged = stage_three_rows(&mut b).await;
    assert_eq!(other.list(&scope, Filter::default()).await.0.total, 0);

    // when it is committed (登録, then the import job)
    b.confirm_import(&staged).await;
    t.run_jobs().await;
    // then every row lists in the other container, in 社員コード order
    assert_eq!(
        other.codes(&scope, Filter::default()).await,
        ["I000", "I001", "I002"]
    );
    assert_eq!(
        other
            .codes(&scope, filter(|f| f.name = "とりこみ".into()))
            .await
            .len(),
        3
    );
}

/// A registrant item as another container's save writes it.
fn registrant(code: String) -> Registrant {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let names = Names {
        family_name: "並行".into(),
        given_name: "太郎".into(),
        ..Names::default()
    };
    bare_registrant(code, PersonCore::new(names, None, None, now))
}

#[tokio::test]
async fn registrants_saved_at_once_from_two_containers_all_list_when_writers_race() {
    // given two containers writing to one tenant at the same time
    let (t, b) = TestApp::with_owner(COMPANY, "dir-race@example.jp").await;
    let scope = t.scope_of("dir-race@example.jp").await;
    let other = second_container(&t);
    let theirs = other.scope(&scope);
    assert_eq!(other.list(&scope, Filter::default()).await.0.total, 0);
    let mut here = b;
    let mine = async {
        for i in 0..8 {
            let code = format!("H{i:02}");
            let res = here
                .add_registrant(&person("並行", "花子", &code, ""), &[])
                .await;
            assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        }
    };
    let yours = async {
        for i in 0..8 {
            let r = registrant(format!("T{i:02}"));
            theirs
                .transact(vec![WriteOp::put_new(r.to_item(&theirs))])
                .await
                .unwrap();
            tokio::task::yield_now().await;
        }
    };
    // when both write
    tokio::join!(mine, yours);
    // then both containers list all sixteen: no writer lost the other's entries
    assert_eq!(other.list(&scope, Filter::default()).await.0.total, 16);
    let here_page = regs::list(&scope, &Filter::default()).await.unwrap();
    assert_eq!(here_page.total, 16);
    let listed = here.get("/registrants").await;
    assert!(listed.body.contains("16件"), "{}", listed.body);
}

#[tokio::test]
async fn a_tenant_lists_only_its_own_registrants_and_cannot_read_another_directory() {
    // given two tenants on one product, each with a registrant
    let t = TestApp::spawn();
    let mut a = t.owner(COMPANY, "dir-a@example.jp").await;
    let mut z = t.owner("株式会社よそ", "dir-z@example.jp").await;
    a.add_registrant(&person("甲", "太郎", "A1", ""), &[]).await;
    z.add_registrant(&person("乙", "太郎", "Z1", ""), &[]).await;
    let (sa, sz) = (
        t.scope_of("dir-a@example.jp").await,
        t.scope_of("dir-z@example.jp").await,
    );
    // when each lists
    let other = second_container(&t);
    // then each sees its own only, in both containers
    assert_eq!(other.codes(&sa, Filter::default()).await, ["A1"]);
    assert_eq!(other.codes(&sz, Filter::default()).await, ["Z1"]);
    assert_eq!(
        regs::list(&sa, &Filter::default()).await.unwrap().rows[0].code,
        "A1"
    );
    assert!(!z.get("/registrants").await.body.contains("A1"));
    // and the directory is in the tenant's partition, out of the other tenant's reach
    let own = sa
        .query(&Query::partition(sa.pk()).prefix("DIR#E#"))
        .await
        .unwrap();
    assert_eq!(own.items.len(), 1);
    assert!(matches!(
        sz.query(&Query::partition(sa.pk()).prefix("DIR#")).await,
        Err(StoreError::Invalid(_))
    ));
}

#[tokio::test]
async fn data_saved_before_the_directory_lists_as_before_and_builds_it_once() {
    // given registrants and a group saved by a version without the directory
    let (t, mut b) = TestApp::with_owner(COMPANY, "dir-old@example.jp").await;
    let scope = t.scope_of("dir-old@example.jp").await;
    let group = add_group(&mut b, "営業部", &scope).await;
    for code in ["O2", "O1", "O3"] {
        let mut fields = person("旧", "太郎", code, "");
        fields.push(("group_id", &group));
        b.add_registrant(&fields, &[]).await;
    }
    let store = t.app.ports.store.clone();
    let old = store
        .query(&Query::partition(scope.pk()).prefix("DIR#"))
        .await
        .unwrap();
    assert!(!old.items.is_empty());
    for item in old.items {
        store.delete(&item.key, Condition::None).await.unwrap();
    }
    // when another container lists it for the first time
    let other = second_container(&t);
    let (page, building) = other.list(&scope, Filter::default()).await;
    // then it lists as before, in 社員コード order with the group's name
    assert_eq!(
        page.rows
            .iter()
            .map(|r| r.code.as_str())
            .collect::<Vec<_>>(),
        ["O1", "O2", "O3"]
    );
    assert_eq!(page.groups.get(&group).map(String::as_str), Some("営業部"));
    assert!(building > 2, "the one-time build reads the items");
    // and from then on the directory is there: one call warm, one query in a fresh container
    assert_eq!(other.list(&scope, Filter::default()).await.1, 1);
    let fresh = second_container(&t);
    let (page, calls) = fresh.list(&scope, Filter::default()).await;
    assert_eq!((page.total, calls), (3, 1));
    assert!(b.get("/registrants").await.body.contains("3件"));
}

/// Runs a future of the embedded store (which never waits) to its end where no `.await` is
/// possible (inside a store hook).
fn run_now<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("the embedded store does not wait"),
    }
}

/// The tenant's directory version item as stored.
async fn version_item(t: &TestApp, scope: &TenantScope) -> myna::ports::store::Item {
    t.app
        .ports
        .store
        .get(&directory::version_key(&scope.pk()))
        .await
        .unwrap()
        .expect("a version item")
}

#[tokio::test]
async fn a_stale_container_catches_up_in_two_store_calls_after_each_kind_of_change() {
    // given a registrant in a group, listed (warm) in another container
    let (t, mut b) = TestApp::with_owner(COMPANY, "dir-delta@example.jp").await;
    let scope = t.scope_of("dir-delta@example.jp").await;
    let group = add_group(&mut b, "総務部", &scope).await;
    let mut fields = person("差分", "一郎", "K001", "");
    fields[2].1 = "サブン";
    fields.push(("group_id", &group));
    let id = b.add_registrant(&fields, &[]).await.registrant_id();
    let other = second_container(&t);
    assert_eq!(other.list(&scope, Filter::default()).await.0.total, 1);

    // when a second registrant is saved: the version item, then the changed entry
    let mut fields = person("差分", "二郎", "K002", "");
    fields[2].1 = "サブン";
    b.add_registrant(&fields, &[]).await;
    let (page, calls) = other.list(&scope, Filter::default()).await;
    assert_eq!((page.total, calls), (2, 2));
    assert_eq!(other.list(&scope, Filter::default()).await.1, 1, "warm");

    // when the first is edited: found by its new name only, in 社員コード order still
    let mut fields = person("変更", "一郎", "K001", "");
    fields[2].1 = "ヘンコウ";
    fields.push(("group_id", &group));
    edit(&mut b, &id, &fields).await;
    let (page, calls) = other
        .list(&scope, filter(|f| f.name = "へんこう".into()))
        .await;
    assert_eq!(calls, 2);
    assert_eq!(
        page.rows.iter().map(|r| r.name()).collect::<Vec<_>>(),
        ["変更 一郎"]
    );
    assert_eq!(
        other.codes(&scope, Filter::default()).await,
        ["K001", "K002"]
    );
    assert_eq!(
        other
            .codes(&scope, filter(|f| f.sort = "name".into()))
            .await,
        ["K002", "K001"],
        "サブン before ヘンコウ"
    );

    // when the group is renamed
    let path = format!("/registrants/groups/{group}/edit");
    let renamed = b
        .submit(&path, &path, &[("name", "人事部"), ("confirmed", "1")])
        .await;
    assert_eq!(renamed.status, StatusCode::SEE_OTHER, "{}", renamed.body);
    let (page, calls) = other.list(&scope, Filter::default()).await;
    assert_eq!(calls, 2);
    assert_eq!(page.groups.get(&group).map(String::as_str), Some("人事部"));

    // when the first is deleted (廃棄 with confirmation)
    b.dispose(&format!("/registrants/{id}/delete"), "mistaken", "")
        .await;
    // then it is gone from every order, and the call count includes any writes' stamps
    let (page, calls) = other.list(&scope, Filter::default()).await;
    assert_eq!((page.total, calls), (1, 2));
    assert_eq!(
        other
            .codes(&scope, filter(|f| f.sort = "name".into()))
            .await,
        ["K002"]
    );
}

#[tokio::test]
async fn a_stale_container_shows_imported_rows_once_the_import_flips_in_two_store_calls() {
    // given a checked CSV file staged (入力確認) and a warm copy in another container
    let (t, mut b) = TestApp::with_owner(COMPANY, "dir-flip@example.jp").await;
    let scope = t.scope_of("dir-flip@example.jp").await;
    b.add_registrant(&person("既存", "太郎", "E001", ""), &[])
        .await;
    let other = second_container(&t);
    let staged = stage_three_rows(&mut b).await;
    assert_eq!(other.codes(&scope, Filter::default()).await, ["E001"]);

    // when it is committed (登録, then the import job): rows written, then the import flips
    b.confirm_import(&staged).await;
    t.run_jobs().await;
    // then the other container lists every row after the version item and one batch read
    let (page, calls) = other.list(&scope, Filter::default()).await;
    assert_eq!(calls, 2);
    assert_eq!(
        page.rows
            .iter()
            .map(|r| r.code.as_str())
            .collect::<Vec<_>>(),
        ["E001", "I000", "I001", "I002"]
    );
    assert_eq!(
        other
            .codes(&scope, filter(|f| f.name = "とりこみ".into()))
            .await
            .len(),
        3
    );
}

#[tokio::test]
async fn a_stale_container_sees_two_writers_and_a_write_made_while_it_reads() {
    // given a tenant listed (warm) in a reader container, and two writer containers
    let (t, _b) = TestApp::with_owner(COMPANY, "dir-two@example.jp").await;
    let scope = t.scope_of("dir-two@example.jp").await;
    let reader = second_container(&t);
    let (first, second) = (second_container(&t), second_container(&t));
    let (mine, yours) = (first.scope(&scope), second.scope(&scope));
    assert_eq!(reader.list(&scope, Filter::default()).await.0.total, 0);

    // when each writer saves a different registrant, interleaved with the other's edits
    let a = registrant("W1".into());
    let z = registrant("W2".into());
    mine.transact(vec![WriteOp::put_new(a.to_item(&mine))])
        .await
        .unwrap();
    yours
        .transact(vec![WriteOp::put_new(z.to_item(&yours))])
        .await
        .unwrap();
    let mut a2 = a.clone();
    a2.code = "W0".into();
    mine.transact(vec![WriteOp::put(a2.to_item(&mine))])
        .await
        .unwrap();
    // then one refresh shows both, the edit included
    let (page, calls) = reader.list(&scope, Filter::default()).await;
    assert_eq!(calls, 2);
    assert_eq!(
        page.rows
            .iter()
            .map(|r| r.code.as_str())
            .collect::<Vec<_>>(),
        ["W0", "W2"]
    );

    // when a third registrant is saved while the reader is between its version read and its
    // batch read (the reader's store runs the save just before the batch read)
    yours
        .transact(vec![WriteOp::put_new(
            registrant("W3".into()).to_item(&yours),
        )])
        .await
        .unwrap();
    let late = second_container(&t);
    let late_scope = late.scope(&scope);
    let armed = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut embedded = Embedded::open(t.dir.path(), "http://127.0.0.1:8080", t.clock.clone())
        .expect("the data directory opens");
    let calls = Arc::new(AtomicUsize::new(0));
    let (counter, trigger) = (calls.clone(), armed.clone());
    embedded.ports.store = HookedStore::wrap(embedded.ports.store, move |op, _| {
        counter.fetch_add(1, Ordering::SeqCst);
        if op == "batch_get" && trigger.swap(false, Ordering::SeqCst) {
            let r = registrant("W4".into());
            run_now(late_scope.transact(vec![WriteOp::put_new(r.to_item(&late_scope))])).unwrap();
        }
        Ok(())
    });
    let racing = Container {
        app: App::new(embedded.ports, test_config()),
        calls,
    };
    assert_eq!(
        racing.codes(&scope, Filter::default()).await,
        ["W0", "W2", "W3"]
    );
    yours
        .transact(vec![WriteOp::put(registrant("W5".into()).to_item(&yours))])
        .await
        .unwrap();
    let (page, calls) = racing.list(&scope, Filter::default()).await;
    assert!(!armed.load(Ordering::SeqCst), "the save ran mid-refresh");
    assert_eq!(calls, 2);
    assert_eq!(
        page.rows
            .iter()
            .map(|r| r.code.as_str())
            .collect::<Vec<_>>(),
        ["W0", "W2", "W3", "W5"]
    );
    // then the save made mid-refresh shows on the next refresh
    let (page, calls) = racing.list(&scope, Filter::default()).await;
    assert_eq!(calls, 2);
    assert_eq!(
        page.rows
            .iter()
            .map(|r| r.code.as_str())
            .collect::<Vec<_>>(),
        ["W0", "W2", "W3", "W4", "W5"]
    );
}

#[tokio::test]
async fn many_saves_trim_the_stamps_and_a_stale_container_reads_the_directory_whole() {
    // given a tenant listed (warm) in another container
    let (t, mut b) = TestApp::with_owner(COMPANY, "dir-trim@example.jp").await;
    let scope = t.scope_of("dir-trim@example.jp").await;
    b.add_registrant(&person("刈込", "太郎", "T0000", ""), &[])
        .await;
    let other = second_container(&t);
    assert_eq!(other.list(&scope, Filter::default()).await.0.total, 1);
    let epoch = version_item(&t, &scope)
        .await
        .i64(directory::EPOCH)
        .unwrap_or(0);

    // when more registrants than the version item keeps stamps for are saved one by one
    let saves = directory::MOST_STAMPS + 10;
    for i in 1..=saves {
        let r = registrant(format!("T{i:04}"));
        scope
            .transact(vec![WriteOp::put_new(r.to_item(&scope))])
            .await
            .unwrap();
    }
    // then the other container lists them all (reading the directory whole)
    let (page, calls) = other.list(&scope, Filter::default()).await;
    assert_eq!(page.total, saves + 1);
    assert!(calls <= 3, "{calls}");
    assert_eq!(page.rows[0].code, "T0000");
    // and the stamps were trimmed (by a writer or this reader), the epoch moved past them
    let item = version_item(&t, &scope).await;
    let stamps = item
        .attrs
        .keys()
        .filter(|k| k.starts_with(directory::STAMP))
        .count();
    assert!(stamps <= directory::MOST_STAMPS, "{stamps}");
    assert!(item.i64(directory::EPOCH).unwrap_or(0) > epoch);
    // and the next save is caught up with again in two calls, the list after it in one
    b.add_registrant(&person("刈込", "次郎", "T9999", ""), &[])
        .await;
    let (page, calls) = other.list(&scope, Filter::default()).await;
    assert_eq!((page.total, calls), (saves + 2, 2));
    assert_eq!(other.list(&scope, Filter::default()).await.1, 1);
}

#[tokio::test]
async fn a_directory_in_the_first_format_lists_as_before_and_is_built_again_once() {
    // given registrants whose directory entries are in the first format (a JSON array),
    // marked built without a format
    let (t, mut b) = TestApp::with_owner(COMPANY, "dir-v1@example.jp").await;
    let scope = t.scope_of("dir-v1@example.jp").await;
    for (code, name) in [("V2", "二郎"), ("V1", "一郎")] {
        b.add_registrant(&person("旧式", name, code, NUMBER_FREE), &[])
            .await;
    }
    let store = t.app.ports.store.clone();
    let regs_items = store
        .query(&Query::partition(scope.pk()).prefix("REG#"))
        .await
        .unwrap()
        .items;
    for item in regs_items
        .iter()
        .filter(|i| directory::is_registrant_sk(&i.key.sk))
    {
        let id = item.key.sk.trim_start_matches("REG#");
        let wire: Vec<serde_json::Value> = directory::ENTRY_ATTRS
            .iter()
            .map(|&name| match name {
                "has_number" => item.attrs.contains_key("number").into(),
                name => item.attrs.get(name).cloned().unwrap_or_default(),
            })
            .collect();
        let legacy = myna::ports::store::Item::new(myna::ports::store::Key::new(
            scope.pk(),
            format!("{}{id}", directory::ENTRY),
        ))
        .with(
            directory::LEGACY_ENTRY_ATTR,
            serde_json::Value::from(wire).to_string(),
        );
        store.put(legacy, Condition::None).await.unwrap();
    }
    let meta = myna::ports::store::Item::new(directory::meta_key(&scope.pk())).with("built", true);
    store.put(meta, Condition::None).await.unwrap();

    // when another container lists it
    let other = second_container(&t);
    let (page, building) = other.list(&scope, Filter::default()).await;
    // then it lists as before, and the directory is built again in the current format
    assert_eq!(
        page.rows
            .iter()
            .map(|r| r.code.as_str())
            .collect::<Vec<_>>(),
        ["V1", "V2"]
    );
    assert!(building > 2, "the one-time build reads the items");
    let entries = store
        .query(&Query::partition(scope.pk()).prefix(directory::ENTRY))
        .await
        .unwrap()
        .items;
    assert!(entries
        .iter()
        .all(|e| e.str(directory::ENTRY_ATTR).is_some()
            && e.str(directory::LEGACY_ENTRY_ATTR).is_none()));
    // and a fresh container reads it in one query
    let fresh = second_container(&t);
    let (page, calls) = fresh.list(&scope, filter(|f| f.name = "旧式".into())).await;
    assert_eq!((page.total, calls), (2, 1));
}
