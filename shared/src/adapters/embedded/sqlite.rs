//! `Store` on one SQLite file. Each logical table (main, audit, sessions) is a SQL table with
//! the primary key `(pk, sk)` and partial indexes for the two secondary indexes. SQLite's
//! BINARY collation compares UTF-8 bytes, which is DynamoDB's sort-key order.
//! All statements run under one connection mutex; they are short, so no thread pool is used.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde_json::Value;

use crate::ports::store::{
    validate_batch, validate_transaction, Attrs, Condition, Index, Item, Key, Page, Query, SkRange,
    Store, StoreError, WriteOp,
};

/// Prepared statements kept per connection: the single-item read, existence check, write and
/// delete of each table and the query shapes in use. Every statement is prepared once and
/// reused (`prepare_cached`), not parsed again for each row a transaction writes (an import
/// commits tens of thousands).
const STATEMENT_CACHE: usize = 64;

/// The open SQLite file, shared by the table handles.
#[derive(Clone)]
pub struct SqliteDb {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteDb {
    /// Opens (creating if needed) the database file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(backend)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.execute_batch(
            // mmap: a row's attributes spill into overflow pages, and without it SQLite reads
            // each page with its own pread (the CSV download's profile: most of its time).
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;
             PRAGMA mmap_size = 1073741824;",
        )
        .map_err(backend)?;
        Ok(SqliteDb {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// A private in-memory database, for tests that need no file.
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(backend)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(SqliteDb {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// A handle on one logical table, created if missing. `name` must be a plain identifier.
    pub fn table(&self, name: &str) -> Result<SqliteStore, StoreError> {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(StoreError::Invalid("table name".into()));
        }
        let conn = self.lock();
        conn.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {name} (
                pk TEXT NOT NULL, sk TEXT NOT NULL,
                gsi1pk TEXT, gsi1sk TEXT, gsi2pk TEXT, gsi2sk TEXT,
                attrs TEXT NOT NULL,
                PRIMARY KEY (pk, sk)
             ) WITHOUT ROWID;
             CREATE INDEX IF NOT EXISTS {name}_gsi1 ON {name} (gsi1pk, gsi1sk, pk, sk)
                WHERE gsi1pk IS NOT NULL;
             CREATE INDEX IF NOT EXISTS {name}_gsi2 ON {name} (gsi2pk, gsi2sk, pk, sk)
                WHERE gsi2pk IS NOT NULL;"
        ))
        .map_err(backend)?;
        Ok(SqliteStore {
            db: self.clone(),
            table: name.to_string(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One logical table of a [`SqliteDb`].
#[derive(Clone)]
pub struct SqliteStore {
    db: SqliteDb,
    table: String,
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Position of the last item of a page: enough to resume after it on any index.
#[derive(serde::Serialize, serde::Deserialize)]
struct Cursor {
    pk: String,
    sk: String,
    /// Index sort key (absent on table queries).
    isk: Option<String>,
}

impl SqliteStore {
    fn read(tx: &Connection, table: &str, key: &Key) -> Result<Option<Attrs>, StoreError> {
        let raw: Option<String> = tx
            .prepare_cached(&format!(
                "SELECT attrs FROM {table} WHERE pk = ?1 AND sk = ?2"
            ))
            .and_then(|mut stmt| {
                stmt.query_row(params![key.pk, key.sk], |row| row.get(0))
                    .optional()
            })
            .map_err(backend)?;
        raw.map(|s| parse_attrs(&s)).transpose()
    }

    /// Whether an item exists, without reading its attributes (a `NotExists` condition on
    /// every row an import commits).
    fn exists(tx: &Connection, table: &str, key: &Key) -> Result<bool, StoreError> {
        tx.prepare_cached(&format!("SELECT 1 FROM {table} WHERE pk = ?1 AND sk = ?2"))
            .and_then(|mut stmt| stmt.exists(params![key.pk, key.sk]))
            .map_err(backend)
    }

    fn holds(current: &Option<Attrs>, condition: &Condition) -> bool {
        match condition {
            Condition::None => true,
            Condition::NotExists => current.is_none(),
            Condition::Exists => current.is_some(),
            Condition::Equals(attr, value) => {
                current.as_ref().and_then(|a| a.get(attr)) == Some(value)
            }
        }
    }

    fn write(tx: &Connection, table: &str, item: &Item) -> Result<(), StoreError> {
        let text = |name: &str| {
            item.attrs
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let attrs = serde_json::to_string(&item.attrs)
            .map_err(|e| StoreError::Invalid(format!("attributes: {e}")))?;
        tx.prepare_cached(&format!(
            "INSERT OR REPLACE INTO {table} (pk, sk, gsi1pk, gsi1sk, gsi2pk, gsi2sk, attrs)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        ))
        .and_then(|mut stmt| {
            stmt.execute(params![
                item.key.pk,
                item.key.sk,
                text("gsi1pk"),
                text("gsi1sk"),
                text("gsi2pk"),
                text("gsi2sk"),
                attrs
            ])
        })
        .map_err(backend)?;
        Ok(())
    }

    fn remove(tx: &Connection, table: &str, key: &Key) -> Result<(), StoreError> {
        tx.prepare_cached(&format!("DELETE FROM {table} WHERE pk = ?1 AND sk = ?2"))
            .and_then(|mut stmt| stmt.execute(params![key.pk, key.sk]))
            .map_err(backend)?;
        Ok(())
    }

    /// Sets `set`, applies the deltas and returns the new value of the first one.
    fn add_in(
        tx: &Connection,
        table: &str,
        key: &Key,
        (set, deltas): (&[(String, Value)], Deltas<'_>),
        expires_at: Option<i64>,
    ) -> Result<i64, StoreError> {
        let mut attrs = Self::read(tx, table, key)?.unwrap_or_default();
        for (attr, value) in set {
            attrs.insert(attr.clone(), value.clone());
        }
        let mut first = None;
        for (attr, delta) in deltas {
            let current = match attrs.get(attr) {
                None => 0,
                Some(v) => v.as_i64().ok_or_else(|| {
                    StoreError::Invalid(format!("attribute {attr} is not a number"))
                })?,
            };
            let next = current
                .checked_add(*delta)
                .ok_or_else(|| StoreError::Invalid("counter overflow".into()))?;
            attrs.insert(attr.clone(), Value::from(next));
            first.get_or_insert(next);
        }
        if let Some(at) = expires_at {
            attrs.insert("ttl".into(), Value::from(at));
        }
        Self::write(
            tx,
            table,
            &Item {
                key: key.clone(),
                attrs,
            },
        )?;
        Ok(first.unwrap_or(0))
    }

    fn apply(tx: &Transaction<'_>, table: &str, op: &WriteOp) -> Result<(), StoreError> {
        let check = |key: &Key, condition: &Condition| -> Result<(), StoreError> {
            let holds = match condition {
                Condition::None => true,
                Condition::NotExists => !Self::exists(tx, table, key)?,
                Condition::Exists => Self::exists(tx, table, key)?,
                Condition::Equals(..) => Self::holds(&Self::read(tx, table, key)?, condition),
            };
            if holds {
                Ok(())
            } else {
                Err(StoreError::ConditionFailed)
            }
        };
        match op {
            WriteOp::Put { item, condition } => {
                check(&item.key, condition)?;
                Self::write(tx, table, item)
            }
            WriteOp::Delete { key, condition } => {
                check(key, condition)?;
                Self::remove(tx, table, key)
            }
            WriteOp::Add {
                key,
                deltas,
                expires_at,
            } => Self::add_in(tx, table, key, (&[], deltas), *expires_at).map(|_| ()),
            WriteOp::Update { key, set, add } => {
                Self::add_in(tx, table, key, (set, add), None).map(|_| ())
            }
            WriteOp::Check { key, condition } => check(key, condition),
        }
    }

    fn run_atomic(&self, ops: &[WriteOp]) -> Result<(), StoreError> {
        let mut conn = self.db.lock();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(backend)?;
        for op in ops {
            // Dropping `tx` on error rolls everything back.
            Self::apply(&tx, &self.table, op)?;
        }
        tx.commit().map_err(backend)
    }
}

/// Counter deltas of an add or update.
type Deltas<'a> = &'a [(String, i64)];

fn parse_attrs(raw: &str) -> Result<Attrs, StoreError> {
    serde_json::from_str(raw).map_err(|e| StoreError::Backend(format!("stored attributes: {e}")))
}

fn decode_cursor(raw: &str) -> Result<Cursor, StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(raw)
        .map_err(|_| StoreError::BadCursor)?;
    serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)
}

fn encode_cursor(c: &Cursor) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(c).unwrap_or_default())
}

/// Upper bound for a prefix range: U+10FFFF is a noncharacter, so no key contains it.
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

#[async_trait]
impl Store for SqliteStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let conn = self.db.lock();
        Ok(Self::read(&conn, &self.table, key)?.map(|attrs| Item {
            key: key.clone(),
            attrs,
        }))
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        let conn = self.db.lock();
        let mut out = Vec::with_capacity(keys.len());
        let mut seen = std::collections::HashSet::new();
        for key in keys {
            if !seen.insert(key) {
                continue;
            }
            if let Some(attrs) = Self::read(&conn, &self.table, key)? {
                out.push(Item {
                    key: key.clone(),
                    attrs,
                });
            }
        }
        Ok(out)
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        self.run_atomic(&[WriteOp::Put { item, condition }])
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.run_atomic(&[WriteOp::Delete {
            key: key.clone(),
            condition,
        }])
    }

    async fn add(
        &self,
        key: &Key,
        attr: &str,
        delta: i64,
        expires_at: Option<i64>,
    ) -> Result<i64, StoreError> {
        let mut conn = self.db.lock();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(backend)?;
        let next = Self::add_in(
            &tx,
            &self.table,
            key,
            (&[], &[(attr.to_string(), delta)]),
            expires_at,
        )?;
        tx.commit().map_err(backend)?;
        Ok(next)
    }

    async fn query(&self, q: &Query) -> Result<Page, StoreError> {
        let (pk_col, sk_col) = q.index.key_attrs().unwrap_or(("pk", "sk"));
        let mut sql = format!(
            "SELECT pk, sk, attrs, {sk_col} FROM {} WHERE {pk_col} = ?1",
            self.table
        );
        let mut args: Vec<String> = vec![q.pk.clone()];
        let arg = |v: String, args: &mut Vec<String>| {
            args.push(v);
            format!("?{}", args.len())
        };
        // On the table, a cursor is the bound the walk starts from: given both it and the
        // range's own start, SQLite seeks to the range's start and steps over every row
        // before the cursor, so page k of a walk cost k pages (the CSV download's profile).
        let resumes = q.cursor.is_some() && q.index == Index::Table;
        let (skip_low, skip_high) = (resumes && q.forward, resumes && !q.forward);
        match &q.sk {
            SkRange::All => {}
            SkRange::Prefix(p) => {
                if !skip_low {
                    let a = arg(p.clone(), &mut args);
                    sql.push_str(&format!(" AND {sk_col} >= {a}"));
                }
                if !skip_high {
                    let b = arg(prefix_end(p), &mut args);
                    sql.push_str(&format!(" AND {sk_col} < {b}"));
                }
            }
            SkRange::Between(from, to) => {
                if !skip_low {
                    let a = arg(from.clone(), &mut args);
                    sql.push_str(&format!(" AND {sk_col} >= {a}"));
                }
                if !skip_high {
                    let b = arg(to.clone(), &mut args);
                    sql.push_str(&format!(" AND {sk_col} <= {b}"));
                }
            }
        }
        let cmp = if q.forward { ">" } else { "<" };
        if let Some(raw) = &q.cursor {
            let c = decode_cursor(raw)?;
            if q.index == Index::Table {
                let a = arg(c.sk, &mut args);
                sql.push_str(&format!(" AND sk {cmp} {a}"));
            } else {
                let isk = c.isk.ok_or(StoreError::BadCursor)?;
                let (a, b, d) = (
                    arg(isk, &mut args),
                    arg(c.pk, &mut args),
                    arg(c.sk, &mut args),
                );
                sql.push_str(&format!(" AND ({sk_col}, pk, sk) {cmp} ({a}, {b}, {d})"));
            }
        }
        let dir = if q.forward { "ASC" } else { "DESC" };
        if q.index == Index::Table {
            sql.push_str(&format!(" ORDER BY sk {dir}"));
        } else {
            sql.push_str(&format!(" ORDER BY {sk_col} {dir}, pk {dir}, sk {dir}"));
        }
        let limit = q.limit.max(1);
        sql.push_str(&format!(" LIMIT {}", limit + 1));

        let conn = self.db.lock();
        let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, Option<String>>(3)?,
                ))
            })
            .map_err(backend)?;
        let mut items = Vec::new();
        let mut last_isk = None;
        let mut more = false;
        for row in rows {
            let (pk, sk, attrs, isk) = row.map_err(backend)?;
            if items.len() == limit {
                more = true;
                break;
            }
            last_isk = isk;
            items.push(Item {
                key: Key { pk, sk },
                attrs: parse_attrs(&attrs)?,
            });
        }
        let next = match (more, items.last()) {
            (true, Some(last)) => Some(encode_cursor(&Cursor {
                pk: last.key.pk.clone(),
                sk: last.key.sk.clone(),
                isk: if q.index == Index::Table {
                    None
                } else {
                    last_isk
                },
            })),
            _ => None,
        };
        Ok(Page { items, next })
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        validate_transaction(&ops)?;
        self.run_atomic(&ops)
    }

    async fn batch_write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        validate_batch(&ops)?;
        if ops.is_empty() {
            return Ok(());
        }
        self.run_atomic(&ops)
    }
}
