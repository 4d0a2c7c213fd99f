//! The fast path of a ChainVine parse: the envelope and its event read in one pass by the
//! JSON scanner, every string a span of the body. Whatever it declines (a field of
//! another shape, a repeated field, a number where a timestamp is usually a string),
//! [`de`](super::de) reads with serde, which also gives a bad body's error with its path.
//! An event's `data` may come before its `name` (a sender that sorts its keys puts it
//! there): it is checked and passed over, then read once the name is known.
//!
//! It must read what serde reads, or decline: the payment request's typed fields are
//! what a payout handler pays with. So each reader below accepts only the shapes whose
//! serde reading is plain (a string, an integer id, an object with each field once) and
//! declines the rest, lenient ones included; `agrees` checks the two paths against each
//! other.

use std::borrow::Cow;

use super::de::{choose_payment_id, first_present};
use super::event::{EnvelopeSpans, Event, EventKind, EventNames, PayloadSpans, SourceSpans};
use super::payload::{
    ConversionSpans, EarningSpans, JoinedSpans, PaymentSpans, UnknownSpans, UserSpans,
};
use crate::amount::is_decimal;
use crate::event::ByteString;
use crate::json::scan::{Name, Reader, Span, Text};

/// The event of `body`, or the body back when the scanner declines it.
pub(super) fn event(body: ByteString, names: &EventNames) -> Result<Event, ByteString> {
    let Some(mut reader) = Reader::new(&body) else {
        return Err(body);
    };
    let Some((envelope, payload)) = Body { names }.envelope(&mut reader) else {
        return Err(body);
    };
    let decoded = reader.into_decoded();
    Ok(Event {
        payload: payload.with_text(Text::read(body, decoded)),
        envelope,
    })
}

/// The envelope's fields, in the order ChainVine's page shows them.
const ENVELOPE: [Name; 7] = Name::all([
    "source",
    "event",
    "version",
    "secure_request",
    "request_id",
    "event_id",
    "sent_at",
]);
const SOURCE: [Name; 2] = Name::all(["campaign", "community"]);
const CAMPAIGN: [Name; 3] = Name::all(["name", "created_on", "id"]);
const COMMUNITY: [Name; 2] = Name::all(["name", "id"]);
const EVENT: [Name; 2] = Name::all(["name", "data"]);
const JOINED: [Name; 4] = Name::all(["user_id", "user", "referrer", "external_identifier"]);
const JOINED_USER: [Name; 6] = Name::all([
    "id",
    "email",
    "first_name",
    "last_name",
    "wallet_address",
    "external_identifier",
]);
const CONVERSION: [Name; 3] = Name::all(["claimer", "referrer", "external_identifier"]);
/// `user_id` is `userId`'s alias: one field, under either name.
const EARNING: [Name; 6] = Name::all([
    "userId",
    "dateCreatedUtc",
    "user",
    "reward",
    "amount",
    "user_id",
]);
const EARNING_USER: [Name; 6] = Name::all([
    "id",
    "email",
    "firstName",
    "lastName",
    "walletAddress",
    "externalIdentifier",
]);
const REWARD: [Name; 1] = Name::all(["name"]);
/// Every field a payment request's typed fields or its id read, snake_case spellings
/// first (the order of `PaymentRequestFields` and `PAYMENT_ID_FIELDS`).
const PAYMENT: [Name; 13] = Name::all([
    "payment_request_id",
    "user_id",
    "user",
    "reward",
    "amount",
    "currency",
    "wallet_address",
    "paymentRequestId",
    "payout_id",
    "payoutId",
    "id",
    "userId",
    "walletAddress",
]);
/// The indices in [`PAYMENT`] of the id fields, in
/// [`PAYMENT_ID_FIELDS`](super::de::PAYMENT_ID_FIELDS)' order.
const PAYMENT_IDS: [usize; 5] = [0, 7, 8, 9, 10];
/// camelCase spellings are aliases: a user with both spellings of one field is declined.
const PAYOUT_USER: [Name; 10] = Name::all([
    "id",
    "email",
    "first_name",
    "last_name",
    "wallet_address",
    "external_identifier",
    "firstName",
    "lastName",
    "walletAddress",
    "externalIdentifier",
]);

/// The event names in use.
#[derive(Clone, Copy)]
struct Body<'a> {
    names: &'a EventNames,
}

/// Sets `slot` to `value`, declining when it was set already: two spellings of one field.
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

/// What an event's name makes of its data.
#[derive(Clone, Copy)]
enum DataKind {
    Joined,
    Conversion,
    Earning,
    Payment,
    Unknown,
}

/// `null` or a string (serde's `Option<String>`).
fn optional(r: &mut Reader<'_>) -> Option<Option<Span>> {
    r.nullable(Reader::text)
}

/// A decimal amount sent as a string: its span, `None` (declined) for any other text.
fn amount(r: &mut Reader<'_>) -> Option<Span> {
    let span = r.text()?;
    is_decimal(r.get(span)).then_some(span)
}

impl Body<'_> {
    fn kind(self, name: &str) -> DataKind {
        match EventKind::from_name(name) {
            EventKind::UserJoinedCampaign => DataKind::Joined,
            EventKind::ReferralConversion => DataKind::Conversion,
            EventKind::EarningCreated => DataKind::Earning,
            _ if self.names.is_payment_request(name) => DataKind::Payment,
            _ => DataKind::Unknown,
        }
    }

    fn envelope(self, r: &mut Reader<'_>) -> Option<(EnvelopeSpans, PayloadSpans)> {
        let (mut source, mut payload, mut version, mut secure) = (None, None, None, None);
        let (mut request_id, mut event_id, mut sent_at) = (None, None, None);
        r.fields(&ENVELOPE, |r, field| {
            match field {
                0 => source = Some(source_spans(r)?),
                1 => self.payload(r, &mut payload)?,
                2 => version = Some(r.text()?),
                3 => secure = Some(r.scanner.boolean()?),
                4 => request_id = Some(r.text()?),
                5 => event_id = Some(r.text()?),
                // A timestamp sent as a string; a number (unix seconds) is declined.
                6 => sent_at = Some(r.text()?),
                _ => r.skip()?,
            }
            Some(())
        })?;
        r.end()?;
        let envelope = EnvelopeSpans {
            source: source?,
            version: version?,
            secure_request: secure?,
            request_id: request_id?,
            event_id: event_id?,
            sent_at: sent_at?,
        };
        Some((envelope, payload?))
    }

    /// The envelope's `event`, into `slot`: its `name`, and its `data` read as that name
    /// says. Data that comes before the name is checked and passed over, then read again
    /// once the name is known, as serde keeps it raw and reads it then.
    fn payload(self, r: &mut Reader<'_>, slot: &mut Option<PayloadSpans>) -> Option<()> {
        let mut name = None::<Span>;
        let mut early_data = None;
        r.fields(&EVENT, |r, field| {
            match field {
                0 => {
                    let read = r.text()?;
                    if let Some(span) = early_data.take() {
                        r.reread(span, |r| self.data(r, read, slot))?;
                    }
                    name = Some(read);
                }
                1 => match name {
                    Some(name) => self.data(r, name, slot)?,
                    None => early_data = Some(r.raw()?),
                },
                _ => r.skip()?,
            }
            Some(())
        })?;
        let name = name?;
        if slot.is_none() {
            // No `data`: only an unknown event goes without (serde reads a known one's
            // missing data as `{}`, and fails on its required fields).
            match self.kind(r.get(name)) {
                DataKind::Unknown => {
                    *slot = Some(PayloadSpans::Unknown(UnknownSpans { name, data: None }));
                }
                _ => return None,
            }
        }
        Some(())
    }

    /// The `data` of an event named `name`, into `slot`.
    fn data(self, r: &mut Reader<'_>, name: Span, slot: &mut Option<PayloadSpans>) -> Option<()> {
        *slot = Some(match self.kind(r.get(name)) {
            DataKind::Joined => PayloadSpans::UserJoinedCampaign(joined(r)?),
            DataKind::Conversion => PayloadSpans::ReferralConversion(conversion(r)?),
            DataKind::Earning => PayloadSpans::EarningCreated(earning(r)?),
            DataKind::Payment => PayloadSpans::PaymentRequest(payment_request(r, name)?),
            DataKind::Unknown => PayloadSpans::Unknown(UnknownSpans {
                name,
                data: Some(r.raw()?),
            }),
        });
        Some(())
    }
}

fn source_spans(r: &mut Reader<'_>) -> Option<SourceSpans> {
    let (mut campaign, mut community) = (None, None);
    r.fields(&SOURCE, |r, field| {
        match field {
            0 => campaign = Some(campaign_spans(r)?),
            1 => community = Some(community_spans(r)?),
            _ => r.skip()?,
        }
        Some(())
    })?;
    let ((campaign_name, campaign_created_on, campaign_id), (community_name, community_id)) =
        (campaign?, community?);
    Some(SourceSpans {
        campaign_name,
        campaign_created_on,
        campaign_id,
        community_name,
        community_id,
    })
}

/// The campaign's name, creation time and id.
fn campaign_spans(r: &mut Reader<'_>) -> Option<(Span, Span, Span)> {
    let (mut name, mut created_on, mut id) = (None, None, None);
    r.fields(&CAMPAIGN, |r, field| {
        match field {
            0 => name = Some(r.text()?),
            1 => created_on = Some(r.text()?),
            2 => id = Some(r.text()?),
            _ => r.skip()?,
        }
        Some(())
    })?;
    Some((name?, created_on?, id?))
}

/// The community's name and id.
fn community_spans(r: &mut Reader<'_>) -> Option<(Span, Span)> {
    let (mut name, mut id) = (None, None);
    r.fields(&COMMUNITY, |r, field| {
        match field {
            0 => name = Some(r.text()?),
            1 => id = Some(r.text()?),
            _ => r.skip()?,
        }
        Some(())
    })?;
    Some((name?, id?))
}

fn joined(r: &mut Reader<'_>) -> Option<JoinedSpans> {
    let (mut user_id, mut user) = (None, None);
    let (mut referrer, mut external_identifier) = (None, None);
    r.fields(&JOINED, |r, field| {
        match field {
            0 => user_id = Some(r.text()?),
            1 => user = Some(user_spans(r, &JOINED_USER)?),
            2 => referrer = optional(r)?,
            3 => external_identifier = optional(r)?,
            _ => r.skip()?,
        }
        Some(())
    })?;
    Some(JoinedSpans {
        user_id: user_id?,
        user: user?,
        referrer,
        external_identifier,
    })
}

/// A user of a joined campaign or an earning: a required `id`, then the email, first
/// name, last name, wallet and external id, under the spellings of `names`.
fn user_spans(r: &mut Reader<'_>, names: &[Name; 6]) -> Option<UserSpans<Span>> {
    let mut id = None;
    let mut fields: [Option<Span>; 5] = [None; 5];
    r.fields(names, |r, field| {
        match field {
            0 => id = Some(r.text()?),
            1..=5 => fields[field - 1] = optional(r)?,
            _ => r.skip()?,
        }
        Some(())
    })?;
    let [email, first_name, last_name, wallet_address, external_identifier] = fields;
    Some(UserSpans {
        id: id?,
        email,
        first_name,
        last_name,
        wallet_address,
        external_identifier,
    })
}

fn conversion(r: &mut Reader<'_>) -> Option<ConversionSpans> {
    let (mut claimer, mut referrer, mut external_identifier) = (None, None, None);
    r.fields(&CONVERSION, |r, field| {
        match field {
            0 => claimer = Some(r.text()?),
            1 => referrer = optional(r)?,
            2 => external_identifier = optional(r)?,
            _ => r.skip()?,
        }
        Some(())
    })?;
    Some(ConversionSpans {
        claimer: claimer?,
        referrer,
        external_identifier,
    })
}

fn earning(r: &mut Reader<'_>) -> Option<EarningSpans> {
    let (mut user_id, mut date_created_utc, mut user) = (None, None, None);
    let (mut reward, mut amount_span) = (None, None);
    r.fields(&EARNING, |r, field| {
        match field {
            0 | 5 => once(&mut user_id, r.text()?)?,
            1 => date_created_utc = Some(r.text()?),
            2 => user = Some(user_spans(r, &EARNING_USER)?),
            3 => reward = Some(reward_name(r)?),
            // An amount that is not a decimal is serde's error, with its path.
            4 => amount_span = Some(amount(r)?),
            _ => r.skip()?,
        }
        Some(())
    })?;
    Some(EarningSpans {
        user_id: user_id?,
        date_created_utc: date_created_utc?,
        user: user?,
        reward: reward?,
        amount: amount_span?,
    })
}

/// A reward's name; any other shape of reward is declined.
fn reward_name(r: &mut Reader<'_>) -> Option<Span> {
    let mut name = None;
    r.fields(&REWARD, |r, field| {
        match field {
            0 => name = Some(r.text()?),
            _ => r.skip()?,
        }
        Some(())
    })?;
    name
}

/// A payment request's data: an object, each field `null` or of a shape its typed
/// field keeps (a string; an id as a string or a non-negative integer; `user` and
/// `reward` as objects). Anything serde would read leniently into `None` is declined
/// (but an `amount` that is not a decimal, which both read as `None`), so that the
/// lenient rules live in one place, `de`.
fn payment_request(r: &mut Reader<'_>, event_name: Span) -> Option<PaymentSpans> {
    // `None`: absent; `Some(None)`: `null`.
    let (mut user_id, mut user_id_camel) = (None, None);
    let (mut wallet, mut wallet_camel) = (None, None);
    let (mut user, mut reward, mut amount, mut currency) = (None, None, None, None);
    let mut ids: [Option<Span>; 5] = [None; 5];
    let ((), raw) = r.spanned(|r| {
        r.fields(&PAYMENT, |r, field| {
            match field {
                0 | 7 | 8 | 9 | 10 => {
                    let at = PAYMENT_IDS.iter().position(|&index| index == field)?;
                    ids[at] = Some(r.raw()?);
                }
                1 => user_id = Some(r.nullable(Reader::id)?),
                11 => user_id_camel = Some(r.nullable(Reader::id)?),
                2 => user = r.nullable(payout_user)?,
                3 => reward = r.nullable(reward_name)?,
                4 => {
                    amount = match r.nullable(Reader::text)? {
                        // Not a decimal: serde's lenient read gives `None` too.
                        Some(span) => Some(span).filter(|&span| is_decimal(r.get(span))),
                        None => None,
                    }
                }
                5 => currency = optional(r)?,
                6 => wallet = Some(optional(r)?),
                12 => wallet_camel = Some(optional(r)?),
                _ => r.skip()?,
            }
            Some(())
        })
    })?;
    // `de::present`: `null` is as good as absent, so the other spelling is read.
    let present = |field: Option<Option<Span>>| field.flatten().map(Some);
    let id = match choose_payment_id(|at| ids[at].map(|span| r.body_text(span))) {
        Ok(Some(Cow::Borrowed(text))) => Some(r.span_of(text)?),
        Ok(Some(Cow::Owned(text))) => Some(r.push(&text)?),
        Ok(None) | Err(_) => None,
    };
    Some(PaymentSpans {
        id,
        user_id: first_present(present(user_id), present(user_id_camel)),
        user,
        reward,
        amount,
        currency,
        wallet_address: first_present(present(wallet), present(wallet_camel)),
        raw,
        event_name,
    })
}

fn payout_user(r: &mut Reader<'_>) -> Option<UserSpans<Option<Span>>> {
    let mut user = UserSpans {
        id: None,
        email: None,
        first_name: None,
        last_name: None,
        wallet_address: None,
        external_identifier: None,
    };
    // Which of the aliased fields were present, `null` or not.
    let mut seen = [false; 4];
    r.fields(&PAYOUT_USER, |r, field| {
        let alias = match field {
            2 | 6 => Some(0),
            3 | 7 => Some(1),
            4 | 8 => Some(2),
            5 | 9 => Some(3),
            _ => None,
        };
        if let Some(alias) = alias {
            if std::mem::replace(&mut seen[alias], true) {
                return None;
            }
        }
        match field {
            0 => user.id = r.nullable(Reader::id)?,
            1 => user.email = optional(r)?,
            2 | 6 => user.first_name = optional(r)?,
            3 | 7 => user.last_name = optional(r)?,
            4 | 8 => user.wallet_address = optional(r)?,
            5 | 9 => user.external_identifier = optional(r)?,
            _ => r.skip()?,
        }
        Some(())
    })?;
    Some(user)
}

/// Whether the fast path agrees with the serde path on `body`, with the default event
/// names and with a payment request named otherwise: where the scanner reads an event,
/// serde reads the same one. `Err` describes a disagreement. (`testing::check_fast_path`
/// checks the same, and the payout key.)
#[cfg(test)]
fn agrees(body: &[u8]) -> Result<(), String> {
    for (fast, slow) in both_reads(body) {
        match slow {
            Ok(slow) if format!("{slow:?}") == format!("{fast:?}") => {}
            slow => return Err(format!("scanner read {fast:?}, serde {slow:?}")),
        }
    }
    Ok(())
}

/// What the scanner and serde each read from `body`, with the names [`agrees`] tries,
/// for each of those the scanner reads an event with: so that what is computed from an
/// event (a payout key, a fingerprint) can be compared on both.
#[cfg(any(test, feature = "testing"))]
pub(crate) fn both_reads(body: &[u8]) -> Vec<(Event, Result<Event, crate::event::ParseError>)> {
    let Ok(text) = crate::json::text(bytes::Bytes::copy_from_slice(body)) else {
        return Vec::new();
    };
    [
        EventNames::default(),
        EventNames::default().with_payment_request("PAYOUT_REQUESTED"),
    ]
    .iter()
    .filter_map(|names| {
        let fast = event(text.clone(), names).ok()?;
        Some((fast, Event::from_text(&text, names)))
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::super::de::PAYMENT_ID_FIELDS;
    use super::*;
    use crate::amount::Amount;

    const FIXTURES: [&[u8]; 6] = [
        include_bytes!("../../../tests/fixtures/chainvine/payment_request.json"),
        include_bytes!("../../../tests/fixtures/chainvine/earning_created.json"),
        include_bytes!("../../../tests/fixtures/chainvine/referral_conversion.json"),
        include_bytes!("../../../tests/fixtures/chainvine/user_joined_campaign.json"),
        include_bytes!("../../../tests/fixtures/chainvine/unknown_event.json"),
        include_bytes!("../../../tests/fixtures/chainvine/data_before_name.json"),
    ];

    fn fast(body: &[u8]) -> Option<Event> {
        let text = crate::json::text(bytes::Bytes::copy_from_slice(body)).ok()?;
        event(text, &EventNames::default()).ok()
    }

    /// A payment request around `data`, written compactly, its `data` after its `name`
    /// as ChainVine's page shows it.
    fn payment_request(data: &str) -> Vec<u8> {
        format!(
            r#"{{"source":{{"campaign":{{"name":"C","created_on":"2024-01-01T00:00:00Z","id":"c1"}},"community":{{"name":"A","id":"com_1"}}}},"event":{{"name":"PAYMENT_REQUEST","data":{data}}},"version":"1.0","secure_request":true,"request_id":"r1","event_id":"e1","sent_at":"2024-05-14T11:15:30.250Z"}}"#
        )
        .into_bytes()
    }

    /// [`payment_request`] with the `data` before the `name`.
    fn payment_request_data_first(data: &str) -> Vec<u8> {
        format!(
            r#"{{"source":{{"campaign":{{"name":"C","created_on":"2024-01-01T00:00:00Z","id":"c1"}},"community":{{"name":"A","id":"com_1"}}}},"event":{{"data":{data},"name":"PAYMENT_REQUEST"}},"version":"1.0","secure_request":true,"request_id":"r1","event_id":"e1","sent_at":"2024-05-14T11:15:30.250Z"}}"#
        )
        .into_bytes()
    }

    #[test]
    fn the_fixtures_take_the_fast_path() {
        // The last has its `data` before its `name`.
        for body in FIXTURES {
            assert!(fast(body).is_some(), "{}", String::from_utf8_lossy(body));
            agrees(body).unwrap();
        }
    }

    #[test]
    fn a_payment_request_is_read_as_serde_reads_it_or_declined() {
        // (data, whether the scanner reads it)
        let cases: [(&str, bool); 24] = [
            (
                r#"{"payment_request_id":"pr_1","amount":"15.000","wallet_address":"0xA"}"#,
                true,
            ),
            (
                r#"{"id":7,"user_id":42,"userId":"u","walletAddress":"0xB"}"#,
                true,
            ),
            (r#"{"payout_id":"  p 1 ","id":"x"}"#, true),
            (r#"{"payment_request_id":"   ","payoutId":"p2"}"#, true),
            (r#"{"payment_request_id":null,"id":-5}"#, true),
            (r#"{"id":123456789012345678901234567890}"#, true),
            (r#"{"id":1.5,"payout_id":"p"}"#, true),
            (r#"{"paymentRequestId":"pr\u005f3"}"#, true),
            (
                r#"{"user_id":null,"userId":"u2","wallet_address":null,"walletAddress":"0xC"}"#,
                true,
            ),
            (r#"{"amount":"15,00","currency":null}"#, true),
            (r#"{"amount":null,"reward":null,"user":null}"#, true),
            (
                r#"{"user":{"id":9,"firstName":"Li","wallet_address":"0xD"},"reward":{"name":"USDC","x":1}}"#,
                true,
            ),
            (r#"{"amount":15.5}"#, false),
            (r#"{"wallet_address":5,"walletAddress":"0xA"}"#, false),
            (r#"{"user_id":-7}"#, false),
            (r#"{"user_id":true}"#, false),
            (r#"{"user":{"first_name":"a","firstName":"b"}}"#, false),
            (r#"{"user":["u",null]}"#, false),
            (r#"{"reward":{}}"#, false),
            (r#"{"amount":"1","amount":"2"}"#, false),
            (r#"{"id":"a","id":"b"}"#, false),
            (r#"{"am\u006fount":"1"}"#, false),
            ("null", false),
            (r#"["pr_1"]"#, false),
        ];
        for (data, read) in cases {
            for body in [payment_request(data), payment_request_data_first(data)] {
                assert_eq!(fast(&body).is_some(), read, "{data}");
                agrees(&body).unwrap();
            }
            // Read the same in either order.
            let (first, second) = (payment_request(data), payment_request_data_first(data));
            assert_eq!(
                format!("{:?}", fast(&first)),
                format!("{:?}", fast(&second)),
                "{data}"
            );
        }
        let body = payment_request(
            r#"{"payment_request_id":"  pr_9 ","user_id":42,"amount":"15.000","wallet_address":"0xA"}"#,
        );
        let request = fast(&body).unwrap();
        let request = request.payment_request().unwrap();
        assert_eq!(request.id(), Some("pr_9"));
        assert_eq!(request.user_id(), Some("42"));
        assert_eq!(
            request.amount().map(Amount::into_string).as_deref(),
            Some("15.000")
        );
        assert_eq!(
            crate::chainvine::payment_id(request.raw().get()),
            Ok(Some("pr_9".to_owned()))
        );
    }

    /// Every body one edit away from a fixture (and from its compact form, keys sorted):
    /// the scanner reads what serde reads, or declines.
    #[test]
    fn edits_of_the_fixtures_are_read_as_serde_reads_them() {
        const INSERTS: [&[u8]; 15] = [
            b"\"", b"\\", b",", b"}", b"]", b"{", b"[", b"1", b"-", b".5", b"e3", b"null",
            b"\\u00e9", b" ", b"true",
        ];
        let compact: Vec<Vec<u8>> = FIXTURES
            .iter()
            .map(|body| {
                let value: serde_json::Value = serde_json::from_slice(body).unwrap();
                serde_json::to_vec(&value).unwrap()
            })
            .collect();
        let mut checked = 0;
        for body in FIXTURES
            .iter()
            .copied()
            .chain(compact.iter().map(Vec::as_slice))
        {
            for at in 0..body.len() {
                let mut deleted = body.to_vec();
                deleted.remove(at);
                agrees(&deleted).unwrap();
                for insert in INSERTS {
                    let mut edited = body[..at].to_vec();
                    edited.extend_from_slice(insert);
                    edited.extend_from_slice(&body[at..]);
                    agrees(&edited).unwrap();
                    checked += 1;
                }
            }
        }
        assert!(checked > 50_000);
    }

    #[test]
    fn names_and_edges_are_read_as_serde_reads_them() {
        let envelope = |event: &str| {
            format!(
                r#"{{"source":{{"campaign":{{"name":"C","created_on":"2024-01-01T00:00:00Z","id":"c1"}},"community":{{"name":"A","id":"com_1"}}}},"event":{event},"version":"1.0","secure_request":false,"request_id":"r1","event_id":"e1","sent_at":"2024-05-14T11:15:30.250Z"}}"#
            )
        };
        for event in [
            r#"{"data":{"id":"p1","amount":"2"},"name":"PAYMENT_REQUEST"}"#,
            r#"{"data":null,"name":"PAYMENT_REQUEST"}"#,
            r#"{"data":null,"name":"SOMETHING_NEW"}"#,
            r#"{"data":{"a":"t\u00e9"},"name":"SOMETHING_NEW"}"#,
            r#"{"data":{"id":"p\u0031","wallet_address":"0x\u0041"},"name":"PAYMENT_REQUEST"}"#,
            r#"{"data":{},"name":"EARNING_CREATED"}"#,
            r#"{"data":{"claimer":"c1"},"name":"REFERRAL_CONVERSION"}"#,
            r#"{"data":{"claimer":"c1"}}"#,
            r#"{"data":{"id":"p1"},"name":"PAYMENT_REQUEST","data":{"id":"p2"}}"#,
            r#"{"data":{"id":"p1"},"name":"PAYMENT_REQUEST","name":"PAYMENT_REQUEST"}"#,
            r#"{"data":{"id":"p1"},"x":1,"name":"PAYMENT_REQUEST"}"#,
            r#"{"data":{"id":"p1"} , "name" : "PAYMENT_REQUEST" }"#,
            r#"{"name":"SOMETHING_NEW"}"#,
            r#"{"name":"SOMETHING_NEW","data":null}"#,
            r#"{"name":"UNKNOWN","data":{"a":[1,{"b":"\ud83d\ude00"}]}}"#,
            r#"{"name":"PAYOUT_REQUESTED","data":{"id":"p1","amount":"2"}}"#,
            r#"{"name":"PAYMENT_REQUEST"}"#,
            r#"{"name":"EARNING_CREATED"}"#,
            r#"{"name":"PAYMENT_REQUEST","data":{"wallet_address":"\ud800","walletAddress":"0xA"}}"#,
            r#"{"name":"PAYMENT_REQUEST","data":{"wallet_address":"\ud83d\ude00"}}"#,
            r#"{"name":"PAYMENT_REQUEST","data":{"user":{"id":18446744073709551615}}}"#,
            r#"{"name":"PAYMENT_REQUEST","data":{"user":{"id":18446744073709551616}}}"#,
            r#"{"name":"PAYMENT_REQUEST","data":{"user":{"id":-0},"id":-0}}"#,
            r#"{"name":"PAYMENT_REQUEST","data":{"user":{"id":1e2},"id":1e3}}"#,
            r#"{"name":"PAYMENT_REQUEST","data":{"id":"\u00a0pr\u00a0","user":{}}}"#,
            "{\"name\":\"PAYMENT_REQUEST\",\"data\":{\"id\":\"\u{a0}pr 1\u{a0}\"}}",
            r#"{"name":"PAYMENT_REQUEST","data":{"id\u0022":"x","id":"y"}}"#,
            "{\"name\":\"PAYMENT_REQUEST\",\u{c}\"data\":{}}",
            " {\"name\" :\"PAYMENT_REQUEST\" ,\r\n\t\"data\": { \"id\" : 5 } } ",
        ] {
            agrees(envelope(event).as_bytes()).unwrap();
        }
        // Data before the name is read, escapes and whitespace included; twice is not.
        for (event, read) in [
            (
                r#"{"data":{"id":"p1","amount":"2"},"name":"PAYMENT_REQUEST"}"#,
                true,
            ),
            (
                r#"{"data":{"id":"p\u0031"} , "name" : "PAYMENT_REQUEST" }"#,
                true,
            ),
            (r#"{"data":{"a":"t\u00e9"},"name":"SOMETHING_NEW"}"#, true),
            (
                r#"{"data":{"id":"p1"},"name":"PAYMENT_REQUEST","data":{"id":"p2"}}"#,
                false,
            ),
            (r#"{"data":{"claimer":"c1"}}"#, false),
        ] {
            assert_eq!(fast(envelope(event).as_bytes()).is_some(), read, "{event}");
        }
        let deep = |depth: usize| {
            envelope(&format!(
                r#"{{"name":"PAYMENT_REQUEST","data":{{"id":"p","x":{}1{}}}}}"#,
                "[".repeat(depth),
                "]".repeat(depth)
            ))
        };
        let deep_data_first = |depth: usize| {
            envelope(&format!(
                r#"{{"data":{{"id":"p","x":{}1{}}},"name":"PAYMENT_REQUEST"}}"#,
                "[".repeat(depth),
                "]".repeat(depth)
            ))
        };
        for depth in [120, 125, 126, 127, 128, 129, 200] {
            agrees(deep(depth).as_bytes()).unwrap();
            agrees(deep_data_first(depth).as_bytes()).unwrap();
            assert_eq!(
                fast(deep(depth).as_bytes()).is_some(),
                fast(deep_data_first(depth).as_bytes()).is_some(),
                "{depth}"
            );
        }
        // A custom payment-request name that is a typed event's stays that event, in
        // either order.
        let names = EventNames::default().with_payment_request("EARNING_CREATED");
        for body in [FIXTURES[1], FIXTURES[5]] {
            let text = crate::json::text(bytes::Bytes::from_static(body)).unwrap();
            let read = event(text.clone(), &names).unwrap();
            assert_eq!(read.kind(), EventKind::EarningCreated);
            assert_eq!(
                format!("{read:?}"),
                format!("{:?}", Event::from_text(&text, &names).unwrap())
            );
        }
        // Every kind of event reads the same with its data first, a configured payment
        // name and an escaped name included (`agrees` tries `PAYOUT_REQUESTED` too).
        for (name, data) in [
            (
                "PAYMENT_REQUEST",
                r#"{"id":"p1","amount":"2.50","user":{"id":7}}"#,
            ),
            (
                "PAYOUT_REQUESTED",
                r#"{"payout_id":"p2","wallet_address":"0xA"}"#,
            ),
            ("PAYMENT\\u005fREQUEST", r#"{"id":"p3"}"#),
            (
                "EARNING_CREATED",
                r#"{"userId":"u","dateCreatedUtc":"2024-05-14T10:02:48Z","user":{"id":"u"},"reward":{"name":"ETH"},"amount":"0.1"}"#,
            ),
            ("REFERRAL_CONVERSION", r#"{"claimer":"c1","referrer":null}"#),
            (
                "USER_JOINED_CAMPAIGN",
                r#"{"user_id":"u","user":{"id":"u","email":"a@b.c"}}"#,
            ),
            ("SOMETHING_NEW", r#"{"a":[1,{"b":"\\u00e9"}]}"#),
        ] {
            let first = envelope(&format!(r#"{{"name":"{name}","data":{data}}}"#));
            let second = envelope(&format!(r#"{{"data":{data},"name":"{name}"}}"#));
            agrees(first.as_bytes()).unwrap();
            agrees(second.as_bytes()).unwrap();
            let names = EventNames::default().with_payment_request("PAYOUT_REQUESTED");
            let read = |body: &str| {
                let text = crate::json::text(bytes::Bytes::copy_from_slice(body.as_bytes()));
                format!("{:?}", event(text.unwrap(), &names).ok())
            };
            assert_eq!(read(&first), read(&second), "{name}");
        }
        let escaped = envelope(r#"{"data":{"id":"p3"},"name":"PAYMENT\u005fREQUEST"}"#);
        assert!(fast(escaped.as_bytes()).is_some());
    }

    /// The payout key's id, read as it was before the scanner shared its rule.
    fn payment_id_as_before(raw: &str) -> Result<Option<String>, &'static str> {
        use serde_json::value::RawValue;
        #[derive(serde::Deserialize)]
        struct Ids<'a>(#[serde(borrow)] std::collections::BTreeMap<String, &'a RawValue>);
        let Ok(Ids(fields)) = serde_json::from_str::<Ids<'_>>(raw) else {
            return Ok(None);
        };
        for name in PAYMENT_ID_FIELDS {
            let Some(value) = fields.get(name).map(|v| v.get()) else {
                continue;
            };
            if value == "null" {
                continue;
            }
            if let Ok(text) = serde_json::from_str::<String>(value) {
                let text = text.trim();
                if text.is_empty() {
                    continue;
                }
                return Ok(Some(text.to_owned()));
            }
            let digits = value.strip_prefix('-').unwrap_or(value);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                return Ok(Some(value.to_owned()));
            }
            return Err(name);
        }
        Ok(None)
    }

    #[test]
    fn the_payout_id_is_chosen_as_before() {
        let values = [
            r#""pr_1""#,
            r#"" pr 2 ""#,
            r#""""#,
            r#""   ""#,
            r#""\u00a0x\u00a0""#,
            "\"\u{a0}y\u{a0}\"",
            r#""a\"b""#,
            r#""\\""#,
            r#""\ud83d\ude00""#,
            r#""\ud800""#,
            "7",
            "-5",
            "-0",
            "0",
            "123456789012345678901234567890",
            "1.5",
            "1e3",
            "true",
            "null",
            "{}",
            "[]",
            r#"{"id":"x"}"#,
        ];
        let mut checked = 0;
        for (i, first) in values.iter().enumerate() {
            for second in values.iter().skip(i) {
                for (a, b) in [("payment_request_id", "id"), ("payoutId", "payout_id")] {
                    let raw = format!(r#"{{"{a}":{first},"{b}":{second}}}"#);
                    assert_eq!(
                        crate::chainvine::payment_id(&raw),
                        payment_id_as_before(&raw),
                        "{raw}"
                    );
                    checked += 1;
                }
            }
        }
        for raw in ["null", "[1]", r#""id""#, "{}"] {
            assert_eq!(crate::chainvine::payment_id(raw), payment_id_as_before(raw));
        }
        assert!(checked > 400);
    }

    #[test]
    fn the_id_fields_are_the_payout_keys() {
        for (slot, &index) in PAYMENT_IDS.iter().enumerate() {
            assert_eq!(PAYMENT[index].text(), PAYMENT_ID_FIELDS[slot]);
        }
    }
}
