//! Running an import: commit chunk by chunk, flip, tidy, or roll back a failed one; each step one
//! transaction, resumable from the recorded chunk.

use std::time::Instant;

use serde_json::Value;

use super::{
    chunk_delete, find_chunk, load, load_chunk, Chunk, Import, Role, Staged, State, IMPORT_ATTR,
};
use crate::app::keys::TenantScope;
use crate::app::registrants as regs;
use crate::app::tenants::{self, Counters, Tenant};
use crate::app::{App, InfraError};
use crate::ports::audit::AuditEvent;
use crate::ports::store::{Condition, Item, StoreError, WriteOp};

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
pub async fn start(app: &App, scope: &TenantScope, import: &Import) -> Result<bool, InfraError> {
    if import.state != State::Staged {
        return Ok(false);
    }
    let next = Import {
        state: State::Committing,
        changed_at: app.now().unix_timestamp(),
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
        let mut import = load(scope, id)
            .await?
            .ok_or(InfraError::Corrupt("import"))?;
        if settled(&import) || budget.spent(steps) {
            return Ok(import);
        }
        steps += 1;
        // Every step builds its next state from this copy: it stamps when the import moved.
        import.changed_at = app.now().unix_timestamp();
        match import.state {
            State::Committing if import.chunks == 1 && import.committed == 0 => {
                commit_whole(scope, tenant, &import).await?
            }
            State::Committing if import.committed < import.chunks => {
                commit_chunk(scope, &import).await?
            }
            State::Committing => flip(scope, tenant, &import).await?,
            State::Done if import.tidied < import.chunks => tidy_chunk(scope, &import).await?,
            State::Done => {
                // The entry before the state that ends the import: a re-run after a failure
                // in between writes it again, and `record_once` keeps it to one entry.
                audit_done(app, scope, &import).await?;
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

/// Whether `import` has nothing left for [`run`] to do (a staged one waits for its start).
pub(super) fn settled(import: &Import) -> bool {
    matches!(
        import.state,
        State::Staged | State::Finished | State::Discarded
    ) || (import.state == State::Failed && import.committed == 0 && import.chunks == 0)
}

/// A lost race (another request advanced the import first) is not an error: the loop reloads.
fn settle(result: Result<(), StoreError>) -> Result<(), InfraError> {
    match result {
        Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn commit_op(id: &str, scope: &TenantScope, w: Staged, gated: bool) -> WriteOp {
    let mut item = Item {
        key: scope.key(&w.sk),
        attrs: w.attrs,
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

/// The chunk's writes as they are committed (moved, not copied), and the sort keys of its
/// 社員コード claims, which [`refuse_chunk`] looks at if the transaction is refused.
fn chunk_ops(
    id: &str,
    scope: &TenantScope,
    chunk: Chunk,
    gated: bool,
) -> (Vec<WriteOp>, Vec<String>) {
    let claims = chunk
        .writes
        .iter()
        .filter(|w| w.role == Role::Claim)
        .map(|w| w.sk.clone())
        .collect();
    let ops = chunk
        .writes
        .into_iter()
        .map(|w| commit_op(id, scope, w, gated))
        .collect();
    (ops, claims)
}

async fn commit_chunk(scope: &TenantScope, import: &Import) -> Result<(), InfraError> {
    let k = import.committed;
    let chunk = load_chunk(scope, &import.id, k).await?;
    let next = Import {
        committed: k + 1,
        committed_people: import.committed_people + chunk.people,
        ..import.clone()
    };
    let (mut ops, claims) = chunk_ops(&import.id, scope, chunk, true);
    ops.push(import.advance(scope, &next));
    match scope.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed) => refuse_chunk(scope, import, &claims).await,
        Err(e) => Err(e.into()),
    }
}

/// A chunk's transaction failed: another request moved on (fine), or a 社員コード was taken
/// since the file was checked (the import fails and rolls back).
async fn refuse_chunk(
    scope: &TenantScope,
    import: &Import,
    claims: &[String],
) -> Result<(), InfraError> {
    let now = load(scope, &import.id)
        .await?
        .ok_or(InfraError::Corrupt("import"))?;
    if now.version != import.version {
        return Ok(());
    }
    let mut taken = None;
    for claim in claims {
        if scope.get(&scope.key(claim)).await?.is_some() {
            taken = claim.strip_prefix("REGCODE#").map(str::to_string);
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

async fn flip(scope: &TenantScope, tenant: &Tenant, import: &Import) -> Result<(), InfraError> {
    if !fits_plan(scope, tenant, import).await? {
        return Ok(());
    }
    let next = Import {
        state: State::Done,
        ..import.clone()
    };
    let mut ops = vec![import.advance(scope, &next)];
    ops.extend(Counters::delta_op(scope, &import.delta));
    settle(scope.transact(ops).await)
}

/// One transaction for an import of one chunk: rows, claims, counters and `done` with the
/// chunk tidied (the rows never carry the gate), so only the audit entry and `finished` follow.
async fn commit_whole(
    scope: &TenantScope,
    tenant: &Tenant,
    import: &Import,
) -> Result<(), InfraError> {
    if !fits_plan(scope, tenant, import).await? {
        return Ok(());
    }
    let chunk = load_chunk(scope, &import.id, 0).await?;
    let next = Import {
        state: State::Done,
        committed: 1,
        tidied: 1,
        committed_people: chunk.people,
        ..import.clone()
    };
    let (mut ops, claims) = chunk_ops(&import.id, scope, chunk, false);
    ops.push(import.advance(scope, &next));
    ops.extend(Counters::delta_op(scope, &import.delta));
    ops.push(chunk_delete(scope, &import.id, 0));
    match scope.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed) => refuse_chunk(scope, import, &claims).await,
        Err(e) => Err(e.into()),
    }
}

/// The import's entry in the operation log, written once however often the last step runs.
async fn audit_done(app: &App, scope: &TenantScope, import: &Import) -> Result<(), InfraError> {
    let file = if import.digest.is_empty() {
        String::new()
    } else {
        format!(
            "（ファイル SHA-256 {}…）",
            &import.digest[..12.min(import.digest.len())]
        )
    };
    app.audit
        .record_once(
            AuditEvent {
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
            },
            &format!("import#{}", import.id),
        )
        .await?;
    Ok(())
}

/// The rows of a chunk as they stand once tidied: without the import id.
fn tidied_rows(scope: &TenantScope, chunk: Chunk) -> impl Iterator<Item = Item> + '_ {
    chunk
        .writes
        .into_iter()
        .filter(|w| w.role == Role::Record)
        .map(|w| Item {
            key: scope.key(&w.sk),
            attrs: w.attrs,
        })
}

async fn tidy_chunk(scope: &TenantScope, import: &Import) -> Result<(), InfraError> {
    let k = import.tidied;
    let chunk = load_chunk(scope, &import.id, k).await?;
    let still_ours = Condition::Equals(IMPORT_ATTR.into(), Value::from(import.id.as_str()));
    let next = Import {
        tidied: k + 1,
        ..import.clone()
    };
    let mut ops: Vec<WriteOp> = tidied_rows(scope, chunk)
        .map(|item| WriteOp::Put {
            item,
            condition: still_ours.clone(),
        })
        .collect();
    ops.push(import.advance(scope, &next));
    ops.push(chunk_delete(scope, &import.id, k));
    match scope.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed) => {
            // Some row was edited or deleted since the flip (or another run tidied this
            // chunk): tidy the others one by one, from the chunk read again (rare, so the
            // happy path keeps no copy of the rows).
            let Some(chunk) = find_chunk(scope, &import.id, k).await? else {
                return Ok(());
            };
            for item in tidied_rows(scope, chunk) {
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
pub async fn discard(app: &App, scope: &TenantScope, import: &Import) -> Result<(), InfraError> {
    let import = &Import {
        changed_at: app.now().unix_timestamp(),
        ..import.clone()
    };
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
