//! `Events` in process: published events go to a queue that the local server's worker task
//! (or a test, through [`EventQueue::drain`]) hands to `app::worker`.

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::ports::events::{validate, Event, EventError, Events};

pub struct InProcessEvents {
    tx: mpsc::UnboundedSender<Event>,
}

/// The receiving end, owned by whoever runs the worker: the local server waits on
/// [`EventQueue::next`]; tests take what is queued with [`EventQueue::drain`].
pub struct EventQueue {
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Event>>,
}

pub fn channel() -> (InProcessEvents, EventQueue) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        InProcessEvents { tx },
        EventQueue {
            rx: tokio::sync::Mutex::new(rx),
        },
    )
}

impl EventQueue {
    /// Every event published so far and not yet taken (empty while a worker loop is waiting).
    pub fn drain(&self) -> Vec<Event> {
        let mut out = Vec::new();
        if let Ok(mut rx) = self.rx.try_lock() {
            while let Ok(e) = rx.try_recv() {
                out.push(e);
            }
        }
        out
    }

    /// Waits for the next event; `None` once every publisher is gone.
    pub async fn next(&self) -> Option<Event> {
        self.rx.lock().await.recv().await
    }
}

#[async_trait]
impl Events for InProcessEvents {
    async fn publish(&self, events: Vec<Event>) -> Result<(), EventError> {
        validate(&events)?;
        for e in events {
            self.tx
                .send(e)
                .map_err(|_| EventError::Backend("worker stopped".into()))?;
        }
        Ok(())
    }
}
