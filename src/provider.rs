//! Providers: how each sender signs, and how its bodies become typed events.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;

use crate::chainvine::{Envelope, EventNames};
use crate::clock::{self, Clock, SharedClock};
use crate::error::ConfigError;
use crate::event::{ParseError, WebhookEvent};
use crate::secret::{Secret, SecretSet, SecretsHandle};
use crate::signature::{SignatureError, SignatureScheme, Verifier};

/// A webhook sender: its signature check and its event parser.
///
/// [`Claimr`], [`ChainVine`], [`Standard`](crate::standard::Standard) (Standard Webhooks)
/// and the generic [`HmacProvider`](crate::hmac::HmacProvider) are built in; implement
/// this for any other sender.
pub trait Provider: Clone + Send + Sync + 'static {
    /// The typed event the provider's bodies parse into.
    type Event: WebhookEvent;

    /// Checks the signature of a delivery.
    ///
    /// # Errors
    ///
    /// A [`SignatureError`] when the delivery is not authentic.
    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), SignatureError>;

    /// Whether the delivery carries a signature at all; when it does not and
    /// [`Provider::may_accept_unsigned`] is false, the body is never read.
    fn has_signature(&self, headers: &HeaderMap) -> bool;

    /// Parses a body into the provider's event, in one pass; `headers` are the
    /// delivery's, for senders that put part of the event there (Standard Webhooks'
    /// `webhook-id`).
    ///
    /// # Errors
    ///
    /// A [`ParseError`]: malformed JSON or a body of the wrong shape.
    fn parse(&self, headers: &HeaderMap, body: &[u8]) -> Result<Self::Event, ParseError>;

    /// Checks a parsed event against what its body says of the delivery, such as
    /// ChainVine's `sent_at` window; accepts every event by default.
    ///
    /// # Errors
    ///
    /// A [`SignatureError`] (401) when the delivery must be refused.
    fn check_event(&self, _event: &Self::Event) -> Result<(), SignatureError> {
        Ok(())
    }

    /// Whether an unsigned delivery might be accepted (after parsing); false by default.
    fn may_accept_unsigned(&self) -> bool {
        false
    }

    /// Whether this unsigned, parsed delivery is accepted; false by default.
    fn accepts_unsigned(&self, _event: &Self::Event) -> bool {
        false
    }
}

fn verifier(
    scheme: SignatureScheme,
    secrets: impl IntoIterator<Item = Secret>,
) -> Result<Arc<Verifier>, ConfigError> {
    Ok(Arc::new(Verifier::new(scheme, SecretSet::new(secrets)?)))
}

/// claimr webhooks, checked with the receiver's secret(s).
///
/// ```
/// use hookguard::{Claimr, SignatureScheme};
///
/// let claimr = Claimr::new("my-claimr-secret")?
///     .with_scheme(SignatureScheme::new("X-Signature")?);
/// # Ok::<(), hookguard::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Claimr {
    verifier: Arc<Verifier>,
}

impl Claimr {
    /// Receives claimr webhooks signed with `secret` under the default scheme
    /// ([`SignatureScheme::claimr`]).
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
        let secrets = secrets
            .into_iter()
            .map(Secret::new)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            verifier: verifier(SignatureScheme::claimr(), secrets)?,
        })
    }

    /// Checks signatures as `scheme` says, keeping the secrets (and their handle).
    #[must_use]
    pub fn with_scheme(self, scheme: SignatureScheme) -> Self {
        Self {
            verifier: Arc::new(self.verifier.rescheme(scheme)),
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

impl Provider for Claimr {
    type Event = crate::claimr::Event;

    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), SignatureError> {
        self.verifier.verify(headers, body)
    }

    fn has_signature(&self, headers: &HeaderMap) -> bool {
        self.verifier.has_signature(headers)
    }

    fn parse(&self, _headers: &HeaderMap, body: &[u8]) -> Result<Self::Event, ParseError> {
        crate::claimr::Event::from_slice(body)
    }
}

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
    /// ([`SignatureScheme::chainvine`]).
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
        let secrets = secrets
            .into_iter()
            .map(Secret::new)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            verifier: verifier(SignatureScheme::chainvine(), secrets)?,
            names: Arc::new(EventNames::default()),
            accept_insecure: false,
            sent_at_tolerance: None,
            clock: SharedClock::default(),
        })
    }

    /// Checks signatures as `scheme` says, keeping the secrets (and their handle).
    #[must_use]
    pub fn with_scheme(self, scheme: SignatureScheme) -> Self {
        Self {
            verifier: Arc::new(self.verifier.rescheme(scheme)),
            ..self
        }
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
    type Event = Envelope;

    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), SignatureError> {
        self.verifier.verify(headers, body)
    }

    fn has_signature(&self, headers: &HeaderMap) -> bool {
        self.verifier.has_signature(headers)
    }

    fn parse(&self, _headers: &HeaderMap, body: &[u8]) -> Result<Self::Event, ParseError> {
        Envelope::from_slice_with(body, &self.names)
    }

    fn check_event(&self, event: &Envelope) -> Result<(), SignatureError> {
        let Some(tolerance) = self.sent_at_tolerance else {
            return Ok(());
        };
        let sent_at = event
            .sent_at
            .to_offset_date_time()
            .ok_or(SignatureError::InvalidTimestamp)?;
        if clock::within(self.clock.now(), sent_at, tolerance) {
            Ok(())
        } else {
            Err(SignatureError::TimestampOutOfWindow)
        }
    }

    fn may_accept_unsigned(&self) -> bool {
        self.accept_insecure
    }

    fn accepts_unsigned(&self, event: &Envelope) -> bool {
        self.accept_insecure && !event.secure_request
    }
}
