//! ChainVine: its provider, its signing scheme, its events, its payment requests, and
//! (feature `testing`) its signer and samples.
//!
//! ChainVine's webhooks are one request around every event. [`ChainVine`] checks their
//! signature; the layer hands handlers an [`Event`].
//!
//! Every ChainVine request is an [`Event`]: where it comes from (the campaign and
//! community), the [`Payload`] (`{ "name": ..., "data": ... }`), and delivery metadata
//! (`version`, `secure_request`, `request_id`, `event_id`, `sent_at`).
//! [`Event::from_slice`] parses a verified body in one pass; `event.data` is
//! deserialized straight into the typed struct for `event.name`:
//!
//! | `event.name` | variant | data |
//! |---|---|---|
//! | `USER_JOINED_CAMPAIGN` | [`Payload::UserJoinedCampaign`] | [`UserJoinedCampaign`] |
//! | `REFERRAL_CONVERSION` | [`Payload::ReferralConversion`] | [`ReferralConversion`] |
//! | `EARNING_CREATED` | [`Payload::EarningCreated`] | [`EarningCreated`] |
//! | `PAYMENT_REQUEST` (configurable) | [`Payload::PaymentRequest`] | [`PaymentRequest`] |
//! | anything else | [`Payload::Unknown`] | raw JSON |
//!
//! ChainVine documents the payment-request event (ChainVine calling your system as a
//! payout provider, expecting a 2xx to mark the payout completed) but neither its name
//! nor its fields. This crate assumes the name `PAYMENT_REQUEST`; if your deliveries say
//! otherwise, give the real name with [`EventNames::with_payment_request`] and parse with
//! [`Event::from_slice_with`]. The payout's fields are typed on a best-effort basis and
//! the raw `event.data` is always kept in [`PaymentRequest::raw`].
//!
//! Amounts are exact decimal strings ([`Amount`](crate::amount::Amount)), never floats; timestamps keep their
//! text and parse when they can ([`Timestamp`](crate::timestamp::Timestamp)).
//!
//! ```
//! use hookguard::chainvine::{Event, EventKind, Payload};
//!
//! let body = br#"{
//!   "source": {
//!     "campaign": { "name": "Spring referrals", "created_on": "2024-03-01T08:00:00Z", "id": "cmp_1" },
//!     "community": { "name": "Acme", "id": "com_1" }
//!   },
//!   "event": {
//!     "name": "EARNING_CREATED",
//!     "data": {
//!       "userId": "usr_9",
//!       "dateCreatedUtc": "2024-05-14T09:31:02.123Z",
//!       "user": { "id": "usr_9", "walletAddress": "0x52908400098527886E0F7030069857D2E4169EE7" },
//!       "reward": { "name": "ETH" },
//!       "amount": "0.00398888889000003983"
//!     }
//!   },
//!   "version": "1.0",
//!   "secure_request": true,
//!   "request_id": "req_1",
//!   "event_id": "evt_1",
//!   "sent_at": "2024-05-14T09:31:03.000Z"
//! }"#;
//!
//! let event = Event::from_slice(body)?;
//! assert_eq!(event.kind(), EventKind::EarningCreated);
//! assert_eq!(event.id(), "evt_1");
//! let Payload::EarningCreated(earning) = event.payload() else { panic!("not an earning") };
//! assert_eq!(earning.amount().as_str(), "0.00398888889000003983");
//! assert_eq!(earning.reward().name(), "ETH");
//! assert_eq!(event.source().community().name(), "Acme");
//! # Ok::<(), hookguard::event::ParseError>(())
//! ```

mod de;
mod event;
mod payload;
#[cfg(feature = "testing")]
mod samples;
mod scan;

#[cfg(any(test, feature = "testing"))]
pub(crate) use scan::both_reads;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;

pub(crate) use de::payment_id;
pub use event::{Community, Event, EventKind, EventNames, Payload, Source, SourceCampaign};
pub use payload::{
    EarningCreated, EarningUser, JoinedUser, PaymentRequest, PayoutUser, ReferralConversion,
    Reward, Unknown, UserJoinedCampaign,
};

use crate::clock::{self, Clock, SharedClock};
use crate::error::ConfigError;
use crate::event::ParseError;
use crate::provider::Provider;
use crate::secret::SecretsHandle;
use crate::signature::{SignatureError, SignatureScheme, Verifier};

/// ChainVine webhooks, checked with the receiver's secret(s).
///
/// ```
/// use hookguard::ChainVine;
/// use hookguard::chainvine::EventNames;
///
/// let chainvine = ChainVine::new("my-chainvine-secret")?
///     .with_event_names(EventNames::default().with_payment_request("PAYOUT_REQUESTED"));
/// # Ok::<(), hookguard::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ChainVine {
    verifier: Arc<Verifier>,
    names: Arc<EventNames>,
    accept_insecure: bool,
    sent_at_tolerance: Option<Duration>,
    clock: SharedClock,
}

impl ChainVine {
    /// Receives ChainVine webhooks signed with `secret` under the default scheme
    /// ([`ChainVine::default_scheme`]).
    ///
    /// # Errors
    ///
    /// [`ConfigError::EmptySecret`] when the secret is empty.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Self::with_secrets([secret])
    }

    /// Accepts deliveries signed with any of `secrets`, for rotation.
    ///
    /// # Errors
    ///
    /// [`ConfigError::EmptySecret`] or [`ConfigError::NoSecret`].
    pub fn with_secrets<T: AsRef<[u8]>>(
        secrets: impl IntoIterator<Item = T>,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            verifier: Arc::new(Verifier::from_secrets(Self::default_scheme(), secrets)?),
            names: Arc::new(EventNames::default()),
            accept_insecure: false,
            sent_at_tolerance: None,
            clock: SharedClock::default(),
        })
    }

    /// The scheme assumed for ChainVine, which publishes none: a hex HMAC-SHA256 of the
    /// raw body in `X-ChainVine-Signature`, optionally after `sha256=`.
    pub fn default_scheme() -> SignatureScheme {
        SignatureScheme::preset("x-chainvine-signature")
    }

    /// Checks signatures as `scheme` says (with the scheme's own clock), keeping the
    /// secrets (and their handle).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when the scheme's parts do not fit together
    /// ([`SignatureScheme::validate`]).
    pub fn with_scheme(self, scheme: SignatureScheme) -> Result<Self, ConfigError> {
        scheme.validate()?;
        Ok(Self {
            verifier: Arc::new(self.verifier.rescheme(scheme)),
            ..self
        })
    }

    /// Refuses (401, [`SignatureError::TimestampOutOfWindow`]) deliveries whose signed
    /// `sent_at` is further than `tolerance` from now, in either direction; a `sent_at`
    /// this crate cannot read is refused too ([`SignatureError::InvalidTimestamp`]).
    ///
    /// Off by default, and think before turning it on: ChainVine retries a failed
    /// payment request with no limit, and if a retry carries the first attempt's
    /// `sent_at`, an old payout would be refused for being old. Choose a tolerance
    /// longer than any retry you mean to honour.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hookguard::ChainVine;
    ///
    /// let chainvine = ChainVine::new("secret")?.with_sent_at_tolerance(Duration::from_secs(3_600));
    /// # Ok::<(), hookguard::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_sent_at_tolerance(self, tolerance: Duration) -> Self {
        Self {
            sent_at_tolerance: Some(tolerance),
            ..self
        }
    }

    /// Reads "now" from `clock`, for the `sent_at` window and for any window of the
    /// signature scheme (the system clock by default).
    #[must_use]
    pub fn with_clock(self, clock: impl Clock) -> Self {
        let clock = SharedClock::new(clock);
        let scheme = self
            .verifier
            .scheme()
            .clone()
            .with_shared_clock(clock.clone());
        Self {
            verifier: Arc::new(self.verifier.rescheme(scheme)),
            clock,
            ..self
        }
    }

    /// Uses these event names (the payment request's name is not documented).
    #[must_use]
    pub fn with_event_names(self, names: EventNames) -> Self {
        Self {
            names: Arc::new(names),
            ..self
        }
    }

    /// Accepts deliveries that carry no signature header **and** whose body says
    /// `"secure_request": false`. Off by default: such deliveries are refused like any
    /// unsigned request. A delivery that carries a signature is always checked.
    #[must_use]
    pub fn accept_unsigned_insecure_requests(self) -> Self {
        Self {
            verifier: Arc::new(self.verifier.allowing_unsigned()),
            accept_insecure: true,
            ..self
        }
    }

    /// The signature check in use.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The handle that replaces the secrets while the receiver runs (for rotation),
    /// shared by every clone of this provider and of the layers built from it.
    pub fn secrets_handle(&self) -> SecretsHandle {
        self.verifier.secrets_handle()
    }
}

impl Provider for ChainVine {
    type Event = Event;

    fn name(&self) -> &str {
        "chainvine"
    }

    fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    fn parse(&self, _headers: &HeaderMap, body: &Bytes) -> Result<Event, ParseError> {
        // A clone of the body is a reference count: the event's strings share it.
        Event::from_bytes_with(body.clone(), &self.names)
    }

    /// Checks the `sent_at` window, if one is set.
    fn check(&self, event: &Event) -> Result<(), SignatureError> {
        let Some(tolerance) = self.sent_at_tolerance else {
            return Ok(());
        };
        let sent_at = event
            .sent_at()
            .to_offset_date_time()
            .ok_or(SignatureError::InvalidTimestamp)?;
        if clock::within(self.clock.now(), sent_at, tolerance) {
            Ok(())
        } else {
            Err(SignatureError::TimestampOutOfWindow)
        }
    }

    /// Only once unsigned deliveries were accepted, and only those whose body says
    /// `"secure_request": false`.
    fn accepts_unsigned(&self, event: &Event) -> bool {
        self.accept_insecure && !event.secure_request()
    }
}
