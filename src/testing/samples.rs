//! Sample events: realistic bodies for every event this crate knows.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::{chainvine, claimr};

/// A sample delivery's body, as a provider sends it, with fresh ids on every call.
///
/// claimr samples get a new `id`, ChainVine samples a new `event_id` and `request_id`
/// and `sent_at` of now, Standard Webhooks samples a new message id (sent as
/// `webhook-id` by [`Signer::sample_request`](super::Signer::sample_request)). Each
/// parses with this crate's own parser.
///
/// ```
/// use hookguard::claimr;
/// use hookguard::testing::Sample;
///
/// let a = Sample::claimr(claimr::EventKind::UserActivity).with_user("u-1");
/// let b = Sample::claimr(claimr::EventKind::UserActivity);
/// assert_ne!(a.id(), b.id());
/// let event = claimr::Event::from_slice(&a.body())?;
/// assert_eq!(event.payload().and_then(|p| p.user.as_deref()), Some("u-1"));
/// assert_eq!(Sample::all().len(), 9);
/// # Ok::<(), hookguard::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    provider: &'static str,
    event: String,
    id: String,
    json: Value,
}

impl Sample {
    /// A claimr delivery of `kind` (an unknown kind gives a `user_level_up` scope).
    pub fn claimr(kind: claimr::EventKind) -> Sample {
        let id = fresh_uuid();
        let campaign = json!({ "id": "66421b0c9e8f7a6b5c4d3e2f", "name": "Summer Quest 2024" });
        let (scope, event, total_xp) = match kind {
            claimr::EventKind::UserActivity => (
                "user_activity",
                json!({
                    "type": "action_completed",
                    "data": {
                        "account": "@maria_k",
                        "action": {
                            "id": "665a0e7d4b3c2a1f0e9d8c7b",
                            "name": "Follow @claimr_io on X",
                            "type": "twitter_follow",
                            "meta": { "handle": "claimr_io", "verified": true }
                        },
                        "xp": 50
                    }
                }),
                1250,
            ),
            claimr::EventKind::UserLogin => (
                "user_login",
                json!({
                    "type": "login",
                    "data": { "account": "google-oauth2|109384756120394857612", "action": null, "xp": 5 }
                }),
                1255,
            ),
            claimr::EventKind::UserReward => (
                "user_reward",
                json!({
                    "type": "reward_claimed",
                    "data": {
                        "account": "0x9f3b2C7a1E4d5F6081a2B3c4D5e6F708192a3B4c",
                        "action": {
                            "id": "665b1f2e3d4c5b6a79880a1b",
                            "name": "Top 100 raffle",
                            "type": "reward",
                            "meta": { "reward": "Early Supporter NFT", "chain": "polygon", "token_id": "4411" }
                        },
                        "xp": 0
                    }
                }),
                1255,
            ),
            claimr::EventKind::Referral => (
                "referral",
                json!({
                    "type": "referral_signup",
                    "data": {
                        "account": "6645c3d2e1f0a9b8c7d6e5f4",
                        "action": {
                            "id": "ref_link",
                            "name": "Invite a friend",
                            "type": "referral",
                            "meta": { "referred_email": "li.wei@example.net", "code": "MARIAK24" }
                        },
                        "xp": 100
                    }
                }),
                1355,
            ),
            _ => (
                "user_level_up",
                json!({ "type": "level_up", "data": { "previous": 4, "current": 5 } }),
                2000,
            ),
        };
        let json = json!({
            "id": id,
            "scope": scope,
            "user": "6643219fa2c1b8e5d4f70a12",
            "user_id": "6643219fa2c1b8e5d4f70a12",
            "wallet": "0x9f3b2C7a1E4d5F6081a2B3c4D5e6F708192a3B4c",
            "email": "maria.kowalska@example.com",
            "campaign": campaign,
            "event": event,
            "total_xp": total_xp,
            "ref_xp": 200,
            "ugc_xp": 75.5,
            "xp_mul": 1.25,
            "rank": 18,
            "team": "Blue Whales"
        });
        Sample {
            provider: "claimr",
            event: scope.to_owned(),
            id,
            json,
        }
    }

    /// A ChainVine delivery of `kind`, sent now (an unknown kind gives a
    /// `CAMPAIGN_BUDGET_EXHAUSTED` event).
    pub fn chainvine(kind: chainvine::EventKind) -> Sample {
        let event_id = fresh_uuid();
        let user = json!({
            "id": "9a8b7c6d-5e4f-4321-8fed-cba987654321",
            "email": "li.wei@example.net",
            "first_name": "Li",
            "last_name": "Wei",
            "wallet_address": "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
            "external_identifier": "cust_000042"
        });
        let (name, data) = match kind {
            chainvine::EventKind::UserJoinedCampaign => (
                "USER_JOINED_CAMPAIGN",
                json!({
                    "user_id": "9a8b7c6d-5e4f-4321-8fed-cba987654321",
                    "user": user,
                    "referrer": "0x52908400098527886E0F7030069857D2E4169EE7",
                    "external_identifier": format!("join_{}", &event_id[..8])
                }),
            ),
            chainvine::EventKind::ReferralConversion => (
                "REFERRAL_CONVERSION",
                json!({
                    "claimer": "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
                    "referrer": "0x52908400098527886E0F7030069857D2E4169EE7",
                    "external_identifier": format!("swap_{}", &event_id[..8])
                }),
            ),
            chainvine::EventKind::EarningCreated => (
                "EARNING_CREATED",
                json!({
                    "userId": "9a8b7c6d-5e4f-4321-8fed-cba987654321",
                    "dateCreatedUtc": now_rfc3339(),
                    "user": {
                        "id": "9a8b7c6d-5e4f-4321-8fed-cba987654321",
                        "email": "li.wei@example.net",
                        "firstName": "Li",
                        "lastName": "Wei",
                        "walletAddress": "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
                        "externalIdentifier": "cust_000042"
                    },
                    "reward": { "name": "ETH" },
                    "amount": "0.00398888889000003983"
                }),
            ),
            chainvine::EventKind::PaymentRequest => (
                "PAYMENT_REQUEST",
                json!({
                    "payment_request_id": format!("pr_{}", fresh_id()),
                    "user_id": "9a8b7c6d-5e4f-4321-8fed-cba987654321",
                    "user": user,
                    "reward": { "name": "USDC" },
                    "amount": "15.000",
                    "currency": "USDC",
                    "wallet_address": "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
                    "chain_id": 137
                }),
            ),
            _ => (
                "CAMPAIGN_BUDGET_EXHAUSTED",
                json!({
                    "campaign_id": "8f14e45f-ceea-467e-a9f2-3c1b2d4e5f60",
                    "budget": "5000.0000",
                    "spent": "5000.0000"
                }),
            ),
        };
        let json = json!({
            "source": {
                "campaign": {
                    "name": "Summer Referral Drive",
                    "created_on": "2024-04-02T15:04:05.000Z",
                    "id": "8f14e45f-ceea-467e-a9f2-3c1b2d4e5f60"
                },
                "community": { "name": "Lumen Wallet", "id": "2b7c9d1e-4f3a-4b8c-9d0e-1f2a3b4c5d6e" }
            },
            "event": { "name": name, "data": data },
            "version": "1.0",
            "secure_request": true,
            "request_id": fresh_uuid(),
            "event_id": event_id,
            "sent_at": now_rfc3339()
        });
        Sample {
            provider: "chainvine",
            event: name.to_owned(),
            id: event_id,
            json,
        }
    }

    /// A Standard Webhooks delivery of type `event_type`, with a fresh message id.
    pub fn standard(event_type: &str) -> Sample {
        let id = format!("msg_{}", fresh_id());
        let json = json!({
            "type": event_type,
            "timestamp": now_rfc3339(),
            "data": {
                "id": format!("inv_{}", fresh_id()),
                "customer": "6643219fa2c1b8e5d4f70a12",
                "amount": "49.00",
                "currency": "EUR"
            }
        });
        Sample {
            provider: "standard",
            event: event_type.to_owned(),
            id,
            json,
        }
    }

    /// The sample of `event` for `provider` (`claimr`, `chainvine` or `standard`), by
    /// the name the provider sends (case-insensitive); any name is a Standard Webhooks
    /// `type`.
    pub fn find(provider: &str, event: &str) -> Option<Sample> {
        match provider {
            "claimr" => claimr::EventKind::KNOWN
                .into_iter()
                .find(|kind| kind.as_str().eq_ignore_ascii_case(event))
                .map(Sample::claimr),
            "chainvine" => chainvine::EventKind::KNOWN
                .into_iter()
                .find(|kind| kind.as_str().eq_ignore_ascii_case(event))
                .map(Sample::chainvine),
            "standard" => Some(Sample::standard(event)),
            _ => None,
        }
    }

    /// One sample of every known event: claimr's four, ChainVine's four, and a
    /// Standard Webhooks `invoice.paid`.
    pub fn all() -> Vec<Sample> {
        claimr::EventKind::KNOWN
            .into_iter()
            .map(Sample::claimr)
            .chain(
                chainvine::EventKind::KNOWN
                    .into_iter()
                    .map(Sample::chainvine),
            )
            .chain([Sample::standard("invoice.paid")])
            .collect()
    }

    /// The user the event is about (claimr's Test tool asks for a User ID): claimr's
    /// `user` and `user_id`, ChainVine's user ids.
    #[must_use]
    pub fn with_user(mut self, user: &str) -> Self {
        match self.provider {
            "claimr" => {
                self.json["user"] = json!(user);
                self.json["user_id"] = json!(user);
            }
            "chainvine" => {
                let data = &mut self.json["event"]["data"];
                for key in ["user_id", "userId"] {
                    if data.get(key).is_some() {
                        data[key] = json!(user);
                    }
                }
                if data.get("user").is_some() {
                    data["user"]["id"] = json!(user);
                }
            }
            _ => {
                self.json["data"]["customer"] = json!(user);
            }
        }
        self
    }

    /// The provider's name, as [`WebhookEvent::PROVIDER`](crate::WebhookEvent::PROVIDER)
    /// spells it.
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// The event's name, as the provider sends it.
    pub fn event(&self) -> &str {
        &self.event
    }

    /// The delivery's id: claimr's `id`, ChainVine's `event_id`, the Standard Webhooks
    /// message id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The body as JSON.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// The body as sent: pretty-printed JSON, its fields in the providers' order.
    pub fn body(&self) -> Bytes {
        // Serializing a `Value` cannot fail; the fallback keeps this free of `expect`.
        serde_json::to_vec_pretty(&InOrder(&self.json))
            .map(Bytes::from)
            .unwrap_or_default()
    }
}

/// Fields in the order the providers' bodies list them; others follow, by name.
const FIELD_ORDER: [&str; 30] = [
    "id",
    "scope",
    "source",
    "event",
    "name",
    "type",
    "timestamp",
    "data",
    "version",
    "secure_request",
    "request_id",
    "event_id",
    "sent_at",
    "payment_request_id",
    "user",
    "user_id",
    "userId",
    "wallet",
    "email",
    "first_name",
    "last_name",
    "campaign",
    "community",
    "account",
    "action",
    "xp",
    "total_xp",
    "ref_xp",
    "ugc_xp",
    "xp_mul",
];

/// A JSON value written with its objects' fields in [`FIELD_ORDER`] (a `Value` would
/// write them sorted by name).
struct InOrder<'a>(&'a Value);

impl serde::Serialize for InOrder<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Object(map) => {
                let rank = |key: &str| {
                    FIELD_ORDER
                        .iter()
                        .position(|known| *known == key)
                        .unwrap_or(FIELD_ORDER.len())
                };
                let mut fields: Vec<_> = map.iter().collect();
                fields.sort_by(|(a, _), (b, _)| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
                let mut out = serializer.serialize_map(Some(fields.len()))?;
                for (key, value) in fields {
                    out.serialize_entry(key, &InOrder(value))?;
                }
                out.end()
            }
            Value::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(&InOrder(item))?;
                }
                out.end()
            }
            other => other.serialize(serializer),
        }
    }
}

fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// 64 unpredictable-enough bits: std's randomly keyed hasher over a counter and the
/// time. Sample ids need to be distinct, not secret.
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_i128(OffsetDateTime::now_utc().unix_timestamp_nanos());
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// A fresh id of 24 hex digits (as claimr's object ids are).
pub(crate) fn fresh_id() -> String {
    format!("{:016x}{:08x}", random_u64(), random_u64() as u32)
}

/// A fresh version-4-shaped UUID.
fn fresh_uuid() -> String {
    let (a, b) = (random_u64(), random_u64());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WebhookEvent;

    #[test]
    fn every_sample_parses_as_its_event() {
        for sample in Sample::all() {
            let body = sample.clone().with_user("user-7").body();
            let (name, id, unknown) = match sample.provider() {
                "claimr" => {
                    let event = claimr::Event::from_slice(&body).unwrap();
                    let user = event.payload().and_then(|p| p.user.clone());
                    assert_eq!(user.as_deref(), Some("user-7"));
                    (
                        event.name().to_owned(),
                        event.id().to_owned(),
                        event.is_unknown(),
                    )
                }
                "chainvine" => {
                    let event = chainvine::Envelope::from_slice(&body).unwrap();
                    (
                        event.name().to_owned(),
                        event.id().to_owned(),
                        event.is_unknown(),
                    )
                }
                _ => {
                    let event = crate::standard::Event::from_parts(sample.id(), &body).unwrap();
                    (
                        event.name().to_owned(),
                        event.id().to_owned(),
                        event.is_unknown(),
                    )
                }
            };
            assert_eq!(name, sample.event());
            assert!(!unknown, "{} is not typed", sample.event());
            assert_eq!(id, sample.id());
        }
    }

    #[test]
    fn payment_requests_carry_the_user() {
        let sample = Sample::chainvine(chainvine::EventKind::PaymentRequest).with_user("u-9");
        let envelope = chainvine::Envelope::from_slice(&sample.body()).unwrap();
        let payout = envelope.payment_request().unwrap();
        assert_eq!(payout.user_id.as_deref(), Some("u-9"));
    }

    #[test]
    fn bodies_list_fields_in_the_providers_order() {
        let body = Sample::claimr(claimr::EventKind::UserActivity).body();
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.starts_with("{\n  \"id\": \""), "{text}");
        assert!(text.find("\"scope\"") < text.find("\"campaign\""), "{text}");
        assert!(
            text.find("\"total_xp\"") < text.find("\"ugc_xp\""),
            "{text}"
        );
    }

    #[test]
    fn ids_are_fresh() {
        let ids: std::collections::HashSet<_> = (0..100)
            .map(|_| {
                Sample::chainvine(chainvine::EventKind::EarningCreated)
                    .id()
                    .to_owned()
            })
            .collect();
        assert_eq!(ids.len(), 100);
    }
}
