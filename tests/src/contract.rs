//! Contract suites for the `Store`, `Keys` and `Blobs` ports. Every adapter set (embedded
//! now, AWS against the emulator next) runs these same functions. Each suite writes under a
//! fresh random prefix, so it can share a table or bucket with other runs.

use std::sync::Arc;

use async_trait::async_trait;
use myna::app::uploads::{self, UploadError};
use myna::domain::image::{ImageError, ImageKind};
use myna::ports::blobs::{BlobError, BlobInfo, BlobScope, Blobs, UploadTicket};
use myna::ports::events::{Event, Events};
use myna::ports::keys::{EncryptionContext, Keys};
use myna::ports::store::{Condition, Index, Item, Key, Query, Store, StoreError, WriteOp};
use serde_json::json;

fn prefix() -> String {
    format!("CT{}", ulid::Ulid::new())
}

async fn all_pages(store: &dyn Store, mut q: Query) -> Vec<Item> {
    let mut out = Vec::new();
    let mut guard = 0;
    loop {
        let page = store.query(&q).await.expect("query");
        assert!(page.items.len() <= q.limit, "page larger than its limit");
        out.extend(page.items);
        match page.next {
            Some(next) => q.cursor = Some(next),
            None => return out,
        }
        guard += 1;
        assert!(guard < 1000, "paging never ends");
    }
}

/// GIVEN an item with every kind of attribute WHEN it is stored and read THEN it is equal.
pub async fn store_round_trips_items(store: Arc<dyn Store>) {
    let p = prefix();
    let key = Key::new(format!("{p}#A"), "ITEM#1");
    let item = Item::new(key.clone())
        .with("text", "マイナ 太郎")
        .with("n", 42)
        .with("neg", -7)
        .with("flag", true)
        .with("list", json!(["a", "b"]))
        .with("map", json!({"k": "v", "n": 1}));
    store.put(item.clone(), Condition::None).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), Some(item));
    assert_eq!(
        store
            .get(&Key::new(format!("{p}#A"), "ITEM#2"))
            .await
            .unwrap(),
        None
    );
}

/// Conditions hold or nothing is written.
pub async fn store_conditions_guard_writes(store: Arc<dyn Store>) {
    let p = prefix();
    let key = Key::new(format!("{p}#C"), "X");
    store
        .put(Item::new(key.clone()).with("v", 1), Condition::NotExists)
        .await
        .unwrap();
    let again = store
        .put(Item::new(key.clone()).with("v", 2), Condition::NotExists)
        .await;
    assert!(matches!(again, Err(StoreError::ConditionFailed)));
    assert_eq!(store.get(&key).await.unwrap().unwrap().i64("v"), Some(1));

    let wrong = store
        .put(
            Item::new(key.clone()).with("v", 3),
            Condition::Equals("v".into(), json!(9)),
        )
        .await;
    assert!(matches!(wrong, Err(StoreError::ConditionFailed)));
    store
        .put(
            Item::new(key.clone()).with("v", 3),
            Condition::Equals("v".into(), json!(1)),
        )
        .await
        .unwrap();
    assert_eq!(store.get(&key).await.unwrap().unwrap().i64("v"), Some(3));

    let missing = Key::new(format!("{p}#C"), "MISSING");
    assert!(matches!(
        store
            .put(Item::new(missing.clone()), Condition::Exists)
            .await,
        Err(StoreError::ConditionFailed)
    ));
    assert!(matches!(
        store.delete(&missing, Condition::Exists).await,
        Err(StoreError::ConditionFailed)
    ));
    store.delete(&missing, Condition::None).await.unwrap();
    assert!(matches!(
        store
            .delete(&key, Condition::Equals("v".into(), json!(1)))
            .await,
        Err(StoreError::ConditionFailed)
    ));
    store
        .delete(&key, Condition::Equals("v".into(), json!(3)))
        .await
        .unwrap();
    assert_eq!(store.get(&key).await.unwrap(), None);
}

/// `add` creates, increments atomically, and sets `ttl`.
pub async fn store_add_counts_atomically(store: Arc<dyn Store>) {
    let p = prefix();
    let key = Key::new(format!("{p}#N"), "COUNTER");
    assert_eq!(store.add(&key, "count", 1, None).await.unwrap(), 1);
    assert_eq!(
        store
            .add(&key, "count", 5, Some(4_000_000_000))
            .await
            .unwrap(),
        6
    );
    assert_eq!(store.add(&key, "count", -2, None).await.unwrap(), 4);
    let item = store.get(&key).await.unwrap().unwrap();
    assert_eq!(item.i64("ttl"), Some(4_000_000_000));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (store, key) = (store.clone(), key.clone());
            tokio::spawn(async move { store.add(&key, "count", 1, None).await.unwrap() })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        store.get(&key).await.unwrap().unwrap().i64("count"),
        Some(14)
    );
}

/// Queries: prefix, range, order, byte order, paging that returns each item once.
pub async fn store_queries_a_partition_in_sort_key_order(store: Arc<dyn Store>) {
    let p = prefix();
    let pk = format!("{p}#Q");
    let mut sks: Vec<String> = (0..23).map(|i| format!("REG#{i:03}")).collect();
    sks.extend([
        "GROUP#a".to_string(),
        "GROUP#b".into(),
        "REG#ア".into(),
        "REG#z".into(),
    ]);
    let ops: Vec<_> = sks
        .iter()
        .map(|sk| WriteOp::put(Item::new(Key::new(&pk, sk)).with("sk", sk.as_str())))
        .collect();
    store.batch_write(ops).await.unwrap();
    store
        .put(
            Item::new(Key::new(format!("{p}#OTHER"), "REG#000")),
            Condition::None,
        )
        .await
        .unwrap();

    let regs = all_pages(
        store.as_ref(),
        Query::partition(&pk).prefix("REG#").limit(5),
    )
    .await;
    let got: Vec<_> = regs.iter().map(|i| i.key.sk.clone()).collect();
    let mut want: Vec<_> = sks
        .iter()
        .filter(|s| s.starts_with("REG#"))
        .cloned()
        .collect();
    want.sort(); // byte order: digits < letters < カナ
    assert_eq!(got, want);
    assert_eq!(got.last().map(String::as_str), Some("REG#ア"));

    let back = all_pages(
        store.as_ref(),
        Query::partition(&pk).prefix("REG#").limit(4).backwards(),
    )
    .await;
    let mut reversed = want.clone();
    reversed.reverse();
    assert_eq!(
        back.iter().map(|i| i.key.sk.clone()).collect::<Vec<_>>(),
        reversed
    );

    let range = all_pages(
        store.as_ref(),
        Query::partition(&pk).between("REG#005", "REG#009"),
    )
    .await;
    assert_eq!(range.len(), 5);
    let groups = store
        .query(&Query::partition(&pk).prefix("GROUP#"))
        .await
        .unwrap();
    assert_eq!(groups.items.len(), 2);
    assert!(groups.next.is_none());
    let bad = store
        .query(&Query::partition(&pk).after(Some("not-a-cursor".into())))
        .await;
    assert!(matches!(bad, Err(StoreError::BadCursor)));
}

/// Secondary indexes: only items carrying the index keys, in index order, paged.
pub async fn store_queries_secondary_indexes(store: Arc<dyn Store>) {
    let p = prefix();
    let pk = format!("{p}#I");
    let gsi = format!("{p}#BYGROUP#g1");
    let mut ops = Vec::new();
    for i in 0..12 {
        let mut item = Item::new(Key::new(&pk, format!("REG#{i:03}")));
        if i % 2 == 0 {
            // Equal index sort keys must still page without loss.
            item = item
                .with("gsi1pk", gsi.as_str())
                .with("gsi1sk", format!("NAME#{}", i / 4));
        }
        ops.push(WriteOp::put(item));
    }
    store.batch_write(ops).await.unwrap();
    let items = all_pages(
        store.as_ref(),
        Query::partition(&gsi).on(Index::Gsi1).limit(2),
    )
    .await;
    let mut got: Vec<_> = items.iter().map(|i| i.key.sk.clone()).collect();
    assert_eq!(got.len(), 6, "every indexed item once: {got:?}");
    let names: Vec<_> = items
        .iter()
        .map(|i| i.str("gsi1sk").unwrap().to_string())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 6);
    let prefixed = store
        .query(&Query::partition(&gsi).on(Index::Gsi1).prefix("NAME#1"))
        .await
        .unwrap();
    assert_eq!(prefixed.items.len(), 2);
    let none = store
        .query(&Query::partition(&gsi).on(Index::Gsi2))
        .await
        .unwrap();
    assert!(none.items.is_empty());
}

/// Transactions are all-or-nothing and keep the port's limits.
pub async fn store_transactions_are_all_or_nothing(store: Arc<dyn Store>) {
    let p = prefix();
    let pk = format!("{p}#T");
    let existing = Key::new(&pk, "EXISTING");
    store
        .put(Item::new(existing.clone()).with("v", 1), Condition::None)
        .await
        .unwrap();
    let counter = Key::new(&pk, "COUNTERS");

    let failing = vec![
        WriteOp::put_new(Item::new(Key::new(&pk, "NEW1"))),
        WriteOp::Add {
            key: counter.clone(),
            deltas: vec![("a".into(), 1), ("b".into(), 2)],
            expires_at: None,
        },
        WriteOp::put_new(Item::new(existing.clone()).with("v", 2)),
    ];
    assert!(matches!(
        store.transact(failing).await,
        Err(StoreError::ConditionFailed)
    ));
    assert_eq!(store.get(&Key::new(&pk, "NEW1")).await.unwrap(), None);
    assert_eq!(store.get(&counter).await.unwrap(), None);
    assert_eq!(
        store.get(&existing).await.unwrap().unwrap().i64("v"),
        Some(1)
    );

    let check_fails = vec![
        WriteOp::put_new(Item::new(Key::new(&pk, "NEW2"))),
        WriteOp::Check {
            key: existing.clone(),
            condition: Condition::Equals("v".into(), json!(5)),
        },
    ];
    assert!(matches!(
        store.transact(check_fails).await,
        Err(StoreError::ConditionFailed)
    ));
    assert_eq!(store.get(&Key::new(&pk, "NEW2")).await.unwrap(), None);

    let ok = vec![
        WriteOp::put_new(Item::new(Key::new(&pk, "NEW1"))),
        WriteOp::Add {
            key: counter.clone(),
            deltas: vec![("a".into(), 1), ("b".into(), 2)],
            expires_at: None,
        },
        WriteOp::Delete {
            key: existing.clone(),
            condition: Condition::Equals("v".into(), json!(1)),
        },
        WriteOp::Check {
            key: Key::new(&pk, "NOPE"),
            condition: Condition::NotExists,
        },
    ];
    store.transact(ok).await.unwrap();
    let c = store.get(&counter).await.unwrap().unwrap();
    assert_eq!((c.i64("a"), c.i64("b")), (Some(1), Some(2)));
    assert_eq!(store.get(&existing).await.unwrap(), None);

    let too_many: Vec<_> = (0..101)
        .map(|i| WriteOp::put(Item::new(Key::new(&pk, format!("M{i}")))))
        .collect();
    assert!(matches!(
        store.transact(too_many).await,
        Err(StoreError::Invalid(_))
    ));
    let twice = vec![
        WriteOp::put(Item::new(Key::new(&pk, "D"))),
        WriteOp::put(Item::new(Key::new(&pk, "D"))),
    ];
    assert!(matches!(
        store.transact(twice).await,
        Err(StoreError::Invalid(_))
    ));
    let hundred: Vec<_> = (0..100)
        .map(|i| WriteOp::put(Item::new(Key::new(&pk, format!("H{i:03}")))))
        .collect();
    store.transact(hundred).await.unwrap();
    assert_eq!(
        all_pages(store.as_ref(), Query::partition(&pk).prefix("H"))
            .await
            .len(),
        100
    );
}

/// Batch writes and reads of more items than one backend call takes.
pub async fn store_batches_any_number_of_items(store: Arc<dyn Store>) {
    let p = prefix();
    let pk = format!("{p}#B");
    let keys: Vec<_> = (0..130)
        .map(|i| Key::new(&pk, format!("K{i:04}")))
        .collect();
    store
        .batch_write(
            keys.iter()
                .map(|k| WriteOp::put(Item::new(k.clone()).with("x", 1)))
                .collect(),
        )
        .await
        .unwrap();
    let mut asked = keys.clone();
    asked.push(Key::new(&pk, "MISSING"));
    let got = store.batch_get(&asked).await.unwrap();
    assert_eq!(got.len(), 130);
    let conditional = vec![WriteOp::put_new(Item::new(Key::new(&pk, "C")))];
    assert!(matches!(
        store.batch_write(conditional).await,
        Err(StoreError::Invalid(_))
    ));
    store
        .batch_write(
            keys[..70]
                .iter()
                .map(|k| WriteOp::Delete {
                    key: k.clone(),
                    condition: Condition::None,
                })
                .collect(),
        )
        .await
        .unwrap();
    assert_eq!(store.batch_get(&keys).await.unwrap().len(), 60);
}

/// An update sets top-level attributes (any name, `#` included) and adds to counters in one
/// write, creating the item or keeping its other attributes, and rolls back with its
/// transaction.
pub async fn store_updates_set_and_add_in_a_transaction(store: Arc<dyn Store>) {
    let pk = format!("{}#U", prefix());
    let key = Key::new(&pk, "VERSION");
    let update = |stamp: &str, delta: i64| WriteOp::Update {
        key: key.clone(),
        set: vec![
            ("c#E#1".into(), json!(stamp)),
            ("c#G#2".into(), json!(format!("{stamp}g"))),
        ],
        add: vec![("v".into(), delta), ("epoch".into(), 0)],
    };
    // creates the item
    store.transact(vec![update("s1", 1)]).await.unwrap();
    let item = store.get(&key).await.unwrap().unwrap();
    assert_eq!(
        (
            item.i64("v"),
            item.i64("epoch"),
            item.str("c#E#1"),
            item.str("c#G#2")
        ),
        (Some(1), Some(0), Some("s1"), Some("s1g"))
    );
    // keeps attributes it does not name, replaces those it does
    store
        .put(item.clone().with("kept", "yes"), Condition::None)
        .await
        .unwrap();
    store
        .transact(vec![
            WriteOp::Update {
                key: key.clone(),
                set: vec![("c#E#1".into(), json!("s2"))],
                add: vec![("v".into(), 1)],
            },
            WriteOp::put(Item::new(Key::new(&pk, "OTHER"))),
        ])
        .await
        .unwrap();
    let item = store.get(&key).await.unwrap().unwrap();
    assert_eq!(
        (
            item.i64("v"),
            item.str("c#E#1"),
            item.str("c#G#2"),
            item.str("kept")
        ),
        (Some(2), Some("s2"), Some("s1g"), Some("yes"))
    );
    // and writes nothing when its transaction fails
    let failed = store
        .transact(vec![
            update("s3", 5),
            WriteOp::put_new(Item::new(Key::new(&pk, "OTHER"))),
        ])
        .await;
    assert!(matches!(failed, Err(StoreError::ConditionFailed)));
    let item = store.get(&key).await.unwrap().unwrap();
    assert_eq!((item.i64("v"), item.str("c#E#1")), (Some(2), Some("s2")));
    // and is no batch write
    assert!(matches!(
        store.batch_write(vec![update("s4", 1)]).await,
        Err(StoreError::Invalid(_))
    ));
}

/// A query whose items pass 1 MB before its limit still says more follow (DynamoDB cuts the
/// page there), so a reader walking the cursor gets every item.
pub async fn store_pages_a_query_past_a_megabyte(store: Arc<dyn Store>) {
    let pk = format!("{}#MB", prefix());
    let blob = "x".repeat(100_000);
    let items: Vec<WriteOp> = (0..12)
        .map(|i| {
            WriteOp::put(Item::new(Key::new(&pk, format!("I{i:02}"))).with("b", blob.as_str()))
        })
        .collect();
    store.batch_write(items).await.unwrap();
    let all = all_pages(store.as_ref(), Query::partition(&pk).limit(1000)).await;
    assert_eq!(all.len(), 12);
}

pub async fn run_store_suite(store: Arc<dyn Store>) {
    store_round_trips_items(store.clone()).await;
    store_conditions_guard_writes(store.clone()).await;
    store_add_counts_atomically(store.clone()).await;
    store_queries_a_partition_in_sort_key_order(store.clone()).await;
    store_queries_secondary_indexes(store.clone()).await;
    store_transactions_are_all_or_nothing(store.clone()).await;
    store_updates_set_and_add_in_a_transaction(store.clone()).await;
    store_pages_a_query_past_a_megabyte(store.clone()).await;
    store_batches_any_number_of_items(store).await;
}

/// How a suite can tell that a master key was destroyed.
pub enum Destruction {
    /// The backend refuses to use a destroyed key (embedded key files, real KMS).
    Enforced,
    /// The backend only records the deletion (moto keeps using keys scheduled for deletion,
    /// checked here): the key must be in state `PendingDeletion`.
    Scheduled(aws_sdk_kms::Client),
}

impl Destruction {
    async fn assert_destroyed(
        &self,
        keys: &dyn Keys,
        master: &str,
        wrapped: &myna::ports::WrappedKey,
        ctx: &EncryptionContext,
    ) {
        match self {
            Destruction::Enforced => {
                assert!(
                    keys.decrypt_data_key(master, wrapped, ctx).await.is_err(),
                    "destroyed key still decrypts"
                );
                assert!(
                    keys.generate_data_key(master, ctx).await.is_err(),
                    "destroyed key still makes data keys"
                );
            }
            Destruction::Scheduled(kms) => {
                let key = kms
                    .describe_key()
                    .key_id(master)
                    .send()
                    .await
                    .expect("describe key");
                let state = key
                    .key_metadata()
                    .and_then(|m| m.key_state())
                    .map(|s| s.as_str().to_string());
                assert_eq!(state.as_deref(), Some("PendingDeletion"));
            }
        }
    }
}

/// Data keys unwrap only under their master key and context; destroyed keys unwrap nothing.
pub async fn run_keys_suite(keys: Arc<dyn Keys>, destruction: Destruction) {
    let tenant_a = ulid::Ulid::new().to_string();
    let tenant_b = ulid::Ulid::new().to_string();
    let master_a = keys.create_master_key(&tenant_a).await.unwrap();
    let master_b = keys.create_master_key(&tenant_b).await.unwrap();
    assert_ne!(master_a, master_b);
    let ctx_a = EncryptionContext::tenant(&tenant_a);
    let (plain, wrapped) = keys.generate_data_key(&master_a, &ctx_a).await.unwrap();
    assert!(
        !wrapped.0.windows(32).any(|w| w == plain.0),
        "wrapped key contains the plain key"
    );
    let again = keys
        .decrypt_data_key(&master_a, &wrapped, &ctx_a)
        .await
        .unwrap();
    assert_eq!(again.0, plain.0);
    let (other, _) = keys.generate_data_key(&master_a, &ctx_a).await.unwrap();
    assert_ne!(other.0, plain.0, "data keys must be fresh");

    let ctx_b = EncryptionContext::tenant(&tenant_b);
    assert!(
        keys.decrypt_data_key(&master_a, &wrapped, &ctx_b)
            .await
            .is_err(),
        "wrong context opened"
    );
    assert!(
        keys.decrypt_data_key(&master_b, &wrapped, &ctx_a)
            .await
            .is_err(),
        "wrong master key opened"
    );

    keys.destroy_master_key(&master_a).await.unwrap();
    keys.destroy_master_key(&master_a).await.unwrap();
    destruction
        .assert_destroyed(keys.as_ref(), &master_a, &wrapped, &ctx_a)
        .await;
    // The other tenant's key is untouched.
    let (_, wrapped_b) = keys.generate_data_key(&master_b, &ctx_b).await.unwrap();
    assert!(keys
        .decrypt_data_key(&master_b, &wrapped_b, &ctx_b)
        .await
        .is_ok());
}

/// Objects round-trip per tenant, replace atomically, and die with the tenant's key.
pub async fn run_blobs_suite(blobs: Arc<dyn Blobs>, keys: Arc<dyn Keys>, destruction: Destruction) {
    let tenant = ulid::Ulid::new().to_string();
    let scope = BlobScope {
        master_key: keys.create_master_key(&tenant).await.unwrap(),
        tenant_id: tenant,
    };
    let other_tenant = ulid::Ulid::new().to_string();
    let other = BlobScope {
        master_key: keys.create_master_key(&other_tenant).await.unwrap(),
        tenant_id: other_tenant,
    };
    let name = "registrants/01J/number-proof.jpg";
    let missing = "registrants/01J/missing.jpg";
    let jpeg = [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[7u8; 5000]].concat();

    assert!(blobs.get(&scope, name).await.unwrap().is_none());
    blobs
        .put(&scope, name, jpeg.clone(), "image/jpeg")
        .await
        .unwrap();
    assert_eq!(
        blobs.get(&scope, name).await.unwrap(),
        Some((jpeg.clone(), "image/jpeg".to_string()))
    );
    assert_eq!(
        blobs.head(&scope, name).await.unwrap(),
        Some(BlobInfo {
            size: jpeg.len() as u64,
            content_type: "image/jpeg".into()
        })
    );
    let prefix = blobs.read_prefix(&scope, name, 4).await.unwrap().unwrap();
    assert_eq!(
        (prefix.bytes, prefix.size),
        (jpeg[..4].to_vec(), jpeg.len() as u64)
    );
    let whole = blobs
        .read_prefix(&scope, name, 100_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((whole.bytes, whole.size), (jpeg.clone(), jpeg.len() as u64));
    assert_eq!(whole.version, prefix.version, "one object, one version");
    let jpeg_version = prefix.version;
    assert_eq!(blobs.head(&scope, missing).await.unwrap(), None);
    assert_eq!(blobs.read_prefix(&scope, missing, 4).await.unwrap(), None);
    assert!(
        blobs.get(&other, name).await.unwrap().is_none(),
        "another tenant sees the object"
    );

    let png = [&[0x89, b'P', b'N', b'G'][..], &[1u8; 100]].concat();
    blobs
        .put(&scope, name, png.clone(), "image/png")
        .await
        .unwrap();
    assert_eq!(
        blobs.get(&scope, name).await.unwrap(),
        Some((png.clone(), "image/png".to_string()))
    );

    // copy: only the version the caller read (or nothing); a write since then is never copied.
    let copied = "registrants/01J/copy/number-proof.jpg";
    let png_version = blobs
        .read_prefix(&scope, name, 4)
        .await
        .unwrap()
        .unwrap()
        .version;
    assert_ne!(png_version, jpeg_version, "a write keeps the version");
    let stale = blobs
        .copy(&scope, name, copied, &jpeg_version)
        .await
        .unwrap();
    let stale_copy = blobs.get(&scope, copied).await.unwrap();
    assert!(
        if stale {
            stale_copy == Some((jpeg.clone(), "image/jpeg".to_string()))
        } else {
            stale_copy.is_none()
        },
        "a write made after the read was copied"
    );
    blobs.delete(&scope, copied).await.unwrap();

    // copy: the same bytes and type under the new name, sealed for it; the source stays.
    assert!(blobs
        .copy(&scope, name, copied, &png_version)
        .await
        .unwrap());
    assert_eq!(
        blobs.get(&scope, copied).await.unwrap(),
        Some((png.clone(), "image/png".to_string()))
    );
    assert!(blobs.get(&scope, name).await.unwrap().is_some());
    assert!(!blobs
        .copy(&scope, missing, copied, &png_version)
        .await
        .unwrap());
    assert!(!blobs
        .copy(&other, name, copied, &png_version)
        .await
        .unwrap());
    assert!(matches!(
        blobs.copy(&scope, name, "../escape", &png_version).await,
        Err(BlobError::InvalidName)
    ));
    blobs.delete(&scope, copied).await.unwrap();

    for bad in ["../escape", "/abs", "a//b", "a/../b", ""] {
        assert!(
            matches!(
                blobs.put(&scope, bad, vec![1], "image/png").await,
                Err(BlobError::InvalidName)
            ),
            "{bad}"
        );
    }
    blobs.delete(&scope, name).await.unwrap();
    blobs.delete(&scope, name).await.unwrap();
    assert!(blobs.get(&scope, name).await.unwrap().is_none());

    blobs
        .put(&scope, name, jpeg.clone(), "image/jpeg")
        .await
        .unwrap();
    blobs.put(&scope, name, jpeg, "image/jpeg").await.unwrap();
    // What the purge certifies: current objects only, not earlier versions or deleted ones.
    assert_eq!(blobs.count_tenant(&scope.tenant_id).await.unwrap(), 1);
    keys.destroy_master_key(&scope.master_key).await.unwrap();
    match destruction {
        Destruction::Enforced => {
            assert!(
                blobs.get(&scope, name).await.is_err(),
                "object readable after its tenant key was destroyed"
            )
        }
        Destruction::Scheduled(kms) => {
            let key = kms
                .describe_key()
                .key_id(&scope.master_key)
                .send()
                .await
                .unwrap();
            let state = key
                .key_metadata()
                .and_then(|m| m.key_state())
                .map(|s| s.as_str().to_string());
            assert_eq!(state.as_deref(), Some("PendingDeletion"));
        }
    }
    // The purge deletes every object of the tenant after its key (counting them again).
    assert_eq!(blobs.delete_tenant(&scope.tenant_id).await.unwrap(), 1);
    assert_eq!(blobs.count_tenant(&scope.tenant_id).await.unwrap(), 0);
    assert_eq!(blobs.delete_tenant(&scope.tenant_id).await.unwrap(), 0);
}

/// Performs a browser's upload with a ticket; `false` if storage refused it.
#[async_trait]
pub trait Uploader: Send + Sync {
    async fn upload(&self, ticket: &UploadTicket, content_type: &str, body: Vec<u8>) -> bool;
}

/// Signed uploads: an image passes verification; anything else is deleted with a reason.
pub async fn run_upload_suite(blobs: Arc<dyn Blobs>, keys: Arc<dyn Keys>, uploader: &dyn Uploader) {
    let tenant = ulid::Ulid::new().to_string();
    let scope = BlobScope {
        master_key: keys.create_master_key(&tenant).await.unwrap(),
        tenant_id: tenant,
    };
    let png = [
        &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A][..],
        &[3u8; 2000],
    ]
    .concat();
    let b = blobs.as_ref();

    assert!(matches!(
        uploads::ticket(b, &scope, "incoming/a.pdf", "application/pdf").await,
        Err(UploadError::Rejected(ImageError::NotAnImage))
    ));

    // Tickets exist only for the upload area.
    assert!(matches!(
        uploads::ticket(b, &scope, "images/good", "image/png").await,
        Err(UploadError::Storage(BlobError::InvalidName))
    ));

    let ticket = uploads::ticket(b, &scope, "incoming/good", "image/png")
        .await
        .unwrap();
    assert_eq!(ticket.method, "PUT");
    assert!(
        uploader.upload(&ticket, "image/png", png.clone()).await,
        "upload refused"
    );
    assert_eq!(
        uploads::accept(b, &scope, "incoming/good", "images/good")
            .await
            .unwrap(),
        ImageKind::Png
    );
    assert_eq!(
        blobs.get(&scope, "images/good").await.unwrap().unwrap().0,
        png
    );
    assert_eq!(blobs.head(&scope, "incoming/good").await.unwrap(), None);

    // The same ticket replayed after acceptance (replacing or emptying the file) reaches
    // neither the verified image nor, through a second accept, anything else: what is not
    // an image is refused before any copy. (A valid image replayed is the caller's to refuse,
    // since its record already shows the upload: tests/api/uploads.rs.)
    for replay in [b"%PDF-1.7 replayed".to_vec(), Vec::new()] {
        if uploader.upload(&ticket, "image/png", replay).await {
            assert!(matches!(
                uploads::accept(b, &scope, "incoming/good", "images/good").await,
                Err(UploadError::Rejected(ImageError::NotAnImage))
            ));
        }
        assert_eq!(
            blobs.get(&scope, "images/good").await.unwrap().unwrap().0,
            png,
            "a replayed ticket changed the verified image"
        );
        assert_eq!(blobs.head(&scope, "incoming/good").await.unwrap(), None);
    }

    // A PDF announced as PNG: refused and deleted before anything is copied.
    let ticket = uploads::ticket(b, &scope, "incoming/fake", "image/png")
        .await
        .unwrap();
    assert!(
        uploader
            .upload(&ticket, "image/png", b"%PDF-1.7 not an image".to_vec())
            .await
    );
    assert!(matches!(
        uploads::accept(b, &scope, "incoming/fake", "images/fake").await,
        Err(UploadError::Rejected(ImageError::NotAnImage))
    ));
    for name in ["incoming/fake", "images/fake"] {
        assert_eq!(
            blobs.head(&scope, name).await.unwrap(),
            None,
            "rejected upload kept"
        );
    }

    // Over 4 MB: refused at upload or deleted by verification; nothing stays.
    let big = [&png[..], &vec![0u8; 4 * 1024 * 1024]].concat();
    let ticket = uploads::ticket(b, &scope, "incoming/big", "image/png")
        .await
        .unwrap();
    if uploader.upload(&ticket, "image/png", big).await {
        assert!(matches!(
            uploads::accept(b, &scope, "incoming/big", "images/big").await,
            Err(UploadError::Rejected(ImageError::TooLarge))
        ));
    }
    for name in ["incoming/big", "images/big"] {
        assert_eq!(
            blobs.head(&scope, name).await.unwrap(),
            None,
            "oversized upload kept"
        );
    }

    assert!(matches!(
        uploads::accept(b, &scope, "incoming/never-sent", "images/never-sent").await,
        Err(UploadError::Rejected(ImageError::Missing))
    ));
}

/// Sees what a publisher's events turned into at the worker's end.
#[async_trait]
pub trait EventSink: Send + Sync {
    async fn delivered(&self) -> Vec<Event>;
}

/// Published events reach the worker with their kind and detail; bad batches are refused.
pub async fn run_events_suite(events: Arc<dyn Events>, sink: &dyn EventSink) {
    let id = ulid::Ulid::new().to_string();
    let batch: Vec<Event> = (0..3)
        .map(|i| Event {
            kind: "test.ping".into(),
            detail: json!({ "run": id, "n": i, "text": "日本語" }),
        })
        .collect();
    events.publish(batch.clone()).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..20 {
        got.extend(
            sink.delivered()
                .await
                .into_iter()
                .filter(|e| e.detail["run"] == json!(id)),
        );
        if got.len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    got.sort_by_key(|e| e.detail["n"].as_i64());
    assert_eq!(got, batch);

    assert!(events.publish(Vec::new()).await.is_err());
    let eleven: Vec<Event> = (0..11).map(|_| batch[0].clone()).collect();
    assert!(events.publish(eleven).await.is_err());
    let not_object = Event {
        kind: "test.ping".into(),
        detail: json!("text"),
    };
    assert!(events.publish(vec![not_object]).await.is_err());
}
