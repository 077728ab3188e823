//! The `Store` port: a small key-value table shaped like DynamoDB.
//!
//! Items live under a partition key (`pk`) and a sort key (`sk`), carry a JSON attribute map,
//! and may appear in two secondary indexes through the attributes `gsi1pk`/`gsi1sk` and
//! `gsi2pk`/`gsi2sk`. Only what DynamoDB can do cheaply is offered: get by key, conditional
//! put/delete, atomic add, query one partition by sort-key prefix or range (on the table or an
//! index) with a paging cursor, a transaction of up to [`MAX_TRANSACTION`] writes, batch
//! get/write. There is no scan: every access starts from a partition key, and every partition
//! key the application builds starts with the tenant id (see `app::keys`).
//!
//! Attributes named `ttl` hold an expiry in Unix seconds; expired items may linger (DynamoDB
//! deletes them lazily), so readers that care check it themselves.

use async_trait::async_trait;
use serde_json::{Map, Value};

/// Attribute map of an item (everything but `pk` and `sk`).
pub type Attrs = Map<String, Value>;

/// Most writes DynamoDB accepts in one `TransactWriteItems` call.
pub const MAX_TRANSACTION: usize = 100;
/// Most keys DynamoDB accepts in one `BatchGetItem` call; adapters split larger requests.
pub const MAX_BATCH_GET: usize = 100;

/// Primary key of an item.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Key {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// One stored item.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub key: Key,
    pub attrs: Attrs,
}

impl Item {
    pub fn new(key: Key) -> Self {
        Item {
            key,
            attrs: Attrs::new(),
        }
    }

    /// Builder-style attribute setter.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.attrs.insert(name.to_string(), value.into());
        self
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).and_then(Value::as_str)
    }

    pub fn i64(&self, name: &str) -> Option<i64> {
        self.attrs.get(name).and_then(Value::as_i64)
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        self.attrs.get(name).and_then(Value::as_bool)
    }
}

/// Which key the query runs on: the table's own `pk`/`sk`, or a secondary index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Index {
    Table,
    /// Keys from the attributes `gsi1pk` / `gsi1sk`.
    Gsi1,
    /// Keys from the attributes `gsi2pk` / `gsi2sk`.
    Gsi2,
}

impl Index {
    /// Attribute names holding this index's partition and sort key.
    pub fn key_attrs(self) -> Option<(&'static str, &'static str)> {
        match self {
            Index::Table => None,
            Index::Gsi1 => Some(("gsi1pk", "gsi1sk")),
            Index::Gsi2 => Some(("gsi2pk", "gsi2sk")),
        }
    }
}

/// Sort-key restriction of a query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkRange {
    All,
    Prefix(String),
    /// Inclusive on both ends, as DynamoDB's `BETWEEN`.
    Between(String, String),
}

/// A query over one partition.
#[derive(Clone, Debug)]
pub struct Query {
    pub index: Index,
    pub pk: String,
    pub sk: SkRange,
    /// Most items returned in one page (the adapter may return fewer).
    pub limit: usize,
    /// `false` walks the sort key downwards.
    pub forward: bool,
    /// Opaque cursor from a previous [`Page::next`].
    pub cursor: Option<String>,
}

impl Query {
    pub fn partition(pk: impl Into<String>) -> Self {
        Query {
            index: Index::Table,
            pk: pk.into(),
            sk: SkRange::All,
            limit: 100,
            forward: true,
            cursor: None,
        }
    }

    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.sk = SkRange::Prefix(prefix.into());
        self
    }

    pub fn between(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.sk = SkRange::Between(from.into(), to.into());
        self
    }

    pub fn on(mut self, index: Index) -> Self {
        self.index = index;
        self
    }

    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit.max(1);
        self
    }

    pub fn backwards(mut self) -> Self {
        self.forward = false;
        self
    }

    pub fn after(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor;
        self
    }
}

/// One page of a query; `next` is `Some` when more items may follow.
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub items: Vec<Item>,
    pub next: Option<String>,
}

/// A precondition on the item currently stored under the key.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    None,
    /// No item is stored under the key.
    NotExists,
    /// An item is stored under the key.
    Exists,
    /// The stored item has this attribute with exactly this value.
    Equals(String, Value),
}

/// One write of a transaction or a batch.
#[derive(Clone, Debug)]
pub enum WriteOp {
    Put {
        item: Item,
        condition: Condition,
    },
    Delete {
        key: Key,
        condition: Condition,
    },
    /// Atomically add each delta to its numeric attribute (missing counts as 0), creating the
    /// item if needed; DynamoDB's `UpdateItem ... ADD`. `expires_at` sets the `ttl` attribute.
    Add {
        key: Key,
        deltas: Vec<(String, i64)>,
        expires_at: Option<i64>,
    },
    /// In a transaction only: set each top-level attribute in `set` and add each delta in
    /// `add` (missing counts as 0), creating the item if needed, keeping every other
    /// attribute; DynamoDB's `UpdateItem SET ... ADD ...`. Nothing is read first, so two
    /// writers never contend for it (the registrant directory's version item).
    Update {
        key: Key,
        set: Vec<(String, Value)>,
        add: Vec<(String, i64)>,
    },
    /// Only checks the condition; writes nothing.
    Check {
        key: Key,
        condition: Condition,
    },
}

impl WriteOp {
    pub fn put(item: Item) -> Self {
        WriteOp::Put {
            item,
            condition: Condition::None,
        }
    }

    pub fn put_new(item: Item) -> Self {
        WriteOp::Put {
            item,
            condition: Condition::NotExists,
        }
    }

    pub fn key(&self) -> &Key {
        match self {
            WriteOp::Put { item, .. } => &item.key,
            WriteOp::Delete { key, .. }
            | WriteOp::Add { key, .. }
            | WriteOp::Update { key, .. }
            | WriteOp::Check { key, .. } => key,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition did not hold; nothing was written.
    #[error("condition failed")]
    ConditionFailed,
    /// The request breaks a limit of the port (too many items, same key twice, ...).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The cursor was not produced by this store for this query.
    #[error("invalid cursor")]
    BadCursor,
    /// The backend failed; the message never contains attribute values.
    #[error("store backend error: {0}")]
    Backend(String),
}

#[async_trait]
pub trait Store: Send + Sync {
    /// The item under `key`, if any.
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;

    /// Items under `keys` that exist, in no particular order. Any number of keys (adapters
    /// split into calls of [`MAX_BATCH_GET`]).
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError>;

    /// Write `item` (replacing any item under its key) if `condition` holds.
    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError>;

    /// Delete the item under `key` if `condition` holds. Deleting a missing item with
    /// `Condition::None` succeeds.
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError>;

    /// Atomically add `delta` to the numeric attribute `attr` (creating the item if needed)
    /// and return the new value; `expires_at` (Unix seconds) sets the `ttl` attribute.
    async fn add(
        &self,
        key: &Key,
        attr: &str,
        delta: i64,
        expires_at: Option<i64>,
    ) -> Result<i64, StoreError>;

    /// One page of a query. Items come in sort-key order (binary order of the UTF-8 bytes).
    async fn query(&self, query: &Query) -> Result<Page, StoreError>;

    /// All of `ops` or none of them: if any condition fails, nothing is written and
    /// `ConditionFailed` is returned. At most [`MAX_TRANSACTION`] ops, each key at most once.
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError>;

    /// Unconditional puts and deletes of any count, applied in chunks; not atomic as a whole,
    /// but every op is applied once this returns `Ok` (unprocessed items are retried).
    async fn batch_write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError>;
}

/// Every item of a (small) partition, all pages read: for global work lists, not tenant data.
pub async fn read_all(store: &dyn Store, pk: &str) -> Result<Vec<Item>, StoreError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .query(&Query::partition(pk).limit(500).after(cursor))
            .await?;
        out.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// Deletes every item of a partition, a page at a time (the month-end purge). Re-running after
/// a failure deletes what is left.
pub async fn delete_partition(store: &dyn Store, pk: &str) -> Result<(), StoreError> {
    loop {
        let page = store.query(&Query::partition(pk).limit(500)).await?;
        if page.items.is_empty() {
            return Ok(());
        }
        let ops = page
            .items
            .into_iter()
            .map(|i| WriteOp::Delete {
                key: i.key,
                condition: Condition::None,
            })
            .collect();
        store.batch_write(ops).await?;
    }
}

/// Checks the rules every adapter enforces on a transaction before touching the backend.
pub fn validate_transaction(ops: &[WriteOp]) -> Result<(), StoreError> {
    if ops.is_empty() {
        return Err(StoreError::Invalid("empty transaction".into()));
    }
    if ops.len() > MAX_TRANSACTION {
        return Err(StoreError::Invalid(format!(
            "{} writes in one transaction (max {MAX_TRANSACTION})",
            ops.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for op in ops {
        if !seen.insert(op.key()) {
            return Err(StoreError::Invalid(
                "same key twice in one transaction".into(),
            ));
        }
    }
    Ok(())
}

/// Checks a batch write: only unconditional puts and deletes.
pub fn validate_batch(ops: &[WriteOp]) -> Result<(), StoreError> {
    for op in ops {
        match op {
            WriteOp::Put {
                condition: Condition::None,
                ..
            }
            | WriteOp::Delete {
                condition: Condition::None,
                ..
            } => {}
            _ => {
                return Err(StoreError::Invalid(
                    "batch writes take only unconditional puts and deletes".into(),
                ))
            }
        }
    }
    Ok(())
}
