//! The signature scheme: where a signature travels, how it is written, what it signs,
//! which timestamp it carries; and signing, for tests and tools.

use std::time::Duration;

use hmac::Mac;
use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

use super::{
    ContentPart, Encoding, SignatureError, SignatureFormat, SignedContent, DEFAULT_TOLERANCE,
};
use crate::clock::{Clock, SharedClock};
use crate::error::ConfigError;
use crate::secret::{HmacSha256, Secret};

/// Where a scheme reads the delivery's timestamp: seconds since the unix epoch, as ASCII
/// digits.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimestampSource {
    /// A header of its own (Standard Webhooks' `webhook-timestamp`).
    Header(HeaderName),
    /// A key of the signature header's pairs (Stripe's `t`); only the
    /// [`SignatureFormat::KeyValue`] format has keys.
    SignatureKey(String),
}

impl TimestampSource {
    /// A timestamp header.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidHeaderName`] when `name` is not a valid header name.
    pub fn header(name: &str) -> Result<Self, ConfigError> {
        HeaderName::try_from(name)
            .map(TimestampSource::Header)
            .map_err(|_| ConfigError::InvalidHeaderName(name.to_owned()))
    }
}

/// Where a provider puts its signature, how it writes it, what it signs, and which
/// timestamp it carries.
///
/// The defaults for claimr and ChainVine are assumptions (their pages name no scheme):
/// HMAC-SHA256 of the raw body, lowercase hex, in `X-Claimr-Signature` or
/// `X-ChainVine-Signature`, with an optional `sha256=` prefix. Every part can be changed.
///
/// A scheme with a timestamp refuses deliveries whose timestamp is more than the
/// tolerance ([`DEFAULT_TOLERANCE`] unless set) from now, in either direction, with
/// [`SignatureError::TimestampOutOfWindow`]; [`without_tolerance`](Self::without_tolerance)
/// turns the window off (the timestamp is still signed).
#[derive(Debug, Clone)]
pub struct SignatureScheme {
    pub(super) header: HeaderName,
    pub(super) encoding: Encoding,
    pub(super) format: SignatureFormat,
    pub(super) content: SignedContent,
    pub(super) timestamp: Option<TimestampSource>,
    pub(super) tolerance: Option<Duration>,
    pub(super) clock: SharedClock,
    /// The version of ed25519 signatures in a versioned list (Standard Webhooks' `v1a`),
    /// for the schemes that have them.
    pub(super) asymmetric_version: Option<String>,
}

impl SignatureScheme {
    /// A scheme reading a hex HMAC-SHA256 of the body from `header`, optionally after
    /// `sha256=`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidHeaderName`] when `header` is not a valid header name.
    pub fn new(header: &str) -> Result<Self, ConfigError> {
        let header = HeaderName::try_from(header)
            .map_err(|_| ConfigError::InvalidHeaderName(header.to_owned()))?;
        Ok(Self::with_header_name(header))
    }

    /// A provider's preset: a hex HMAC-SHA256 of the body in `header` (a valid, lowercase
    /// static name), optionally after `sha256=`.
    pub(crate) fn preset(header: &'static str) -> Self {
        Self::with_header_name(HeaderName::from_static(header))
    }

    /// A provider's preset with a timestamp, checked against [`DEFAULT_TOLERANCE`].
    pub(crate) fn timestamped_preset(
        header: &'static str,
        encoding: Encoding,
        format: SignatureFormat,
        parts: Vec<ContentPart>,
        timestamp: TimestampSource,
    ) -> Self {
        Self {
            header: HeaderName::from_static(header),
            encoding,
            format,
            content: SignedContent { parts },
            timestamp: Some(timestamp),
            tolerance: Some(DEFAULT_TOLERANCE),
            clock: SharedClock::default(),
            asymmetric_version: None,
        }
    }

    /// Reads `version,<base64 ed25519 signature>` entries of a versioned list beside the
    /// HMAC's (Standard Webhooks' `v1a`), checked against the verifier's public keys.
    pub(crate) fn with_asymmetric_version(mut self, version: &str) -> Self {
        self.asymmetric_version = Some(version.to_owned());
        self
    }

    fn with_header_name(header: HeaderName) -> Self {
        Self {
            header,
            encoding: Encoding::Hex,
            format: SignatureFormat::List {
                prefix: Some("sha256=".to_owned()),
            },
            content: SignedContent::body(),
            timestamp: None,
            tolerance: Some(DEFAULT_TOLERANCE),
            clock: SharedClock::default(),
            asymmetric_version: None,
        }
    }

    /// Reads and writes the signature in `encoding`.
    #[must_use]
    pub fn with_encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// Reads a plain list of signatures ([`SignatureFormat::List`]), accepting `prefix`
    /// (such as `sha256=`) before each; a value without it is accepted too. `None`
    /// accepts bare values only.
    #[must_use]
    pub fn with_prefix(mut self, prefix: Option<&str>) -> Self {
        self.format = SignatureFormat::List {
            prefix: prefix.filter(|p| !p.is_empty()).map(str::to_owned),
        };
        self
    }

    /// Reads the signature header's value as `format` says.
    #[must_use]
    pub fn with_format(mut self, format: SignatureFormat) -> Self {
        self.format = format;
        self
    }

    /// Signs `content` instead of the bare body.
    #[must_use]
    pub fn with_signed_content(mut self, content: SignedContent) -> Self {
        self.content = content;
        self
    }

    /// Reads the delivery's timestamp from `source` and checks it against the window.
    /// Put [`ContentPart::Timestamp`] (`{timestamp}`) in the signed content too, or the
    /// timestamp is not authenticated and the window proves nothing.
    #[must_use]
    pub fn with_timestamp(mut self, source: TimestampSource) -> Self {
        self.timestamp = Some(source);
        self
    }

    /// How far the timestamp may be from now, in either direction, in whole seconds
    /// ([`DEFAULT_TOLERANCE`] unless set). Only schemes with a timestamp have a window.
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = Some(tolerance);
        self
    }

    /// Accepts any timestamp (it is still signed). Only for senders whose clocks cannot
    /// be trusted: without the window, a captured delivery can be replayed at any time.
    #[must_use]
    pub fn without_tolerance(mut self) -> Self {
        self.tolerance = None;
        self
    }

    /// The window of `other`, whatever it is (on or off), for a preset that replaces a
    /// scheme but keeps its window.
    pub(crate) fn with_tolerance_of(mut self, other: &SignatureScheme) -> Self {
        self.tolerance = other.tolerance;
        self
    }

    /// Reads "now" from `clock` for the window (the system clock by default).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = SharedClock::new(clock);
        self
    }

    pub(crate) fn with_shared_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    pub(crate) fn shared_clock(&self) -> SharedClock {
        self.clock.clone()
    }

    /// The header the signature travels in.
    pub fn header(&self) -> HeaderName {
        self.header.clone()
    }

    /// The encoding of the signature.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The layout of the signature header's value.
    pub fn format(&self) -> &SignatureFormat {
        &self.format
    }

    /// The optional prefix before a signature, for the plain-list format.
    pub fn prefix(&self) -> Option<&str> {
        match &self.format {
            SignatureFormat::List { prefix } => prefix.as_deref(),
            _ => None,
        }
    }

    /// What is signed.
    pub fn signed_content(&self) -> &SignedContent {
        &self.content
    }

    /// Where the timestamp is read, if the scheme has one.
    pub fn timestamp_source(&self) -> Option<&TimestampSource> {
        self.timestamp.as_ref()
    }

    /// The version of the asymmetric (ed25519) signatures the scheme reads beside its
    /// HMAC's, in a versioned list: `Some("v1a")` for Standard Webhooks' schemes, `None`
    /// for every other.
    pub fn asymmetric_version(&self) -> Option<&str> {
        match self.format {
            SignatureFormat::Versioned { .. } => self.asymmetric_version.as_deref(),
            _ => None,
        }
    }

    /// The window applied: `None` when the scheme has no timestamp or the window is off.
    pub fn tolerance(&self) -> Option<Duration> {
        self.timestamp.as_ref().and(self.tolerance)
    }

    /// Checks that the parts fit together: a signed `{timestamp}` needs a
    /// [`TimestampSource`], and a [`TimestampSource::SignatureKey`] needs the
    /// [`SignatureFormat::KeyValue`] format.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidSignedContent`] saying what does not fit.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.content.uses_timestamp() && self.timestamp.is_none() {
            return Err(ConfigError::InvalidSignedContent(
                "`{timestamp}` is signed but the scheme has no timestamp source".to_owned(),
            ));
        }
        if matches!(self.timestamp, Some(TimestampSource::SignatureKey(_)))
            && !matches!(self.format, SignatureFormat::KeyValue { .. })
        {
            return Err(ConfigError::InvalidSignedContent(
                "a timestamp under a key needs the key/value signature format".to_owned(),
            ));
        }
        Ok(())
    }

    /// Hands each piece of the signed content to `write`, in order; `None` when a part it
    /// needs is absent. One walk for the MAC and the ed25519 message, so that both sign
    /// the same bytes.
    #[inline]
    fn write_content(
        &self,
        headers: &HeaderMap,
        timestamp: Option<&[u8]>,
        body: &[u8],
        mut write: impl FnMut(&[u8]),
    ) -> Option<()> {
        for part in &self.content.parts {
            match part {
                ContentPart::Body => write(body),
                ContentPart::Literal(text) => write(text.as_bytes()),
                ContentPart::Header(name) => write(headers.get(name)?.as_bytes()),
                ContentPart::Timestamp => write(timestamp?),
            }
        }
        Some(())
    }

    /// Feeds the signed content into `mac`; `None` when a part it needs is absent.
    pub(super) fn feed(
        &self,
        mac: &mut HmacSha256,
        headers: &HeaderMap,
        timestamp: Option<&[u8]>,
        body: &[u8],
    ) -> Option<()> {
        self.write_content(headers, timestamp, body, |bytes| mac.update(bytes))
    }

    /// The signed content as one buffer, as ed25519 signs it (it hashes the message
    /// after the signature's `R`, so the parts cannot be streamed into it here); `None`
    /// when a part it needs is absent.
    pub(super) fn signed_message(
        &self,
        headers: &HeaderMap,
        timestamp: Option<&[u8]>,
        body: &[u8],
    ) -> Option<Vec<u8>> {
        let mut len = 0;
        self.write_content(headers, timestamp, body, |bytes| len += bytes.len())?;
        let mut message = Vec::with_capacity(len);
        self.write_content(headers, timestamp, body, |bytes| {
            message.extend_from_slice(bytes)
        })?;
        Some(message)
    }

    /// Whether every header the signed content names is present.
    pub(super) fn has_signed_headers(&self, headers: &HeaderMap) -> bool {
        self.content.parts.iter().all(|part| match part {
            ContentPart::Header(name) => headers.contains_key(name),
            _ => true,
        })
    }

    /// The header value that signs `body` with `secret`, for tests and tools.
    ///
    /// `headers` supplies the signed headers; the timestamp is read from its header, or,
    /// for a timestamp carried in the signature header itself (Stripe's `t`), is now by
    /// the scheme's clock.
    ///
    /// # Errors
    ///
    /// [`SignatureError::Missing`] when a header the scheme signs is absent.
    pub fn sign(
        &self,
        secret: &Secret,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<HeaderValue, SignatureError> {
        match &self.timestamp {
            Some(TimestampSource::SignatureKey(_)) => {
                self.sign_at(secret, headers, body, self.clock.now().unix_timestamp())
            }
            Some(TimestampSource::Header(name)) => {
                let timestamp = headers.get(name).map(HeaderValue::as_bytes);
                self.sign_with(secret, headers, timestamp, body)
            }
            None => self.sign_with(secret, headers, None, body),
        }
    }

    /// As [`sign`](Self::sign), with the timestamp `unix_seconds`: it is signed, and
    /// written into the value for a timestamp carried in the signature header (a
    /// timestamp header is the caller's to set to the same value).
    ///
    /// # Errors
    ///
    /// [`SignatureError::Missing`] when a header the scheme signs is absent.
    pub fn sign_at(
        &self,
        secret: &Secret,
        headers: &HeaderMap,
        body: &[u8],
        unix_seconds: i64,
    ) -> Result<HeaderValue, SignatureError> {
        let timestamp = unix_seconds.to_string();
        self.sign_with(secret, headers, Some(timestamp.as_bytes()), body)
    }

    /// The `v1a,<base64>` entry that signs `body` (with `headers`, at `unix_seconds`)
    /// with the ed25519 `key`, for tests and tools.
    ///
    /// # Errors
    ///
    /// [`SignatureError::Missing`] when a header the scheme signs is absent,
    /// [`SignatureError::Malformed`] when the scheme has no asymmetric signatures.
    // Only test signers sign: a receiver verifies.
    #[cfg(feature = "testing")]
    pub(crate) fn sign_asymmetric_at(
        &self,
        key: &crate::secret::SigningKey,
        headers: &HeaderMap,
        body: &[u8],
        unix_seconds: i64,
    ) -> Result<HeaderValue, SignatureError> {
        let version = self.asymmetric_version().ok_or(SignatureError::Malformed)?;
        let timestamp = unix_seconds.to_string();
        let message = self
            .signed_message(headers, Some(timestamp.as_bytes()), body)
            .ok_or(SignatureError::Missing)?;
        let signature = Encoding::Base64.encode(&key.sign(&message));
        HeaderValue::try_from(format!("{version},{signature}"))
            .map_err(|_| SignatureError::Malformed)
    }

    fn sign_with(
        &self,
        secret: &Secret,
        headers: &HeaderMap,
        timestamp: Option<&[u8]>,
        body: &[u8],
    ) -> Result<HeaderValue, SignatureError> {
        let mut mac = secret.hmac_key();
        self.feed(&mut mac, headers, timestamp, body)
            .ok_or(SignatureError::Missing)?;
        let tag = self.encoding.encode(&mac.finalize().into_bytes());
        let text = match &self.format {
            SignatureFormat::List {
                prefix: Some(prefix),
            } => format!("{prefix}{tag}"),
            SignatureFormat::List { prefix: None } => tag,
            SignatureFormat::Versioned { version } => format!("{version},{tag}"),
            SignatureFormat::KeyValue { signature_key } => match (&self.timestamp, timestamp) {
                (Some(TimestampSource::SignatureKey(key)), Some(timestamp)) => format!(
                    "{key}={},{signature_key}={tag}",
                    String::from_utf8_lossy(timestamp)
                ),
                _ => format!("{signature_key}={tag}"),
            },
        };
        HeaderValue::try_from(text).map_err(|_| SignatureError::Malformed)
    }
}
