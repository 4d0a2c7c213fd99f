//! Standard Webhooks: the open specification many senders (and Svix) sign with.
//!
//! A delivery carries three headers:
//!
//! | header | value |
//! |---|---|
//! | `webhook-id` | the message id, the same across retries |
//! | `webhook-timestamp` | unix seconds when it was sent |
//! | `webhook-signature` | space-separated `v1,<base64 HMAC-SHA256>` and `v1a,<base64 ed25519>`; other versions are skipped |
//!
//! The MAC is over `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the secret's
//! base64-decoded bytes (`whsec_…`, prefix optional). The timestamp must be within five
//! minutes of now, in either direction ([`Standard::with_tolerance`] changes it,
//! [`Standard::without_tolerance`] turns it off).
//!
//! A sender that signs asymmetrically signs the same content with an ed25519 key pair
//! and sends `v1a,<base64 signature>`; the receiver holds only the public key (`whpk_…`),
//! which verifies and cannot sign: [`Standard::from_public_keys`], or
//! [`Standard::with_public_keys`] beside a secret. A delivery verifies when any entry
//! verifies with a key of its kind (a `v1` tag with a secret, a `v1a` signature with a
//! public key), and the window applies to both.
//!
//! The body is kept as raw JSON ([`Event`]); its top-level `type` (a string) names the
//! event's kind, so handlers are registered by name:
//!
//! ```
//! use hookguard::standard::{EventKind, Standard};
//! use hookguard::{Dispatcher, Provider, Secret};
//! use http::{HeaderMap, HeaderValue};
//!
//! let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
//! let standard = Standard::new(secret)?;
//!
//! // A delivery, signed as a Standard Webhooks sender signs it.
//! let body = br#"{"type":"invoice.paid","timestamp":"2024-05-14T09:31:02Z","data":{"amount":"12.50"}}"#;
//! let mut headers = HeaderMap::new();
//! headers.insert("webhook-id", HeaderValue::from_static("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"));
//! let now = time::OffsetDateTime::now_utc().unix_timestamp();
//! headers.insert("webhook-timestamp", HeaderValue::from(now));
//! let signature = Standard::default_scheme().sign(&Secret::from_standard(secret)?, &headers, body)?;
//! headers.insert("webhook-signature", signature);
//!
//! standard.verifier().verify(&headers, body)?;
//! let event = standard.parse(&headers, &bytes::Bytes::from_static(body))?;
//! assert_eq!(event.id(), "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W");
//! assert_eq!(event.name(), "invoice.paid");
//! assert_eq!(event.data().map(|d| d.get()), Some(r#"{"amount":"12.50"}"#));
//!
//! let handlers = Dispatcher::new().on(EventKind::named("invoice.paid"), |event| async move {
//!     println!("paid: {}", event.id());
//!     Ok(())
//! });
//! assert!(handlers.handles(EventKind::named("invoice.paid")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::HeaderName;
use http::HeaderMap;

use crate::clock::Clock;
use crate::error::ConfigError;
use crate::event::ParseError;
use crate::provider::Provider;
use crate::secret::{
    standard_secret, PublicKey, PublicKeySet, PublicKeysHandle, Secret, SecretSet, SecretsHandle,
};
use crate::signature::{
    ContentPart, Encoding, SignatureFormat, SignatureScheme, TimestampSource, Verifier,
};

mod event;
#[cfg(feature = "testing")]
mod samples;

pub use event::Event;

/// The kind of a Standard Webhooks event: the body's `type`, by name.
pub type EventKind = crate::event::NamedKind<Event>;

/// Standard Webhooks deliveries, checked with the receiver's `whsec_` secret(s), its
/// `whpk_` public key(s), or both.
///
/// ```
/// use std::time::Duration;
/// use hookguard::standard::Standard;
///
/// let standard = Standard::with_secrets([
///     "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
///     "C2FVsBQIhrscChlQIMV+b5sSYspob7oD", // the prefix is optional
/// ])?
/// .with_tolerance(Duration::from_secs(600));
/// assert_eq!(standard.verifier().scheme().tolerance(), Some(Duration::from_secs(600)));
/// assert!(Standard::new("whsec_").is_err());
/// # Ok::<(), hookguard::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Standard {
    verifier: Arc<Verifier>,
    /// The verifier's public keys, kept here too so that the handle is at hand without
    /// an `Option`: every `Standard` has one (empty when built from secrets alone).
    public_keys: PublicKeysHandle,
    id_header: HeaderName,
}

impl Standard {
    /// Receives deliveries signed with `secret`: base64, with or without `whsec_`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::SecretEncoding`] when the secret is not base64,
    /// [`ConfigError::EmptySecret`] when it decodes to nothing.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Self::with_secrets([secret])
    }

    /// Accepts deliveries signed with any of `secrets` (senders sign with each of
    /// their active secrets during a rotation).
    ///
    /// # Errors
    ///
    /// As [`Standard::new`], and [`ConfigError::NoSecret`] when `secrets` is empty.
    pub fn with_secrets<T: AsRef<[u8]>>(
        secrets: impl IntoIterator<Item = T>,
    ) -> Result<Self, ConfigError> {
        let secrets = secrets
            .into_iter()
            .map(Secret::from_standard)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::from_sets(
            SecretSet::new(secrets)?,
            PublicKeySet::empty(),
        ))
    }

    /// Receives deliveries signed asymmetrically (`v1a`) with the signing key of any of
    /// `public_keys`: base64, with or without `whpk_`. No secret is needed, and none is
    /// accepted until one is given to [`secrets_handle`](Self::secrets_handle); `v1`
    /// entries are refused meanwhile.
    ///
    /// ```
    /// use hookguard::{ConfigError, Standard};
    ///
    /// let standard = Standard::from_public_keys(["whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g="])?;
    /// assert_eq!(standard.public_keys_handle().current().len(), 1);
    /// assert!(standard.verifier().secrets().is_empty());
    /// assert_eq!(
    ///     Standard::from_public_keys(["whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk="]).unwrap_err(),
    ///     ConfigError::SigningKeyAsPublicKey
    /// );
    /// # Ok::<(), ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoPublicKey`] when `public_keys` is empty, and as
    /// [`PublicKey::from_standard`] for a key that cannot be used (a `whsk_` signing
    /// key is [`ConfigError::SigningKeyAsPublicKey`]).
    pub fn from_public_keys<T: AsRef<[u8]>>(
        public_keys: impl IntoIterator<Item = T>,
    ) -> Result<Self, ConfigError> {
        Ok(Self::from_sets(
            SecretSet::empty(),
            public_key_set(public_keys)?,
        ))
    }

    /// Also accepts asymmetric (`v1a`) signatures by any of `public_keys`, beside the
    /// secrets: for a sender moving from a shared secret to a key pair, or signing with
    /// both. The keys replace any given before, under a new handle.
    ///
    /// ```
    /// use hookguard::Standard;
    ///
    /// let standard = Standard::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?
    ///     .with_public_keys(["whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g="])?;
    /// assert_eq!(standard.verifier().secrets().len(), 1);
    /// assert_eq!(standard.verifier().public_keys().map(|keys| keys.len()), Some(1));
    /// # Ok::<(), hookguard::ConfigError>(())
    /// ```
    ///
    /// The keys get a handle of their own: a [`public_keys_handle`](Standard::public_keys_handle)
    /// taken before this call no longer reaches them, so take it after.
    ///
    /// # Errors
    ///
    /// As [`Standard::from_public_keys`].
    pub fn with_public_keys<T: AsRef<[u8]>>(
        self,
        public_keys: impl IntoIterator<Item = T>,
    ) -> Result<Self, ConfigError> {
        let public_keys = PublicKeysHandle::new(public_key_set(public_keys)?);
        let verifier = Verifier::with_handle(
            self.verifier.scheme().clone(),
            self.verifier.secrets_handle(),
        )
        .with_public_keys(public_keys.clone());
        Ok(Self {
            verifier: Arc::new(verifier),
            public_keys,
            ..self
        })
    }

    fn from_sets(secrets: SecretSet, public_keys: PublicKeySet) -> Self {
        let secrets = SecretsHandle::new(secrets, standard_secret);
        let public_keys = PublicKeysHandle::new(public_keys);
        let verifier = Verifier::with_handle(Self::default_scheme(), secrets)
            .with_public_keys(public_keys.clone());
        Self {
            verifier: Arc::new(verifier),
            public_keys,
            id_header: HeaderName::from_static("webhook-id"),
        }
    }

    fn map_scheme(self, f: impl FnOnce(SignatureScheme) -> SignatureScheme) -> Self {
        let scheme = f(self.verifier.scheme().clone());
        Self {
            verifier: Arc::new(self.verifier.rescheme(scheme)),
            ..self
        }
    }

    /// Accepts timestamps up to `tolerance` from now, in either direction
    /// ([`DEFAULT_TOLERANCE`](crate::signature::DEFAULT_TOLERANCE), five minutes, unless
    /// set).
    #[must_use]
    pub fn with_tolerance(self, tolerance: Duration) -> Self {
        self.map_scheme(|scheme| scheme.with_tolerance(tolerance))
    }

    /// Accepts any timestamp (it is still signed). Only for senders whose clocks cannot
    /// be trusted: without the window, a captured delivery can be replayed at any time.
    #[must_use]
    pub fn without_tolerance(self) -> Self {
        self.map_scheme(|scheme| scheme.without_tolerance())
    }

    /// Reads "now" from `clock` for the window (the system clock by default).
    #[must_use]
    pub fn with_clock(self, clock: impl Clock) -> Self {
        self.map_scheme(|scheme| scheme.with_clock(clock))
    }

    /// Reads Svix's header names (`svix-id`, `svix-timestamp`, `svix-signature`)
    /// instead of `webhook-*`, keeping the window and the clock.
    #[must_use]
    pub fn with_svix_headers(self) -> Self {
        let this = self.map_scheme(|scheme| {
            Self::svix_scheme()
                .with_tolerance_of(&scheme)
                .with_shared_clock(scheme.shared_clock())
        });
        Self {
            id_header: HeaderName::from_static("svix-id"),
            ..this
        }
    }

    /// The Standard Webhooks scheme: `webhook-signature: v1,<base64>` (space-separated,
    /// other versions skipped) over `{webhook-id}.{webhook-timestamp}.{body}`, with
    /// `webhook-timestamp` checked against the window. Its secrets are base64
    /// (`whsec_…`): build them with [`Secret::from_standard`]. Its `v1a` entries
    /// ([`asymmetric_version`](SignatureScheme::asymmetric_version)) are checked by a
    /// verifier with public keys, such as a [`Standard`]'s.
    pub fn default_scheme() -> SignatureScheme {
        Self::scheme_named("webhook-id", "webhook-timestamp", "webhook-signature")
    }

    /// The Standard Webhooks scheme under Svix's header names: `svix-id`,
    /// `svix-timestamp`, `svix-signature`.
    pub fn svix_scheme() -> SignatureScheme {
        Self::scheme_named("svix-id", "svix-timestamp", "svix-signature")
    }

    fn scheme_named(
        id: &'static str,
        timestamp: &'static str,
        signature: &'static str,
    ) -> SignatureScheme {
        SignatureScheme::timestamped_preset(
            signature,
            Encoding::Base64,
            SignatureFormat::versioned("v1"),
            vec![
                ContentPart::Header(HeaderName::from_static(id)),
                ContentPart::Literal(".".to_owned()),
                ContentPart::Timestamp,
                ContentPart::Literal(".".to_owned()),
                ContentPart::Body,
            ],
            TimestampSource::Header(HeaderName::from_static(timestamp)),
        )
        .with_asymmetric_version(ASYMMETRIC_VERSION)
    }

    /// The signature check in use.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The handle that replaces the secrets while the receiver runs (for rotation);
    /// [`SecretsHandle::replace`] reads them as `whsec_` base64.
    pub fn secrets_handle(&self) -> SecretsHandle {
        self.verifier.secrets_handle()
    }

    /// The handle that replaces the public keys while the receiver runs (for rotation),
    /// shared with every clone and every layer built from them;
    /// [`PublicKeysHandle::replace`] reads them as `whpk_` base64. A `Standard` built
    /// from secrets alone holds no key until one is given here.
    pub fn public_keys_handle(&self) -> PublicKeysHandle {
        self.public_keys.clone()
    }
}

/// The version of Standard Webhooks' asymmetric signatures.
const ASYMMETRIC_VERSION: &str = "v1a";

fn public_key_set<T: AsRef<[u8]>>(
    public_keys: impl IntoIterator<Item = T>,
) -> Result<PublicKeySet, ConfigError> {
    let keys = public_keys
        .into_iter()
        .map(PublicKey::from_standard)
        .collect::<Result<Vec<_>, _>>()?;
    PublicKeySet::new(keys)
}

impl Provider for Standard {
    type Event = Event;

    fn name(&self) -> &str {
        "standard"
    }

    fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    fn parse(&self, headers: &HeaderMap, body: &Bytes) -> Result<Event, ParseError> {
        // The id is signed, so it is present once the delivery is verified; its bytes
        // need not be UTF-8, hence the lossy read.
        let id = headers
            .get(&self.id_header)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .unwrap_or_default();
        Event::from_parts(id, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::signature::SignatureError;
    use crate::timestamp::Timestamp;
    use http::HeaderValue;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    /// The reference libraries' vector (see `signature::tests`).
    const PAYLOAD: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers(prefix: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::try_from(format!("{prefix}-id")).unwrap(),
            HeaderValue::from_static(MSG_ID),
        );
        headers.insert(
            HeaderName::try_from(format!("{prefix}-timestamp")).unwrap(),
            HeaderValue::from(TIMESTAMP),
        );
        headers.insert(
            HeaderName::try_from(format!("{prefix}-signature")).unwrap(),
            HeaderValue::from_static(SIGNATURE),
        );
        headers
    }

    #[test]
    fn verifies_and_parses_the_reference_vector() {
        let standard = Standard::new(SECRET)
            .unwrap()
            .with_clock(ManualClock::at_unix(TIMESTAMP + 10));
        let headers = headers("webhook");
        assert_eq!(standard.verifier().verify(&headers, PAYLOAD), Ok(()));
        let event = standard
            .parse(&headers, &Bytes::from_static(PAYLOAD))
            .unwrap();
        assert_eq!(event.id(), MSG_ID);
        assert_eq!(event.name(), "");
        assert!(event.is_unknown());
        assert_eq!(event.raw().get(), r#"{"test": 2432232314}"#);
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"test": 2432232314}"#
        );
    }

    #[test]
    fn window_is_configurable_and_can_be_turned_off() {
        let clock = ManualClock::at_unix(TIMESTAMP + 301);
        let standard = Standard::new(SECRET).unwrap().with_clock(clock.clone());
        let headers = headers("webhook");
        assert_eq!(
            standard.verifier().verify(&headers, PAYLOAD),
            Err(SignatureError::TimestampOutOfWindow)
        );
        let wider = standard.clone().with_tolerance(Duration::from_secs(301));
        assert_eq!(wider.verifier().verify(&headers, PAYLOAD), Ok(()));
        clock.advance(Duration::from_secs(1_000_000));
        assert_eq!(
            standard
                .clone()
                .without_tolerance()
                .verifier()
                .verify(&headers, PAYLOAD),
            Ok(())
        );
    }

    #[test]
    fn svix_headers_keep_window_and_clock() {
        let standard = Standard::new(SECRET)
            .unwrap()
            .with_clock(ManualClock::at_unix(TIMESTAMP + 400))
            .with_tolerance(Duration::from_secs(500))
            .with_svix_headers();
        let headers = headers("svix");
        assert_eq!(standard.verifier().verify(&headers, PAYLOAD), Ok(()));
        assert_eq!(
            standard
                .parse(&headers, &Bytes::from_static(PAYLOAD))
                .unwrap()
                .id(),
            MSG_ID
        );
        assert_eq!(
            standard
                .verifier()
                .verify(&self::headers("webhook"), PAYLOAD),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn bodies_are_read_leniently() {
        let event = Event::from_parts(
            "msg_1",
            br#"{"type":"user.created","timestamp":"2022-11-03T20:26:10.344522Z","data":{"id":"u_1","age":"x"}}"#,
        )
        .unwrap();
        assert_eq!(event.kind(), EventKind::named("user.created"));
        assert_eq!(event.event_type(), Some("user.created"));
        assert_eq!(
            event
                .timestamp()
                .and_then(Timestamp::to_offset_date_time)
                .map(|t| t.unix_timestamp()),
            Some(1_667_507_170)
        );
        #[derive(Debug, serde::Deserialize)]
        struct User {
            id: String,
        }
        assert_eq!(event.data_as::<User>().unwrap().id, "u_1");
        #[derive(Debug, serde::Deserialize)]
        struct Aged {
            #[allow(dead_code)]
            age: u32,
        }
        match event.data_as::<Aged>() {
            Err(ParseError::Data { path, .. }) => assert_eq!(path, "data.age"),
            other => panic!("expected a data error, got {other:?}"),
        }

        let odd = Event::from_parts("msg_2", br#"{"type":{"nested":true}}"#).unwrap();
        assert_eq!(odd.kind(), EventKind::UNNAMED);
        assert_eq!(odd.event_type(), None);
        assert!(matches!(
            odd.data_as::<User>(),
            Err(ParseError::Data { path, .. }) if path == "data"
        ));
        assert!(Event::from_parts("msg_3", b"[1,2]").is_ok());
        assert!(matches!(
            Event::from_parts("msg_4", b"{nope"),
            Err(ParseError::Syntax { .. })
        ));
    }

    #[test]
    fn secrets_are_base64_and_replaceable_as_base64() {
        assert_eq!(
            Standard::new("whsec_!!").unwrap_err(),
            ConfigError::SecretEncoding { encoding: "base64" }
        );
        assert!(matches!(
            Standard::with_secrets(Vec::<&str>::new()),
            Err(ConfigError::NoSecret)
        ));
        let standard = Standard::new("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")
            .unwrap()
            .with_clock(ManualClock::at_unix(TIMESTAMP));
        let headers = headers("webhook");
        assert_eq!(
            standard.verifier().verify(&headers, PAYLOAD),
            Err(SignatureError::Mismatch)
        );
        let handle = standard.secrets_handle();
        assert!(handle.replace(["not base64!"]).is_err());
        handle.replace([SECRET]).unwrap();
        assert_eq!(standard.verifier().verify(&headers, PAYLOAD), Ok(()));
    }
    /// The reference libraries' asymmetric vector: the Go library's test signing key
    /// (`TESTSIGNINGKEYDONOTUSETHISFORANY`) over the same message as [`SIGNATURE`];
    /// PyNaCl derives the same public key and signature from the seed.
    const SIGNING_KEY: &str = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
    const PUBLIC_KEY: &str = "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=";
    const SIGNATURE_V1A: &str = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==";

    fn with_signature(value: &str) -> HeaderMap {
        let mut headers = headers("webhook");
        headers.insert("webhook-signature", HeaderValue::from_str(value).unwrap());
        headers
    }

    fn keyed() -> Standard {
        Standard::from_public_keys([PUBLIC_KEY])
            .unwrap()
            .with_clock(ManualClock::at_unix(TIMESTAMP + 10))
    }

    #[test]
    fn a_v1a_signature_verifies_with_the_public_key_alone() {
        let standard = keyed();
        let headers = with_signature(SIGNATURE_V1A);
        assert_eq!(standard.verifier().verify(&headers, PAYLOAD), Ok(()));
        assert_eq!(
            standard
                .parse(&headers, &Bytes::from_static(PAYLOAD))
                .unwrap()
                .id(),
            MSG_ID
        );

        // One byte changed anywhere that is signed: refused.
        assert_eq!(
            standard
                .verifier()
                .verify(&headers, br#"{"test": 2432232315}"#),
            Err(SignatureError::Mismatch)
        );
        let mut other_id = headers.clone();
        other_id.insert(
            "webhook-id",
            HeaderValue::from_static("msg_p5jXN8AQM9LWM0D4loKWxJeK"),
        );
        assert_eq!(
            standard.verifier().verify(&other_id, PAYLOAD),
            Err(SignatureError::Mismatch)
        );
        let mut other_time = headers.clone();
        other_time.insert("webhook-timestamp", HeaderValue::from(TIMESTAMP + 1));
        assert_eq!(
            standard.verifier().verify(&other_time, PAYLOAD),
            Err(SignatureError::Mismatch)
        );
        let flipped = SIGNATURE_V1A.replacen("tQ9V", "tQ9W", 1);
        assert_eq!(
            standard
                .verifier()
                .verify(&with_signature(&flipped), PAYLOAD),
            Err(SignatureError::Mismatch)
        );
        // Without `webhook-id`: missing, not a mismatch.
        let mut no_id = headers.clone();
        no_id.remove("webhook-id");
        assert_eq!(
            standard.verifier().verify(&no_id, PAYLOAD),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn a_secret_never_verifies_a_v1a_entry_nor_a_public_key_a_v1_entry() {
        let secret_only = Standard::new(SECRET)
            .unwrap()
            .with_clock(ManualClock::at_unix(TIMESTAMP));
        assert_eq!(
            secret_only
                .verifier()
                .verify(&with_signature(SIGNATURE_V1A), PAYLOAD),
            Err(SignatureError::Malformed),
            "v1a with no public key configured: no signature it can check, as before v1a"
        );
        assert_eq!(
            keyed()
                .verifier()
                .verify(&with_signature(SIGNATURE), PAYLOAD),
            Err(SignatureError::Mismatch),
            "v1 with no secret configured"
        );
        // With both configured, an entry under the other kind's label is not read as
        // that kind: a 32-byte tag is no signature, a 64-byte signature no tag.
        let both = Standard::new(SECRET)
            .unwrap()
            .with_public_keys([PUBLIC_KEY])
            .unwrap()
            .with_clock(ManualClock::at_unix(TIMESTAMP));
        let tag = SIGNATURE.trim_start_matches("v1,");
        let signature = SIGNATURE_V1A.trim_start_matches("v1a,");
        for value in [format!("v1a,{tag}"), format!("v1,{signature}")] {
            assert_eq!(
                both.verifier().verify(&with_signature(&value), PAYLOAD),
                Err(SignatureError::Malformed),
                "{value}"
            );
        }
        // A v1a signature by another key pair.
        let other = crate::secret::SigningKey::from_seed([8; 32]).public_key();
        let stranger = Standard::from_public_keys([other.to_string()])
            .unwrap()
            .with_clock(ManualClock::at_unix(TIMESTAMP));
        assert_eq!(
            stranger
                .verifier()
                .verify(&with_signature(SIGNATURE_V1A), PAYLOAD),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn mixed_headers_verify_when_any_entry_verifies_with_a_key_of_its_kind() {
        let both = Standard::new(SECRET)
            .unwrap()
            .with_public_keys([PUBLIC_KEY])
            .unwrap()
            .with_clock(ManualClock::at_unix(TIMESTAMP));
        let wrong_tag = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
        let garbage = "v1a,bm90IGEgc2lnbmF0dXJl";
        let accepted = [
            format!("{wrong_tag} {SIGNATURE_V1A}"),
            format!("{SIGNATURE} {garbage}"),
            format!("v2,abc {garbage} {SIGNATURE_V1A}"),
            format!("{SIGNATURE_V1A} {SIGNATURE}"),
        ];
        for value in &accepted {
            assert_eq!(
                both.verifier().verify(&with_signature(value), PAYLOAD),
                Ok(()),
                "{value}"
            );
        }
        // Each kind alone also verifies a mixed header by its own entry.
        let secret_only = Standard::new(SECRET)
            .unwrap()
            .with_clock(ManualClock::at_unix(TIMESTAMP));
        assert_eq!(
            secret_only
                .verifier()
                .verify(&with_signature(&accepted[3]), PAYLOAD),
            Ok(())
        );
        assert_eq!(
            keyed()
                .verifier()
                .verify(&with_signature(&accepted[3]), PAYLOAD),
            Ok(())
        );
        // Refused: nothing verifies, or only malformed entries are there.
        assert_eq!(
            both.verifier()
                .verify(&with_signature(&format!("{wrong_tag} {garbage}")), PAYLOAD),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            both.verifier().verify(&with_signature(garbage), PAYLOAD),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            both.verifier().verify(&with_signature("v1a,"), PAYLOAD),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn only_the_first_four_v1a_entries_are_tried() {
        let decoy = format!("v1a,{}", "A".repeat(86));
        let late = format!("{} {SIGNATURE_V1A}", [decoy.as_str(); 4].join(" "));
        assert_eq!(
            keyed().verifier().verify(&with_signature(&late), PAYLOAD),
            Err(SignatureError::Mismatch)
        );
        let in_time = format!("{} {SIGNATURE_V1A}", [decoy.as_str(); 3].join(" "));
        assert_eq!(
            keyed()
                .verifier()
                .verify(&with_signature(&in_time), PAYLOAD),
            Ok(())
        );
    }

    #[test]
    fn the_window_applies_to_v1a() {
        let clock = ManualClock::at_unix(TIMESTAMP + 301);
        let standard = Standard::from_public_keys([PUBLIC_KEY])
            .unwrap()
            .with_clock(clock.clone());
        let headers = with_signature(SIGNATURE_V1A);
        assert_eq!(
            standard.verifier().verify(&headers, PAYLOAD),
            Err(SignatureError::TimestampOutOfWindow)
        );
        let wider = standard.clone().with_tolerance(Duration::from_secs(301));
        assert_eq!(wider.verifier().verify(&headers, PAYLOAD), Ok(()));
        clock.advance(Duration::from_secs(1_000_000));
        assert_eq!(
            standard
                .without_tolerance()
                .verifier()
                .verify(&headers, PAYLOAD),
            Ok(())
        );
    }

    #[test]
    fn public_keys_rotate_for_every_clone_and_survive_scheme_changes() {
        let standard = Standard::from_public_keys([crate::secret::SigningKey::from_seed([1; 32])
            .public_key()
            .to_string()])
        .unwrap()
        .with_clock(ManualClock::at_unix(TIMESTAMP));
        let clone = standard.clone().with_tolerance(Duration::from_secs(60));
        let headers = with_signature(SIGNATURE_V1A);
        assert_eq!(
            clone.verifier().verify(&headers, PAYLOAD),
            Err(SignatureError::Mismatch)
        );
        let handle = standard.public_keys_handle();
        let old = handle.current().keys()[0].to_string();
        handle.replace([PUBLIC_KEY, old.as_str()]).unwrap();
        assert_eq!(clone.verifier().verify(&headers, PAYLOAD), Ok(()));
        // Refused replacements change nothing.
        assert_eq!(
            handle.replace([SIGNING_KEY]),
            Err(ConfigError::SigningKeyAsPublicKey)
        );
        assert_eq!(
            handle.replace(Vec::<&str>::new()),
            Err(ConfigError::NoPublicKey)
        );
        assert_eq!(clone.verifier().verify(&headers, PAYLOAD), Ok(()));
        handle.replace([old]).unwrap();
        assert_eq!(
            clone.verifier().verify(&headers, PAYLOAD),
            Err(SignatureError::Mismatch)
        );

        // Svix's header names keep the keys; a secret-only receiver takes keys later.
        let svix = keyed().with_svix_headers();
        let mut svix_headers = self::headers("svix");
        svix_headers.insert("svix-signature", HeaderValue::from_static(SIGNATURE_V1A));
        assert_eq!(svix.verifier().verify(&svix_headers, PAYLOAD), Ok(()));
        let secret_only = Standard::new(SECRET)
            .unwrap()
            .with_clock(ManualClock::at_unix(TIMESTAMP));
        assert!(secret_only.public_keys_handle().current().is_empty());
        secret_only
            .public_keys_handle()
            .replace([PUBLIC_KEY])
            .unwrap();
        assert_eq!(secret_only.verifier().verify(&headers, PAYLOAD), Ok(()));
        // And a key-only receiver takes secrets later.
        let key_only = keyed();
        assert_eq!(
            key_only
                .verifier()
                .verify(&self::headers("webhook"), PAYLOAD),
            Err(SignatureError::Mismatch)
        );
        key_only.secrets_handle().replace([SECRET]).unwrap();
        assert_eq!(
            key_only
                .verifier()
                .verify(&self::headers("webhook"), PAYLOAD),
            Ok(())
        );
    }

    #[test]
    fn bad_public_keys_are_refused_at_construction() {
        assert_eq!(
            Standard::from_public_keys(Vec::<&str>::new()).unwrap_err(),
            ConfigError::NoPublicKey
        );
        assert_eq!(
            Standard::from_public_keys([SIGNING_KEY]).unwrap_err(),
            ConfigError::SigningKeyAsPublicKey
        );
        assert_eq!(
            Standard::new(SECRET)
                .unwrap()
                .with_public_keys([PUBLIC_KEY, SIGNING_KEY])
                .unwrap_err(),
            ConfigError::SigningKeyAsPublicKey
        );
        assert_eq!(
            Standard::from_public_keys([SECRET]).unwrap_err(),
            ConfigError::WrongKeyPrefix {
                expected: "whpk_",
                given: "whsec_"
            }
        );
        assert_eq!(
            Standard::from_public_keys(["whpk_!!"]).unwrap_err(),
            ConfigError::KeyEncoding { key: "public key" }
        );
        assert_eq!(
            Standard::from_public_keys(["whpk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]).unwrap_err(),
            ConfigError::KeyLength {
                key: "public key",
                expected: 32,
                given: 24
            }
        );
        // 32 bytes of zeros decode to a point of small order.
        assert_eq!(
            Standard::from_public_keys(["whpk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="])
                .unwrap_err(),
            ConfigError::InvalidPublicKey("a point of small order")
        );
    }

    #[test]
    fn the_asymmetric_signer_signs_the_reference_vector() {
        let headers = Standard::asymmetric_signer(SIGNING_KEY)
            .unwrap()
            .at(TIMESTAMP)
            .with_message_id(MSG_ID)
            .headers(PAYLOAD)
            .unwrap();
        assert_eq!(headers["webhook-signature"], SIGNATURE_V1A);
        assert_eq!(keyed().verifier().verify(&headers, PAYLOAD), Ok(()));
    }
}
