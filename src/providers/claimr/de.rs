//! Reading a claimr body into its [`Event`]: the payload in one pass, and, for a scope
//! this crate does not know, the raw body.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{Event, EventKind, Payload, Unknown};
use crate::event::ParseError;
use crate::json::lenient_id;

/// The least a body needs to be told apart: its `scope`, and its `id` if usable.
#[derive(Deserialize)]
struct Head {
    #[serde(default, deserialize_with = "lenient_id")]
    id: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

impl Event {
    /// Parses a claimr body (already verified) into the event for its `scope`.
    ///
    /// The body is parsed once as a [`Payload`]. A `scope` other than the four known ones
    /// gives [`Event::Unknown`] with the raw body, even when the rest of the body does not
    /// have the payload's shape.
    ///
    /// # Errors
    ///
    /// [`ParseError::Syntax`] when the body is not JSON; [`ParseError::Data`] when it has
    /// no string `scope` (path `scope`), or has a known scope but a field of the wrong
    /// shape (path of the field, such as `campaign.id`).
    pub fn from_slice(body: &[u8]) -> Result<Event, ParseError> {
        match crate::json::from_slice::<Payload>(body) {
            Ok(payload) => Ok(match EventKind::from_name(&payload.scope) {
                EventKind::UserActivity => Event::UserActivity(payload),
                EventKind::UserLogin => Event::UserLogin(payload),
                EventKind::UserReward => Event::UserReward(payload),
                EventKind::Referral => Event::Referral(payload),
                EventKind::Unknown => Event::Unknown(Unknown {
                    id: Some(payload.id),
                    scope: payload.scope,
                    raw: raw_body(body)?,
                }),
            }),
            Err(err @ ParseError::Data { .. }) => {
                // The body is JSON but not a payload: it may still be a hook we do not know.
                let Ok(head) = crate::json::from_slice::<Head>(body) else {
                    return Err(err);
                };
                match head.scope {
                    Some(scope) if EventKind::from_name(&scope) == EventKind::Unknown => {
                        Ok(Event::Unknown(Unknown {
                            id: head.id,
                            scope,
                            raw: raw_body(body)?,
                        }))
                    }
                    // A field missing at the root is reported at path `.`; name it.
                    Some(_) if is_missing_id(&err) => {
                        Err(ParseError::data("id", "missing field `id`"))
                    }
                    Some(_) => Err(err),
                    None if matches!(&err, ParseError::Data { path, .. } if path == "scope") => {
                        Err(err)
                    }
                    None => Err(ParseError::data("scope", "missing field `scope`")),
                }
            }
            Err(err) => Err(err),
        }
    }
}

fn is_missing_id(err: &ParseError) -> bool {
    matches!(
        err,
        ParseError::Data { path, message }
            if path == "." && message.starts_with("missing field `id`")
    )
}

/// The body as a `RawValue`; the body has already parsed as JSON, so errors are unlikely.
fn raw_body(body: &[u8]) -> Result<Box<RawValue>, ParseError> {
    let text = String::from_utf8(body.to_vec()).map_err(|err| ParseError::Syntax {
        message: err.to_string(),
    })?;
    RawValue::from_string(text).map_err(|err| ParseError::Syntax {
        message: err.to_string(),
    })
}
