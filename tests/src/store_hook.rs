//! A `Store` that runs a hook before each call and then the real store: how a test injects a
//! failure into one kind of read, and how the benchmarks count store calls per page, without
//! a mock. The hook sees the operation's name and, where it has one, its key (for a query:
//! its partition and sort-key prefix).

use std::sync::Arc;

use async_trait::async_trait;
use myna::ports::store::{Condition, Item, Key, Page, Query, SkRange, Store, StoreError, WriteOp};

/// What runs before each call: the operation (`"get"`, `"query"`, …) and its key if any; an
/// error is returned instead of calling the store.
pub type Hook = dyn Fn(&'static str, Option<&Key>) -> Result<(), StoreError> + Send + Sync;

pub struct HookedStore {
    inner: Arc<dyn Store>,
    hook: Box<Hook>,
}

impl HookedStore {
    pub fn wrap(
        inner: Arc<dyn Store>,
        hook: impl Fn(&'static str, Option<&Key>) -> Result<(), StoreError> + Send + Sync + 'static,
    ) -> Arc<dyn Store> {
        Arc::new(HookedStore {
            inner,
            hook: Box::new(hook),
        })
    }
}

#[async_trait]
impl Store for HookedStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        (self.hook)("get", Some(key))?;
        self.inner.get(key).await
    }
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        (self.hook)("batch_get", None)?;
        self.inner.batch_get(keys).await
    }
    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        (self.hook)("put", Some(&item.key))?;
        self.inner.put(item, condition).await
    }
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        (self.hook)("delete", Some(key))?;
        self.inner.delete(key, condition).await
    }
    async fn add(
        &self,
        key: &Key,
        attr: &str,
        delta: i64,
        expires_at: Option<i64>,
    ) -> Result<i64, StoreError> {
        (self.hook)("add", Some(key))?;
        self.inner.add(key, attr, delta, expires_at).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        // A query's "key": its partition and its sort-key prefix (empty for other ranges).
        let prefix = match &query.sk {
            SkRange::Prefix(p) => p.as_str(),
            _ => "",
        };
        (self.hook)("query", Some(&Key::new(query.pk.clone(), prefix)))?;
        self.inner.query(query).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        (self.hook)("transact", None)?;
        self.inner.transact(ops).await
    }
    async fn batch_write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        (self.hook)("batch_write", None)?;
        self.inner.batch_write(ops).await
    }
}
