//! Standard Webhooks: the open specification many senders (and Svix) sign with.
//!
//! A delivery carries three headers:
//!
//! | header | value |
//! |---|---|
//! | `webhook-id` | the message id, the same across retries |
//! | `webhook-timestamp` | unix seconds when it was sent |
//! | `webhook-signature` | space-separated `v1,<base64 HMAC-SHA256>`; other versions are skipped |
//!
//! The MAC is over `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the secret's
//! base64-decoded bytes (`whsec_…`, prefix optional). The timestamp must be within five
//! minutes of now, in either direction ([`Standard::with_tolerance`] changes it,
//! [`Standard::without_tolerance`] turns it off).
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
//! let event = standard.parse(&headers, body)?;
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

use http::header::HeaderName;
use http::HeaderMap;

use crate::clock::Clock;
use crate::error::ConfigError;
use crate::event::ParseError;
use crate::provider::Provider;
use crate::secret::{standard_secret, Secret, SecretSet, SecretsHandle};
use crate::signature::{
    ContentPart, Encoding, SignatureFormat, SignatureScheme, TimestampSource, Verifier,
};

mod event;
#[cfg(feature = "testing")]
mod samples;

pub use event::Event;

/// The kind of a Standard Webhooks event: the body's `type`, by name.
pub type EventKind = crate::event::NamedKind<Event>;

/// Standard Webhooks deliveries, checked with the receiver's `whsec_` secret(s).
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
        let handle = SecretsHandle::new(SecretSet::new(secrets)?, standard_secret);
        Ok(Self {
            verifier: Arc::new(Verifier::with_handle(Self::default_scheme(), handle)),
            id_header: HeaderName::from_static("webhook-id"),
        })
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
    /// (`whsec_…`): build them with [`Secret::from_standard`].
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
}

impl Provider for Standard {
    type Event = Event;

    fn name(&self) -> &str {
        "standard"
    }

    fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    fn parse(&self, headers: &HeaderMap, body: &[u8]) -> Result<Event, ParseError> {
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
        let event = standard.parse(&headers, PAYLOAD).unwrap();
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
        assert_eq!(standard.parse(&headers, PAYLOAD).unwrap().id(), MSG_ID);
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
}
