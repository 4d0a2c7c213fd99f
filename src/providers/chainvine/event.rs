//! ChainVine's event types: the request around every event, and the event by its name.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use super::payload::{ConversionSpans, EarningSpans, JoinedSpans, PaymentSpans, UnknownSpans};
use super::{EarningCreated, PaymentRequest, ReferralConversion, Unknown, UserJoinedCampaign};
use crate::json::scan::{by_view, Span, Text};
use crate::timestamp::Timestamp;

/// A ChainVine webhook request: the event, where it comes from, and delivery metadata.
///
/// Parse it with [`Event::from_slice`] (or [`Event::from_slice_with`]); it also
/// implements `Deserialize` for use with serde directly, and `Serialize` to re-emit it.
/// The event holds the body once and reads its fields from it: the accessors hand out
/// `&str`s of the body, not copies.
#[derive(Clone)]
pub struct Event {
    pub(super) payload: Payload,
    pub(super) envelope: EnvelopeSpans,
}

/// Where the envelope's fields are, in the text its payload holds.
#[derive(Clone, Copy, Debug)]
pub(super) struct EnvelopeSpans {
    pub(super) source: SourceSpans,
    pub(super) version: Span,
    pub(super) secure_request: bool,
    pub(super) request_id: Span,
    pub(super) event_id: Span,
    pub(super) sent_at: Span,
}

/// Where the `source`'s fields are.
#[derive(Clone, Copy, Debug)]
pub(super) struct SourceSpans {
    pub(super) campaign_name: Span,
    pub(super) campaign_created_on: Span,
    pub(super) campaign_id: Span,
    pub(super) community_name: Span,
    pub(super) community_id: Span,
}

impl Event {
    fn text(&self) -> &Text {
        self.payload.text()
    }

    /// The campaign and community the event belongs to.
    #[must_use]
    pub fn source(&self) -> Source<'_> {
        Source {
            text: self.text(),
            spans: &self.envelope.source,
        }
    }

    /// What happened: the body's `event`, by its name.
    #[must_use]
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// What happened, by value.
    #[must_use]
    pub fn into_payload(self) -> Payload {
        self.payload
    }

    /// The version of the payload format, such as `"1.0"`.
    #[must_use]
    pub fn version(&self) -> &str {
        self.text().get(self.envelope.version)
    }

    /// ChainVine's `secure_request` flag, as sent in the (signed) body.
    #[must_use]
    pub fn secure_request(&self) -> bool {
        self.envelope.secure_request
    }

    /// The identifier of this request (delivery attempt).
    #[must_use]
    pub fn request_id(&self) -> &str {
        self.text().get(self.envelope.request_id)
    }

    /// The identifier of the event; the same across retries of one event.
    #[must_use]
    pub fn event_id(&self) -> &str {
        self.text().get(self.envelope.event_id)
    }

    /// When ChainVine sent the request.
    ///
    /// Each call gives a new [`Timestamp`] over the same bytes; it parses its time when
    /// first asked, so keep the one you read more than once.
    #[must_use]
    pub fn sent_at(&self) -> Timestamp {
        Timestamp::from_shared(self.text().shared(self.envelope.sent_at))
    }

    fn view(&self) -> view::Event<'_> {
        view::Event {
            source: self.source().view(),
            payload: &self.payload,
            version: self.version(),
            secure_request: self.secure_request(),
            request_id: self.request_id(),
            event_id: self.event_id(),
            sent_at: self.sent_at(),
        }
    }
}

/// Where a ChainVine event comes from (`source`), borrowed from its [`Event`].
#[derive(Clone, Copy)]
pub struct Source<'a> {
    text: &'a Text,
    spans: &'a SourceSpans,
}

impl<'a> Source<'a> {
    /// The campaign the event belongs to.
    #[must_use]
    pub fn campaign(&self) -> SourceCampaign<'a> {
        SourceCampaign {
            text: self.text,
            spans: self.spans,
        }
    }

    /// The community running the campaign.
    #[must_use]
    pub fn community(&self) -> Community<'a> {
        Community {
            text: self.text,
            spans: self.spans,
        }
    }

    fn view(&self) -> view::Source<'a> {
        view::Source {
            campaign: self.campaign().view(),
            community: self.community().view(),
        }
    }
}

/// The campaign in an envelope's `source`.
#[derive(Clone, Copy)]
pub struct SourceCampaign<'a> {
    text: &'a Text,
    spans: &'a SourceSpans,
}

impl<'a> SourceCampaign<'a> {
    /// The campaign's name.
    #[must_use]
    pub fn name(&self) -> &'a str {
        self.text.get(self.spans.campaign_name)
    }

    /// When the campaign was created.
    ///
    /// Each call gives a new [`Timestamp`] over the same bytes; it parses its time when
    /// first asked, so keep the one you read more than once.
    #[must_use]
    pub fn created_on(&self) -> Timestamp {
        Timestamp::from_shared(self.text.shared(self.spans.campaign_created_on))
    }

    /// The campaign's ID.
    #[must_use]
    pub fn id(&self) -> &'a str {
        self.text.get(self.spans.campaign_id)
    }

    fn view(&self) -> view::SourceCampaign<'a> {
        view::SourceCampaign {
            name: self.name(),
            created_on: self.created_on(),
            id: self.id(),
        }
    }
}

/// The community in an envelope's `source`.
#[derive(Clone, Copy)]
pub struct Community<'a> {
    text: &'a Text,
    spans: &'a SourceSpans,
}

impl<'a> Community<'a> {
    /// The community's name.
    #[must_use]
    pub fn name(&self) -> &'a str {
        self.text.get(self.spans.community_name)
    }

    /// The community's ID.
    #[must_use]
    pub fn id(&self) -> &'a str {
        self.text.get(self.spans.community_id)
    }

    fn view(&self) -> view::Community<'a> {
        view::Community {
            name: self.name(),
            id: self.id(),
        }
    }
}

/// The envelope's fields as values: what `Debug`, `PartialEq` and `Serialize` are derived
/// on, so that they show values, not spans.
mod view {
    use serde::Serialize;

    use super::Payload;
    use crate::timestamp::Timestamp;

    #[derive(Debug, Serialize)]
    pub(super) struct Event<'a> {
        pub(super) source: Source<'a>,
        #[serde(rename = "event")]
        pub(super) payload: &'a Payload,
        pub(super) version: &'a str,
        pub(super) secure_request: bool,
        pub(super) request_id: &'a str,
        pub(super) event_id: &'a str,
        pub(super) sent_at: Timestamp,
    }

    #[derive(Debug, PartialEq, Serialize)]
    pub(super) struct Source<'a> {
        pub(super) campaign: SourceCampaign<'a>,
        pub(super) community: Community<'a>,
    }

    #[derive(Debug, PartialEq, Serialize)]
    pub(super) struct SourceCampaign<'a> {
        pub(super) name: &'a str,
        pub(super) created_on: Timestamp,
        pub(super) id: &'a str,
    }

    #[derive(Debug, PartialEq, Serialize)]
    pub(super) struct Community<'a> {
        pub(super) name: &'a str,
        pub(super) id: &'a str,
    }
}

by_view!([Debug, Serialize] Event);
by_view!(
    [Debug, PartialEq, Eq, Serialize]
    Source<'_>,
    SourceCampaign<'_>,
    Community<'_>
);

/// A ChainVine event (the envelope's `event`), by its `name`.
///
/// Serializes back to `{"name": ..., "data": ...}`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Payload {
    /// `USER_JOINED_CAMPAIGN`: a user joined a referral program.
    UserJoinedCampaign(UserJoinedCampaign),
    /// `REFERRAL_CONVERSION`: a referred user completed an action.
    ReferralConversion(ReferralConversion),
    /// `EARNING_CREATED`: a user was attributed a reward.
    EarningCreated(EarningCreated),
    /// A payout ChainVine asks your system to make (`PAYMENT_REQUEST`, or the name set in
    /// [`EventNames`]). Answer 2xx only once the payout is done.
    PaymentRequest(PaymentRequest),
    /// An event name this crate does not know, with its raw data.
    Unknown(Unknown),
}

/// An event's data as read, before it holds the text its spans point into: the
/// readers find the fields first and the text is whole only once the body is.
#[derive(Clone, Copy, Debug)]
pub(super) enum PayloadSpans {
    UserJoinedCampaign(JoinedSpans),
    ReferralConversion(ConversionSpans),
    EarningCreated(EarningSpans),
    PaymentRequest(PaymentSpans),
    Unknown(UnknownSpans),
}

impl PayloadSpans {
    /// The payload, its spans in `text`.
    pub(super) fn with_text(self, text: Text) -> Payload {
        match self {
            PayloadSpans::UserJoinedCampaign(spans) => {
                Payload::UserJoinedCampaign(UserJoinedCampaign { text, spans })
            }
            PayloadSpans::ReferralConversion(spans) => {
                Payload::ReferralConversion(ReferralConversion { text, spans })
            }
            PayloadSpans::EarningCreated(spans) => {
                Payload::EarningCreated(EarningCreated { text, spans })
            }
            PayloadSpans::PaymentRequest(spans) => {
                Payload::PaymentRequest(PaymentRequest { text, spans })
            }
            PayloadSpans::Unknown(spans) => Payload::Unknown(Unknown { text, spans }),
        }
    }
}

/// Which kind of ChainVine event this is: what handlers are registered for.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// `USER_JOINED_CAMPAIGN`.
    UserJoinedCampaign,
    /// `REFERRAL_CONVERSION`.
    ReferralConversion,
    /// `EARNING_CREATED`.
    EarningCreated,
    /// A payment request (`PAYMENT_REQUEST` by default).
    PaymentRequest,
    /// Any other event name.
    Unknown,
}

impl EventKind {
    /// Every kind this crate has a type for.
    pub const KNOWN: [EventKind; 4] = [
        EventKind::UserJoinedCampaign,
        EventKind::ReferralConversion,
        EventKind::EarningCreated,
        EventKind::PaymentRequest,
    ];

    /// The event name ChainVine sends for this kind (`"PAYMENT_REQUEST"`, the default, for
    /// payment requests; `"UNKNOWN"` for [`EventKind::Unknown`]). [`Payload::name`] gives
    /// the name an event was actually sent under.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::UserJoinedCampaign => "USER_JOINED_CAMPAIGN",
            EventKind::ReferralConversion => "REFERRAL_CONVERSION",
            EventKind::EarningCreated => "EARNING_CREATED",
            EventKind::PaymentRequest => "PAYMENT_REQUEST",
            EventKind::Unknown => "UNKNOWN",
        }
    }

    /// The kind an event name stands for with the default [`EventNames`]; any other name
    /// is [`EventKind::Unknown`] (matching is exact and case-sensitive).
    #[must_use]
    pub fn from_name(name: &str) -> EventKind {
        match name {
            "USER_JOINED_CAMPAIGN" => EventKind::UserJoinedCampaign,
            "REFERRAL_CONVERSION" => EventKind::ReferralConversion,
            "EARNING_CREATED" => EventKind::EarningCreated,
            "PAYMENT_REQUEST" => EventKind::PaymentRequest,
            _ => EventKind::Unknown,
        }
    }
}

impl crate::event::EventKind for EventKind {
    type Event = Event;
}

impl FromStr for EventKind {
    type Err = Infallible;

    /// Same as [`EventKind::from_name`]: never fails.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Ok(EventKind::from_name(name))
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The event names to recognize where ChainVine's page gives none.
///
/// Only the payment-request name is configurable; it defaults to `PAYMENT_REQUEST`.
///
/// ```
/// use hookguard::chainvine::EventNames;
///
/// let names = EventNames::default().with_payment_request("PAYOUT_REQUESTED");
/// assert_eq!(names.payment_request(), "PAYOUT_REQUESTED");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventNames {
    payment_request: String,
}

impl Default for EventNames {
    fn default() -> Self {
        Self {
            payment_request: EventKind::PaymentRequest.as_str().to_owned(),
        }
    }
}

impl EventNames {
    /// Recognizes `name` as a payment request, in addition to the default
    /// `PAYMENT_REQUEST`.
    ///
    /// The three documented names keep their meaning: setting one of them here has no
    /// effect.
    #[must_use]
    pub fn with_payment_request(mut self, name: impl Into<String>) -> Self {
        self.payment_request = name.into();
        self
    }

    /// The configured payment-request name.
    #[must_use]
    pub fn payment_request(&self) -> &str {
        &self.payment_request
    }

    pub(super) fn is_payment_request(&self, name: &str) -> bool {
        name == EventKind::PaymentRequest.as_str() || name == self.payment_request
    }
}

impl Event {
    /// The payment request, if this is one.
    #[must_use]
    pub fn payment_request(&self) -> Option<&PaymentRequest> {
        match &self.payload {
            Payload::PaymentRequest(request) => Some(request),
            _ => None,
        }
    }
}

impl Event {
    /// Which kind of event this is.
    #[must_use]
    pub fn kind(&self) -> EventKind {
        self.payload.kind()
    }

    /// `event.name` as sent.
    #[must_use]
    pub fn name(&self) -> &str {
        self.payload.name()
    }

    /// The envelope's `event_id`.
    #[must_use]
    pub fn id(&self) -> &str {
        self.event_id()
    }

    /// Whether the event is one this crate has no type for.
    #[must_use]
    pub fn is_unknown(&self) -> bool {
        matches!(self.payload, Payload::Unknown(_))
    }

    /// The id of the campaign the event belongs to (`source.campaign.id`); `None` when it
    /// is blank.
    ///
    /// ```
    /// use hookguard::chainvine::Event;
    ///
    /// let body = br#"{"source":{"campaign":{"name":"C","created_on":"2024-01-01","id":"c_7"},
    ///   "community":{"name":"Acme","id":"com_1"}},
    ///   "event":{"name":"REFERRAL_CONVERSION","data":{"claimer":"u_1"}},
    ///   "version":"1","secure_request":true,"request_id":"r","event_id":"e","sent_at":"2024-01-01T00:00:00Z"}"#;
    /// assert_eq!(Event::from_slice(body)?.campaign(), Some("c_7"));
    /// # Ok::<(), hookguard::ParseError>(())
    /// ```
    #[must_use]
    pub fn campaign(&self) -> Option<&str> {
        let id = self.source().campaign().id();
        Some(id).filter(|id| !id.trim().is_empty())
    }
}

crate::event::webhook_event_by_inherent_methods!(
    Event,
    EventKind,
    fn may_be_payment_request(&self) -> bool {
        self.payment_request().is_some() || self.is_unknown()
    },
    fn campaign(&self) -> Option<&str> {
        Event::campaign(self)
    }
);

impl Payload {
    /// The event's `name`, exactly as sent.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Payload::UserJoinedCampaign(_) => EventKind::UserJoinedCampaign.as_str(),
            Payload::ReferralConversion(_) => EventKind::ReferralConversion.as_str(),
            Payload::EarningCreated(_) => EventKind::EarningCreated.as_str(),
            Payload::PaymentRequest(request) => request.event_name(),
            Payload::Unknown(unknown) => unknown.name(),
        }
    }

    /// The text the payload's spans, and its envelope's, point into.
    pub(super) fn text(&self) -> &Text {
        match self {
            Payload::UserJoinedCampaign(data) => &data.text,
            Payload::ReferralConversion(data) => &data.text,
            Payload::EarningCreated(data) => &data.text,
            Payload::PaymentRequest(data) => &data.text,
            Payload::Unknown(data) => &data.text,
        }
    }

    /// Which kind of event this is.
    #[must_use]
    pub fn kind(&self) -> EventKind {
        match self {
            Payload::UserJoinedCampaign(_) => EventKind::UserJoinedCampaign,
            Payload::ReferralConversion(_) => EventKind::ReferralConversion,
            Payload::EarningCreated(_) => EventKind::EarningCreated,
            Payload::PaymentRequest(_) => EventKind::PaymentRequest,
            Payload::Unknown(_) => EventKind::Unknown,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::amount::Amount;
    use crate::event::ParseError;

    const USER_JOINED_CAMPAIGN: &[u8] =
        include_bytes!("../../../tests/fixtures/chainvine/user_joined_campaign.json");
    const REFERRAL_CONVERSION: &[u8] =
        include_bytes!("../../../tests/fixtures/chainvine/referral_conversion.json");
    const EARNING_CREATED: &[u8] =
        include_bytes!("../../../tests/fixtures/chainvine/earning_created.json");
    const PAYMENT_REQUEST: &[u8] =
        include_bytes!("../../../tests/fixtures/chainvine/payment_request.json");
    const UNKNOWN_EVENT: &[u8] =
        include_bytes!("../../../tests/fixtures/chainvine/unknown_event.json");
    const DATA_BEFORE_NAME: &[u8] =
        include_bytes!("../../../tests/fixtures/chainvine/data_before_name.json");

    /// A minimal envelope around `event` (JSON text).
    fn wrap(event: &str) -> String {
        format!(
            r#"{{"source":{{"campaign":{{"name":"C","created_on":"2024-04-02T15:04:05.000Z","id":"c1"}},
            "community":{{"name":"Co","id":"co1"}}}},"event":{event},"version":"1.0",
            "secure_request":true,"request_id":"r1","event_id":"e1","sent_at":"2024-05-14T09:31:02.123Z"}}"#
        )
    }

    fn data_error(body: &[u8]) -> (String, String) {
        match Event::from_slice(body) {
            Err(ParseError::Data { path, message }) => (path, message),
            other => panic!("expected a data error, got {other:?}"),
        }
    }

    fn text(body: &[u8]) -> &str {
        std::str::from_utf8(body).unwrap()
    }

    #[test]
    fn user_joined_campaign_fixture() {
        let envelope = Event::from_slice(USER_JOINED_CAMPAIGN).unwrap();
        let source = envelope.source();
        let (campaign, community) = (source.campaign(), source.community());
        assert_eq!(campaign.name(), "Summer Referral Drive");
        assert_eq!(
            campaign.created_on(),
            Timestamp::new("2024-04-02T15:04:05.000Z")
        );
        assert_eq!(campaign.id(), "8f14e45f-ceea-467e-a9f2-3c1b2d4e5f60");
        assert_eq!(community.name(), "Lumen Wallet");
        assert_eq!(community.id(), "2b7c9d1e-4f3a-4b8c-9d0e-1f2a3b4c5d6e");
        assert!(campaign.created_on().to_offset_date_time().is_some());
        assert_eq!(envelope.version(), "1.0");
        assert!(envelope.secure_request());
        assert_eq!(
            envelope.request_id(),
            "5f0c6b2e-8a1d-4c3b-9e7f-0a1b2c3d4e5f"
        );
        assert_eq!(envelope.event_id(), "0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b");
        assert_eq!(envelope.sent_at().as_str(), "2024-05-14T09:31:02.123Z");
        assert_eq!(
            envelope
                .sent_at()
                .to_offset_date_time()
                .map(|t| t.unix_timestamp()),
            Some(1_715_679_062)
        );
        assert_eq!(envelope.kind(), EventKind::UserJoinedCampaign);
        assert_eq!(envelope.name(), "USER_JOINED_CAMPAIGN");
        assert_eq!(envelope.id(), "0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b");
        assert!(!envelope.is_unknown());
        assert!(envelope.payment_request().is_none());
        assert_eq!(
            crate::Provider::name(&crate::ChainVine::new("s").unwrap()),
            "chainvine"
        );
        let Payload::UserJoinedCampaign(joined) = envelope.into_payload() else {
            panic!("wrong variant");
        };
        assert_eq!(joined.user_id(), "d3b07384-d113-4ec6-a5b2-9c1f0e8a7b6c");
        let user = joined.user();
        assert_eq!(
            (
                user.id(),
                user.email(),
                user.first_name(),
                user.last_name(),
                user.wallet_address(),
                user.external_identifier()
            ),
            (
                "d3b07384-d113-4ec6-a5b2-9c1f0e8a7b6c",
                Some("amara.okafor@example.com"),
                Some("Amara"),
                Some("Okafor"),
                Some("0x52908400098527886E0F7030069857D2E4169EE7"),
                Some("cust_000183"),
            )
        );
        assert_eq!(
            joined.referrer(),
            Some("0x8617E340B3D01FA5F11F306F4090FD50E238070D")
        );
        assert_eq!(joined.external_identifier(), Some("join_2024_05_14_000183"));
    }

    #[test]
    fn referral_conversion_fixture() {
        let envelope = Event::from_slice(REFERRAL_CONVERSION).unwrap();
        assert_eq!(envelope.kind(), EventKind::ReferralConversion);
        assert_eq!(envelope.name(), "REFERRAL_CONVERSION");
        assert_eq!(envelope.id(), "6c5b4a39-2817-4f6e-9d5c-4b3a29180f7e");
        let Payload::ReferralConversion(conversion) = envelope.payload() else {
            panic!("wrong variant");
        };
        assert_eq!(
            (
                conversion.claimer(),
                conversion.referrer(),
                conversion.external_identifier()
            ),
            (
                "0x52908400098527886E0F7030069857D2E4169EE7",
                Some("0x8617E340B3D01FA5F11F306F4090FD50E238070D"),
                Some("swap_7f3a91c2"),
            )
        );
    }

    /// The fixture's earning, as every field of it reads.
    fn assert_is_the_fixtures_earning(earning: &EarningCreated) {
        assert_eq!(earning.user_id(), "9a8b7c6d-5e4f-4321-8fed-cba987654321");
        assert_eq!(
            earning.date_created_utc(),
            Timestamp::new("2024-05-14T10:02:48.512Z")
        );
        let user = earning.user();
        assert_eq!(
            (
                user.id(),
                user.email(),
                user.first_name(),
                user.last_name(),
                user.wallet_address(),
                user.external_identifier()
            ),
            (
                "9a8b7c6d-5e4f-4321-8fed-cba987654321",
                Some("li.wei@example.net"),
                Some("Li"),
                Some("Wei"),
                Some("0x8617E340B3D01FA5F11F306F4090FD50E238070D"),
                Some("cust_000042"),
            )
        );
        assert_eq!(earning.reward().name(), "ETH");
        assert_eq!(earning.amount().as_str(), "0.00398888889000003983");
    }

    #[test]
    fn earning_created_fixture() {
        let envelope = Event::from_slice(EARNING_CREATED).unwrap();
        assert_eq!(envelope.kind(), EventKind::EarningCreated);
        assert_eq!(envelope.name(), "EARNING_CREATED");
        let Payload::EarningCreated(earning) = envelope.payload() else {
            panic!("wrong variant");
        };
        assert_is_the_fixtures_earning(earning);
        assert_eq!(earning.amount().integer_part(), "0");
        assert_eq!(earning.amount().fraction_part(), "00398888889000003983");
        assert_eq!(
            earning
                .date_created_utc()
                .to_offset_date_time()
                .map(|t| t.millisecond()),
            Some(512)
        );
    }

    #[test]
    fn data_before_name_parses_identically() {
        let in_order = Event::from_slice(EARNING_CREATED).unwrap();
        let reordered = Event::from_slice(DATA_BEFORE_NAME).unwrap();
        let (Payload::EarningCreated(earning), Payload::EarningCreated(expected)) =
            (reordered.payload(), in_order.payload())
        else {
            panic!("wrong variant: {:?}", reordered.payload());
        };
        assert_is_the_fixtures_earning(earning);
        assert_eq!(earning, expected);
        assert_eq!(reordered.source(), in_order.source());
        assert_eq!(reordered.sent_at(), in_order.sent_at());
        assert_eq!(
            serde_json::to_string(&reordered).unwrap(),
            serde_json::to_string(&in_order).unwrap()
        );
    }

    #[test]
    fn payment_request_fixture_is_typed_and_keeps_raw_data() {
        let envelope = Event::from_slice(PAYMENT_REQUEST).unwrap();
        assert_eq!(envelope.kind(), EventKind::PaymentRequest);
        assert_eq!(envelope.name(), "PAYMENT_REQUEST");
        assert_eq!(envelope.id(), "1a2b3c4d-5e6f-4a8b-9c0d-e1f2a3b4c5d6");
        let request = envelope.payment_request().unwrap();
        assert_eq!(request.id(), Some("pr_01HY3K9QZ8W7V6T5S4R3Q2P1N0"));
        assert_eq!(
            request.user_id(),
            Some("9a8b7c6d-5e4f-4321-8fed-cba987654321")
        );
        let user = request.user().unwrap();
        assert_eq!(
            (
                user.id(),
                user.email(),
                user.first_name(),
                user.last_name(),
                user.wallet_address(),
                user.external_identifier()
            ),
            (
                Some("9a8b7c6d-5e4f-4321-8fed-cba987654321"),
                Some("li.wei@example.net"),
                Some("Li"),
                Some("Wei"),
                Some("0x8617E340B3D01FA5F11F306F4090FD50E238070D"),
                None,
            )
        );
        assert_eq!(request.reward().map(|reward| reward.name()), Some("USDC"));
        assert_eq!(
            request.amount().map(Amount::into_string).as_deref(),
            Some("15.000")
        );
        assert_eq!(request.currency(), Some("USDC"));
        assert_eq!(
            request.wallet_address(),
            Some("0x8617E340B3D01FA5F11F306F4090FD50E238070D")
        );
        assert_eq!(request.event_name(), "PAYMENT_REQUEST");
        // The raw data is the body's own text, whitespace and the untyped `chain_id` included.
        let raw = request.raw();
        let raw = raw.get();
        assert!(raw.starts_with("{\n      \"payment_request_id\""), "{raw}");
        assert!(raw.ends_with("\"chain_id\": 137\n    }"), "{raw}");
        assert!(text(PAYMENT_REQUEST).contains(raw));
    }

    #[test]
    fn unknown_event_keeps_its_raw_data() {
        let envelope = Event::from_slice(UNKNOWN_EVENT).unwrap();
        assert!(envelope.is_unknown());
        assert_eq!(envelope.kind(), EventKind::Unknown);
        assert_eq!(envelope.name(), "CAMPAIGN_BUDGET_EXHAUSTED");
        assert_eq!(envelope.id(), "8d7c6b5a-4938-4271-a6f5-e4d3c2b1a098");
        assert!(!envelope.secure_request());
        let Payload::Unknown(unknown) = envelope.payload() else {
            panic!("wrong variant");
        };
        assert_eq!(unknown.name(), "CAMPAIGN_BUDGET_EXHAUSTED");
        let raw = unknown.data().unwrap();
        let raw = raw.get();
        assert!(raw.starts_with("{\n      \"campaign_id\""), "{raw}");
        assert!(raw.ends_with("\"exhausted_at\": \"2024-05-20T18:00:00.000Z\"\n    }"));
        assert!(text(UNKNOWN_EVENT).contains(raw));
    }

    #[test]
    fn unknown_event_data_before_name_and_without_data() {
        let body = wrap(r#"{"data":[1, "two" ,null],"name":"SOMETHING_NEW","extra":{}}"#);
        let parsed = Event::from_slice(body.as_bytes()).unwrap();
        let Payload::Unknown(unknown) = parsed.payload() else {
            panic!("wrong variant");
        };
        assert_eq!(unknown.name(), "SOMETHING_NEW");
        assert_eq!(unknown.data().unwrap().get(), r#"[1, "two" ,null]"#);

        let body = wrap(r#"{"name":"SOMETHING_NEW"}"#);
        let Payload::Unknown(unknown) = Event::from_slice(body.as_bytes()).unwrap().into_payload()
        else {
            panic!("wrong variant");
        };
        assert!(unknown.data().is_none());
    }

    #[test]
    fn custom_payment_request_name() {
        let body = text(PAYMENT_REQUEST).replace("\"PAYMENT_REQUEST\"", "\"PAYOUT_REQUESTED\"");
        let names = EventNames::default().with_payment_request("PAYOUT_REQUESTED");

        // Without the configured name it is an unknown event...
        let plain = Event::from_slice(body.as_bytes()).unwrap();
        assert!(plain.is_unknown());
        assert_eq!(plain.name(), "PAYOUT_REQUESTED");

        // ...with it, a payment request under its own name.
        let envelope = Event::from_slice_with(body.as_bytes(), &names).unwrap();
        assert_eq!(envelope.kind(), EventKind::PaymentRequest);
        assert_eq!(envelope.name(), "PAYOUT_REQUESTED");
        let request = envelope.payment_request().unwrap();
        assert_eq!(request.event_name(), "PAYOUT_REQUESTED");
        assert_eq!(
            request.amount().map(Amount::into_string).as_deref(),
            Some("15.000")
        );
        assert!(body.contains(request.raw().get()));

        // The default name is still recognized.
        let envelope = Event::from_slice_with(PAYMENT_REQUEST, &names).unwrap();
        assert_eq!(envelope.name(), "PAYMENT_REQUEST");
        assert!(envelope.payment_request().is_some());

        // Data before name, under the custom name.
        let body = envelope_with_custom_name_data_first();
        let envelope = Event::from_slice_with(body.as_bytes(), &names).unwrap();
        let request = envelope.payment_request().unwrap();
        assert_eq!(request.id(), Some("po_1"));
        assert_eq!(
            request.amount().map(Amount::into_string).as_deref(),
            Some("2.5")
        );

        // A documented name keeps its meaning.
        let names = EventNames::default().with_payment_request("EARNING_CREATED");
        let envelope = Event::from_slice_with(EARNING_CREATED, &names).unwrap();
        assert_eq!(envelope.kind(), EventKind::EarningCreated);
    }

    fn envelope_with_custom_name_data_first() -> String {
        wrap(r#"{"data":{"payoutId":"po_1","amount":"2.5"},"name":"PAYOUT_REQUESTED"}"#)
    }

    #[test]
    fn payment_request_fields_are_lenient() {
        let body = wrap(
            r#"{"name":"PAYMENT_REQUEST","data":{"id":12345,"userId":"u1","user_id":"u2",
            "amount":15.5,"walletAddress":"0xabc","user":{"firstName":"Li","id":7},
            "reward":"USDC","currency":null}}"#,
        );
        let envelope = Event::from_slice(body.as_bytes()).unwrap();
        let request = envelope.payment_request().unwrap();
        assert_eq!(request.id(), Some("12345"));
        assert_eq!(request.user_id(), Some("u2"));
        // Not a decimal string: no typed amount, but the exact text is in `raw`.
        assert_eq!(request.amount(), None);
        assert!(request.raw().get().contains(r#""amount":15.5"#));
        assert_eq!(request.wallet_address(), Some("0xabc"));
        let user = request.user().unwrap();
        assert_eq!((user.id(), user.first_name()), (Some("7"), Some("Li")));
        assert_eq!(request.reward(), None);
        assert_eq!(request.currency(), None);

        // No data, or null data: a payment request with nothing typed.
        for event in [
            r#"{"name":"PAYMENT_REQUEST"}"#,
            r#"{"name":"PAYMENT_REQUEST","data":null}"#,
        ] {
            let body = wrap(event);
            let envelope = Event::from_slice(body.as_bytes()).unwrap();
            let request = envelope.payment_request().unwrap();
            assert_eq!(request.raw().get(), "null");
            assert_eq!((request.id(), request.amount()), (None, None));
        }

        // Data that is not an object at all is refused.
        let body = wrap(r#"{"name":"PAYMENT_REQUEST","data":"pay me"}"#);
        assert_eq!(data_error(body.as_bytes()).0, "event.data");
    }

    #[test]
    fn earning_user_id_accepts_both_spellings() {
        let body = text(EARNING_CREATED).replace("\"userId\"", "\"user_id\"");
        let envelope = Event::from_slice(body.as_bytes()).unwrap();
        let Payload::EarningCreated(earning) = envelope.into_payload() else {
            panic!("wrong variant");
        };
        assert_eq!(earning.user_id(), "9a8b7c6d-5e4f-4321-8fed-cba987654321");
    }

    #[test]
    fn malformed_json_is_a_syntax_error() {
        for body in [
            &EARNING_CREATED[..EARNING_CREATED.len() - 10],
            b"",
            b"{\"source\": ",
            &[EARNING_CREATED, b" {}"].concat(),
        ] {
            assert!(
                matches!(Event::from_slice(body), Err(ParseError::Syntax { .. })),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        let body = text(DATA_BEFORE_NAME).replace("\"reward\": {", "\"reward\": {,");
        assert!(matches!(
            Event::from_slice(body.as_bytes()),
            Err(ParseError::Syntax { .. })
        ));
    }

    #[test]
    fn amount_as_a_number_is_a_data_error_at_its_path() {
        let name_first = text(EARNING_CREATED).replace(
            "\"amount\": \"0.00398888889000003983\"",
            "\"amount\": 0.00398888889000003983",
        );
        let data_first = text(DATA_BEFORE_NAME).replace(
            "\"amount\": \"0.00398888889000003983\"",
            "\"amount\": 0.00398888889000003983",
        );
        for body in [name_first, data_first] {
            assert_ne!(body.as_bytes(), EARNING_CREATED);
            let (path, message) = data_error(body.as_bytes());
            assert_eq!(path, "event.data.amount");
            assert!(message.contains("decimal amount"), "{message}");
        }
        let bad = text(EARNING_CREATED).replace("\"0.00398888889000003983\"", "\"0,0039\"");
        let (path, message) = data_error(bad.as_bytes());
        assert_eq!(path, "event.data.amount");
        assert!(message.starts_with("invalid decimal amount"), "{message}");
    }

    #[test]
    fn wrong_types_name_the_field() {
        let cases = [
            (
                text(USER_JOINED_CAMPAIGN).replace(
                    "\"id\": \"8f14e45f-ceea-467e-a9f2-3c1b2d4e5f60\"",
                    "\"id\": 42",
                ),
                "source.campaign.id",
            ),
            (
                text(REFERRAL_CONVERSION)
                    .replace("\"secure_request\": true", "\"secure_request\": \"yes\""),
                "secure_request",
            ),
            (
                text(USER_JOINED_CAMPAIGN)
                    .replace("\"first_name\": \"Amara\"", "\"first_name\": [\"Amara\"]"),
                "event.data.user.first_name",
            ),
            (
                text(DATA_BEFORE_NAME).replace("\"name\": \"ETH\"", "\"name\": false"),
                "event.data.reward.name",
            ),
            (
                text(REFERRAL_CONVERSION)
                    .replace("\"name\": \"REFERRAL_CONVERSION\"", "\"name\": null"),
                "event.name",
            ),
        ];
        for (body, path) in cases {
            assert_eq!(data_error(body.as_bytes()).0, path, "{body}");
        }
    }

    #[test]
    fn missing_fields_are_data_errors() {
        // Missing `claimer`, name first and data first: reported at `event.data`.
        for event in [
            r#"{"name":"REFERRAL_CONVERSION","data":{"referrer":"r"}}"#,
            r#"{"data":{"referrer":"r"},"name":"REFERRAL_CONVERSION"}"#,
        ] {
            let (path, message) = data_error(wrap(event).as_bytes());
            assert_eq!(path, "event.data");
            assert!(message.contains("claimer"), "{message}");
        }
        // A known event without data.
        let (path, message) = data_error(wrap(r#"{"name":"USER_JOINED_CAMPAIGN"}"#).as_bytes());
        assert_eq!(path, "event.data");
        assert!(message.contains("user_id"), "{message}");
        // An event without a name.
        let (path, message) = data_error(wrap(r#"{"data":{}}"#).as_bytes());
        assert_eq!(path, "event");
        assert!(message.contains("name"), "{message}");
        // The envelope without `event_id`.
        let body = text(REFERRAL_CONVERSION).replace("\"event_id\"", "\"evt_id\"");
        let (_, message) = data_error(body.as_bytes());
        assert!(message.contains("event_id"), "{message}");
        // A missing required user field, data first.
        let body = text(DATA_BEFORE_NAME).replace(
            "\"id\": \"9a8b7c6d-5e4f-4321-8fed-cba987654321\"",
            "\"uid\": \"x\"",
        );
        let (path, message) = data_error(body.as_bytes());
        assert_eq!(path, "event.data.user");
        assert!(message.contains("`id`"), "{message}");
        assert!(!message.contains("line"), "{message}");
    }

    #[test]
    fn wrong_types_name_the_public_struct() {
        // Users match on these messages; they name the public type, as they always did.
        let envelope = text(REFERRAL_CONVERSION);
        let cases = [
            (
                wrap(r#"{"name":"REFERRAL_CONVERSION","data":"x"}"#),
                "event.data",
                "expected struct ReferralConversion",
            ),
            (
                wrap(r#"{"name":"USER_JOINED_CAMPAIGN","data":7}"#),
                "event.data",
                "expected struct UserJoinedCampaign",
            ),
            (
                wrap(r#"{"name":"USER_JOINED_CAMPAIGN","data":{"user_id":"u","user":"x"}}"#),
                "event.data.user",
                "expected struct JoinedUser",
            ),
            (
                wrap(r#"{"name":"EARNING_CREATED","data":true}"#),
                "event.data",
                "expected struct EarningCreated",
            ),
            (
                wrap(
                    r#"{"name":"EARNING_CREATED","data":{"userId":"u","dateCreatedUtc":"2024-05-14T09:31:02Z","user":"x"}}"#,
                ),
                "event.data.user",
                "expected struct EarningUser",
            ),
            (
                wrap(
                    r#"{"name":"EARNING_CREATED","data":{"userId":"u","dateCreatedUtc":"2024-05-14T09:31:02Z","user":{"id":"i"},"reward":1}}"#,
                ),
                "event.data.reward",
                "expected struct Reward",
            ),
            (
                envelope.replacen(r#""source": {"#, r#""source": "x", "unused": {"#, 1),
                "source",
                "expected struct Source",
            ),
            (
                wrap("1").replacen(r#"{"name":"C","#, r#""x","unused":{"name":"C","#, 1),
                "source.campaign",
                "expected struct SourceCampaign",
            ),
            (
                wrap("1").replacen(r#"{"name":"Co","id":"co1"}"#, "[]", 1),
                "source.community",
                "expected struct Community with 2 elements",
            ),
        ];
        for (body, path, expected) in cases {
            let (at, message) = data_error(body.as_bytes());
            assert_eq!(at, path, "{body}");
            assert!(
                message.contains(expected),
                "{message} (wanted {expected:?}) in {body}"
            );
        }
    }

    #[test]
    fn duplicate_event_fields_are_refused() {
        let body = wrap(r#"{"name":"REFERRAL_CONVERSION","data":{"claimer":"a"},"data":{}}"#);
        assert!(data_error(body.as_bytes()).1.contains("duplicate field"));
        let body = wrap(r#"{"name":"X","name":"Y"}"#);
        assert!(data_error(body.as_bytes()).1.contains("duplicate field"));
    }

    #[test]
    fn odd_timestamps_do_not_fail_the_delivery() {
        let body = text(REFERRAL_CONVERSION)
            .replace("\"2024-05-14T10:02:47.908Z\"", "\"last tuesday\"")
            .replace("\"2024-04-02T15:04:05.000Z\"", "1712070245");
        let envelope = Event::from_slice(body.as_bytes()).unwrap();
        assert_eq!(envelope.sent_at().as_str(), "last tuesday");
        assert_eq!(envelope.sent_at().to_offset_date_time(), None);
        let created_on = envelope.source().campaign().created_on();
        assert_eq!(created_on.as_str(), "1712070245");
        assert_eq!(
            created_on.to_offset_date_time().map(|t| t.unix_timestamp()),
            Some(1_712_070_245)
        );
    }

    #[test]
    fn serde_deserialize_works_without_from_slice() {
        for body in [
            USER_JOINED_CAMPAIGN,
            REFERRAL_CONVERSION,
            EARNING_CREATED,
            PAYMENT_REQUEST,
            UNKNOWN_EVENT,
            DATA_BEFORE_NAME,
        ] {
            let direct: Event = serde_json::from_slice(body).unwrap();
            let parsed = Event::from_slice(body).unwrap();
            assert_eq!(direct.kind(), parsed.kind());
            assert_eq!(
                serde_json::to_string(&direct).unwrap(),
                serde_json::to_string(&parsed).unwrap()
            );
        }
        // Deferred data errors name their path in the message.
        let body = text(DATA_BEFORE_NAME).replace("\"name\": \"ETH\"", "\"name\": false");
        let err = serde_json::from_str::<Event>(&body).unwrap_err();
        assert!(err.is_data());
        assert!(
            err.to_string().contains("`event.data.reward.name`"),
            "{err}"
        );

        let event: Payload =
            serde_json::from_str(r#"{"data":{"claimer":"a"},"name":"REFERRAL_CONVERSION"}"#)
                .unwrap();
        assert_eq!(event.kind(), EventKind::ReferralConversion);
        let request: PaymentRequest = serde_json::from_str(r#"{"amount":"1.5"}"#).unwrap();
        assert_eq!(
            request.amount().map(Amount::into_string).as_deref(),
            Some("1.5")
        );
        assert_eq!(request.event_name(), "PAYMENT_REQUEST");
    }

    #[test]
    fn serializing_re_emits_the_event() {
        for body in [
            USER_JOINED_CAMPAIGN,
            REFERRAL_CONVERSION,
            EARNING_CREATED,
            PAYMENT_REQUEST,
            UNKNOWN_EVENT,
        ] {
            let envelope = Event::from_slice(body).unwrap();
            let json = serde_json::to_vec(&envelope).unwrap();
            let again = Event::from_slice(&json).unwrap();
            assert_eq!(again.kind(), envelope.kind());
            assert_eq!(again.event_id(), envelope.event_id());
            let original: serde_json::Value = serde_json::from_slice(body).unwrap();
            let emitted: serde_json::Value = serde_json::from_slice(&json).unwrap();
            assert_eq!(emitted, original);
            // Token for token: the fields in the order sent, as logs and stored copies
            // have them (raw JSON, a payment request's data, keeps its own whitespace).
            assert_eq!(compact(text(&json)), compact(text(body)));
        }
    }

    /// `json` without the whitespace between its tokens.
    fn compact(json: &str) -> String {
        let (mut out, mut in_string, mut escaped) = (String::new(), false, false);
        for c in json.chars() {
            if in_string {
                (in_string, escaped) = (escaped || c != '"', !escaped && c == '\\');
            } else if c.is_whitespace() {
                continue;
            } else {
                in_string = c == '"';
            }
            out.push(c);
        }
        out
    }

    #[test]
    fn event_kinds_round_trip_through_their_name() {
        for kind in EventKind::KNOWN {
            assert_eq!(EventKind::from_name(kind.as_str()), kind);
            assert_eq!(kind.as_str().parse::<EventKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(EventKind::from_name("earning_created"), EventKind::Unknown);
        assert_eq!(EventNames::default().payment_request(), "PAYMENT_REQUEST");
    }
}
