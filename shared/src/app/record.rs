//! Whose record: a registrant, or one of its dependents. The one reference to "a person's
//! record" that images, approval, number edit and the phone flow pass around; the web layer
//! builds it from a path (`{id}`, `{dep}`) or, on the phone, from the session's registrant.
//!
//! Limits: it is only a reference; the ids are checked (and the records loaded) by the use case
//! that takes it, always through a `TenantScope`.

use super::keys::sk;

/// A registrant (`dependent_id: None`), or one of its dependents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordRef {
    pub registrant_id: String,
    pub dependent_id: Option<String>,
}

impl RecordRef {
    /// The sort key of the record's item.
    pub fn sk(&self) -> String {
        match &self.dependent_id {
            Some(d) => sk::dependent(&self.registrant_id, d),
            None => sk::registrant(&self.registrant_id),
        }
    }

    pub fn is_dependent(&self) -> bool {
        self.dependent_id.is_some()
    }
}
