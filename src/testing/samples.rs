//! Sample events: realistic bodies for every event this crate knows.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A sample delivery's body, as a provider sends it, with fresh ids on every call.
///
/// claimr samples get a new `id`, ChainVine samples a new `event_id` and `request_id`
/// and `sent_at` of now, Standard Webhooks samples a new message id (sent as
/// `webhook-id` by [`Signer::sample_request`](super::Signer::sample_request)). Each
/// parses with this crate's own parser. Each provider makes its own (`Claimr::sample`,
/// `ChainVine::sample`, `Standard::sample`); [`Builtin::samples`](crate::providers::Builtin::samples)
/// lists one of each.
///
/// ```
/// use hookguard::{claimr, Claimr};
///
/// let a = Claimr::sample(claimr::EventKind::UserActivity).with_user("u-1");
/// let b = Claimr::sample(claimr::EventKind::UserActivity);
/// assert_ne!(a.id(), b.id());
/// let event = claimr::Event::from_slice(&a.body())?;
/// assert_eq!(event.payload().and_then(|p| p.user()), Some("u-1"));
/// # Ok::<(), hookguard::ParseError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Sample {
    provider: &'static str,
    event: String,
    id: String,
    json: Value,
    /// Where the provider's bodies name the user (for [`Sample::with_user`]).
    set_user: fn(&mut Value, &str),
}

impl PartialEq for Sample {
    fn eq(&self, other: &Self) -> bool {
        (self.provider, &self.event, &self.id, &self.json)
            == (other.provider, &other.event, &other.id, &other.json)
    }
}

impl Sample {
    /// A sample of `provider`'s event `event` with id `id` and body `json`; `set_user`
    /// writes a user id where the provider's bodies carry one.
    pub(crate) fn new(
        provider: &'static str,
        event: impl Into<String>,
        id: String,
        json: Value,
        set_user: fn(&mut Value, &str),
    ) -> Sample {
        Sample {
            provider,
            event: event.into(),
            id,
            json,
            set_user,
        }
    }

    /// The user the event is about (claimr's Test tool asks for a User ID): claimr's
    /// `user` and `user_id`, ChainVine's user ids, a Standard Webhooks sample's
    /// `data.customer`.
    #[must_use]
    pub fn with_user(mut self, user: &str) -> Self {
        (self.set_user)(&mut self.json, user);
        self
    }

    /// The provider's name, as [`Provider::name`](crate::Provider::name) spells it.
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

pub(crate) fn now_rfc3339() -> String {
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
pub(crate) fn fresh_uuid() -> String {
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
