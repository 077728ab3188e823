//! Staged imports: how thousands of new registrants (CSVアップロード) or one 複数一括登録 page
//! become visible all at once, although one DynamoDB transaction holds at most 100 writes.
//!
//! 1. **Stage.** The checked people are cut into chunks that each fit one transaction (the
//!    registrant, its dependents, its 社員コード claim and number fingerprints never straddle
//!    two). Each chunk is one item in the import's own partition (`T#<t>#IMPORT#<id>`, no index
//!    attributes), holding the final items with their ids and sealed numbers; the `IMPORT#<id>`
//!    item (state `staged`, counts, who, the file's SHA-256, the counters' delta) is written
//!    last. Nothing in the tenant's partition or its indexes has changed yet.
//! 2. **Commit** (`committing`). Chunk *k* is one transaction: its registrants and dependents
//!    (carrying `import_id`), its claims (`REGCODE#`, put only if absent, so 社員コード stays
//!    unique against anyone saving meanwhile), its fingerprints (`FP#`, so duplicate checks see
//!    the numbers at once) and the `IMPORT` item advanced from *k* to *k+1* under a version
//!    condition. A chunk is therefore applied exactly once, and a re-run (after a crash, a
//!    timeout, a closed browser) resumes at the recorded chunk. Rows carrying an `import_id`
//!    whose import is not `done` are hidden by [`visible`] (`app::import_gate`), which `registrants::get`, the list
//!    and every walk go through, and the HOME counters have not moved: nothing is visible.
//! 3. **Flip.** One transaction sets the import `done` and adds the counters' delta: every row
//!    becomes visible in the same instant, and HOME counts them. The plan limit is checked
//!    just before.
//! 4. **Tidy** (`done` → `finished`). Chunk by chunk the rows are rewritten without
//!    `import_id` (only if still carrying it, so an edit made meanwhile wins) and the chunk item
//!    (sealed numbers) is deleted; afterwards reads pay nothing for the gate. The last step
//!    writes the operation-log entry (once: `ChainedAudit::record_once`, keyed by the import)
//!    and then `finished`, so a failure between the two is repaired by the re-run, never
//!    doubled.
//!
//! A chunk refused because a 社員コード was taken since the check, or a plan limit reached
//! meanwhile, marks the import `failed`; running it then rolls the committed chunks back (in
//! reverse, each undo one transaction moving the progress down), which is the cleanup of
//! anything still carrying an uncommitted import id. A staged import never started is
//! discarded by [`discard`]. A single-chunk import (every 複数一括登録 page of ordinary size)
//! skips the gate: its one transaction writes the rows, the counters and `done` (tidied) at
//! once; the log entry and `finished` follow as above.
//!
//! Limits: duplicate numbers are checked when staging, not by a condition (fingerprints are
//! per record, like the single add form's warning). Abandoned `staged` imports stay until
//! discarded (their status page offers it); there is no sweep yet.
//!
//! This file: staging (1.); `run` commits, flips, tidies and rolls back (2.–4.); `job` is the
//! `import.commit` job that drives `run` to the end; the import's state record and the gate
//! are `app::import_gate`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::actor::Actor;
use super::dependents::Dependent;
pub use super::import_gate::{load, visible, Import, Source, State, IMPORT_ATTR};
use super::keys::{index, sk, TenantScope};
use super::registrants::{self as regs, Registrant};
use super::tenants::Counters;
use super::{App, InfraError};
use crate::ports::store::{Attrs, Condition, Item, Key, WriteOp, MAX_TRANSACTION};

mod job;
mod run;
pub use job::{commit_event, run_job, stalled, COMMIT_JOB};
pub use run::{discard, run, start, Budget};

/// Writes of one chunk, leaving room for the import item, the counters and the chunk delete,
/// and for the registrant directory's upkeep (see [`cost`]).
const CHUNK_WRITES: usize = MAX_TRANSACTION - 3 - super::directory::FIXED_OPS;

/// The room staged writes take in a transaction: each registrant record brings its directory
/// entry along (`TenantScope::transact`).
fn cost(writes: &[Staged]) -> usize {
    writes.len()
        + writes
            .iter()
            .filter(|w| w.role == Role::Record && super::directory::is_registrant_sk(&w.sk))
            .count()
}

/// What one staged write is, which decides how it is committed, tidied and undone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Role {
    /// A registrant or dependent item: carries `import_id` until tidied.
    Record,
    /// A 社員コード claim: must not exist yet.
    Claim,
    /// A number fingerprint.
    Fingerprint,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Staged {
    role: Role,
    sk: String,
    attrs: Attrs,
}

impl Staged {
    /// The stored form, as `Serialize` writes it, built by moving the attributes instead of
    /// copying them (a chunk holds about 90 items' attributes).
    fn into_value(self) -> Value {
        let role = match self.role {
            Role::Record => "record",
            Role::Claim => "claim",
            Role::Fingerprint => "fingerprint",
        };
        let mut out = Attrs::new();
        out.insert("role".into(), Value::from(role));
        out.insert("sk".into(), Value::from(self.sk));
        out.insert("attrs".into(), Value::Object(self.attrs));
        Value::Object(out)
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Chunk {
    people: usize,
    writes: Vec<Staged>,
}

/// The writes adding one registrant with its dependents, as a normal save would make them.
fn person_writes(scope: &TenantScope, r: &Registrant, deps: &[Dependent]) -> Vec<Staged> {
    let staged = |role, item: Item| Staged {
        role,
        sk: item.key.sk,
        attrs: item.attrs,
    };
    let mut out = vec![staged(Role::Record, r.to_item(scope))];
    for op in regs::claim_ops(scope, None, Some(r)) {
        if let WriteOp::Put { item, condition } = op {
            let role = if condition == Condition::NotExists {
                Role::Claim
            } else {
                Role::Fingerprint
            };
            out.push(staged(role, item));
        }
    }
    for d in deps {
        out.push(staged(Role::Record, d.to_item(scope)));
        if let Some(n) = &d.person.number {
            out.push(staged(
                Role::Fingerprint,
                Item::new(scope.key(&sk::fingerprint(&n.fingerprint, &d.id)))
                    .with("label", super::dependents::fingerprint_label(d, r))
                    .with("registrant_id", r.id.clone()),
            ));
        }
    }
    out
}

/// Stages checked people (see the module docs, step 1); nothing becomes visible.
pub async fn stage(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    source: Source,
    digest: &str,
    people: &[(Registrant, Vec<Dependent>)],
) -> Result<Import, InfraError> {
    // A 削除予定日 in the batch: the retention job must look at this tenant (before writing).
    if people.iter().any(|(r, _)| r.delete_on.is_some()) {
        scope.enlist_for_retention().await?;
    }
    let id = ulid::Ulid::new().to_string();
    // Each chunk is written as soon as the next person does not fit, so only one chunk's
    // items are held at a time (an upload of 20,000 rows stays within a few dozen MiB).
    let mut chunk = Chunk::default();
    let mut chunks = 0;
    let mut delta = Counters::default();
    let mut dependents = 0;
    for (r, deps) in people {
        let writes = person_writes(scope, r, deps);
        if !chunk.writes.is_empty() && cost(&chunk.writes) + cost(&writes) > CHUNK_WRITES {
            put_chunk(scope, &id, chunks, std::mem::take(&mut chunk)).await?;
            chunks += 1;
        }
        chunk.people += 1 + deps.len();
        chunk.writes.extend(writes);
        dependents += deps.len();
        let d = regs::counter_delta(None, Some(r));
        delta = Counters {
            registrants: delta.registrants + d.registrants,
            unregistered: delta.unregistered + d.unregistered,
            pending: delta.pending + d.pending,
            retired: delta.retired + d.retired,
            dependents: delta.dependents + d.dependents,
            dependents_unregistered: delta.dependents_unregistered + d.dependents_unregistered,
            dependents_pending: delta.dependents_pending + d.dependents_pending,
            dependents_retired: delta.dependents_retired + d.dependents_retired,
        };
    }
    put_chunk(scope, &id, chunks, chunk).await?;
    chunks += 1;
    let import = Import {
        id,
        source,
        state: State::Staged,
        chunks,
        committed: 0,
        tidied: 0,
        registrants: people.len(),
        dependents,
        committed_people: 0,
        digest: digest.to_string(),
        actor: actor.clone(),
        delta,
        error: None,
        created_at: app.now().unix_timestamp(),
        changed_at: app.now().unix_timestamp(),
        version: 0,
    };
    scope
        .put(import.to_item(scope), Condition::NotExists)
        .await?;
    Ok(import)
}

/// Writes chunk `n` of import `id` (in the import's own partition, out of every list's way).
async fn put_chunk(
    scope: &TenantScope,
    id: &str,
    n: usize,
    chunk: Chunk,
) -> Result<(), InfraError> {
    let writes: Vec<Value> = chunk.writes.into_iter().map(Staged::into_value).collect();
    let item = Item::new(Key::new(
        scope.partition(&index::import(id)),
        sk::import_chunk(n),
    ))
    .with("people", chunk.people)
    .with("writes", writes);
    scope.put(item, Condition::None).await?;
    Ok(())
}

async fn load_chunk(scope: &TenantScope, id: &str, n: usize) -> Result<Chunk, InfraError> {
    find_chunk(scope, id, n)
        .await?
        .ok_or(InfraError::Corrupt("import chunk"))
}

/// Chunk `n` of import `id`, if it is still stored (it is deleted once tidied or rolled back).
async fn find_chunk(scope: &TenantScope, id: &str, n: usize) -> Result<Option<Chunk>, InfraError> {
    let Some(mut item) = scope
        .get(&Key::new(
            scope.partition(&index::import(id)),
            sk::import_chunk(n),
        ))
        .await?
    else {
        return Ok(None);
    };
    // Taken out of the item, not copied: the chunk is the biggest thing an import reads.
    let writes = item.attrs.remove("writes").unwrap_or_default();
    Ok(Some(Chunk {
        people: item
            .i64("people")
            .and_then(|v| usize::try_from(v).ok())
            .unwrap_or(0),
        writes: serde_json::from_value(writes).map_err(|_| InfraError::Corrupt("import chunk"))?,
    }))
}

fn chunk_delete(scope: &TenantScope, id: &str, n: usize) -> WriteOp {
    WriteOp::Delete {
        key: Key::new(scope.partition(&index::import(id)), sk::import_chunk(n)),
        condition: Condition::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_value_reads_back_as_serde_writes_it() {
        // GIVEN a staged write of each role
        for role in [Role::Record, Role::Claim, Role::Fingerprint] {
            let mut attrs = Attrs::new();
            attrs.insert("family_name".into(), Value::from("山田"));
            attrs.insert("dependents".into(), Value::from(2));
            let staged = Staged {
                role,
                sk: "REG#01J0000000000000000000000".into(),
                attrs,
            };
            // WHEN it is stored by moving its attributes
            let moved = staged.clone().into_value();
            // THEN it is what serde writes, and reads back unchanged
            assert_eq!(moved, serde_json::to_value(&staged).unwrap_or_default());
            let back: Staged = serde_json::from_value(moved).unwrap_or_else(|_| Staged {
                role: Role::Claim,
                sk: String::new(),
                attrs: Attrs::new(),
            });
            assert_eq!(
                (back.role, back.sk, back.attrs),
                (staged.role, staged.sk, staged.attrs)
            );
        }
    }
}
