//! The gate that keeps an import's rows out of sight until it flips (see `app::staging`, which
//! stages, commits and tidies imports): the `IMPORT#<id>` item with the import's state and
//! progress, and [`visible`], which `registrants::get`, the list and every walk go through.
//! A leaf below registrants and staging alike, so reading a registrant never needs the code
//! that writes imports.

use std::collections::{BTreeSet, HashSet};

use serde_json::Value;

use super::actor::Actor;
use super::keys::{sk, RecordId, TenantScope};
use super::tenants::Counters;
use super::InfraError;
use crate::ports::store::{Condition, Item, Key, WriteOp};

/// The attribute marking a row written by an import that may not be visible yet.
pub const IMPORT_ATTR: &str = "import_id";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Staged,
    Committing,
    Done,
    Finished,
    Failed,
    Discarded,
}

impl State {
    const ALL: [State; 6] = [
        State::Staged,
        State::Committing,
        State::Done,
        State::Finished,
        State::Failed,
        State::Discarded,
    ];

    pub fn code(self) -> &'static str {
        match self {
            State::Staged => "staged",
            State::Committing => "committing",
            State::Done => "done",
            State::Finished => "finished",
            State::Failed => "failed",
            State::Discarded => "discarded",
        }
    }

    pub(super) fn from_code(code: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Whether the import's rows are visible (they are from the flip on).
    pub fn visible(self) -> bool {
        matches!(self, State::Done | State::Finished)
    }
}

/// Where the people came from (for the audit entry and the pages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Csv,
    Bulk,
}

impl Source {
    pub(super) fn code(self) -> &'static str {
        match self {
            Source::Csv => "csv",
            Source::Bulk => "bulk",
        }
    }

    pub(super) fn label(self) -> &'static str {
        match self {
            Source::Csv => "CSVアップロード",
            Source::Bulk => "複数一括登録",
        }
    }
}

/// The `IMPORT#<id>` item: state and progress of one import.
#[derive(Clone, Debug)]
pub struct Import {
    pub id: String,
    pub source: Source,
    pub state: State,
    pub chunks: usize,
    pub committed: usize,
    pub tidied: usize,
    pub registrants: usize,
    pub dependents: usize,
    /// Registrants and dependents in the committed chunks (the progress shown).
    pub committed_people: usize,
    /// SHA-256 of the uploaded file (hex), empty for a 複数一括登録 page.
    pub digest: String,
    pub actor: Actor,
    pub delta: Counters,
    /// Why a failed import failed (Japanese, no number).
    pub error: Option<String>,
    pub created_at: i64,
    /// When the import last moved (unix seconds): the status page continues an import that
    /// stood still too long (a lost `import.commit` event). A step stamps it by copying the
    /// loaded import, whose `changed_at` the runner has set to the step's time.
    pub changed_at: i64,
    pub(super) version: i64,
}

impl Import {
    pub fn people(&self) -> usize {
        self.registrants + self.dependents
    }

    pub(super) fn to_item(&self, scope: &TenantScope) -> Item {
        let mut item = Item::new(scope.key(&sk::import(&self.id)))
            .with("kind", "import")
            .with("source", self.source.code())
            .with("state", self.state.code())
            .with("chunks", self.chunks)
            .with("committed", self.committed)
            .with("tidied", self.tidied)
            .with("registrants", self.registrants)
            .with("dependents", self.dependents)
            .with("committed_people", self.committed_people)
            .with("digest", self.digest.as_str())
            .with("actor_id", self.actor.user_id.as_str())
            .with("actor_name", self.actor.name.as_str())
            .with("actor_ip", self.actor.ip.as_str())
            .with(
                "delta",
                serde_json::to_value(self.delta).unwrap_or(Value::Null),
            )
            .with("created_at", self.created_at)
            .with("changed_at", self.changed_at)
            .with("version", self.version);
        if let Some(e) = &self.error {
            item = item.with("error", e.as_str());
        }
        item
    }

    pub(super) fn from_item(item: &Item) -> Option<Import> {
        let n = |k: &str| item.i64(k).and_then(|v| usize::try_from(v).ok());
        let s = |k: &str| item.str(k).unwrap_or_default().to_string();
        Some(Import {
            id: item.key.sk.strip_prefix("IMPORT#")?.to_string(),
            source: if item.str("source") == Some("bulk") {
                Source::Bulk
            } else {
                Source::Csv
            },
            state: State::from_code(item.str("state")?)?,
            chunks: n("chunks")?,
            committed: n("committed")?,
            tidied: n("tidied").unwrap_or(0),
            registrants: n("registrants")?,
            dependents: n("dependents")?,
            committed_people: n("committed_people").unwrap_or(0),
            digest: s("digest"),
            actor: Actor {
                user_id: s("actor_id"),
                name: s("actor_name"),
                ip: s("actor_ip"),
            },
            delta: serde_json::from_value(item.attrs.get("delta")?.clone()).ok()?,
            error: item.str("error").map(str::to_string),
            created_at: item.i64("created_at").unwrap_or(0),
            changed_at: item
                .i64("changed_at")
                .or_else(|| item.i64("created_at"))
                .unwrap_or(0),
            version: item.i64("version")?,
        })
    }

    /// The write moving this import from its stored version to `next`.
    pub(super) fn advance(&self, scope: &TenantScope, next: &Import) -> WriteOp {
        let mut next = next.clone();
        next.version = self.version + 1;
        WriteOp::Put {
            item: next.to_item(scope),
            condition: Condition::Equals("version".into(), Value::from(self.version)),
        }
    }
}

pub async fn load(scope: &TenantScope, id: &str) -> Result<Option<Import>, InfraError> {
    let Some(id) = RecordId::parse(id) else {
        return Ok(None);
    };
    Ok(scope
        .get(&scope.key(&sk::import(id.as_str())))
        .await?
        .as_ref()
        .and_then(Import::from_item))
}

/// Drops the rows of imports not yet flipped (see the module docs). Costs nothing when no row
/// carries an import id, one batch read otherwise.
pub async fn visible(scope: &TenantScope, items: Vec<Item>) -> Result<Vec<Item>, InfraError> {
    let ids: BTreeSet<RecordId> = items
        .iter()
        .filter_map(|i| i.str(IMPORT_ATTR))
        .filter_map(RecordId::parse)
        .collect();
    if items.iter().all(|i| i.str(IMPORT_ATTR).is_none()) {
        return Ok(items);
    }
    let keys: Vec<Key> = ids
        .iter()
        .map(|id| scope.key(&sk::import(id.as_str())))
        .collect();
    let open: HashSet<String> = scope
        .batch_get(&keys)
        .await?
        .iter()
        .filter_map(Import::from_item)
        .filter(|i| i.state.visible())
        .map(|i| i.id)
        .collect();
    Ok(items
        .into_iter()
        .filter(|i| i.str(IMPORT_ATTR).is_none_or(|id| open.contains(id)))
        .collect())
}
