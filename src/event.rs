//! What every provider's typed event has in common, and how bodies become events.

use std::fmt::{self, Debug};
use std::hash::Hash;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::timestamp::Timestamp;

/// A provider's typed event, as the layer hands it to handlers.
///
/// Implemented by [`claimr::Event`](crate::claimr::Event) and
/// [`chainvine::Envelope`](crate::chainvine::Envelope).
pub trait WebhookEvent: Clone + Debug + Send + Sync + 'static {
    /// The kinds of this provider's events: what handlers are registered for.
    type Kind: Clone + Eq + Hash + Debug + Send + Sync + 'static;

    /// The provider's name, as it appears in logs (`"claimr"`, `"chainvine"`).
    const PROVIDER: &'static str;

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
}

/// The kind of an event that has no enum of its own (Standard Webhooks, the generic
/// HMAC provider): its name, exactly as sent, so that handlers are registered by name.
///
/// ```
/// use hookguard::event::NamedKind;
///
/// let kind = NamedKind::named("invoice.paid");
/// assert_eq!(kind.as_str(), "invoice.paid");
/// assert_eq!(kind, "invoice.paid".into());
/// assert_ne!(kind, NamedKind::UNNAMED);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NamedKind(Option<Arc<str>>);

impl NamedKind {
    /// The kind of an event whose body names none (no string `type`, for instance).
    pub const UNNAMED: NamedKind = NamedKind(None);

    /// The kind of events named `name` (matching is exact and case-sensitive).
    pub fn named(name: &str) -> Self {
        NamedKind(Some(Arc::from(name)))
    }

    /// The name; empty for [`NamedKind::UNNAMED`].
    pub fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or("")
    }

    /// Whether the event named no kind.
    pub fn is_unnamed(&self) -> bool {
        self.0.is_none()
    }
}

impl From<&str> for NamedKind {
    fn from(name: &str) -> Self {
        NamedKind::named(name)
    }
}

impl fmt::Display for NamedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an untyped JSON body conventionally says of itself (Standard Webhooks' `type`,
/// `timestamp`, `data`, and an `id`), read leniently: a field of another shape, or a body
/// that is not an object, reads as absent.
#[derive(Debug, Default)]
pub(crate) struct Head {
    pub(crate) kind: Option<String>,
    pub(crate) id: Option<String>,
    pub(crate) timestamp: Option<Timestamp>,
    pub(crate) data: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
struct HeadRepr {
    #[serde(rename = "type", default, deserialize_with = "lenient")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "crate::claimr::lenient_id")]
    id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    timestamp: Option<Timestamp>,
    #[serde(default)]
    data: Option<Box<RawValue>>,
}

/// Any JSON value: `Some` when it has `T`'s shape, `None` otherwise.
fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let raw = <&'de RawValue>::deserialize(deserializer)?;
    Ok(serde_json::from_str(raw.get()).ok())
}

/// Keeps `body` as raw JSON and reads its [`Head`].
///
/// # Errors
///
/// [`ParseError::Syntax`] when the body is not JSON; never a data error.
pub(crate) fn raw_with_head(body: &[u8]) -> Result<(Box<RawValue>, Head), ParseError> {
    let raw: Box<RawValue> = from_slice(body)?;
    // A body that is not an object (serde would read an array's items as the fields in
    // order) or that repeats a field says nothing of itself.
    if !raw.get().starts_with('{') {
        return Ok((raw, Head::default()));
    }
    let head = serde_json::from_str::<HeadRepr>(raw.get())
        .map(|repr| Head {
            kind: repr.kind,
            id: repr.id,
            timestamp: repr.timestamp,
            data: repr.data,
        })
        .unwrap_or_default();
    Ok((raw, head))
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

/// Parses `body` as `T` in one pass, reporting the path of a field of the wrong shape.
///
/// # Errors
///
/// [`ParseError::Syntax`] for malformed JSON (including trailing characters and bytes
/// that are not UTF-8 anywhere in the body), [`ParseError::Data`] for JSON of the wrong
/// shape.
pub fn from_slice<T: DeserializeOwned>(body: &[u8]) -> Result<T, ParseError> {
    // serde_json checks UTF-8 only in the strings it keeps; JSON text is UTF-8 throughout
    // (RFC 8259), so a body with bad bytes in a field nobody reads is refused as well.
    let body = std::str::from_utf8(body).map_err(|err| ParseError::Syntax {
        message: format!("invalid UTF-8 at byte {}", err.valid_up_to()),
    })?;
    // The common case, a body of the right shape, is parsed without tracking the path:
    // tracking nearly doubles the instructions. Only a failed parse is run again with it, to
    // report the same error with the path of the offending field.
    if let Ok(value) = serde_json::from_str(body) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_str(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(classify)?;
    de.end().map_err(|err| ParseError::Syntax {
        message: err.to_string(),
    })?;
    Ok(value)
}

fn classify(err: serde_path_to_error::Error<serde_json::Error>) -> ParseError {
    let path = err.path().to_string();
    let inner = err.into_inner();
    match inner.classify() {
        serde_json::error::Category::Data => ParseError::Data {
            path,
            message: inner.to_string(),
        },
        _ => ParseError::Syntax {
            message: inner.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Outer {
        #[allow(dead_code)]
        inner: Inner,
    }
    #[derive(Debug, serde::Deserialize)]
    struct Inner {
        #[allow(dead_code)]
        n: u32,
    }

    #[test]
    fn heads_are_read_leniently() {
        let (raw, head) = raw_with_head(
            br#"{"type":"invoice.paid","id":7,"timestamp":"2024-05-14T09:31:02Z","data":{"n":1}}"#,
        )
        .unwrap();
        assert!(raw.get().starts_with("{\"type\""));
        assert_eq!(head.kind.as_deref(), Some("invoice.paid"));
        assert_eq!(head.id.as_deref(), Some("7"));
        assert_eq!(
            head.timestamp
                .and_then(|t| t.to_offset_date_time())
                .map(|t| t.unix_timestamp()),
            Some(1_715_679_062)
        );
        assert_eq!(head.data.unwrap().get(), r#"{"n":1}"#);

        for body in [
            &br#"{"type":3,"id":[1],"timestamp":{},"data":null}"#[..],
            b"[1,2]",
            b"\"text\"",
            br#"{"type":"a","type":"b"}"#,
        ] {
            let (_, head) = raw_with_head(body).unwrap();
            assert!(
                head.kind.is_none() && head.id.is_none() && head.timestamp.is_none(),
                "{head:?} {}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(matches!(
            raw_with_head(b"{\"type\":"),
            Err(ParseError::Syntax { .. })
        ));
    }

    #[test]
    fn syntax_and_data_errors_are_told_apart() {
        assert!(matches!(
            from_slice::<Outer>(b"{\"inner\":"),
            Err(ParseError::Syntax { .. })
        ));
        assert!(matches!(
            from_slice::<Outer>(b"{\"inner\":{\"n\":1}} x"),
            Err(ParseError::Syntax { .. })
        ));
        // Bad bytes in a string that no field reads are refused too.
        assert!(matches!(
            from_slice::<Outer>(b"{\"inner\":{\"n\":1},\"unread\":\"\xff\"}"),
            Err(ParseError::Syntax { .. })
        ));
        match from_slice::<Outer>(b"{\"inner\":{\"n\":\"one\"}}") {
            Err(ParseError::Data { path, .. }) => assert_eq!(path, "inner.n"),
            other => panic!("expected a data error, got {other:?}"),
        }
    }
}
