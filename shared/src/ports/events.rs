//! The `Events` port: background work handed to a worker (EventBridge `PutEvents` in AWS, an
//! in-process queue locally). Publishing returns once the event is accepted, not handled.
//! Events carry no My Number and no secret; handlers must be idempotent, because delivery is
//! at least once.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// One unit of background work: `kind` names the job (EventBridge `detail-type`), `detail`
/// its input (EventBridge `detail`, a JSON object of at most a few KB).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub kind: String,
    pub detail: serde_json::Value,
}

/// Most events in one `publish` call (EventBridge's `PutEvents` limit).
pub const MAX_BATCH: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("invalid event: {0}")]
    Invalid(String),
    #[error("event backend error: {0}")]
    Backend(String),
}

#[async_trait]
pub trait Events: Send + Sync {
    /// Hands events to the worker; all are accepted or an error is returned (partial
    /// failures are retried by the adapter). At most [`MAX_BATCH`] per call.
    async fn publish(&self, events: Vec<Event>) -> Result<(), EventError>;
}

/// Checks the rules every adapter enforces before publishing.
pub fn validate(events: &[Event]) -> Result<(), EventError> {
    if events.is_empty() || events.len() > MAX_BATCH {
        return Err(EventError::Invalid(format!(
            "{} events in one call (1..={MAX_BATCH})",
            events.len()
        )));
    }
    for e in events {
        if e.kind.is_empty() || e.kind.len() > 128 {
            return Err(EventError::Invalid(
                "kind must be 1..=128 characters".into(),
            ));
        }
        if !e.detail.is_object() {
            return Err(EventError::Invalid("detail must be a JSON object".into()));
        }
        let size = serde_json::to_vec(&e.detail)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > 200 * 1024 {
            return Err(EventError::Invalid("detail larger than 200 KB".into()));
        }
    }
    Ok(())
}
