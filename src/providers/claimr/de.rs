//! Reading a claimr body into its [`Event`]: the payload in one pass, and, for a scope
//! this crate does not know, the raw body.

use bytes::Bytes;
use serde::{Deserialize, Deserializer};

use super::payload::{ActionSpans, CampaignSpans, DataSpans, EventSpans};
use super::scan::raw_body;
use super::{Event, EventKind, Payload, Unknown};
use crate::event::{ByteString, ParseError, RawJson};
use crate::json::scan::{Span, Strings};
use crate::json::{lenient_id, opt_string_or_number, string_or_number};

/// The serde shapes of a payload: the same fields, order and defaults as the public types
/// had, and their names too, so that serde's messages ("expected struct Campaign") read as
/// they always did.
mod repr {
    use super::{opt_string_or_number, string_or_number, Deserialize, RawJson};

    /// A payload as serde reads it: the shape every fast-path read must agree with.
    #[derive(Deserialize)]
    pub(super) struct Payload {
        #[serde(deserialize_with = "string_or_number")]
        pub(super) id: String,
        pub(super) scope: String,
        #[serde(default, deserialize_with = "opt_string_or_number")]
        pub(super) user: Option<String>,
        #[serde(default, deserialize_with = "opt_string_or_number")]
        pub(super) user_id: Option<String>,
        #[serde(default)]
        pub(super) wallet: Option<String>,
        #[serde(default)]
        pub(super) email: Option<String>,
        #[serde(default)]
        pub(super) campaign: Option<Campaign>,
        #[serde(default)]
        pub(super) event: Option<ActivityEvent>,
        #[serde(default)]
        pub(super) total_xp: Option<f64>,
        #[serde(default)]
        pub(super) ref_xp: Option<f64>,
        #[serde(default)]
        pub(super) ugc_xp: Option<f64>,
        #[serde(default)]
        pub(super) xp_mul: Option<f64>,
        #[serde(default)]
        pub(super) rank: Option<u64>,
        #[serde(default)]
        pub(super) team: Option<String>,
    }

    #[derive(Deserialize)]
    pub(super) struct Campaign {
        #[serde(deserialize_with = "string_or_number")]
        pub(super) id: String,
        #[serde(default)]
        pub(super) name: Option<String>,
    }

    #[derive(Deserialize)]
    pub(super) struct ActivityEvent {
        #[serde(rename = "type", default)]
        pub(super) kind: Option<String>,
        #[serde(default)]
        pub(super) data: Option<ActivityData>,
    }

    #[derive(Deserialize)]
    pub(super) struct ActivityData {
        #[serde(default, deserialize_with = "opt_string_or_number")]
        pub(super) account: Option<String>,
        #[serde(default)]
        pub(super) action: Option<Action>,
        #[serde(default)]
        pub(super) xp: Option<f64>,
    }

    #[derive(Deserialize)]
    pub(super) struct Action {
        #[serde(default, deserialize_with = "opt_string_or_number")]
        pub(super) id: Option<String>,
        #[serde(default)]
        pub(super) name: Option<String>,
        #[serde(rename = "type", default)]
        pub(super) kind: Option<String>,
        #[serde(default)]
        pub(super) meta: Option<RawJson>,
    }
}

impl repr::Payload {
    /// The payload, its strings moved into one text; `None` past 4 GiB of strings.
    fn into_payload(self) -> Option<Payload> {
        let mut text = Strings::new();
        let mut own = |value: Option<String>| -> Option<Option<Span>> {
            value
                .map(|value| text.push(&value))
                .map_or(Some(None), |span| span.map(Some))
        };
        let user = own(self.user)?;
        let user_id = own(self.user_id)?;
        let wallet = own(self.wallet)?;
        let email = own(self.email)?;
        let team = own(self.team)?;
        let campaign = match self.campaign {
            Some(campaign) => Some(CampaignSpans {
                id: own(Some(campaign.id))??,
                name: own(campaign.name)?,
            }),
            None => None,
        };
        let event = match self.event {
            Some(event) => Some(EventSpans {
                kind: own(event.kind)?,
                data: match event.data {
                    Some(data) => Some(DataSpans {
                        account: own(data.account)?,
                        action: match data.action {
                            Some(action) => Some(ActionSpans {
                                id: own(action.id)?,
                                name: own(action.name)?,
                                kind: own(action.kind)?,
                                meta: own(action.meta.map(|meta| meta.get().to_owned()))?,
                            }),
                            None => None,
                        },
                        xp: data.xp,
                    }),
                    None => None,
                },
            }),
            None => None,
        };
        let id = own(Some(self.id))??;
        let scope = own(Some(self.scope))??;
        Some(Payload {
            text: text.into_text(),
            id,
            scope,
            user,
            user_id,
            wallet,
            email,
            campaign,
            event,
            total_xp: self.total_xp,
            ref_xp: self.ref_xp,
            ugc_xp: self.ugc_xp,
            xp_mul: self.xp_mul,
            rank: self.rank,
            team,
        })
    }
}

/// Refuses what no span can hold: a body of over 4 GiB of strings.
fn too_large<E: serde::de::Error>() -> E {
    E::custom("the payload's strings exceed 4 GiB")
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        repr::Payload::deserialize(deserializer)?
            .into_payload()
            .ok_or_else(too_large)
    }
}

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
        Event::from_bytes(Bytes::copy_from_slice(body))
    }

    /// [`Event::from_slice`] for a body you hold as [`Bytes`], as the layer does: the
    /// event's strings share the body's bytes instead of copying them.
    ///
    /// # Errors
    ///
    /// As [`Event::from_slice`].
    pub fn from_bytes(body: Bytes) -> Result<Event, ParseError> {
        match super::scan::event(crate::json::text(body)?) {
            Ok(event) => Ok(event),
            Err(body) => Event::from_text(&body),
        }
    }

    /// The event of a payload, by its scope; `raw` gives an unknown scope's whole body.
    pub(super) fn of_payload(payload: Payload, raw: impl FnOnce(&Payload) -> RawJson) -> Event {
        match EventKind::from_name(payload.scope()) {
            EventKind::UserActivity => Event::UserActivity(payload),
            EventKind::UserLogin => Event::UserLogin(payload),
            EventKind::UserReward => Event::UserReward(payload),
            EventKind::Referral => Event::Referral(payload),
            EventKind::Unknown => Event::Unknown(Unknown {
                id: Some(ByteString::from(payload.id())),
                scope: ByteString::from(payload.scope()),
                raw: raw(&payload),
            }),
        }
    }

    /// The serde path: what the scanner declined, and every error with its path.
    pub(super) fn from_text(text: &ByteString) -> Result<Event, ParseError> {
        let body = text.as_bytes();
        match crate::json::from_slice::<Payload>(body) {
            Ok(payload) => Ok(Event::of_payload(payload, |_| raw_body(text))),
            Err(err @ ParseError::Data { .. }) => {
                // The body is JSON but not a payload: it may still be a hook we do not know.
                let Ok(head) = crate::json::from_slice::<Head>(body) else {
                    return Err(err);
                };
                match head.scope {
                    Some(scope) if EventKind::from_name(&scope) == EventKind::Unknown => {
                        Ok(Event::Unknown(Unknown {
                            id: head.id.map(ByteString::from),
                            scope: ByteString::from(scope),
                            raw: raw_body(text),
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
