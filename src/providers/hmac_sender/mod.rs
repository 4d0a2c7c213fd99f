//! Any HMAC-SHA256 sender ([`HmacSender`]): a provider assembled from the header, encoding, prefix,
//! signed-content template and optional timestamp header its documentation gives, with
//! GitHub and Stripe presets.
//!
//! Its events are the raw JSON body ([`Event`]); the event's name is the body's `type`
//! (or a header, such as GitHub's `X-GitHub-Event`) and its id the body's `id` (or a
//! header, such as `X-GitHub-Delivery`).
//!
//! ```
//! use hookguard::signature::Encoding;
//! use hookguard::{HmacSender, Provider, Secret};
//! use http::{HeaderMap, HeaderValue};
//!
//! // A sender whose documentation says: `X-Acme-Signature: <base64 HMAC-SHA256 of
//! // "{X-Acme-Timestamp}:{body}">`, the timestamp in unix seconds.
//! let acme = HmacSender::builder("X-Acme-Signature")
//!     .with_encoding(Encoding::Base64)
//!     .with_timestamp_header("X-Acme-Timestamp")
//!     .with_signed_content("{timestamp}:{body}")
//!     .with_secret("acme-secret")
//!     .build()?;
//!
//! let body = br#"{"id":"evt_1","type":"order.shipped"}"#;
//! let mut headers = HeaderMap::new();
//! let now = time::OffsetDateTime::now_utc().unix_timestamp();
//! headers.insert("x-acme-timestamp", HeaderValue::from(now));
//! let signature = acme.verifier().scheme().sign(&Secret::new("acme-secret")?, &headers, body)?;
//! headers.insert("x-acme-signature", signature);
//!
//! acme.verifier().verify(&headers, body)?;
//! let event = acme.parse(&headers, &bytes::Bytes::from_static(body))?;
//! assert_eq!((event.name(), event.id()), ("order.shipped", "evt_1"));
//! assert_eq!(acme.name(), "hmac");
//! assert_eq!(HmacSender::github().with_secret("s").build()?.name(), "github");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::HeaderName;
use http::HeaderMap;

use crate::clock::{Clock, SharedClock};
use crate::error::ConfigError;
use crate::event::ParseError;
use crate::provider::Provider;
use crate::secret::{raw_secret, standard_secret, SecretDecoder, SecretSet, SecretsHandle};
use crate::signature::{
    ContentPart, Encoding, SignatureFormat, SignatureScheme, SignedContent, TimestampSource,
    Verifier,
};

mod event;

pub use event::Event;

/// The kind of a generic event: its name, as sent.
pub type EventKind = crate::event::NamedKind<Event>;

/// Deliveries from a sender that signs with HMAC-SHA256, described by a
/// [`HmacSenderBuilder`].
#[derive(Debug, Clone)]
pub struct HmacSender {
    name: Arc<str>,
    verifier: Arc<Verifier>,
    name_header: Option<HeaderName>,
    id_header: Option<HeaderName>,
}

impl HmacSender {
    /// A builder for a sender whose signature travels in `header`; by default it is a
    /// hex HMAC-SHA256 of the body, optionally after `sha256=`, keyed with the secret's
    /// UTF-8 bytes.
    pub fn builder(header: &str) -> HmacSenderBuilder {
        match SignatureScheme::new(header) {
            Ok(scheme) => HmacSenderBuilder::new(scheme),
            Err(err) => HmacSenderBuilder::new(SignatureScheme::preset("x-signature")).fail(err),
        }
    }

    /// A builder starting from `scheme` (a preset such as [`HmacSender::stripe_scheme`]).
    pub fn builder_from(scheme: SignatureScheme) -> HmacSenderBuilder {
        HmacSenderBuilder::new(scheme)
    }

    /// GitHub: `X-Hub-Signature-256: sha256=<hex>` over the body; the event's name from
    /// `X-GitHub-Event`, its id from `X-GitHub-Delivery`. Add the secret and build.
    ///
    /// ```
    /// use hookguard::hmac_sender::HmacSender;
    ///
    /// let github = HmacSender::github().with_secret("It's a Secret to Everybody").build()?;
    /// # Ok::<(), hookguard::ConfigError>(())
    /// ```
    pub fn github() -> HmacSenderBuilder {
        Self::builder_from(Self::github_scheme())
            .with_name("github")
            .with_name_header("X-GitHub-Event")
            .with_id_header("X-GitHub-Delivery")
    }

    /// Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` over `{t}.{body}`, `t`
    /// within five minutes of now; the secret (`whsec_…`) is used as its UTF-8 bytes. The
    /// event's name and id are the body's `type` and `id`. Add the secret and build.
    pub fn stripe() -> HmacSenderBuilder {
        Self::builder_from(Self::stripe_scheme()).with_name("stripe")
    }

    /// GitHub's scheme: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`,
    /// keyed with the secret's UTF-8 bytes.
    pub fn github_scheme() -> SignatureScheme {
        SignatureScheme::preset("x-hub-signature-256")
    }

    /// Stripe's scheme: `Stripe-Signature: t=<unix>,v1=<hex>` where the MAC is over
    /// `{t}.{body}`, keyed with the secret's UTF-8 bytes (the whole `whsec_…` string, not
    /// decoded). Several `v1` values are accepted (Stripe sends one per active secret);
    /// other keys (`v0`) are skipped. `t` is checked against the window.
    pub fn stripe_scheme() -> SignatureScheme {
        SignatureScheme::timestamped_preset(
            "stripe-signature",
            Encoding::Hex,
            SignatureFormat::key_value("v1"),
            vec![
                ContentPart::Timestamp,
                ContentPart::Literal(".".to_owned()),
                ContentPart::Body,
            ],
            TimestampSource::SignatureKey("t".to_owned()),
        )
    }

    /// The signature check in use.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The handle that replaces the secrets while the receiver runs (for rotation).
    pub fn secrets_handle(&self) -> SecretsHandle {
        self.verifier.secrets_handle()
    }
}

/// The description of an HMAC-SHA256 sender, checked when [`build`](Self::build) is
/// called: the first invalid setting is the error.
#[must_use]
pub struct HmacSenderBuilder {
    name: Arc<str>,
    scheme: SignatureScheme,
    secrets: Vec<Vec<u8>>,
    decode: SecretDecoder,
    name_header: Option<HeaderName>,
    id_header: Option<HeaderName>,
    error: Option<ConfigError>,
}

impl fmt::Debug for HmacSenderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacSenderBuilder")
            .field("name", &self.name)
            .field("scheme", &self.scheme)
            .field(
                "secrets",
                &format_args!("{} secret(s), <redacted>", self.secrets.len()),
            )
            .field("name_header", &self.name_header)
            .field("id_header", &self.id_header)
            .field("error", &self.error)
            .finish()
    }
}

fn header_name(name: &str) -> Result<HeaderName, ConfigError> {
    HeaderName::try_from(name).map_err(|_| ConfigError::InvalidHeaderName(name.to_owned()))
}

impl HmacSenderBuilder {
    fn new(scheme: SignatureScheme) -> Self {
        Self {
            name: Arc::from("hmac"),
            scheme,
            secrets: Vec::new(),
            decode: raw_secret,
            name_header: None,
            id_header: None,
            error: None,
        }
    }

    fn fail(mut self, err: ConfigError) -> Self {
        self.error.get_or_insert(err);
        self
    }

    fn try_with<T>(
        self,
        value: Result<T, ConfigError>,
        apply: impl FnOnce(Self, T) -> Self,
    ) -> Self {
        match value {
            Ok(value) => apply(self, value),
            Err(err) => self.fail(err),
        }
    }

    /// Names the sender in logs and delivery keys (`"hmac"` unless set; the presets set
    /// `"github"` and `"stripe"`). Senders whose deliveries share one dedup store need
    /// distinct names: the name scopes their keys.
    ///
    /// An empty name, one holding `:` or one of the other built-in providers'
    /// (`claimr`, `chainvine`, `standard`) is refused by [`build`](Self::build)
    /// ([`ConfigError::InvalidProviderName`]): it could share keys with another sender.
    pub fn with_name(mut self, name: &str) -> Self {
        if name.is_empty()
            || name.contains(':')
            || ["claimr", "chainvine", "standard"]
                .iter()
                .any(|builtin| builtin.eq_ignore_ascii_case(name))
        {
            return self.fail(ConfigError::InvalidProviderName(name.to_owned()));
        }
        self.name = Arc::from(name);
        self
    }

    /// Accepts deliveries signed with `secret` (add several for rotation).
    pub fn with_secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.secrets.push(secret.as_ref().to_vec());
        self
    }

    /// Accepts deliveries signed with any of `secrets`.
    pub fn with_secrets<T: AsRef<[u8]>>(mut self, secrets: impl IntoIterator<Item = T>) -> Self {
        self.secrets
            .extend(secrets.into_iter().map(|s| s.as_ref().to_vec()));
        self
    }

    /// Reads the secrets as base64 (a `whsec_` prefix is dropped) and keys the MAC with
    /// the decoded bytes, instead of using their UTF-8 bytes.
    pub fn with_base64_secrets(mut self) -> Self {
        self.decode = standard_secret;
        self
    }

    /// Reads and writes the signature in `encoding` (hex unless set).
    pub fn with_encoding(mut self, encoding: Encoding) -> Self {
        self.scheme = self.scheme.with_encoding(encoding);
        self
    }

    /// Accepts `prefix` (such as `sha256=`) before each signature of a plain list; an
    /// empty prefix accepts bare values only.
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.scheme = self.scheme.with_prefix(Some(prefix));
        self
    }

    /// Reads the signature header's value as `format` says (a plain list unless set).
    pub fn with_format(mut self, format: SignatureFormat) -> Self {
        self.scheme = self.scheme.with_format(format);
        self
    }

    /// Signs the content `template` describes, such as `{timestamp}.{body}` (see
    /// [`SignedContent`]); `{body}` unless set.
    pub fn with_signed_content(self, template: &str) -> Self {
        self.try_with(SignedContent::template(template), |mut this, content| {
            this.scheme = this.scheme.with_signed_content(content);
            this
        })
    }

    /// Reads the delivery's timestamp (unix seconds) from `header`, for `{timestamp}`
    /// and for the tolerance window.
    pub fn with_timestamp_header(self, header: &str) -> Self {
        self.try_with(header_name(header), |mut this, name| {
            this.scheme = this.scheme.with_timestamp(TimestampSource::Header(name));
            this
        })
    }

    /// Reads the delivery's timestamp from `source`.
    pub fn with_timestamp(mut self, source: TimestampSource) -> Self {
        self.scheme = self.scheme.with_timestamp(source);
        self
    }

    /// Accepts timestamps up to `tolerance` from now, in either direction (five minutes
    /// unless set).
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.scheme = self.scheme.with_tolerance(tolerance);
        self
    }

    /// Accepts any timestamp (it is still signed, if the template says so).
    pub fn without_tolerance(mut self) -> Self {
        self.scheme = self.scheme.without_tolerance();
        self
    }

    /// Reads "now" from `clock` for the window.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.scheme = self.scheme.with_shared_clock(SharedClock::new(clock));
        self
    }

    /// Names each event after this header's value instead of the body's `type`.
    pub fn with_name_header(self, header: &str) -> Self {
        self.try_with(header_name(header), |mut this, name| {
            this.name_header = Some(name);
            this
        })
    }

    /// Takes each event's id from this header's value instead of the body's `id`.
    pub fn with_id_header(self, header: &str) -> Self {
        self.try_with(header_name(header), |mut this, name| {
            this.id_header = Some(name);
            this
        })
    }

    /// The provider.
    ///
    /// # Errors
    ///
    /// The first invalid setting: [`ConfigError::InvalidHeaderName`],
    /// [`ConfigError::InvalidSignedContent`] (including a signed `{timestamp}` without
    /// a timestamp header); [`ConfigError::NoSecret`], [`ConfigError::EmptySecret`] or
    /// [`ConfigError::SecretEncoding`] for the secrets.
    pub fn build(self) -> Result<HmacSender, ConfigError> {
        if let Some(err) = self.error {
            return Err(err);
        }
        self.scheme.validate()?;
        let secrets = self
            .secrets
            .iter()
            .map(|secret| (self.decode)(secret))
            .collect::<Result<Vec<_>, _>>()?;
        let handle = SecretsHandle::new(SecretSet::new(secrets)?, self.decode);
        Ok(HmacSender {
            name: self.name,
            verifier: Arc::new(Verifier::with_handle(self.scheme, handle)),
            name_header: self.name_header,
            id_header: self.id_header,
        })
    }
}

impl Provider for HmacSender {
    type Event = Event;

    fn name(&self) -> &str {
        &self.name
    }

    fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    fn parse(&self, headers: &HeaderMap, body: &Bytes) -> Result<Event, ParseError> {
        let (raw, head) = crate::json::raw_with_head(body)?;
        let from_header = |name: &Option<HeaderName>| {
            name.as_ref().map(|name| {
                headers
                    .get(name)
                    .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            })
        };
        let name = from_header(&self.name_header).unwrap_or(head.kind);
        let id = from_header(&self.id_header).unwrap_or(head.id);
        // An id read from a header is signed only if the scheme signs that header.
        let id_signed = match &self.id_header {
            Some(header) if headers.contains_key(header) => self
                .verifier
                .scheme()
                .signed_content()
                .parts()
                .contains(&ContentPart::Header(header.clone())),
            _ => true,
        };
        Ok(Event::new(
            id.unwrap_or_default(),
            id_signed,
            name.as_deref().map_or(EventKind::UNNAMED, EventKind::named),
            raw,
        ))
    }
}

#[cfg(feature = "testing")]
impl HmacSender {
    /// Signs requests as GitHub does ([`HmacSender::github_scheme`]), keyed with the
    /// secret's UTF-8 bytes (feature `testing`).
    ///
    /// # Errors
    ///
    /// [`ConfigError::EmptySecret`] when the secret is empty.
    pub fn github_signer(secret: &str) -> Result<crate::testing::Signer, ConfigError> {
        Ok(crate::testing::Signer::new(
            Self::github_scheme(),
            crate::secret::Secret::new(secret)?,
        ))
    }

    /// Signs requests as Stripe does ([`HmacSender::stripe_scheme`]), keyed with the
    /// whole `whsec_…` string's UTF-8 bytes (feature `testing`).
    ///
    /// # Errors
    ///
    /// [`ConfigError::EmptySecret`] when the secret is empty.
    pub fn stripe_signer(secret: &str) -> Result<crate::testing::Signer, ConfigError> {
        Ok(crate::testing::Signer::new(
            Self::stripe_scheme(),
            crate::secret::Secret::new(secret)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::signature::SignatureError;
    use http::HeaderValue;

    /// GitHub's documented vector (see `signature::tests`).
    const GITHUB_SECRET: &str = "It's a Secret to Everybody";
    const GITHUB_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn names_that_could_share_keys_are_refused() {
        for name in ["", "chainvine", "Claimr", "standard", "acme:id"] {
            let built = HmacSender::builder("X-Sig")
                .with_name(name)
                .with_secret("s")
                .build();
            assert!(
                matches!(built, Err(ConfigError::InvalidProviderName(ref n)) if n == name),
                "{name:?}: {built:?}"
            );
        }
        let acme = HmacSender::builder("X-Sig")
            .with_name("acme")
            .with_secret("s")
            .build()
            .expect("a fine name");
        assert_eq!(acme.name(), "acme");
        assert_eq!(
            HmacSender::stripe()
                .with_secret("s")
                .build()
                .map(|s| s.name().to_owned()),
            Ok("stripe".to_owned())
        );
    }

    #[test]
    fn github_preset_checks_the_documented_vector() {
        let github = HmacSender::github()
            .with_secret(GITHUB_SECRET)
            .build()
            .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-hub-signature-256",
            HeaderValue::from_static(GITHUB_SIGNATURE),
        );
        headers.insert("x-github-event", HeaderValue::from_static("ping"));
        headers.insert("x-github-delivery", HeaderValue::from_static("72d3162e"));
        // GitHub's vector signs a body that is not JSON: verification is about bytes.
        assert_eq!(github.verifier().verify(&headers, b"Hello, World!"), Ok(()));
        assert_eq!(
            github.verifier().verify(&headers, b"Hello, World"),
            Err(SignatureError::Mismatch)
        );

        let body = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
        let event = github.parse(&headers, &Bytes::from_static(body)).unwrap();
        assert_eq!((event.name(), event.id()), ("ping", "72d3162e"));
        assert_eq!(event.kind(), EventKind::named("ping"));
    }

    /// The Stripe-style vector computed outside the crate (see `signature::tests`).
    #[test]
    fn stripe_preset_checks_the_independent_vector() {
        let stripe = HmacSender::stripe()
            .with_secret("whsec_test_secret")
            .with_clock(ManualClock::at_unix(1_492_774_577 + 60))
            .build()
            .unwrap();
        let body = br#"{"id":"evt_test_webhook","object":"event"}"#;
        let mut headers = HeaderMap::new();
        headers.insert(
            "stripe-signature",
            HeaderValue::from_static(
                "t=1492774577,v1=88a022085c6bdb887b02cb26ff76dd681234d9675c0f22844059f55552a8883a",
            ),
        );
        assert_eq!(stripe.verifier().verify(&headers, body), Ok(()));
        let event = stripe.parse(&headers, &Bytes::from_static(body)).unwrap();
        assert_eq!((event.name(), event.id()), ("", "evt_test_webhook"));
        assert!(event.is_unknown());
    }

    #[test]
    fn a_custom_sender_with_a_timestamp_header_gets_the_window() {
        let clock = ManualClock::at_unix(1_700_000_000);
        let custom = HmacSender::builder("X-Sig")
            .with_encoding(Encoding::Base64)
            .with_prefix("")
            .with_timestamp_header("X-Time")
            .with_signed_content("v0:{timestamp}:{body}")
            .with_base64_secrets()
            .with_secrets(["whsec_c2VjcmV0LWE=", "c2VjcmV0LWI="])
            .with_clock(clock.clone())
            .build()
            .unwrap();
        let body = br#"{"type":"a.b","id":"1"}"#;
        let mut headers = HeaderMap::new();
        headers.insert("x-time", HeaderValue::from_static("1700000000"));
        let signature = custom
            .verifier()
            .scheme()
            .sign(&crate::Secret::new("secret-b").unwrap(), &headers, body)
            .unwrap();
        headers.insert("x-sig", signature);
        assert_eq!(custom.verifier().verify(&headers, body), Ok(()));
        clock.advance(Duration::from_secs(301));
        assert_eq!(
            custom.verifier().verify(&headers, body),
            Err(SignatureError::TimestampOutOfWindow)
        );
        let event = custom.parse(&headers, &Bytes::from_static(body)).unwrap();
        assert_eq!((event.name(), event.id()), ("a.b", "1"));
        #[derive(serde::Deserialize)]
        struct Body {
            id: String,
        }
        assert_eq!(event.data_as::<Body>().unwrap().id, "1");
    }

    #[test]
    fn the_builder_never_shows_its_secrets() {
        let builder = HmacSender::builder("X-Sig").with_secret("hunter2");
        assert!(!format!("{builder:?}").contains("hunter2"));
        let provider = builder.build().unwrap();
        assert!(!format!("{provider:?}").contains("hunter2"));
    }

    #[test]
    fn invalid_settings_are_build_errors() {
        assert!(matches!(
            HmacSender::builder("bad header").with_secret("s").build(),
            Err(ConfigError::InvalidHeaderName(_))
        ));
        assert!(matches!(
            HmacSender::builder("X-Sig").build(),
            Err(ConfigError::NoSecret)
        ));
        assert!(matches!(
            HmacSender::builder("X-Sig").with_secret("").build(),
            Err(ConfigError::EmptySecret)
        ));
        assert!(matches!(
            HmacSender::builder("X-Sig")
                .with_signed_content("{timestamp}.{body}")
                .with_secret("s")
                .build(),
            Err(ConfigError::InvalidSignedContent(_))
        ));
        assert!(matches!(
            HmacSender::builder("X-Sig")
                .with_signed_content("{timestamp}")
                .with_secret("s")
                .build(),
            Err(ConfigError::InvalidSignedContent(_))
        ));
        assert!(matches!(
            HmacSender::builder("X-Sig")
                .with_timestamp_header("bad header")
                .with_secret("s")
                .build(),
            Err(ConfigError::InvalidHeaderName(_))
        ));
        assert!(matches!(
            HmacSender::builder("X-Sig")
                .with_base64_secrets()
                .with_secret("***")
                .build(),
            Err(ConfigError::SecretEncoding { .. })
        ));
    }
}
