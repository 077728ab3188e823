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
//!    (sealed numbers) is deleted; afterwards reads pay nothing for the gate.
//!
//! A chunk refused because a 社員コード was taken since the check, or a plan limit reached
//! meanwhile, marks the import `failed`; running it then rolls the committed chunks back (in
//! reverse, each undo one transaction moving the progress down), which is the cleanup of
//! anything still carrying an uncommitted import id. A staged import never started is
//! discarded by [`discard`]. A single-chunk import (every 複数一括登録 page of ordinary size)
//! skips the gate: its one transaction writes the rows, the counters and `finished` at once.
//!
//! Limits: duplicate numbers are checked when staging, not by a condition (fingerprints are
//! per record, like the single add form's warning). Abandoned `staged` imports stay until
//! discarded (their status page offers it); there is no sweep yet.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::actor::Actor;
use super::dependents::Dependent;
pub use super::import_gate::{load, visible, Import, Source, State, IMPORT_ATTR};
use super::keys::{index, sk, TenantScope};
use super::registrants::{self as regs, Registrant};
use super::tenants::{self, Counters, Tenant};
use super::{App, InfraError};
use crate::ports::audit::AuditEvent;
use crate::ports::store::{Attrs, Condition, Item, Key, StoreError, WriteOp, MAX_TRANSACTION};

/// Writes of one chunk, leaving room for the import item, the counters and the chunk delete.
const CHUNK_WRITES: usize = MAX_TRANSACTION - 3;

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
                    .with("label", super::dependents::fingerprint_label(d, r)),
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
    let id = ulid::Ulid::new().to_string();
    let mut chunks: Vec<Chunk> = vec![Chunk::default()];
    let mut delta = Counters::default();
    let mut dependents = 0;
    for (r, deps) in people {
        let writes = person_writes(scope, r, deps);
        let last = chunks
            .last_mut()
            .filter(|c| c.writes.len() + writes.len() <= CHUNK_WRITES);
        let chunk = match last {
            Some(c) => c,
            None => {
                chunks.push(Chunk::default());
                chunks.last_mut().ok_or(InfraError::Task)?
            }
        };
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
    for (n, chunk) in chunks.iter().enumerate() {
        let item = Item::new(Key::new(
            scope.partition(&index::import(&id)),
            sk::import_chunk(n),
        ))
        .with("people", chunk.people)
        .with(
            "writes",
            serde_json::to_value(&chunk.writes).map_err(|_| InfraError::Task)?,
        );
        scope.put(item, Condition::None).await?;
    }
    let import = Import {
        id,
        source,
        state: State::Staged,
        chunks: chunks.len(),
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
        version: 0,
    };
    scope
        .put(import.to_item(scope), Condition::NotExists)
        .await?;
    Ok(import)
}

async fn load_chunk(scope: &TenantScope, id: &str, n: usize) -> Result<Chunk, InfraError> {
    let item = scope
        .get(&Key::new(
            scope.partition(&index::import(id)),
            sk::import_chunk(n),
        ))
        .await?
        .ok_or(InfraError::Corrupt("import chunk"))?;
    Ok(Chunk {
        people: item
            .i64("people")
            .and_then(|v| usize::try_from(v).ok())
            .unwrap_or(0),
        writes: serde_json::from_value(item.attrs.get("writes").cloned().unwrap_or_default())
            .map_err(|_| InfraError::Corrupt("import chunk"))?,
    })
}

fn chunk_delete(scope: &TenantScope, id: &str, n: usize) -> WriteOp {
    WriteOp::Delete {
        key: Key::new(scope.partition(&index::import(id)), sk::import_chunk(n)),
        condition: Condition::None,
    }
}

/// How much of an import one call may do: at most `steps` transactions (a test's injected
/// stop) and nothing started after `until` (a request's time budget).
#[derive(Clone, Copy, Debug, Default)]
pub struct Budget {
    pub steps: Option<usize>,
    pub until: Option<Instant>,
}

impl Budget {
    pub fn unlimited() -> Budget {
        Budget::default()
    }

    fn spent(&self, steps: usize) -> bool {
        self.steps.is_some_and(|max| steps >= max)
            || self.until.is_some_and(|t| Instant::now() >= t)
    }
}

/// Starts committing a staged import; `false` if it was not (or no longer) staged.
pub async fn start(scope: &TenantScope, import: &Import) -> Result<bool, InfraError> {
    if import.state != State::Staged {
        return Ok(false);
    }
    let next = Import {
        state: State::Committing,
        ..import.clone()
    };
    match scope.transact(vec![import.advance(scope, &next)]).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Advances an import as far as `budget` allows (see the module docs, steps 2 to 4, and the
/// roll-back of a failed one) and returns where it stands. Safe to call again at any point,
/// from any number of requests at once: every step is conditional on the recorded progress.
pub async fn run(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    id: &str,
    budget: Budget,
) -> Result<Import, InfraError> {
    let mut steps = 0;
    loop {
        let import = load(scope, id)
            .await?
            .ok_or(InfraError::Corrupt("import"))?;
        let settled =
            matches!(
                import.state,
                State::Staged | State::Finished | State::Discarded
            ) || (import.state == State::Failed && import.committed == 0 && import.chunks == 0);
        if settled || budget.spent(steps) {
            return Ok(import);
        }
        steps += 1;
        match import.state {
            State::Committing if import.chunks == 1 && import.committed == 0 => {
                commit_whole(app, scope, tenant, &import).await?
            }
            State::Committing if import.committed < import.chunks => {
                commit_chunk(scope, &import).await?
            }
            State::Committing => flip(app, scope, tenant, &import).await?,
            State::Done if import.tidied < import.chunks => tidy_chunk(scope, &import).await?,
            State::Done => {
                let next = Import {
                    state: State::Finished,
                    ..import.clone()
                };
                settle(scope.transact(vec![import.advance(scope, &next)]).await)?;
            }
            State::Failed => undo_chunk(scope, &import).await?,
            State::Staged | State::Finished | State::Discarded => {}
        }
    }
}

/// A lost race (another request advanced the import first) is not an error: the loop reloads.
fn settle(result: Result<(), StoreError>) -> Result<(), InfraError> {
    match result {
        Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn commit_op(id: &str, scope: &TenantScope, w: &Staged, gated: bool) -> WriteOp {
    let mut item = Item {
        key: scope.key(&w.sk),
        attrs: w.attrs.clone(),
    };
    match w.role {
        Role::Record => {
            if gated {
                item.attrs.insert(IMPORT_ATTR.into(), Value::from(id));
            }
            WriteOp::put_new(item)
        }
        Role::Claim => WriteOp::put_new(item),
        Role::Fingerprint => WriteOp::put(item),
    }
}

async fn commit_chunk(scope: &TenantScope, import: &Import) -> Result<(), InfraError> {
    let k = import.committed;
    let chunk = load_chunk(scope, &import.id, k).await?;
    let mut ops: Vec<WriteOp> = chunk
        .writes
        .iter()
        .map(|w| commit_op(&import.id, scope, w, true))
        .collect();
    let next = Import {
        committed: k + 1,
        committed_people: import.committed_people + chunk.people,
        ..import.clone()
    };
    ops.push(import.advance(scope, &next));
    match scope.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed) => refuse_chunk(scope, import, &chunk).await,
        Err(e) => Err(e.into()),
    }
}

/// A chunk's transaction failed: another request moved on (fine), or a 社員コード was taken
/// since the file was checked (the import fails and rolls back).
async fn refuse_chunk(
    scope: &TenantScope,
    import: &Import,
    chunk: &Chunk,
) -> Result<(), InfraError> {
    let now = load(scope, &import.id)
        .await?
        .ok_or(InfraError::Corrupt("import"))?;
    if now.version != import.version {
        return Ok(());
    }
    let mut taken = None;
    for w in chunk.writes.iter().filter(|w| w.role == Role::Claim) {
        if scope.get(&scope.key(&w.sk)).await?.is_some() {
            taken = w.sk.strip_prefix("REGCODE#").map(str::to_string);
            break;
        }
    }
    let error = match taken {
        Some(code) => format!(
            "社員コード「{code}」は、ファイルの確認後に他の操作で使われました。登録は取り消されました。ファイルを直して、もう一度アップロードしてください。"
        ),
        None => "他の操作と重なったため、登録は取り消されました。もう一度アップロードしてください。".into(),
    };
    fail(scope, import, error).await
}

async fn fail(scope: &TenantScope, import: &Import, error: String) -> Result<(), InfraError> {
    let next = Import {
        state: State::Failed,
        error: Some(error),
        ..import.clone()
    };
    settle(scope.transact(vec![import.advance(scope, &next)]).await)
}

/// The plan limit, checked just before anything becomes visible: `false` (and the import
/// failed) if the people no longer fit.
async fn fits_plan(
    scope: &TenantScope,
    tenant: &Tenant,
    import: &Import,
) -> Result<bool, InfraError> {
    let (active, retired) = regs::counted_people(&tenants::counters(scope).await?);
    let adding = u32::try_from(import.registrants).unwrap_or(u32::MAX);
    match tenant.plan.check_add(active, retired, adding) {
        Ok(()) => Ok(true),
        Err(e) => fail(scope, import, e.to_string()).await.map(|()| false),
    }
}

async fn flip(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    import: &Import,
) -> Result<(), InfraError> {
    if !fits_plan(scope, tenant, import).await? {
        return Ok(());
    }
    let next = Import {
        state: State::Done,
        ..import.clone()
    };
    let mut ops = vec![import.advance(scope, &next)];
    ops.extend(Counters::delta_op(scope, &import.delta));
    match scope.transact(ops).await {
        Ok(()) => audit_done(app, scope, import).await,
        Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// One transaction for an import of one chunk: rows, claims, counters and `finished`.
async fn commit_whole(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    import: &Import,
) -> Result<(), InfraError> {
    if !fits_plan(scope, tenant, import).await? {
        return Ok(());
    }
    let chunk = load_chunk(scope, &import.id, 0).await?;
    let mut ops: Vec<WriteOp> = chunk
        .writes
        .iter()
        .map(|w| commit_op(&import.id, scope, w, false))
        .collect();
    let next = Import {
        state: State::Finished,
        committed: 1,
        tidied: 1,
        committed_people: chunk.people,
        ..import.clone()
    };
    ops.push(import.advance(scope, &next));
    ops.extend(Counters::delta_op(scope, &import.delta));
    ops.push(chunk_delete(scope, &import.id, 0));
    match scope.transact(ops).await {
        Ok(()) => audit_done(app, scope, import).await,
        Err(StoreError::ConditionFailed) => refuse_chunk(scope, import, &chunk).await,
        Err(e) => Err(e.into()),
    }
}

async fn audit_done(app: &App, scope: &TenantScope, import: &Import) -> Result<(), InfraError> {
    let file = if import.digest.is_empty() {
        String::new()
    } else {
        format!(
            "（ファイル SHA-256 {}…）",
            &import.digest[..12.min(import.digest.len())]
        )
    };
    app.audit()
        .record(AuditEvent {
            tenant_id: Some(scope.tenant().to_string()),
            actor_id: Some(import.actor.user_id.clone()),
            actor_name: Some(import.actor.name.clone()),
            action: format!("{}.import", import.source.code()),
            target: Some(import.id.clone()),
            detail: format!(
                "{}: 登録者{}人・扶養家族{}人を登録{file}",
                import.source.label(),
                import.registrants,
                import.dependents
            ),
            ip: Some(import.actor.ip.clone()),
        })
        .await?;
    Ok(())
}

async fn tidy_chunk(scope: &TenantScope, import: &Import) -> Result<(), InfraError> {
    let k = import.tidied;
    let chunk = load_chunk(scope, &import.id, k).await?;
    let still_ours = Condition::Equals(IMPORT_ATTR.into(), Value::from(import.id.as_str()));
    let rows: Vec<Item> = chunk
        .writes
        .iter()
        .filter(|w| w.role == Role::Record)
        .map(|w| Item {
            key: scope.key(&w.sk),
            attrs: w.attrs.clone(),
        })
        .collect();
    let next = Import {
        tidied: k + 1,
        ..import.clone()
    };
    let mut ops: Vec<WriteOp> = rows
        .iter()
        .map(|item| WriteOp::Put {
            item: item.clone(),
            condition: still_ours.clone(),
        })
        .collect();
    ops.push(import.advance(scope, &next));
    ops.push(chunk_delete(scope, &import.id, k));
    match scope.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed) => {
            // Some row was edited or deleted since the flip: tidy the others one by one.
            for item in rows {
                settle(scope.put(item, still_ours.clone()).await)?;
            }
            settle(
                scope
                    .transact(vec![
                        import.advance(scope, &next),
                        chunk_delete(scope, &import.id, k),
                    ])
                    .await,
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// Rolls back the last committed chunk of a failed import; once none is left, removes the
/// staged chunks and closes the import.
async fn undo_chunk(scope: &TenantScope, import: &Import) -> Result<(), InfraError> {
    if import.committed == 0 {
        for n in 0..import.chunks {
            settle(
                scope
                    .transact(vec![chunk_delete(scope, &import.id, n)])
                    .await,
            )?;
        }
        let next = Import {
            chunks: 0,
            ..import.clone()
        };
        return settle(scope.transact(vec![import.advance(scope, &next)]).await);
    }
    let k = import.committed - 1;
    let chunk = load_chunk(scope, &import.id, k).await?;
    let mut ops: Vec<WriteOp> = chunk
        .writes
        .iter()
        .map(|w| WriteOp::Delete {
            key: scope.key(&w.sk),
            condition: Condition::None,
        })
        .collect();
    let next = Import {
        committed: k,
        committed_people: import.committed_people.saturating_sub(chunk.people),
        ..import.clone()
    };
    ops.push(import.advance(scope, &next));
    settle(scope.transact(ops).await)
}

/// Throws away a staged import that was never started (キャンセル on the confirm page), or
/// stops one still committing, which then rolls back on its next [`run`].
pub async fn discard(scope: &TenantScope, import: &Import) -> Result<(), InfraError> {
    match import.state {
        State::Staged => {
            for n in 0..import.chunks {
                settle(
                    scope
                        .transact(vec![chunk_delete(scope, &import.id, n)])
                        .await,
                )?;
            }
            let next = Import {
                state: State::Discarded,
                chunks: 0,
                ..import.clone()
            };
            settle(scope.transact(vec![import.advance(scope, &next)]).await)
        }
        State::Committing => fail(scope, import, "登録は取り消されました。".into()).await,
        _ => Ok(()),
    }
}
