//! `Store` on DynamoDB. Items map attribute for attribute (JSON strings, numbers, booleans,
//! null, lists and maps to S, N, BOOL, NULL, L, M); conditions become condition expressions on
//! `pk`; `add` is `UpdateItem … ADD`; transactions are `TransactWriteItems`; batch writes and
//! reads are split into 25 / 100 keys and their unprocessed items retried with backoff.
//!
//! Queries ask for one item more than the page size, so `next` is `Some` only when more items
//! exist; the cursor is the last returned item's key attributes (DynamoDB's
//! `ExclusiveStartKey`), base64-encoded.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, DeleteRequest, KeysAndAttributes, Put, PutRequest,
    ReturnValue, TransactWriteItem, Update, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde_json::{Number, Value};

use super::describe;
use crate::ports::store::{
    validate_batch, validate_transaction, Attrs, Condition, Index, Item, Key, Page, Query, SkRange,
    Store, StoreError, WriteOp, MAX_BATCH_GET,
};

const BATCH_WRITE: usize = 25;
const RETRIES: u32 = 8;

type AttrMap = HashMap<String, AttributeValue>;

pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: &str) -> Self {
        DynamoStore {
            client,
            table: table.to_string(),
        }
    }
}

fn to_av(v: &Value) -> AttributeValue {
    match v {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(a) => AttributeValue::L(a.iter().map(to_av).collect()),
        Value::Object(o) => {
            AttributeValue::M(o.iter().map(|(k, v)| (k.clone(), to_av(v))).collect())
        }
    }
}

fn from_av(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => n
            .parse::<i64>()
            .map(Value::from)
            .ok()
            .or_else(|| {
                n.parse::<f64>()
                    .ok()
                    .and_then(Number::from_f64)
                    .map(Value::Number)
            })
            .unwrap_or(Value::Null),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::L(l) => Value::Array(l.iter().map(from_av).collect()),
        AttributeValue::M(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), from_av(v))).collect())
        }
        _ => Value::Null,
    }
}

fn key_map(key: &Key) -> AttrMap {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(key.pk.clone())),
        ("sk".to_string(), AttributeValue::S(key.sk.clone())),
    ])
}

fn item_map(item: &Item) -> AttrMap {
    let mut map = key_map(&item.key);
    for (k, v) in &item.attrs {
        map.insert(k.clone(), to_av(v));
    }
    map
}

fn from_map(map: &AttrMap) -> Option<Item> {
    let s = |k: &str| map.get(k).and_then(|v| v.as_s().ok()).cloned();
    let key = Key {
        pk: s("pk")?,
        sk: s("sk")?,
    };
    let attrs: Attrs = map
        .iter()
        .filter(|(k, _)| *k != "pk" && *k != "sk")
        .map(|(k, v)| (k.clone(), from_av(v)))
        .collect();
    Some(Item { key, attrs })
}

/// A condition expression with its names and values (`None` for no condition).
struct Expr {
    text: String,
    names: HashMap<String, String>,
    values: AttrMap,
}

fn condition_expr(condition: &Condition) -> Option<Expr> {
    // DynamoDB refuses names or values the expression does not use.
    let pk = || HashMap::from([("#pk".to_string(), "pk".to_string())]);
    Some(match condition {
        Condition::None => return None,
        Condition::NotExists => Expr {
            text: "attribute_not_exists(#pk)".into(),
            names: pk(),
            values: HashMap::new(),
        },
        Condition::Exists => Expr {
            text: "attribute_exists(#pk)".into(),
            names: pk(),
            values: HashMap::new(),
        },
        Condition::Equals(attr, value) => Expr {
            text: "#c = :c".into(),
            names: HashMap::from([("#c".to_string(), attr.clone())]),
            values: HashMap::from([(":c".to_string(), to_av(value))]),
        },
    })
}

/// Adds a condition's expression, names and values to any request builder that takes them (the
/// SDK's builders share these methods but no trait).
macro_rules! with_condition {
    ($builder:expr, $condition:expr) => {
        match condition_expr($condition) {
            None => $builder,
            Some(e) => $builder
                .condition_expression(e.text)
                .set_expression_attribute_names(Some(e.names))
                .set_expression_attribute_values((!e.values.is_empty()).then_some(e.values)),
        }
    };
}

fn add_expr(deltas: &[(String, i64)], expires_at: Option<i64>) -> Expr {
    let ttl = expires_at.map(|at| ("ttl".to_string(), Value::from(at)));
    update_expr(ttl.as_slice(), deltas)
}

/// `SET #s0 = :s0, ... ADD #a0 :a0, ...`: top-level attribute names only, passed as
/// expression attribute names (so any name, `#` and all, is taken literally).
fn update_expr(set: &[(String, Value)], deltas: &[(String, i64)]) -> Expr {
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    let mut sets = Vec::new();
    let mut adds = Vec::new();
    for (i, (attr, value)) in set.iter().enumerate() {
        names.insert(format!("#s{i}"), attr.clone());
        values.insert(format!(":s{i}"), to_av(value));
        sets.push(format!("#s{i} = :s{i}"));
    }
    for (i, (attr, delta)) in deltas.iter().enumerate() {
        names.insert(format!("#a{i}"), attr.clone());
        values.insert(format!(":a{i}"), AttributeValue::N(delta.to_string()));
        adds.push(format!("#a{i} :a{i}"));
    }
    let mut clauses = Vec::new();
    if !sets.is_empty() {
        clauses.push(format!("SET {}", sets.join(", ")));
    }
    if !adds.is_empty() {
        clauses.push(format!("ADD {}", adds.join(", ")));
    }
    let text = clauses.join(" ");
    Expr {
        text,
        names,
        values,
    }
}

impl DynamoStore {
    /// One `Update` of a transaction.
    fn transact_update(&self, key: &Key, e: Expr) -> Result<TransactWriteItem, StoreError> {
        let b = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .update_expression(e.text)
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values));
        Ok(TransactWriteItem::builder()
            .update(b.build().map_err(invalid)?)
            .build())
    }
}

fn invalid(e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(e.to_string())
}

/// Times a transaction cancelled by another one on the same item is sent again. Every write
/// of a tenant's registrants touches its directory version item (and many its counters), so
/// two at once are common; DynamoDB cancels one of them whole, and sending it again is safe.
const CONFLICT_RETRIES: u32 = 4;

/// Why DynamoDB cancelled a transaction, from its cancellation reasons (one per item, `None`
/// or "None" for the items that were fine).
#[derive(Debug, PartialEq, Eq)]
enum Cancelled {
    /// A condition of the caller's failed: the write is refused.
    Condition,
    /// Only conflicts with another transaction in flight: nothing was written, try again.
    Conflict,
    /// Anything else (throttling, validation, not a cancellation).
    Other,
}

fn cancelled_because(reasons: &[Option<&str>]) -> Cancelled {
    let codes: Vec<&str> = reasons
        .iter()
        .flatten()
        .copied()
        .filter(|c| *c != "None")
        .collect();
    if codes.contains(&"ConditionalCheckFailed") {
        Cancelled::Condition
    } else if !codes.is_empty() && codes.iter().all(|c| *c == "TransactionConflict") {
        Cancelled::Conflict
    } else {
        Cancelled::Other
    }
}

async fn backoff(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(25 * (1 << attempt.min(6)))).await;
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Cursor(std::collections::BTreeMap<String, String>);

#[async_trait]
impl Store for DynamoStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::Backend(describe(&e)))?;
        Ok(out.item().and_then(from_map))
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        let mut unique: Vec<&Key> = Vec::with_capacity(keys.len());
        let mut seen = std::collections::HashSet::new();
        for k in keys {
            if seen.insert(k) {
                unique.push(k);
            }
        }
        let mut out = Vec::with_capacity(unique.len());
        for chunk in unique.chunks(MAX_BATCH_GET) {
            let mut pending: Vec<AttrMap> = chunk.iter().map(|k| key_map(k)).collect();
            let mut attempt = 0;
            while !pending.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .build()
                    .map_err(invalid)?;
                let res = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| StoreError::Backend(describe(&e)))?;
                if let Some(items) = res.responses().and_then(|r| r.get(&self.table)) {
                    out.extend(items.iter().filter_map(from_map));
                }
                if let Some(left) = res.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                    pending = left.keys().to_vec();
                }
                if !pending.is_empty() {
                    attempt += 1;
                    if attempt > RETRIES {
                        return Err(StoreError::Backend(
                            "batch get: keys left unprocessed".into(),
                        ));
                    }
                    backoff(attempt).await;
                }
            }
        }
        Ok(out)
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        let req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_map(&item)));
        let req = with_condition!(req, &condition);
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::ConditionFailed)
            }
            Err(e) => Err(StoreError::Backend(describe(&e))),
        }
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        let req = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)));
        let req = with_condition!(req, &condition);
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::ConditionFailed)
            }
            Err(e) => Err(StoreError::Backend(describe(&e))),
        }
    }

    async fn add(
        &self,
        key: &Key,
        attr: &str,
        delta: i64,
        expires_at: Option<i64>,
    ) -> Result<i64, StoreError> {
        let e = add_expr(&[(attr.to_string(), delta)], expires_at);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .update_expression(e.text)
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| StoreError::Backend(describe(&e)))?;
        out.attributes()
            .and_then(|a| a.get(attr))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| StoreError::Backend("update returned no counter".into()))
    }

    async fn query(&self, q: &Query) -> Result<Page, StoreError> {
        let (pk_attr, sk_attr) = q.index.key_attrs().unwrap_or(("pk", "sk"));
        let mut names = HashMap::from([("#pk".to_string(), pk_attr.to_string())]);
        let mut values: AttrMap =
            HashMap::from([(":pk".to_string(), AttributeValue::S(q.pk.clone()))]);
        let mut cond = "#pk = :pk".to_string();
        match &q.sk {
            SkRange::All => {}
            SkRange::Prefix(p) => {
                names.insert("#sk".into(), sk_attr.into());
                values.insert(":p".into(), AttributeValue::S(p.clone()));
                cond.push_str(" AND begins_with(#sk, :p)");
            }
            SkRange::Between(a, b) => {
                names.insert("#sk".into(), sk_attr.into());
                values.insert(":a".into(), AttributeValue::S(a.clone()));
                values.insert(":b".into(), AttributeValue::S(b.clone()));
                cond.push_str(" AND #sk BETWEEN :a AND :b");
            }
        }
        let start = match &q.cursor {
            None => None,
            Some(raw) => {
                let bytes = URL_SAFE_NO_PAD
                    .decode(raw)
                    .map_err(|_| StoreError::BadCursor)?;
                let Cursor(map) =
                    serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)?;
                if map.get(pk_attr) != Some(&q.pk) {
                    return Err(StoreError::BadCursor);
                }
                Some(
                    map.into_iter()
                        .map(|(k, v)| (k, AttributeValue::S(v)))
                        .collect::<AttrMap>(),
                )
            }
        };
        let limit = q.limit.max(1);
        let mut req = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(cond)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(q.forward)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start);
        req = match q.index {
            Index::Table => req.consistent_read(true),
            Index::Gsi1 => req.index_name("gsi1"),
            Index::Gsi2 => req.index_name("gsi2"),
        };
        let out = req
            .send()
            .await
            .map_err(|e| StoreError::Backend(describe(&e)))?;
        let mut items: Vec<Item> = out.items().iter().filter_map(from_map).collect();
        // More follow when DynamoDB returned the extra item asked for, or when it stopped at
        // 1 MB of items before the limit (it then names where it stopped).
        let cut = out.last_evaluated_key().is_some_and(|k| !k.is_empty());
        let more = items.len() > limit || cut;
        items.truncate(limit);
        let next = match (more, items.last()) {
            (true, Some(last)) => {
                let mut key = std::collections::BTreeMap::new();
                key.insert("pk".to_string(), last.key.pk.clone());
                key.insert("sk".to_string(), last.key.sk.clone());
                if let Some((ipk, isk)) = q.index.key_attrs() {
                    for a in [ipk, isk] {
                        if let Some(v) = last.str(a) {
                            key.insert(a.to_string(), v.to_string());
                        }
                    }
                }
                Some(URL_SAFE_NO_PAD.encode(serde_json::to_vec(&Cursor(key)).unwrap_or_default()))
            }
            _ => None,
        };
        Ok(Page { items, next })
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        validate_transaction(&ops)?;
        let mut items = Vec::with_capacity(ops.len());
        for op in &ops {
            let item = match op {
                WriteOp::Put { item, condition } => {
                    let b = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(item_map(item)));
                    let b = with_condition!(b, condition);
                    TransactWriteItem::builder()
                        .put(b.build().map_err(invalid)?)
                        .build()
                }
                WriteOp::Delete { key, condition } => {
                    let b = Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_map(key)));
                    let b = with_condition!(b, condition);
                    TransactWriteItem::builder()
                        .delete(b.build().map_err(invalid)?)
                        .build()
                }
                WriteOp::Add {
                    key,
                    deltas,
                    expires_at,
                } => self.transact_update(key, add_expr(deltas, *expires_at))?,
                WriteOp::Update { key, set, add } => {
                    self.transact_update(key, update_expr(set, add))?
                }
                WriteOp::Check { key, condition } => {
                    let e = condition_expr(condition).unwrap_or(Expr {
                        text: "attribute_exists(#pk) OR attribute_not_exists(#pk)".into(),
                        names: HashMap::from([("#pk".to_string(), "pk".to_string())]),
                        values: HashMap::new(),
                    });
                    let b = ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_map(key)))
                        .condition_expression(e.text)
                        .set_expression_attribute_names(Some(e.names))
                        .set_expression_attribute_values(
                            (!e.values.is_empty()).then_some(e.values),
                        );
                    TransactWriteItem::builder()
                        .condition_check(b.build().map_err(invalid)?)
                        .build()
                }
            };
            items.push(item);
        }
        let mut attempt = 0;
        loop {
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let Err(e) = sent else {
                return Ok(());
            };
            let reasons: Vec<Option<&str>> = e
                .as_service_error()
                .and_then(|s| match s {
                    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => Some(c),
                    _ => None,
                })
                .map(|c| c.cancellation_reasons().iter().map(|r| r.code()).collect())
                .unwrap_or_default();
            match cancelled_because(&reasons) {
                Cancelled::Condition => return Err(StoreError::ConditionFailed),
                Cancelled::Conflict if attempt < CONFLICT_RETRIES => {
                    attempt += 1;
                    backoff(attempt).await;
                }
                _ => return Err(StoreError::Backend(describe(&e))),
            }
        }
    }

    async fn batch_write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        validate_batch(&ops)?;
        let mut requests = Vec::with_capacity(ops.len());
        for op in &ops {
            let req = match op {
                WriteOp::Put { item, .. } => WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item_map(item)))
                            .build()
                            .map_err(invalid)?,
                    )
                    .build(),
                WriteOp::Delete { key, .. } => WriteRequest::builder()
                    .delete_request(
                        DeleteRequest::builder()
                            .set_key(Some(key_map(key)))
                            .build()
                            .map_err(invalid)?,
                    )
                    .build(),
                _ => return Err(StoreError::Invalid("batch op".into())),
            };
            requests.push(req);
        }
        for chunk in requests.chunks(BATCH_WRITE) {
            let mut pending = chunk.to_vec();
            let mut attempt = 0;
            while !pending.is_empty() {
                let res = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, std::mem::take(&mut pending))
                    .send()
                    .await
                    .map_err(|e| StoreError::Backend(describe(&e)))?;
                if let Some(left) = res.unprocessed_items().and_then(|u| u.get(&self.table)) {
                    pending = left.clone();
                }
                if !pending.is_empty() {
                    attempt += 1;
                    if attempt > RETRIES {
                        return Err(StoreError::Backend(
                            "batch write: items left unprocessed".into(),
                        ));
                    }
                    backoff(attempt).await;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_is_sent_again_only_when_another_one_on_its_items_cancelled_it() {
        // a conflict on the directory version item, the other items fine: sent again
        let conflict = [Some("None"), Some("TransactionConflict"), None];
        assert_eq!(cancelled_because(&conflict), Cancelled::Conflict);
        // a failed condition is the caller's answer, even beside a conflict: never resent
        let condition = [Some("ConditionalCheckFailed"), Some("TransactionConflict")];
        assert_eq!(cancelled_because(&condition), Cancelled::Condition);
        // throttling or anything unknown, or no reasons at all: an error, not resent here
        let throttled = [Some("ThrottlingError"), Some("TransactionConflict")];
        assert_eq!(cancelled_because(&throttled), Cancelled::Other);
        assert_eq!(cancelled_because(&[]), Cancelled::Other);
    }
}
