//! The event of an HMAC-SHA256 sender: the raw JSON body, its name and its id.

use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use super::EventKind;
use crate::event::ParseError;

/// A delivery from an [`HmacSender`](super::HmacSender): the raw JSON body, its name and its id.
///
/// Serializes as the raw body, unchanged.
#[derive(Debug, Clone)]
pub struct Event {
    id: String,
    id_signed: bool,
    kind: EventKind,
    raw: Box<RawValue>,
}

impl Event {
    pub(super) fn new(id: String, id_signed: bool, kind: EventKind, raw: Box<RawValue>) -> Self {
        Self {
            id,
            id_signed,
            kind,
            raw,
        }
    }

    /// The whole body, exactly as sent.
    pub fn raw(&self) -> &RawValue {
        &self.raw
    }

    /// The body as your own type (for such a sender, the whole body is the event's
    /// data).
    ///
    /// # Errors
    ///
    /// [`ParseError::Data`] with the path of a field of the wrong shape.
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<T, ParseError> {
        crate::json::from_slice(self.raw.get().as_bytes())
    }
}

impl Event {
    /// The event's name; [`EventKind::UNNAMED`] when it has none.
    #[must_use]
    pub fn kind(&self) -> EventKind {
        self.kind.clone()
    }

    /// The body's `type` (or the name header's value), or `""`.
    #[must_use]
    pub fn name(&self) -> &str {
        self.kind.as_str()
    }

    /// The body's `id` (or the id header's value), or `""`.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// True for an event with no name: nothing to dispatch on.
    #[must_use]
    pub fn is_unknown(&self) -> bool {
        self.kind.is_unnamed()
    }
}

crate::event::webhook_event_by_inherent_methods!(
    Event,
    EventKind,
    /// False when the id came from a header the scheme does not sign.
    fn id_is_signed(&self) -> bool {
        self.id_signed
    }
);

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}
