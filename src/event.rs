//! What every provider's typed event has in common: its kind, name and id, and why a
//! body could not become one.

use std::fmt::{self, Debug};
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// The string of an event's fields: UTF-8 text that shares the delivery body's bytes (a
/// clone or a field is a reference count, not a copy). It derefs to `str`.
pub use bytestring::ByteString;

/// A provider's typed event, as the layer hands it to handlers.
///
/// Implemented by each provider's `Event`: [`claimr::Event`](crate::claimr::Event),
/// [`chainvine::Event`](crate::chainvine::Event), [`standard::Event`](crate::standard::Event)
/// and [`hmac_sender::Event`](crate::hmac_sender::Event).
pub trait WebhookEvent: Clone + Debug + Send + Sync + 'static {
    /// The kinds of this provider's events: what handlers are registered for.
    type Kind: EventKind<Event = Self>;

    /// Which kind of event this is; unknown events have the provider's `Unknown` kind.
    fn kind(&self) -> Self::Kind;

    /// The provider's own name for the event, exactly as it was sent
    /// (claimr's `scope`, ChainVine's `event.name`).
    fn name(&self) -> &str;

    /// The identifier of the delivery or event, as the provider sent it.
    fn id(&self) -> &str;

    /// Whether the event is one this crate has no type for (it keeps its raw JSON).
    fn is_unknown(&self) -> bool;

    /// Whether [`id`](WebhookEvent::id) comes from the signed content (the body, or a
    /// signed header). When it does not (GitHub's `X-GitHub-Delivery`), anyone who
    /// replays a captured delivery can choose it, so delivery dedup keys on the signed
    /// body instead. True by default.
    fn id_is_signed(&self) -> bool {
        true
    }

    /// Whether a 2xx answer to this event may tell the sender that money was paid:
    /// ChainVine's payment requests, and its unknown events (a payment request under a
    /// name nobody configured). Such an event is never stored to be handled later: the
    /// [inbox](crate::inbox) refuses it, unknown ones unless the dispatcher says how to
    /// answer unknown events. False by default.
    fn may_be_payment_request(&self) -> bool {
        false
    }

    /// The id of the campaign the event belongs to, for senders that run campaigns
    /// (claimr's `campaign.id`, ChainVine's `source.campaign.id`); `None` by default, and
    /// for an event that names none. What [`Dispatcher::for_campaigns`](crate::Dispatcher::for_campaigns)
    /// and [`CampaignRouter`](crate::CampaignRouter) route on.
    fn campaign(&self) -> Option<&str> {
        None
    }
}

/// Implements [`WebhookEvent`] for a provider's event by its inherent `kind`, `name`,
/// `id` and `is_unknown` (which users call without importing the trait), plus any
/// further items given (`fn id_is_signed`, `fn campaign`).
macro_rules! webhook_event_by_inherent_methods {
    ($event:ty, $kind:ty $(, $item:item)*) => {
        impl $crate::event::WebhookEvent for $event {
            type Kind = $kind;

            fn kind(&self) -> $kind {
                <$event>::kind(self)
            }

            fn name(&self) -> &str {
                <$event>::name(self)
            }

            fn id(&self) -> &str {
                <$event>::id(self)
            }

            fn is_unknown(&self) -> bool {
                <$event>::is_unknown(self)
            }

            $($item)*
        }
    };
}
pub(crate) use webhook_event_by_inherent_methods;

/// The kind of a provider's events, tied to the event type: a handler registered for a
/// kind is known, from the kind alone, to receive that provider's events, so that
/// `Dispatcher::new().on(claimr::EventKind::UserReward, |event| ...)` needs no type
/// annotation.
pub trait EventKind: Clone + Eq + Hash + Debug + Send + Sync + 'static {
    /// The event type whose kinds these are.
    type Event: WebhookEvent<Kind = Self>;
}

/// The kind of an event that has no enum of its own (Standard Webhooks, a generic
/// HMAC-SHA256 sender): its name, exactly as sent, so that handlers are registered by
/// name. `E` is the event type, which ties the kind to its provider.
///
/// ```
/// use hookguard::standard::EventKind;
///
/// let kind = EventKind::named("invoice.paid");
/// assert_eq!(kind.as_str(), "invoice.paid");
/// assert_eq!(kind, "invoice.paid".into());
/// assert_ne!(kind, EventKind::UNNAMED);
/// ```
pub struct NamedKind<E> {
    name: Option<Arc<str>>,
    event: PhantomData<fn() -> E>,
}

impl<E> NamedKind<E> {
    /// The kind of an event whose body names none (no string `type`, for instance).
    pub const UNNAMED: NamedKind<E> = NamedKind {
        name: None,
        event: PhantomData,
    };

    /// The kind of events named `name` (matching is exact and case-sensitive).
    pub fn named(name: &str) -> Self {
        NamedKind {
            name: Some(Arc::from(name)),
            event: PhantomData,
        }
    }

    /// The name; empty for [`NamedKind::UNNAMED`].
    pub fn as_str(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    /// Whether the event named no kind.
    pub fn is_unnamed(&self) -> bool {
        self.name.is_none()
    }
}

impl<E: WebhookEvent<Kind = NamedKind<E>>> EventKind for NamedKind<E> {
    type Event = E;
}

// By hand: derived impls would ask the same of `E`, which is only a marker here.
impl<E> Clone for NamedKind<E> {
    fn clone(&self) -> Self {
        NamedKind {
            name: self.name.clone(),
            event: PhantomData,
        }
    }
}

impl<E> PartialEq for NamedKind<E> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl<E> Eq for NamedKind<E> {}

impl<E> Hash for NamedKind<E> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl<E> Debug for NamedKind<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("NamedKind").field(&self.name).finish()
    }
}

impl<E> From<&str> for NamedKind<E> {
    fn from(name: &str) -> Self {
        NamedKind::named(name)
    }
}

impl<E> fmt::Display for NamedKind<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A free-form JSON value (claimr's `action.meta`), kept exactly as sent and parsed only
/// when asked: reading a delivery shares the body's bytes instead of building a tree of
/// maps and strings for a field most handlers never open.
///
/// Two values are equal when their text is the same, or when both parse to the same
/// `serde_json::Value` (whitespace and key order aside; numbers compare as that type
/// reads them, and a repeated key keeps its last value). The text was checked as JSON
/// syntax when it was read, not as values: a lone `\ud800` escape or `1e400` is kept,
/// and refused by [`parse_as`](RawJson::parse_as). Read from a deserializer other than
/// serde_json, a `RawJson` is not checked at all: build it with [`RawJson::new`] from
/// text you do not trust.
///
/// ```
/// use hookguard::event::RawJson;
///
/// let meta = RawJson::new(r#"{ "handle": "claimr_io", "verified": true }"#)?;
/// assert_eq!(meta.get(), r#"{ "handle": "claimr_io", "verified": true }"#);
/// let value: serde_json::Value = meta.parse_as()?;
/// assert_eq!(value["handle"], "claimr_io");
/// assert_eq!(meta, RawJson::new(r#"{"verified":true,"handle":"claimr_io"}"#)?);
/// # Ok::<(), hookguard::ParseError>(())
/// ```
#[derive(Clone)]
pub struct RawJson(ByteString);

impl RawJson {
    /// The value of `text`, which must be one JSON value (surrounding whitespace is
    /// dropped).
    ///
    /// # Errors
    ///
    /// [`ParseError::Syntax`] when `text` is not JSON.
    pub fn new(text: impl Into<String>) -> Result<Self, ParseError> {
        let text = ByteString::from(text.into());
        let trimmed = serde_json::from_str::<&RawValue>(&text)
            .map_err(|err| ParseError::Syntax {
                message: err.to_string(),
            })?
            .get();
        Ok(RawJson(text.slice_ref(trimmed)))
    }

    /// A value whose text the caller has read as one JSON value.
    pub(crate) fn from_checked(text: ByteString) -> Self {
        RawJson(text)
    }

    /// The JSON text, exactly as sent.
    pub fn get(&self) -> &str {
        &self.0
    }

    /// The value as your own type (a `serde_json::Value`, or a struct).
    ///
    /// # Errors
    ///
    /// [`ParseError::Data`] with the path of a field of the wrong shape.
    pub fn parse_as<T: DeserializeOwned>(&self) -> Result<T, ParseError> {
        crate::json::from_slice(self.get().as_bytes())
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
            || matches!(
                (self.parse_as::<serde_json::Value>(), other.parse_as::<serde_json::Value>()),
                (Ok(a), Ok(b)) if a == b
            )
    }
}

impl Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawJson").field(&self.get()).finish()
    }
}

impl Serialize for RawJson {
    /// Writes the value back, unchanged.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The text is one JSON value (checked when it was read), so this only finds its
        // bounds again for serde_json's raw-value token.
        let raw =
            serde_json::from_str::<&RawValue>(self.get()).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Ok(RawJson(ByteString::from(Box::<str>::from(raw))))
    }
}

/// Why a verified body could not be turned into an event.
///
/// A syntax error answers 400, a body of the wrong shape 422 (naming the field path).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The body is not well-formed JSON.
    #[error("malformed JSON: {message}")]
    Syntax {
        /// What serde_json reported, with line and column.
        message: String,
    },
    /// The body is JSON but not of the shape the event needs.
    #[error("invalid event at `{path}`: {message}")]
    Data {
        /// The path of the offending field, such as `event.data.amount`.
        path: String,
        /// What was wrong there.
        message: String,
    },
}

impl ParseError {
    /// Builds a data error for `path`.
    pub fn data(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Data {
            path: path.into(),
            message: message.into(),
        }
    }
}
