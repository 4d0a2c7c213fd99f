//! The Standard Webhooks event: the message id, and the body kept as raw JSON.

use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use super::EventKind;
use crate::event::ParseError;
use crate::timestamp::Timestamp;

/// A Standard Webhooks event: the message id from `webhook-id`, and the body kept as
/// raw JSON, with its conventional `type`, `timestamp` and `data` read leniently (a
/// field of another shape reads as absent; only a body that is not JSON is refused).
///
/// Serializes as the raw body, unchanged.
#[derive(Debug, Clone)]
pub struct Event {
    id: String,
    kind: EventKind,
    timestamp: Option<Timestamp>,
    data: Option<Box<RawValue>>,
    raw: Box<RawValue>,
}

impl Event {
    /// An event from its message id and its (verified) body, read in one pass.
    ///
    /// # Errors
    ///
    /// [`ParseError::Syntax`] when the body is not JSON.
    pub fn from_parts(id: impl Into<String>, body: &[u8]) -> Result<Event, ParseError> {
        let (raw, head) = crate::json::raw_with_head(body)?;
        Ok(Event {
            id: id.into(),
            kind: head
                .kind
                .as_deref()
                .map_or(EventKind::UNNAMED, EventKind::named),
            timestamp: head.timestamp,
            data: head.data,
            raw,
        })
    }

    /// The body's `type`, if it is a string.
    pub fn event_type(&self) -> Option<&str> {
        (!self.kind.is_unnamed()).then(|| self.kind.as_str())
    }

    /// The body's `timestamp` (when the event happened, as the sender wrote it).
    pub fn timestamp(&self) -> Option<&Timestamp> {
        self.timestamp.as_ref()
    }

    /// The body's `data`, exactly as sent.
    pub fn data(&self) -> Option<&RawValue> {
        self.data.as_deref()
    }

    /// The body's `data` as your own type.
    ///
    /// # Errors
    ///
    /// [`ParseError::Data`] with the path of a field of the wrong shape (and path
    /// `data` when there is no `data`).
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<T, ParseError> {
        let data = self
            .data
            .as_ref()
            .ok_or_else(|| ParseError::data("data", "missing field `data`"))?;
        crate::json::from_slice(data.get().as_bytes()).map_err(|err| match err {
            ParseError::Data { path, message } => ParseError::data(format!("data.{path}"), message),
            other => other,
        })
    }

    /// The whole body, exactly as sent.
    pub fn raw(&self) -> &RawValue {
        &self.raw
    }
}

impl Event {
    /// The body's `type`; [`EventKind::UNNAMED`] when it has none.
    #[must_use]
    pub fn kind(&self) -> EventKind {
        self.kind.clone()
    }

    /// The body's `type`, or `""`.
    #[must_use]
    pub fn name(&self) -> &str {
        self.kind.as_str()
    }

    /// The `webhook-id` header.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// True for a body with no string `type`: nothing to dispatch on.
    #[must_use]
    pub fn is_unknown(&self) -> bool {
        self.kind.is_unnamed()
    }
}

crate::event::webhook_event_by_inherent_methods!(Event, EventKind);

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}
