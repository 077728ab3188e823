//! `Events` on EventBridge: `PutEvents` on the deployment's bus, source `myna`, the job kind
//! as detail-type. Entries EventBridge did not accept are retried a few times.

use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;

use super::describe;
use crate::ports::events::{validate, Event, EventError, Events};

pub const SOURCE: &str = "myna";

pub struct EventBridgeEvents {
    client: Client,
    bus: String,
}

impl EventBridgeEvents {
    pub fn new(client: Client, bus: &str) -> Self {
        EventBridgeEvents {
            client,
            bus: bus.to_string(),
        }
    }
}

#[async_trait]
impl Events for EventBridgeEvents {
    async fn publish(&self, events: Vec<Event>) -> Result<(), EventError> {
        validate(&events)?;
        let mut pending: Vec<PutEventsRequestEntry> = events
            .iter()
            .map(|e| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(SOURCE)
                    .detail_type(&e.kind)
                    .detail(e.detail.to_string())
                    .build()
            })
            .collect();
        for attempt in 0..4u32 {
            let out = self
                .client
                .put_events()
                .set_entries(Some(pending.clone()))
                .send()
                .await
                .map_err(|e| EventError::Backend(describe(&e)))?;
            if out.failed_entry_count() == 0 {
                return Ok(());
            }
            // Entries come back in request order; keep those that failed.
            pending = pending
                .into_iter()
                .zip(out.entries())
                .filter(|(_, r)| r.error_code().is_some())
                .map(|(e, _)| e)
                .collect();
            tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
        }
        Err(EventError::Backend(format!(
            "{} events not accepted",
            pending.len()
        )))
    }
}
