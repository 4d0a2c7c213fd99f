//! Reading a ChainVine body with serde: `event.data` is held raw until `event.name` is
//! known, then typed; a payment request's fields are read leniently. Every string read is
//! moved into the one text the event's spans point into.

use std::fmt;

use bytes::Bytes;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor,
};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

use super::event::{
    EnvelopeSpans, Event, EventKind, EventNames, Payload, PayloadSpans, SourceSpans,
};
use super::payload::{
    ConversionSpans, EarningSpans, JoinedSpans, PaymentSpans, UnknownSpans, UserSpans,
};
use super::scan;
use super::{EarningCreated, PaymentRequest, ReferralConversion, Unknown, UserJoinedCampaign};
use crate::amount::Amount;
use crate::event::{ParseError, RawJson};
use crate::json::scan::{Span, Strings, Text};
use crate::json::{lenient, lenient_id};
use crate::timestamp::Timestamp;

impl Event {
    /// Parses a ChainVine body (already verified), with the default [`EventNames`].
    ///
    /// # Errors
    ///
    /// [`ParseError::Syntax`] when the body is not JSON; [`ParseError::Data`] when a
    /// field is missing or of the wrong shape, with its path (`sent_at`,
    /// `event.data.amount`…); also, with an empty path, when the event's strings come to
    /// more than 4 GiB in all (a body of gigabytes, which the layer's body cap refuses
    /// long before). Unknown event names are not errors.
    pub fn from_slice(body: &[u8]) -> Result<Event, ParseError> {
        Self::from_slice_with(body, &EventNames::default())
    }

    /// Parses a ChainVine body (already verified), recognizing the event names in `names`.
    ///
    /// An event whose name is the configured payment-request name becomes
    /// [`Payload::PaymentRequest`], parsed from its raw data, where [`Event::from_slice`]
    /// would give [`Payload::Unknown`]. `PAYMENT_REQUEST` is recognized either way.
    ///
    /// # Errors
    ///
    /// As [`Event::from_slice`].
    pub fn from_slice_with(body: &[u8], names: &EventNames) -> Result<Event, ParseError> {
        Self::from_bytes_with(Bytes::copy_from_slice(body), names)
    }

    /// Parses a ChainVine body (already verified) that the event may share: its strings
    /// are read from `body`, not copied. This is how the layer parses.
    ///
    /// # Errors
    ///
    /// As [`Event::from_slice`].
    pub fn from_bytes(body: Bytes) -> Result<Event, ParseError> {
        Self::from_bytes_with(body, &EventNames::default())
    }

    /// [`Event::from_bytes`], recognizing the event names in `names` (as
    /// [`Event::from_slice_with`]).
    ///
    /// # Errors
    ///
    /// As [`Event::from_slice`].
    pub fn from_bytes_with(body: Bytes, names: &EventNames) -> Result<Event, ParseError> {
        match scan::event(crate::json::text(body)?, names) {
            Ok(event) => Ok(event),
            Err(text) => Self::from_text(&text, names),
        }
    }

    /// The serde path: what the scanner declines, and every error with its path.
    pub(super) fn from_text(body: &str, names: &EventNames) -> Result<Event, ParseError> {
        let repr: EventRepr = crate::json::from_slice(body.as_bytes())?;
        repr.resolve(names).map_err(|err| err.into_parse_error(""))
    }
}

/// The strings serde read, moved into one text: each `own` gives the span of one; `None`
/// past 4 GiB of strings in all (a body that large is refused long before it is parsed).
trait Own {
    fn own(&mut self, value: &str) -> Option<Span>;

    fn own_opt(&mut self, value: Option<&str>) -> Option<Option<Span>> {
        value.map_or(Some(None), |value| self.own(value).map(Some))
    }
}

impl Own for Strings {
    fn own(&mut self, value: &str) -> Option<Span> {
        self.push(value)
    }
}

fn too_large() -> DataError {
    DataError {
        path: String::new(),
        message: "the event's strings exceed 4 GiB".to_owned(),
    }
}

/// An envelope as serde reads it: the shape every fast-path read must agree with.
#[derive(Deserialize)]
struct EventRepr {
    source: repr::Source,
    #[serde(rename = "event")]
    payload: PayloadRepr,
    version: String,
    secure_request: bool,
    request_id: String,
    event_id: String,
    sent_at: Timestamp,
}

/// The serde shapes of the envelope's parts and of the typed events' data: the same
/// fields, order, defaults and aliases as the public types, and their names too, so that
/// serde's messages ("expected struct Source", "struct Community with 2 elements") read as
/// the public types'.
mod repr {
    use super::{lenient_id, Amount, Deserialize, RawJson, Timestamp};

    #[derive(Deserialize)]
    pub(super) struct Source {
        pub(super) campaign: SourceCampaign,
        pub(super) community: Community,
    }

    #[derive(Deserialize)]
    pub(super) struct SourceCampaign {
        pub(super) name: String,
        pub(super) created_on: Timestamp,
        pub(super) id: String,
    }

    #[derive(Deserialize)]
    pub(super) struct Community {
        pub(super) name: String,
        pub(super) id: String,
    }

    #[derive(Deserialize)]
    pub(super) struct UserJoinedCampaign {
        pub(super) user_id: String,
        pub(super) user: JoinedUser,
        #[serde(default)]
        pub(super) referrer: Option<String>,
        #[serde(default)]
        pub(super) external_identifier: Option<String>,
    }

    #[derive(Deserialize)]
    pub(super) struct JoinedUser {
        pub(super) id: String,
        #[serde(default)]
        pub(super) email: Option<String>,
        #[serde(default)]
        pub(super) first_name: Option<String>,
        #[serde(default)]
        pub(super) last_name: Option<String>,
        #[serde(default)]
        pub(super) wallet_address: Option<String>,
        #[serde(default)]
        pub(super) external_identifier: Option<String>,
    }

    #[derive(Deserialize)]
    pub(super) struct ReferralConversion {
        pub(super) claimer: String,
        #[serde(default)]
        pub(super) referrer: Option<String>,
        #[serde(default)]
        pub(super) external_identifier: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct EarningCreated {
        #[serde(alias = "user_id")]
        pub(super) user_id: String,
        pub(super) date_created_utc: Timestamp,
        pub(super) user: EarningUser,
        pub(super) reward: Reward,
        pub(super) amount: Amount,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct EarningUser {
        pub(super) id: String,
        #[serde(default)]
        pub(super) email: Option<String>,
        #[serde(default)]
        pub(super) first_name: Option<String>,
        #[serde(default)]
        pub(super) last_name: Option<String>,
        #[serde(default)]
        pub(super) wallet_address: Option<String>,
        #[serde(default)]
        pub(super) external_identifier: Option<String>,
    }

    #[derive(Deserialize)]
    pub(super) struct Reward {
        pub(super) name: String,
    }

    /// The user in a payment request; both snake_case and camelCase field names are accepted.
    #[derive(Deserialize)]
    pub(super) struct PayoutUser {
        #[serde(default, deserialize_with = "lenient_id")]
        pub(super) id: Option<String>,
        #[serde(default)]
        pub(super) email: Option<String>,
        #[serde(default, alias = "firstName")]
        pub(super) first_name: Option<String>,
        #[serde(default, alias = "lastName")]
        pub(super) last_name: Option<String>,
        #[serde(default, alias = "walletAddress")]
        pub(super) wallet_address: Option<String>,
        #[serde(default, alias = "externalIdentifier")]
        pub(super) external_identifier: Option<String>,
    }

    #[derive(Deserialize)]
    pub(super) struct Unknown {
        pub(super) name: String,
        #[serde(default)]
        pub(super) data: Option<RawJson>,
    }
}

impl EventRepr {
    /// The event; an error's path is the whole path from the body's root.
    fn resolve(self, names: &EventNames) -> Result<Event, DataError> {
        let mut text = Strings::new();
        let envelope = self.envelope(&mut text).ok_or_else(too_large)?;
        let payload = self
            .payload
            .resolve(names, &mut text)
            .map_err(|err| err.under("event.data"))?;
        Ok(Event {
            payload: payload.with_text(text.into_text()),
            envelope,
        })
    }

    fn envelope(&self, text: &mut Strings) -> Option<EnvelopeSpans> {
        let (campaign, community) = (&self.source.campaign, &self.source.community);
        Some(EnvelopeSpans {
            source: SourceSpans {
                campaign_name: text.own(&campaign.name)?,
                campaign_created_on: text.own(campaign.created_on.as_str())?,
                campaign_id: text.own(&campaign.id)?,
                community_name: text.own(&community.name)?,
                community_id: text.own(&community.id)?,
            },
            version: text.own(&self.version)?,
            secure_request: self.secure_request,
            request_id: text.own(&self.request_id)?,
            event_id: text.own(&self.event_id)?,
            sent_at: text.own(self.sent_at.as_str())?,
        })
    }
}

/// A user's five optional fields, as every user type has them.
fn own_user<Id>(
    text: &mut Strings,
    id: Id,
    [email, first_name, last_name, wallet_address, external_identifier]: [&Option<String>; 5],
) -> Option<UserSpans<Id>> {
    Some(UserSpans {
        id,
        email: text.own_opt(email.as_deref())?,
        first_name: text.own_opt(first_name.as_deref())?,
        last_name: text.own_opt(last_name.as_deref())?,
        wallet_address: text.own_opt(wallet_address.as_deref())?,
        external_identifier: text.own_opt(external_identifier.as_deref())?,
    })
}

impl repr::UserJoinedCampaign {
    fn own(&self, text: &mut Strings) -> Option<JoinedSpans> {
        let user = &self.user;
        let id = text.own(&user.id)?;
        Some(JoinedSpans {
            user_id: text.own(&self.user_id)?,
            user: own_user(
                text,
                id,
                [
                    &user.email,
                    &user.first_name,
                    &user.last_name,
                    &user.wallet_address,
                    &user.external_identifier,
                ],
            )?,
            referrer: text.own_opt(self.referrer.as_deref())?,
            external_identifier: text.own_opt(self.external_identifier.as_deref())?,
        })
    }
}

impl repr::ReferralConversion {
    fn own(&self, text: &mut Strings) -> Option<ConversionSpans> {
        Some(ConversionSpans {
            claimer: text.own(&self.claimer)?,
            referrer: text.own_opt(self.referrer.as_deref())?,
            external_identifier: text.own_opt(self.external_identifier.as_deref())?,
        })
    }
}

impl repr::EarningCreated {
    fn own(&self, text: &mut Strings) -> Option<EarningSpans> {
        let user = &self.user;
        let id = text.own(&user.id)?;
        Some(EarningSpans {
            user_id: text.own(&self.user_id)?,
            date_created_utc: text.own(self.date_created_utc.as_str())?,
            user: own_user(
                text,
                id,
                [
                    &user.email,
                    &user.first_name,
                    &user.last_name,
                    &user.wallet_address,
                    &user.external_identifier,
                ],
            )?,
            reward: text.own(&self.reward.name)?,
            amount: text.own(self.amount.as_str())?,
        })
    }
}

/// Reads a payment request from the raw `event.data` (`null` gives one with no fields),
/// its strings into `text`. Fields of an unexpected shape are `None`, not errors (see
/// [`PaymentRequest`]'s docs).
fn payment_spans(
    raw: &str,
    event_name: &str,
    text: &mut Strings,
) -> Result<PaymentSpans, DataError> {
    let fields: PaymentRequestFields = if raw == "null" {
        PaymentRequestFields::default()
    } else {
        parse_data(raw)?
    };
    // The same choice as the payout key's (`payment_id`), from the raw data.
    let id = payment_id(raw).ok().flatten();
    let owned = || -> Option<PaymentSpans> {
        let PaymentRequestFields {
            user_id,
            user_id_camel,
            user,
            reward,
            amount,
            currency,
            wallet_address,
            wallet_address_camel,
        } = fields;
        let user = match user {
            Some(user) => {
                let id = text.own_opt(user.id.as_deref())?;
                Some(own_user(
                    text,
                    id,
                    [
                        &user.email,
                        &user.first_name,
                        &user.last_name,
                        &user.wallet_address,
                        &user.external_identifier,
                    ],
                )?)
            }
            None => None,
        };
        let user_id = first_present(user_id, user_id_camel);
        let wallet_address = first_present(wallet_address, wallet_address_camel);
        Some(PaymentSpans {
            id: text.own_opt(id.as_deref())?,
            user_id: text.own_opt(user_id.as_deref())?,
            user,
            reward: text.own_opt(reward.as_ref().map(|reward| reward.name.as_str()))?,
            amount: text.own_opt(amount.as_ref().map(Amount::as_str))?,
            currency: text.own_opt(currency.as_deref())?,
            wallet_address: text.own_opt(wallet_address.as_deref())?,
            raw: text.own(raw)?,
            event_name: text.own(event_name)?,
        })
    };
    owned().ok_or_else(too_large)
}

/// Where a payment request's own id may be, most specific first: a bare `id` comes last,
/// since it might name something else in a payload nobody documented.
pub(super) const PAYMENT_ID_FIELDS: [&str; 5] = [
    "payment_request_id",
    "paymentRequestId",
    "payout_id",
    "payoutId",
    "id",
];

/// A payment request's own id, read from its raw `event.data`: the first of
/// [`PAYMENT_ID_FIELDS`] that is a non-blank string (trimmed) or an integer (its digits,
/// however large). `Ok(None)` when there is none; `Err(field)` when a field is present
/// but is neither (a float, a boolean, an object): such a request is not guessed at.
pub(crate) fn payment_id(raw: &str) -> Result<Option<String>, &'static str> {
    #[derive(Deserialize)]
    struct Ids<'a>(#[serde(borrow)] std::collections::BTreeMap<String, &'a RawValue>);
    // Not an object: no id fields to read.
    let Ok(Ids(fields)) = serde_json::from_str::<Ids<'_>>(raw) else {
        return Ok(None);
    };
    choose_payment_id(|at| fields.get(PAYMENT_ID_FIELDS[at]).map(|value| value.get()))
        .map(|id| id.map(|id| id.into_owned()))
}

/// The first of [`PAYMENT_ID_FIELDS`] that `field` finds (by its index there) and that is
/// an id, as [`payment_id`] reads them: the one rule for the serde and the scanned reads.
pub(crate) fn choose_payment_id<'a>(
    field: impl Fn(usize) -> Option<&'a str>,
) -> Result<Option<std::borrow::Cow<'a, str>>, &'static str> {
    use std::borrow::Cow;
    for (at, name) in PAYMENT_ID_FIELDS.into_iter().enumerate() {
        let Some(value) = field(at) else {
            continue;
        };
        if value == "null" {
            continue;
        }
        // A string with no escapes (nor control characters, which JSON refuses) is its own
        // text; any other is decoded by serde.
        let text = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(inner) if !inner.bytes().any(|b| b == b'\\' || b == b'"' || b < 0x20) => {
                Some(Cow::Borrowed(inner.trim()))
            }
            _ => serde_json::from_str::<String>(value)
                .ok()
                .map(|text| Cow::Owned(text.trim().to_owned())),
        };
        if let Some(text) = text {
            if text.is_empty() {
                continue;
            }
            return Ok(Some(text));
        }
        let digits = value.strip_prefix('-').unwrap_or(value);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Some(Cow::Borrowed(value)));
        }
        return Err(name);
    }
    Ok(None)
}

/// A field that may come with another shape: `None` when absent (by `default`) or
/// `null`, `Some(None)` when present but not a `T`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let raw = <&'de RawValue>::deserialize(deserializer)?;
    if raw.get() == "null" {
        return Ok(None);
    }
    Ok(Some(serde_json::from_str(raw.get()).ok()))
}

/// [`present`] for an id sent as a string or an integer (as [`lenient_id`] reads it).
fn present_id<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    let raw = <&'de RawValue>::deserialize(deserializer)?;
    if raw.get() == "null" {
        return Ok(None);
    }
    let mut id = serde_json::Deserializer::from_str(raw.get());
    Ok(Some(lenient_id(&mut id).ok().flatten()))
}

/// The first spelling present decides, whatever it holds.
pub(super) fn first_present<T>(first: Option<Option<T>>, second: Option<Option<T>>) -> Option<T> {
    match first {
        Some(value) => value,
        None => second.flatten(),
    }
}

/// The fields a payment request is guessed to have; each spelling is its own field so
/// that a body with two spellings is not a "duplicate field" error. The user and the
/// wallet to pay are read as the fingerprint reads them (`payout::fingerprint`): the first
/// spelling present and not `null` decides, and when it has another shape the field is
/// `None`; the next spelling is never looked at, so that nothing paid can differ between
/// two deliveries with one fingerprint.
#[derive(Default, Deserialize)]
#[serde(default)]
struct PaymentRequestFields {
    #[serde(deserialize_with = "present_id")]
    user_id: Option<Option<String>>,
    #[serde(rename = "userId", deserialize_with = "present_id")]
    user_id_camel: Option<Option<String>>,
    #[serde(deserialize_with = "lenient")]
    user: Option<repr::PayoutUser>,
    #[serde(deserialize_with = "lenient")]
    reward: Option<repr::Reward>,
    #[serde(deserialize_with = "lenient")]
    amount: Option<Amount>,
    #[serde(deserialize_with = "lenient")]
    currency: Option<String>,
    #[serde(deserialize_with = "present")]
    wallet_address: Option<Option<String>>,
    #[serde(rename = "walletAddress", deserialize_with = "present")]
    wallet_address_camel: Option<Option<String>>,
}

/// Serde errors of the data types read on their own, outside an event.
fn standalone<E: de::Error>(err: DataError) -> E {
    err.into_serde("")
}

/// Reads a `R` and moves its strings into a text of their own: the text and the spans.
fn owned<'de, D, R, S>(
    deserializer: D,
    own: impl FnOnce(&R, &mut Strings) -> Option<S>,
) -> Result<(Text, S), D::Error>
where
    D: Deserializer<'de>,
    R: Deserialize<'de>,
{
    let mut text = Strings::new();
    let spans =
        own(&R::deserialize(deserializer)?, &mut text).ok_or_else(|| standalone(too_large()))?;
    Ok((text.into_text(), spans))
}

impl<'de> Deserialize<'de> for UserJoinedCampaign {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (text, spans) = owned(deserializer, repr::UserJoinedCampaign::own)?;
        Ok(UserJoinedCampaign { text, spans })
    }
}

impl<'de> Deserialize<'de> for ReferralConversion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (text, spans) = owned(deserializer, repr::ReferralConversion::own)?;
        Ok(ReferralConversion { text, spans })
    }
}

impl<'de> Deserialize<'de> for EarningCreated {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (text, spans) = owned(deserializer, repr::EarningCreated::own)?;
        Ok(EarningCreated { text, spans })
    }
}

impl<'de> Deserialize<'de> for PaymentRequest {
    /// Reads the event's `data` (not the whole event); the event name is set to the
    /// default `PAYMENT_REQUEST`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawJson::deserialize(deserializer)?;
        let mut text = Strings::new();
        let spans = payment_spans(raw.get(), EventKind::PaymentRequest.as_str(), &mut text)
            .map_err(standalone)?;
        Ok(PaymentRequest {
            text: text.into_text(),
            spans,
        })
    }
}

impl<'de> Deserialize<'de> for Unknown {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (text, spans) = owned(deserializer, |repr: &repr::Unknown, text| {
            Some(UnknownSpans {
                name: text.own(&repr.name)?,
                data: text.own_opt(repr.data.as_ref().map(RawJson::get))?,
            })
        })?;
        Ok(Unknown { text, spans })
    }
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("name", self.name())?;
        match self {
            Payload::UserJoinedCampaign(data) => map.serialize_entry("data", data)?,
            Payload::ReferralConversion(data) => map.serialize_entry("data", data)?,
            Payload::EarningCreated(data) => map.serialize_entry("data", data)?,
            Payload::PaymentRequest(data) => map.serialize_entry("data", data)?,
            Payload::Unknown(unknown) => {
                if let Some(data) = unknown.data() {
                    map.serialize_entry("data", &data)?;
                }
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Payload {
    /// Reads `{"name": ..., "data": ...}` with the default [`EventNames`].
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut text = Strings::new();
        let spans = PayloadRepr::deserialize(deserializer)?
            .resolve(&EventNames::default(), &mut text)
            .map_err(|err| err.into_serde("data"))?;
        Ok(spans.with_text(text.into_text()))
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        EventRepr::deserialize(deserializer)?
            .resolve(&EventNames::default())
            .map_err(|err| err.into_serde(""))
    }
}

/// An event's data typed in the same pass as its envelope.
enum TypedRepr {
    Joined(repr::UserJoinedCampaign),
    Conversion(repr::ReferralConversion),
    Earning(repr::EarningCreated),
}

impl TypedRepr {
    fn own(&self, text: &mut Strings) -> Option<PayloadSpans> {
        Some(match self {
            TypedRepr::Joined(data) => PayloadSpans::UserJoinedCampaign(data.own(text)?),
            TypedRepr::Conversion(data) => PayloadSpans::ReferralConversion(data.own(text)?),
            TypedRepr::Earning(data) => PayloadSpans::EarningCreated(data.own(text)?),
        })
    }
}

/// An event as read in one pass over the body.
// Short-lived and moved once: boxing `Ready` would only add an allocation per request.
#[allow(clippy::large_enum_variant)]
enum PayloadRepr {
    /// `name` came before `data` and named a typed event: `data` went straight into its
    /// struct.
    Ready(TypedRepr),
    /// `data` (if any) was kept raw: it came before `name`, the event is a payment request
    /// (whose raw data is kept anyway), or the name is not one of the typed events.
    Deferred {
        name: String,
        data: Option<Box<RawValue>>,
    },
}

impl PayloadRepr {
    fn resolve(self, names: &EventNames, text: &mut Strings) -> Result<PayloadSpans, DataError> {
        let (name, data) = match self {
            PayloadRepr::Ready(data) => return data.own(text).ok_or_else(too_large),
            PayloadRepr::Deferred { name, data } => (name, data),
        };
        if let Some(kind) = TypedKind::from_name(&name) {
            // A known event without `data` is read as `{}`: its required fields are missing.
            let data = data.as_deref().map_or("{}", RawValue::get);
            return kind.parse(data)?.own(text).ok_or_else(too_large);
        }
        if names.is_payment_request(&name) {
            let raw = data.as_deref().map_or("null", RawValue::get);
            return payment_spans(raw, &name, text).map(PayloadSpans::PaymentRequest);
        }
        (|| {
            Some(PayloadSpans::Unknown(UnknownSpans {
                name: text.own(&name)?,
                data: text.own_opt(data.as_deref().map(RawValue::get))?,
            }))
        })()
        .ok_or_else(too_large)
    }
}

/// The events whose data is deserialized straight into a struct.
#[derive(Clone, Copy)]
enum TypedKind {
    UserJoinedCampaign,
    ReferralConversion,
    EarningCreated,
}

impl TypedKind {
    fn from_name(name: &str) -> Option<TypedKind> {
        match EventKind::from_name(name) {
            EventKind::UserJoinedCampaign => Some(TypedKind::UserJoinedCampaign),
            EventKind::ReferralConversion => Some(TypedKind::ReferralConversion),
            EventKind::EarningCreated => Some(TypedKind::EarningCreated),
            _ => None,
        }
    }

    /// Types data that was kept raw, reporting the path inside `data`.
    fn parse(self, text: &str) -> Result<TypedRepr, DataError> {
        Ok(match self {
            TypedKind::UserJoinedCampaign => TypedRepr::Joined(parse_data(text)?),
            TypedKind::ReferralConversion => TypedRepr::Conversion(parse_data(text)?),
            TypedKind::EarningCreated => TypedRepr::Earning(parse_data(text)?),
        })
    }
}

impl<'de> DeserializeSeed<'de> for TypedKind {
    type Value = TypedRepr;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<TypedRepr, D::Error> {
        Ok(match self {
            TypedKind::UserJoinedCampaign => {
                TypedRepr::Joined(repr::UserJoinedCampaign::deserialize(deserializer)?)
            }
            TypedKind::ReferralConversion => {
                TypedRepr::Conversion(repr::ReferralConversion::deserialize(deserializer)?)
            }
            TypedKind::EarningCreated => {
                TypedRepr::Earning(repr::EarningCreated::deserialize(deserializer)?)
            }
        })
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum PayloadField {
    Name,
    Data,
    #[serde(other)]
    Other,
}

impl<'de> Deserialize<'de> for PayloadRepr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(PayloadVisitor)
    }
}

struct PayloadVisitor;

impl<'de> Visitor<'de> for PayloadVisitor {
    type Value = PayloadRepr;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object with a `name` and `data`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PayloadRepr, A::Error> {
        let mut name: Option<String> = None;
        let mut raw_data: Option<Box<RawValue>> = None;
        let mut ready: Option<TypedRepr> = None;
        while let Some(field) = map.next_key::<PayloadField>()? {
            match field {
                PayloadField::Name => {
                    if name.is_some() {
                        return Err(de::Error::duplicate_field("name"));
                    }
                    name = Some(map.next_value()?);
                }
                PayloadField::Data => {
                    if raw_data.is_some() || ready.is_some() {
                        return Err(de::Error::duplicate_field("data"));
                    }
                    match name.as_deref().and_then(TypedKind::from_name) {
                        // The name is known already: type the data in this same pass.
                        Some(kind) => ready = Some(map.next_value_seed(kind)?),
                        None => raw_data = Some(map.next_value()?),
                    }
                }
                PayloadField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let name = name.ok_or_else(|| de::Error::missing_field("name"))?;
        Ok(match ready {
            Some(event) => PayloadRepr::Ready(event),
            None => PayloadRepr::Deferred {
                name,
                data: raw_data,
            },
        })
    }
}

/// A data error inside deferred event data, with the path relative to where it was read.
struct DataError {
    /// Path from the data's root (empty for the root itself).
    path: String,
    message: String,
}

impl DataError {
    /// The same error, its path taken as inside `prefix`.
    fn under(self, prefix: &str) -> DataError {
        DataError {
            path: prefixed(prefix, &self.path),
            message: self.message,
        }
    }

    fn into_parse_error(self, prefix: &str) -> ParseError {
        ParseError::data(prefixed(prefix, &self.path), self.message)
    }

    /// For plain serde use, where the error's path cannot be extended: name the path in
    /// the message instead.
    fn into_serde<E: de::Error>(self, prefix: &str) -> E {
        let path = prefixed(prefix, &self.path);
        if path.is_empty() {
            E::custom(self.message)
        } else {
            E::custom(format_args!("invalid `{path}`: {}", self.message))
        }
    }
}

fn prefixed(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty()) {
        (_, true) => prefix.to_owned(),
        (true, false) => path.to_owned(),
        (false, false) => format!("{prefix}.{path}"),
    }
}

/// Deserializes deferred data, keeping the path of a failing field.
fn parse_data<T: DeserializeOwned>(text: &str) -> Result<T, DataError> {
    // As in `json::from_slice`: data of the right shape is read without tracking the
    // path, which costs about as much again; only a failure is read a second time, with
    // it, to name the field.
    if let Ok(value) = serde_json::from_str(text) {
        return Ok(value);
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        // Line and column would point into the data, not into the body: leave them out.
        let mut message = inner.to_string();
        let position = format!(" at line {} column {}", inner.line(), inner.column());
        if let Some(len) = message.strip_suffix(&position).map(str::len) {
            message.truncate(len);
        }
        DataError {
            path: if path == "." { String::new() } else { path },
            message,
        }
    })
}
