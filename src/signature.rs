//! Signature schemes: where the signature travels, how it is written, what it signs,
//! which timestamp it carries, and the constant-time check of a delivery against the
//! receiver's secrets.
//!
//! A [`SignatureScheme`] is assembled from four parts, so that senders no one here wrote
//! can be checked without special cases:
//!
//! - the header and the [`Encoding`] of the MAC (hex or base64);
//! - the [`SignatureFormat`] of the header's value: a plain list (`sha256=<hex>`), a
//!   versioned list (`v1,<base64> v1,<base64>`), or key/value pairs (`t=…,v1=…`);
//! - the [`SignedContent`], a template of body, headers, timestamp and literal text
//!   (`{header:webhook-id}.{timestamp}.{body}`);
//! - an optional [`TimestampSource`], checked against a tolerance window (300 s in both
//!   directions by default) read from a [`Clock`].
//!
//! Presets: [`SignatureScheme::claimr`], [`chainvine`](SignatureScheme::chainvine),
//! [`github`](SignatureScheme::github), [`stripe`](SignatureScheme::stripe),
//! [`standard`](SignatureScheme::standard) and [`svix`](SignatureScheme::svix).
//!
//! ```
//! use hookguard::{Secret, SecretSet, SignatureScheme, Verifier};
//! use http::HeaderMap;
//!
//! let secret = Secret::new("whsec-demo").unwrap();
//! let scheme = SignatureScheme::claimr();
//! let body = br#"{"id":"1","scope":"user_login"}"#;
//!
//! let mut headers = HeaderMap::new();
//! headers.insert(scheme.header(), scheme.sign(&secret, &headers, body).unwrap());
//!
//! let verifier = Verifier::new(scheme, SecretSet::new([secret]).unwrap());
//! assert!(verifier.verify(&headers, body).is_ok());
//! assert!(verifier.verify(&headers, b"{}").is_err());
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use ::hmac::Mac;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use http::header::{GetAll, HeaderName, HeaderValue};
use http::HeaderMap;
use subtle::{Choice, ConstantTimeEq};

use crate::clock::{Clock, SharedClock};
use crate::error::ConfigError;
use crate::secret::{raw_secret, HmacSha256, Secret, SecretSet, SecretsHandle};

/// Bytes in an HMAC-SHA256 tag.
pub const TAG_LEN: usize = 32;

/// At most this many candidate signatures (or key/value pairs) are read from one
/// delivery's headers, so that a request cannot make the receiver do unbounded work.
pub const MAX_CANDIDATES: usize = 16;

/// How far a signed timestamp may be from now, in either direction, unless a scheme says
/// otherwise: five minutes, as Standard Webhooks and Stripe use.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// The standard base64 alphabet, accepting values with or without `=` padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How a signature's bytes are written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Encoding {
    /// Hexadecimal, read in either case and written in lowercase.
    Hex,
    /// Standard base64, read with or without padding and written with it.
    Base64,
}

impl Encoding {
    /// Decodes a 32-byte tag in place, without allocating; `None` unless `text` decodes
    /// to exactly [`TAG_LEN`] bytes.
    fn decode_tag(self, text: &[u8]) -> Option<[u8; TAG_LEN]> {
        let mut tag = [0u8; TAG_LEN];
        match self {
            Encoding::Hex => {
                let text: &[u8; 2 * TAG_LEN] = text.try_into().ok()?;
                // Arithmetic, not a table, per digit, and the validity of all of them
                // folded into one flag: no branch per character, and loops over fixed
                // arrays that the compiler turns into vector instructions.
                let mut nibbles = [0u8; 2 * TAG_LEN];
                let mut invalid = 0u8;
                for (nibble, &c) in nibbles.iter_mut().zip(text) {
                    let digit = c.wrapping_sub(b'0');
                    // `| 0x20` lowers ASCII letters; no other byte lands on `a..=f`.
                    let letter = (c | 0x20).wrapping_sub(b'a');
                    let (is_digit, is_letter) = (digit < 10, letter < 6);
                    *nibble = if is_digit {
                        digit
                    } else {
                        letter.wrapping_add(10)
                    };
                    invalid |= u8::from(!(is_digit | is_letter));
                }
                if invalid != 0 {
                    return None;
                }
                for (byte, pair) in tag.iter_mut().zip(nibbles.chunks_exact(2)) {
                    *byte = (pair[0] << 4) | (pair[1] & 0x0f);
                }
            }
            Encoding::Base64 => {
                // base64 asks for room for its estimate (33 bytes for 44 characters).
                let mut buffer = [0u8; TAG_LEN + 3];
                let len = BASE64.decode_slice(text, &mut buffer).ok()?;
                tag = <[u8; TAG_LEN]>::try_from(buffer.get(..len)?).ok()?;
            }
        }
        Some(tag)
    }

    fn encode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Hex => hex::encode(bytes),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    /// The length of a 32-byte tag once encoded; a candidate of any other length is
    /// dismissed before decoding.
    fn encoded_len(self) -> std::ops::RangeInclusive<usize> {
        match self {
            Encoding::Hex => 64..=64,
            Encoding::Base64 => 43..=44,
        }
    }
}

/// One piece of the content a MAC is computed over.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContentPart {
    /// The exact raw request body, byte for byte (no UTF-8 requirement).
    Body,
    /// Fixed text, such as the `.` between two parts.
    Literal(String),
    /// The value of a request header, byte for byte; a delivery without it is refused.
    Header(HeaderName),
    /// The delivery's timestamp, exactly as sent, read where the scheme's
    /// [`TimestampSource`] says.
    Timestamp,
}

/// What the MAC is computed over: [`ContentPart`]s one after the other.
///
/// Written as a template, `{body}`, `{timestamp}` and `{header:NAME}` stand for those
/// parts, `{{` and `}}` for braces, and any other text for itself:
///
/// | sender | template |
/// |---|---|
/// | claimr, ChainVine, GitHub | `{body}` |
/// | Stripe | `{timestamp}.{body}` |
/// | Standard Webhooks | `{header:webhook-id}.{timestamp}.{body}` |
///
/// ```
/// use hookguard::signature::{ContentPart, SignedContent};
///
/// let content: SignedContent = "{header:webhook-id}.{timestamp}.{body}".parse()?;
/// assert_eq!(content.parts()[1], ContentPart::Literal(".".into()));
/// assert_eq!(content.to_string(), "{header:webhook-id}.{timestamp}.{body}");
/// // The body must be signed, or any body could be sent under a valid signature.
/// assert!("{timestamp}".parse::<SignedContent>().is_err());
/// # Ok::<(), hookguard::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedContent {
    parts: Vec<ContentPart>,
}

impl Default for SignedContent {
    fn default() -> Self {
        Self::body()
    }
}

impl SignedContent {
    /// The bare body: `{body}`.
    pub fn body() -> Self {
        Self {
            parts: vec![ContentPart::Body],
        }
    }

    /// `parts`, concatenated.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidSignedContent`] when no part is the body.
    pub fn from_parts(parts: impl IntoIterator<Item = ContentPart>) -> Result<Self, ConfigError> {
        let parts: Vec<ContentPart> = parts
            .into_iter()
            .filter(|part| !matches!(part, ContentPart::Literal(text) if text.is_empty()))
            .collect();
        if !parts.contains(&ContentPart::Body) {
            return Err(ConfigError::InvalidSignedContent(
                "the body must be part of the signed content".to_owned(),
            ));
        }
        Ok(Self { parts })
    }

    /// Reads a template such as `{timestamp}.{body}` (see the type's docs).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidSignedContent`] for an unknown placeholder, an unmatched
    /// brace or a template without `{body}`; [`ConfigError::InvalidHeaderName`] for a
    /// `{header:…}` that names no valid header.
    pub fn template(template: &str) -> Result<Self, ConfigError> {
        let invalid = |why: &str| ConfigError::InvalidSignedContent(format!("`{template}`: {why}"));
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = template;
        while let Some(c) = rest.chars().next() {
            if let Some(after) = rest.strip_prefix("{{") {
                literal.push('{');
                rest = after;
            } else if let Some(after) = rest.strip_prefix("}}") {
                literal.push('}');
                rest = after;
            } else if c == '{' {
                let end = rest
                    .find('}')
                    .ok_or_else(|| invalid("a `{` is never closed"))?;
                let part = match &rest[1..end] {
                    "body" => ContentPart::Body,
                    "timestamp" => ContentPart::Timestamp,
                    name => match name.strip_prefix("header:") {
                        Some(header) => ContentPart::Header(
                            HeaderName::try_from(header.trim())
                                .map_err(|_| ConfigError::InvalidHeaderName(header.to_owned()))?,
                        ),
                        None => {
                            return Err(invalid(
                                "placeholders are {body}, {timestamp} and {header:NAME}",
                            ))
                        }
                    },
                };
                if !literal.is_empty() {
                    parts.push(ContentPart::Literal(std::mem::take(&mut literal)));
                }
                parts.push(part);
                rest = &rest[end + 1..];
            } else if c == '}' {
                return Err(invalid("a `}` was never opened (write `}}` for a brace)"));
            } else {
                literal.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
        if !literal.is_empty() {
            parts.push(ContentPart::Literal(literal));
        }
        Self::from_parts(parts).map_err(|_| invalid("`{body}` is missing"))
    }

    /// The parts, in order.
    pub fn parts(&self) -> &[ContentPart] {
        &self.parts
    }

    /// Whether the timestamp is signed.
    pub fn uses_timestamp(&self) -> bool {
        self.parts.contains(&ContentPart::Timestamp)
    }
}

impl FromStr for SignedContent {
    type Err = ConfigError;

    /// Same as [`SignedContent::template`].
    fn from_str(template: &str) -> Result<Self, ConfigError> {
        Self::template(template)
    }
}

impl fmt::Display for SignedContent {
    /// Writes the template back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                ContentPart::Body => f.write_str("{body}")?,
                ContentPart::Timestamp => f.write_str("{timestamp}")?,
                ContentPart::Header(name) => write!(f, "{{header:{name}}}")?,
                ContentPart::Literal(text) => {
                    f.write_str(&text.replace('{', "{{").replace('}', "}}"))?;
                }
            }
        }
        Ok(())
    }
}

/// How the signatures are laid out in the signature header's value. Whatever the
/// format, every value of the header is read, and a delivery is authentic when any
/// candidate matches.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureFormat {
    /// Signatures separated by commas or white space, each optionally after `prefix`
    /// (`sha256=<hex>`, as GitHub and this crate's claimr and ChainVine defaults send).
    List {
        /// Accepted (not required) before a signature, such as `sha256=`.
        prefix: Option<String>,
    },
    /// Space-separated `version,signature` pairs (Standard Webhooks:
    /// `v1,<base64> v1,<base64>`); pairs of any other version are skipped.
    Versioned {
        /// The version read, such as `v1`.
        version: String,
    },
    /// Comma-separated `key=value` pairs (Stripe: `t=<unix>,v1=<hex>,v1=<hex>`); every
    /// value of `signature_key` is a candidate, and other keys are skipped (except a
    /// timestamp read with [`TimestampSource::SignatureKey`]).
    KeyValue {
        /// The key of the signatures, such as `v1`.
        signature_key: String,
    },
}

impl SignatureFormat {
    /// A `version,signature` list, reading `version`.
    pub fn versioned(version: impl Into<String>) -> Self {
        SignatureFormat::Versioned {
            version: version.into(),
        }
    }

    /// `key=value` pairs, reading the signatures under `signature_key`.
    pub fn key_value(signature_key: impl Into<String>) -> Self {
        SignatureFormat::KeyValue {
            signature_key: signature_key.into(),
        }
    }
}

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
/// [`SignatureError::TimestampOutOfWindow`]; [`with_tolerance(None)`](Self::with_tolerance)
/// turns the window off (the timestamp is still signed).
#[derive(Debug, Clone)]
pub struct SignatureScheme {
    header: HeaderName,
    encoding: Encoding,
    format: SignatureFormat,
    content: SignedContent,
    timestamp: Option<TimestampSource>,
    tolerance: Option<Duration>,
    clock: SharedClock,
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
        }
    }

    /// claimr's default: hex HMAC-SHA256 of the body in `X-Claimr-Signature`.
    pub fn claimr() -> Self {
        Self::with_header_name(HeaderName::from_static("x-claimr-signature"))
    }

    /// ChainVine's default: hex HMAC-SHA256 of the body in `X-ChainVine-Signature`.
    pub fn chainvine() -> Self {
        Self::with_header_name(HeaderName::from_static("x-chainvine-signature"))
    }

    /// GitHub's scheme: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`,
    /// keyed with the secret's UTF-8 bytes.
    pub fn github() -> Self {
        Self::with_header_name(HeaderName::from_static("x-hub-signature-256"))
    }

    /// Stripe's scheme: `Stripe-Signature: t=<unix>,v1=<hex>` where the MAC is over
    /// `{t}.{body}`, keyed with the secret's UTF-8 bytes (the whole `whsec_…` string, not
    /// decoded). Several `v1` values are accepted (Stripe sends one per active secret);
    /// other keys (`v0`) are skipped. `t` is checked against the window.
    pub fn stripe() -> Self {
        Self {
            header: HeaderName::from_static("stripe-signature"),
            encoding: Encoding::Hex,
            format: SignatureFormat::key_value("v1"),
            content: SignedContent {
                parts: vec![
                    ContentPart::Timestamp,
                    ContentPart::Literal(".".to_owned()),
                    ContentPart::Body,
                ],
            },
            timestamp: Some(TimestampSource::SignatureKey("t".to_owned())),
            tolerance: Some(DEFAULT_TOLERANCE),
            clock: SharedClock::default(),
        }
    }

    /// The Standard Webhooks scheme: `webhook-signature: v1,<base64>` (space-separated,
    /// other versions skipped) over `{webhook-id}.{webhook-timestamp}.{body}`, with
    /// `webhook-timestamp` checked against the window. Its secrets are base64
    /// (`whsec_…`): build them with [`Secret::from_standard`].
    pub fn standard() -> Self {
        Self::standard_named("webhook-id", "webhook-timestamp", "webhook-signature")
    }

    /// The Standard Webhooks scheme under Svix's header names: `svix-id`,
    /// `svix-timestamp`, `svix-signature`.
    pub fn svix() -> Self {
        Self::standard_named("svix-id", "svix-timestamp", "svix-signature")
    }

    fn standard_named(id: &'static str, timestamp: &'static str, signature: &'static str) -> Self {
        Self {
            header: HeaderName::from_static(signature),
            encoding: Encoding::Base64,
            format: SignatureFormat::versioned("v1"),
            content: SignedContent {
                parts: vec![
                    ContentPart::Header(HeaderName::from_static(id)),
                    ContentPart::Literal(".".to_owned()),
                    ContentPart::Timestamp,
                    ContentPart::Literal(".".to_owned()),
                    ContentPart::Body,
                ],
            },
            timestamp: Some(TimestampSource::Header(HeaderName::from_static(timestamp))),
            tolerance: Some(DEFAULT_TOLERANCE),
            clock: SharedClock::default(),
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

    /// How far the timestamp may be from now, in either direction, in whole seconds;
    /// `None` turns the window off. [`DEFAULT_TOLERANCE`] unless set. Only schemes with a
    /// timestamp have a window.
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: Option<Duration>) -> Self {
        self.tolerance = tolerance;
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

    /// Feeds the signed content into `mac`; `None` when a part it needs is absent.
    fn feed(
        &self,
        mac: &mut HmacSha256,
        headers: &HeaderMap,
        timestamp: Option<&[u8]>,
        body: &[u8],
    ) -> Option<()> {
        for part in &self.content.parts {
            match part {
                ContentPart::Body => mac.update(body),
                ContentPart::Literal(text) => mac.update(text.as_bytes()),
                ContentPart::Header(name) => mac.update(headers.get(name)?.as_bytes()),
                ContentPart::Timestamp => mac.update(timestamp?),
            }
        }
        Some(())
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

    /// Decodes one candidate: dismissed unless its encoded length fits, then unless it
    /// decodes to exactly [`TAG_LEN`] bytes, so that only equal-length tags ever reach
    /// the constant-time compare.
    fn decode_tag(&self, text: &[u8]) -> Option<[u8; TAG_LEN]> {
        if !self.encoding.encoded_len().contains(&text.len()) {
            return None;
        }
        self.encoding.decode_tag(text)
    }

    /// The candidate tags in `headers`, and the timestamp if the signature header
    /// carries it.
    fn read<'h>(&self, headers: &'h HeaderMap, read: &mut Read<'h>) -> Result<(), SignatureError> {
        let all = headers.get_all(&self.header);
        let mut raw_values = all.iter();
        let Some(first) = raw_values.next() else {
            return Err(SignatureError::Missing);
        };
        if let SignatureFormat::List { prefix } = &self.format {
            // The common delivery: one header holding one tag. A value that decodes whole
            // holds no separator (hex and base64 have none), so splitting it would yield
            // exactly this token: the byte-by-byte split and `to_str` are skipped.
            let token = without_prefix(prefix.as_deref(), first.as_bytes());
            if let (Some(tag), None) = (self.decode_tag(token), raw_values.next()) {
                read.tags = Tags::One(tag);
            }
        }
        if read.tags.is_empty() {
            self.read_candidates(all, read);
        }
        if read.tags.is_empty() {
            return Err(SignatureError::Malformed);
        }
        if let Some(TimestampSource::Header(name)) = &self.timestamp {
            read.timestamp = headers.get(name).map(HeaderValue::as_bytes);
        }
        Ok(())
    }

    /// Every candidate tag (and a timestamp carried beside them) in the signature
    /// header's values, read in full.
    fn read_candidates<'h>(&self, all: GetAll<'h, HeaderValue>, read: &mut Read<'h>) {
        let values = all.iter().filter_map(|value| value.to_str().ok());
        match &self.format {
            SignatureFormat::List { prefix } => {
                // Split as bytes: a value that passed `to_str` is visible ASCII.
                let tokens = values
                    .flat_map(|value| {
                        value
                            .as_bytes()
                            .split(|&b| b == b',' || b.is_ascii_whitespace())
                    })
                    .filter(|token| !token.is_empty())
                    .take(MAX_CANDIDATES);
                for token in tokens {
                    let token = without_prefix(prefix.as_deref(), token);
                    read.tags.extend(self.decode_tag(token));
                }
            }
            SignatureFormat::Versioned { version } => {
                let pairs = values
                    .flat_map(str::split_ascii_whitespace)
                    .take(MAX_CANDIDATES);
                for pair in pairs {
                    if let Some((v, signature)) = pair.split_once(',') {
                        if v == version {
                            read.tags.extend(self.decode_tag(signature.as_bytes()));
                        }
                    }
                }
            }
            SignatureFormat::KeyValue { signature_key } => {
                let timestamp_key = match &self.timestamp {
                    Some(TimestampSource::SignatureKey(key)) => Some(key.as_str()),
                    _ => None,
                };
                let pairs = values
                    .flat_map(|value| value.split(','))
                    .take(MAX_CANDIDATES)
                    .filter_map(|pair| pair.trim().split_once('='));
                for (key, value) in pairs {
                    if key == signature_key {
                        read.tags.extend(self.decode_tag(value.as_bytes()));
                    } else if Some(key) == timestamp_key && read.timestamp.is_none() {
                        read.timestamp = Some(value.as_bytes());
                    }
                }
            }
        }
    }
}

/// `token` without the list format's `prefix` (such as `sha256=`), when it starts with
/// it. One rule for the one-tag fast path and the full read, so that both see the same
/// tag.
fn without_prefix<'t>(prefix: Option<&str>, token: &'t [u8]) -> &'t [u8] {
    prefix
        .and_then(|prefix| token.strip_prefix(prefix.as_bytes()))
        .unwrap_or(token)
}

/// What a delivery's headers offer for checking.
struct Read<'h> {
    tags: Tags,
    timestamp: Option<&'h [u8]>,
}

/// Up to [`MAX_CANDIDATES`] decoded tags, kept on the stack: reading never allocates.
/// The common delivery's single tag is kept alone, so that the room for more (half a
/// kilobyte) is only cleared when a header offers more than one.
// The large variant stays unboxed on purpose: boxing it would allocate per request.
#[allow(clippy::large_enum_variant)]
enum Tags {
    None,
    One([u8; TAG_LEN]),
    Many {
        tags: [[u8; TAG_LEN]; MAX_CANDIDATES],
        len: usize,
    },
}

impl Tags {
    /// Adds a tag; past [`MAX_CANDIDATES`] (which the readers never reach, since they
    /// take at most that many candidates) it is dismissed.
    fn extend(&mut self, tag: Option<[u8; TAG_LEN]>) {
        let Some(tag) = tag else { return };
        match self {
            Tags::None => *self = Tags::One(tag),
            Tags::One(first) => {
                let mut tags = [[0; TAG_LEN]; MAX_CANDIDATES];
                tags[0] = *first;
                tags[1] = tag;
                *self = Tags::Many { tags, len: 2 };
            }
            Tags::Many { tags, len } => {
                if let Some(slot) = tags.get_mut(*len) {
                    *slot = tag;
                    *len += 1;
                }
            }
        }
    }

    fn as_slice(&self) -> &[[u8; TAG_LEN]] {
        match self {
            Tags::None => &[],
            Tags::One(tag) => std::slice::from_ref(tag),
            Tags::Many { tags, len } => tags.get(..*len).unwrap_or(tags),
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Tags::None)
    }
}

/// Whether two tags are equal, in constant time: the words' differences are OR-ed
/// together with no branch on their values, and only the total meets `subtle`'s compare.
/// Equal lengths are the caller's guarantee (both are [`TAG_LEN`] bytes); any other
/// length is unequal.
fn tags_equal(expected: &[u8], candidate: &[u8; TAG_LEN]) -> Choice {
    if expected.len() != TAG_LEN {
        return Choice::from(0);
    }
    let difference = expected
        .chunks_exact(8)
        .zip(candidate.chunks_exact(8))
        .fold(0u64, |acc, (a, b)| {
            let a = u64::from_ne_bytes(a.try_into().unwrap_or([0; 8]));
            let b = u64::from_ne_bytes(b.try_into().unwrap_or([0; 8]));
            acc | (a ^ b)
        });
    difference.ct_eq(&0)
}

/// Reads `-?[0-9]{1,19}` as seconds since the unix epoch.
fn parse_unix_seconds(text: &[u8]) -> Option<i64> {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Why a delivery's signature was not accepted. Each answers 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The signature header (or a header or timestamp the scheme signs) is absent.
    #[error("missing signature")]
    Missing,
    /// The header holds no value that decodes to a tag of the right length.
    #[error("malformed signature")]
    Malformed,
    /// A well-formed signature that no secret produced.
    #[error("signature mismatch")]
    Mismatch,
    /// The timestamp is not whole unix seconds (or, for ChainVine's `sent_at` window,
    /// not a time this crate can read).
    #[error("malformed timestamp")]
    InvalidTimestamp,
    /// A correctly signed delivery whose timestamp is further from now than the
    /// tolerance: a replay, or a clock far off.
    #[error("timestamp outside the tolerance window")]
    TimestampOutOfWindow,
}

/// A [`SignatureScheme`] with the secrets to check it against.
#[derive(Debug, Clone)]
pub struct Verifier {
    scheme: SignatureScheme,
    secrets: SecretsHandle,
}

impl Verifier {
    /// Checks deliveries signed as `scheme` with any of `secrets`. A replacement through
    /// [`secrets_handle`](Self::secrets_handle) reads secrets as UTF-8 bytes.
    pub fn new(scheme: SignatureScheme, secrets: SecretSet) -> Self {
        Self::with_handle(scheme, SecretsHandle::new(secrets, raw_secret))
    }

    /// Checks deliveries signed as `scheme` with the secrets `handle` holds now and
    /// after any replacement.
    pub fn with_handle(scheme: SignatureScheme, handle: SecretsHandle) -> Self {
        Self {
            scheme,
            secrets: handle,
        }
    }

    /// The same secrets (the same handle) under another scheme.
    pub(crate) fn rescheme(&self, scheme: SignatureScheme) -> Self {
        Self::with_handle(scheme, self.secrets.clone())
    }

    /// The scheme checked.
    pub fn scheme(&self) -> &SignatureScheme {
        &self.scheme
    }

    /// The secrets accepted now.
    pub fn secrets(&self) -> SecretSet {
        self.secrets.current()
    }

    /// The handle that replaces the secrets at run time, shared with every clone.
    pub fn secrets_handle(&self) -> SecretsHandle {
        self.secrets.clone()
    }

    /// Whether the delivery's headers carry the signature header at all.
    pub fn has_signature(&self, headers: &HeaderMap) -> bool {
        headers.contains_key(&self.scheme.header)
    }

    /// Checks that `body` (with `headers`) was signed by one of the secrets, and that a
    /// signed timestamp is within the window.
    ///
    /// Every candidate is compared with every secret's tag in constant time, and the
    /// loop does not stop at a match, so timing says nothing about which matched. The
    /// window is checked once the signature is known good, so that a forgery is told
    /// apart from a replay.
    ///
    /// # Errors
    ///
    /// A [`SignatureError`] saying why the delivery is not authentic.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), SignatureError> {
        // Filled in place: room for the candidates is half a kilobyte, not worth moving.
        let mut read = Read {
            tags: Tags::None,
            timestamp: None,
        };
        self.scheme.read(headers, &mut read)?;
        let timestamp = match &self.scheme.timestamp {
            Some(_) => Some(read.timestamp.ok_or(SignatureError::Missing)?),
            None => None,
        };
        let window = match (timestamp, self.scheme.tolerance()) {
            (Some(text), Some(tolerance)) => Some((
                parse_unix_seconds(text).ok_or(SignatureError::InvalidTimestamp)?,
                tolerance,
            )),
            _ => None,
        };

        let secrets = self.secrets.load();
        let mut matched = Choice::from(0);
        for key in secrets.keys() {
            let mut mac = key.clone();
            self.scheme
                .feed(&mut mac, headers, timestamp, body)
                .ok_or(SignatureError::Missing)?;
            let expected = mac.finalize().into_bytes();
            let expected: &[u8] = expected.as_slice();
            for candidate in read.tags.as_slice() {
                matched |= tags_equal(expected, candidate);
            }
        }
        if !bool::from(matched) {
            return Err(SignatureError::Mismatch);
        }
        if let Some((sent_at, tolerance)) = window {
            // Whole seconds, both ways, bounds included: the reference libraries' rule.
            let now = self.scheme.clock.now().unix_timestamp();
            if now.abs_diff(sent_at) > tolerance.as_secs() {
                return Err(SignatureError::TimestampOutOfWindow);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn hmac_hex(key: &[u8], data: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(key).unwrap();
        mac.update(data);
        hex::encode(mac.finalize().into_bytes())
    }

    /// RFC 4231 test cases 1, 2, 4 and 6 (case 3 and 5 are covered by the same code path;
    /// case 5 truncates the output, which this crate never does).
    #[test]
    fn hex_tags_decode_in_either_case_and_refuse_any_other_byte() {
        let tag: [u8; TAG_LEN] = core::array::from_fn(|i| (i * 37 + 5) as u8);
        let lower = hex::encode(tag);
        assert_eq!(Encoding::Hex.decode_tag(lower.as_bytes()), Some(tag));
        assert_eq!(
            Encoding::Hex.decode_tag(lower.to_uppercase().as_bytes()),
            Some(tag)
        );
        for position in [0, 31, 63] {
            for bad in [b'g', b'G', b' ', b'/', b':', b'@', b'`', 0xff, 0x00] {
                let mut text = lower.clone().into_bytes();
                text[position] = bad;
                assert_eq!(
                    Encoding::Hex.decode_tag(&text),
                    None,
                    "{bad:#x} at {position}"
                );
            }
        }
        assert_eq!(Encoding::Hex.decode_tag(&lower.as_bytes()[..62]), None);
        // Every byte, at the high and the low digit of a pair, against the `hex` crate.
        for position in [10, 11] {
            for bad in 0..=u8::MAX {
                let mut text = lower.clone().into_bytes();
                text[position] = bad;
                let reference = hex::decode(&text)
                    .ok()
                    .map(|bytes| <[u8; TAG_LEN]>::try_from(bytes).unwrap());
                assert_eq!(
                    Encoding::Hex.decode_tag(&text),
                    reference,
                    "{bad:#x} at {position}"
                );
            }
        }
    }

    #[test]
    fn tags_are_equal_only_when_every_byte_is() {
        let tag = [0x5a_u8; TAG_LEN];
        assert!(bool::from(tags_equal(&tag, &tag)));
        for position in 0..TAG_LEN {
            for bit in 0..8 {
                let mut other = tag;
                other[position] ^= 1 << bit;
                assert!(
                    !bool::from(tags_equal(&tag, &other)),
                    "byte {position} bit {bit}"
                );
            }
        }
        assert!(!bool::from(tags_equal(&tag[..31], &tag)));
    }

    #[test]
    fn rfc4231_known_answers() {
        let cases: [(Vec<u8>, Vec<u8>, &str); 4] = [
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                (0x01..=0x19).collect(),
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
        ];
        for (key, data, expected) in cases {
            assert_eq!(hmac_hex(&key, &data), expected);
            // The same through the crate's own path: Secret -> scheme -> verify.
            let secret = Secret::new(&key).unwrap();
            let scheme = SignatureScheme::claimr().with_prefix(None);
            let mut headers = HeaderMap::new();
            headers.insert(
                scheme.header(),
                scheme.sign(&secret, &headers, &data).unwrap(),
            );
            assert_eq!(headers[scheme.header()].to_str().unwrap(), expected);
            let verifier = Verifier::new(scheme, SecretSet::new([secret]).unwrap());
            assert_eq!(verifier.verify(&headers, &data), Ok(()));
        }
    }

    fn verifier(secrets: &[&str]) -> Verifier {
        let set = SecretSet::new(secrets.iter().map(|s| Secret::new(s).unwrap())).unwrap();
        Verifier::new(SignatureScheme::claimr(), set)
    }

    fn headers_with(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-claimr-signature", HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    const BODY: &[u8] = b"{\"id\":\"m1\",\"scope\":\"user_login\"}";

    #[test]
    fn accepts_bare_and_prefixed_hex_in_either_case() {
        let tag = hmac_hex(b"k1", BODY);
        let v = verifier(&["k1"]);
        for value in [tag.clone(), format!("sha256={tag}"), tag.to_uppercase()] {
            assert_eq!(v.verify(&headers_with(&[&value]), BODY), Ok(()), "{value}");
        }
    }

    #[test]
    fn tampered_body_signature_or_secret_fail() {
        let tag = hmac_hex(b"k1", BODY);
        let v = verifier(&["k1"]);
        assert_eq!(
            v.verify(&headers_with(&[&tag]), b"{\"id\":\"m2\"}"),
            Err(SignatureError::Mismatch)
        );
        let mut flipped = tag.clone().into_bytes();
        flipped[10] = if flipped[10] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(
            v.verify(&headers_with(&[&flipped]), BODY),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verifier(&["k2"]).verify(&headers_with(&[&tag]), BODY),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn rotation_accepts_any_configured_secret() {
        let v = verifier(&["old", "new"]);
        for key in ["old", "new"] {
            let tag = hmac_hex(key.as_bytes(), BODY);
            assert_eq!(v.verify(&headers_with(&[&tag]), BODY), Ok(()));
        }
        let tag = hmac_hex(b"other", BODY);
        assert_eq!(
            v.verify(&headers_with(&[&tag]), BODY),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn several_signatures_in_one_header_or_several_headers() {
        let good = hmac_hex(b"k1", BODY);
        let decoy = hmac_hex(b"decoy", BODY);
        let v = verifier(&["k1"]);
        assert_eq!(
            v.verify(&headers_with(&[&format!("{decoy}, sha256={good}")]), BODY),
            Ok(())
        );
        assert_eq!(
            v.verify(&headers_with(&[&format!("{good} {decoy}")]), BODY),
            Ok(())
        );
        assert_eq!(v.verify(&headers_with(&[&decoy, &good]), BODY), Ok(()));
        assert_eq!(
            v.verify(&headers_with(&[&decoy]), BODY),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn empty_truncated_prefix_only_and_overlong_never_verify() {
        let tag = hmac_hex(b"k1", BODY);
        let v = verifier(&["k1"]);
        assert_eq!(
            v.verify(&HeaderMap::new(), BODY),
            Err(SignatureError::Missing)
        );
        for value in [
            String::new(),
            "sha256=".to_owned(),
            tag[..63].to_owned(),
            tag[..32].to_owned(),
            format!("{tag}00"),
            "zz".repeat(32),
        ] {
            assert_eq!(
                v.verify(&headers_with(&[&value]), BODY),
                Err(SignatureError::Malformed),
                "{value:?}"
            );
        }
    }

    #[test]
    fn base64_and_timestamped_content() {
        let secret = Secret::new("k1").unwrap();
        let scheme = SignatureScheme::new("X-Signature")
            .unwrap()
            .with_encoding(Encoding::Base64)
            .with_prefix(None)
            .with_timestamp(TimestampSource::header("x-timestamp").unwrap())
            .with_signed_content("{timestamp}.{body}".parse().unwrap())
            .with_clock(ManualClock::at_unix(1_700_000_000));
        scheme.validate().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-timestamp", HeaderValue::from_static("1700000000"));
        assert_eq!(
            scheme.sign(&secret, &HeaderMap::new(), BODY),
            Err(SignatureError::Missing)
        );
        let value = scheme.sign(&secret, &headers, BODY).unwrap();
        let mut mac = HmacSha256::new_from_slice(b"k1").unwrap();
        mac.update(b"1700000000.");
        mac.update(BODY);
        assert_eq!(
            value.to_str().unwrap(),
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        );
        headers.insert("x-signature", value);
        let v = Verifier::new(scheme, SecretSet::new([secret]).unwrap());
        assert_eq!(v.verify(&headers, BODY), Ok(()));
        headers.insert("x-timestamp", HeaderValue::from_static("1700000001"));
        assert_eq!(v.verify(&headers, BODY), Err(SignatureError::Mismatch));
        headers.remove("x-timestamp");
        assert_eq!(v.verify(&headers, BODY), Err(SignatureError::Missing));
    }

    #[test]
    fn invalid_header_name_is_a_config_error() {
        assert!(matches!(
            SignatureScheme::new("bad header"),
            Err(ConfigError::InvalidHeaderName(_))
        ));
    }

    // ---- GitHub ----

    /// GitHub's documentation ("Validating webhook deliveries", testing the webhook
    /// payload validation): secret `It's a Secret to Everybody`, payload `Hello, World!`.
    #[test]
    fn github_documented_vector() {
        const EXPECTED: &str = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let secret = Secret::new("It's a Secret to Everybody").unwrap();
        let scheme = SignatureScheme::github();
        assert_eq!(scheme.header(), "x-hub-signature-256");
        let value = scheme
            .sign(&secret, &HeaderMap::new(), b"Hello, World!")
            .unwrap();
        assert_eq!(value, format!("sha256={EXPECTED}").as_str());

        let v = Verifier::new(scheme, SecretSet::new([secret]).unwrap());
        let mut headers = HeaderMap::new();
        headers.insert("x-hub-signature-256", value);
        assert_eq!(v.verify(&headers, b"Hello, World!"), Ok(()));
        assert_eq!(
            v.verify(&headers, b"Hello, World?"),
            Err(SignatureError::Mismatch)
        );
    }

    // ---- Stripe-style ----

    /// Computed outside this crate, with Python's `hmac` and with
    /// `printf '%s' '1492774577.{"id":"evt_test_webhook","object":"event"}' |
    /// openssl dgst -sha256 -hmac whsec_test_secret` (both agree).
    const STRIPE_SECRET: &str = "whsec_test_secret";
    const STRIPE_T: i64 = 1_492_774_577;
    const STRIPE_BODY: &[u8] = br#"{"id":"evt_test_webhook","object":"event"}"#;
    const STRIPE_V1: &str = "88a022085c6bdb887b02cb26ff76dd681234d9675c0f22844059f55552a8883a";

    fn stripe_verifier(now: i64) -> Verifier {
        Verifier::new(
            SignatureScheme::stripe().with_clock(ManualClock::at_unix(now)),
            SecretSet::new([Secret::new(STRIPE_SECRET).unwrap()]).unwrap(),
        )
    }

    fn stripe_headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("stripe-signature", HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn stripe_style_vector() {
        let scheme = SignatureScheme::stripe();
        scheme.validate().unwrap();
        let value = scheme
            .sign_at(
                &Secret::new(STRIPE_SECRET).unwrap(),
                &HeaderMap::new(),
                STRIPE_BODY,
                STRIPE_T,
            )
            .unwrap();
        assert_eq!(value, format!("t={STRIPE_T},v1={STRIPE_V1}").as_str());

        let v = stripe_verifier(STRIPE_T + 10);
        let decoy = "6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39";
        for accepted in [
            format!("t={STRIPE_T},v1={STRIPE_V1}"),
            format!("t={STRIPE_T}, v1={decoy}, v1={STRIPE_V1}, v0={decoy}"),
            format!("v1={STRIPE_V1},t={STRIPE_T}"),
        ] {
            assert_eq!(
                v.verify(&stripe_headers(&accepted), STRIPE_BODY),
                Ok(()),
                "{accepted}"
            );
        }
        for (refused, why) in [
            (format!("t={STRIPE_T},v1={decoy}"), SignatureError::Mismatch),
            (
                format!("t={},v1={STRIPE_V1}", STRIPE_T + 1),
                SignatureError::Mismatch,
            ),
            (format!("v1={STRIPE_V1}"), SignatureError::Missing),
            (
                format!("t={STRIPE_T},v0={STRIPE_V1}"),
                SignatureError::Malformed,
            ),
            (format!("t={STRIPE_T},v1="), SignatureError::Malformed),
            (
                format!("t={STRIPE_T},v1={}", &STRIPE_V1[..63]),
                SignatureError::Malformed,
            ),
            (
                format!("t=soon,v1={STRIPE_V1}"),
                SignatureError::InvalidTimestamp,
            ),
        ] {
            assert_eq!(
                v.verify(&stripe_headers(&refused), STRIPE_BODY),
                Err(why),
                "{refused}"
            );
        }
        assert_eq!(
            v.verify(
                &stripe_headers(&format!("t={STRIPE_T},v1={STRIPE_V1}")),
                b"{}"
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stripe_style_window() {
        let good = stripe_headers(&format!("t={STRIPE_T},v1={STRIPE_V1}"));
        for (now, expected) in [
            (STRIPE_T + 300, Ok(())),
            (STRIPE_T - 300, Ok(())),
            (STRIPE_T + 301, Err(SignatureError::TimestampOutOfWindow)),
            (STRIPE_T - 301, Err(SignatureError::TimestampOutOfWindow)),
        ] {
            assert_eq!(
                stripe_verifier(now).verify(&good, STRIPE_BODY),
                expected,
                "now {now}"
            );
        }
        let no_window = Verifier::new(
            SignatureScheme::stripe()
                .with_tolerance(None)
                .with_clock(ManualClock::at_unix(STRIPE_T + 86_400)),
            SecretSet::new([Secret::new(STRIPE_SECRET).unwrap()]).unwrap(),
        );
        assert_eq!(no_window.verify(&good, STRIPE_BODY), Ok(()));
    }

    // ---- Standard Webhooks ----

    /// The vector of the reference libraries' `sign` tests: standard-webhooks/standard-webhooks
    /// `libraries/python/tests/test_webhooks.py` (`test_sign_function`), the same in
    /// `libraries/javascript/src/webhook.test.ts` and `libraries/go/webhook_test.go`, and in
    /// svix/svix-webhooks `python/tests/test_webhooks.py`.
    const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SW_MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SW_TIMESTAMP: i64 = 1_614_265_330;
    const SW_PAYLOAD: &[u8] = br#"{"test": 2432232314}"#;
    const SW_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    /// From the same files: a well-formed signature that is not the right one (the last
    /// character differs), and the decoy used among several signatures.
    const SW_WRONG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=";
    const SW_DECOY: &str = "Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";

    /// standard-webhooks/standard-webhooks `libraries/rust/src/lib.rs` (`test_sign`,
    /// `test_no_verify`, `test_no_verify_with_multiple_signatures`).
    const RS_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const RS_MSG_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const RS_TIMESTAMP: i64 = 1_649_367_553;
    const RS_PAYLOAD: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const RS_SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
    const RS_WRONG: &str = "v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU=";
    const RS_DECOYS: [&str; 3] = [
        "v1,tFtCZ5RDCPxzWQRWXWPgrCgE2frDBe9gjpbWQxnVfsQ=",
        "v1,Mm7xgUVICxZfQ3bgf0h0Dof65L/IFx+PnZvnDWPCX6Q=",
        "v1,9DfC1c3eeOrXB6w/5dIDydLNQaEyww5KalE5jLBZucE=",
    ];

    fn standard_verifier(secret: &str, now: i64) -> Verifier {
        Verifier::new(
            SignatureScheme::standard().with_clock(ManualClock::at_unix(now)),
            SecretSet::new([Secret::from_standard(secret).unwrap()]).unwrap(),
        )
    }

    fn standard_headers(id: &str, timestamp: &str, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", HeaderValue::from_str(id).unwrap());
        headers.insert(
            "webhook-timestamp",
            HeaderValue::from_str(timestamp).unwrap(),
        );
        headers.insert(
            "webhook-signature",
            HeaderValue::from_str(signature).unwrap(),
        );
        headers
    }

    #[test]
    fn standard_reference_sign_vectors() {
        for (secret, id, timestamp, payload, expected) in [
            (SW_SECRET, SW_MSG_ID, SW_TIMESTAMP, SW_PAYLOAD, SW_SIGNATURE),
            (RS_SECRET, RS_MSG_ID, RS_TIMESTAMP, RS_PAYLOAD, RS_SIGNATURE),
        ] {
            let scheme = SignatureScheme::standard();
            scheme.validate().unwrap();
            let mut headers = HeaderMap::new();
            headers.insert("webhook-id", HeaderValue::from_str(id).unwrap());
            headers.insert("webhook-timestamp", HeaderValue::from(timestamp));
            let key = Secret::from_standard(secret).unwrap();
            assert_eq!(scheme.sign(&key, &headers, payload).unwrap(), expected);
            assert_eq!(
                scheme.sign_at(&key, &headers, payload, timestamp).unwrap(),
                expected
            );
            // Accepted at the signing time, with the secret with or without `whsec_`.
            let headers = standard_headers(id, &timestamp.to_string(), expected);
            for secret in [secret, secret.trim_start_matches("whsec_")] {
                assert_eq!(
                    standard_verifier(secret, timestamp).verify(&headers, payload),
                    Ok(()),
                    "{secret}"
                );
            }
        }
    }

    #[test]
    fn standard_reference_negative_vectors() {
        let ts = SW_TIMESTAMP.to_string();
        let v = standard_verifier(SW_SECRET, SW_TIMESTAMP);
        let check = |id: &str, timestamp: &str, signature: &str| {
            v.verify(&standard_headers(id, timestamp, signature), SW_PAYLOAD)
        };
        assert_eq!(check(SW_MSG_ID, &ts, SW_SIGNATURE), Ok(()));
        // A wrong signature, a partial one, `v1,` alone, and an undecodable one.
        assert_eq!(
            check(SW_MSG_ID, &ts, SW_WRONG),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(SW_MSG_ID, &ts, &SW_SIGNATURE[..8]),
            Err(SignatureError::Malformed)
        );
        assert_eq!(check(SW_MSG_ID, &ts, "v1,"), Err(SignatureError::Malformed));
        assert_eq!(
            check(SW_MSG_ID, &ts, "v1,dawfeoifkpqwoekfpqoekf"),
            Err(SignatureError::Malformed)
        );
        // The right signature under an unknown version is skipped.
        assert_eq!(
            check(SW_MSG_ID, &ts, &SW_SIGNATURE.replace("v1,", "v2,")),
            Err(SignatureError::Malformed)
        );
        // Decoys among several signatures, an unknown version among them.
        let several = format!("v1,{SW_DECOY} v2,{SW_DECOY} {SW_SIGNATURE} v1,{SW_DECOY}");
        assert_eq!(check(SW_MSG_ID, &ts, &several), Ok(()));
        let decoys = format!("v1,{SW_DECOY} v2,{SW_DECOY} v1,{SW_DECOY}");
        assert_eq!(
            check(SW_MSG_ID, &ts, &decoys),
            Err(SignatureError::Mismatch)
        );
        // The timestamp and the id are signed: one second off, or another id, fails.
        let one_off = (SW_TIMESTAMP + 1).to_string();
        assert_eq!(
            check(SW_MSG_ID, &one_off, SW_SIGNATURE),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check("msg_other", &ts, SW_SIGNATURE),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(SW_MSG_ID, "hello", SW_SIGNATURE),
            Err(SignatureError::InvalidTimestamp)
        );
        // A missing id, timestamp or signature.
        for header in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            let mut headers = standard_headers(SW_MSG_ID, &ts, SW_SIGNATURE);
            headers.remove(header);
            assert_eq!(
                v.verify(&headers, SW_PAYLOAD),
                Err(SignatureError::Missing),
                "{header}"
            );
        }

        let rs = standard_verifier(RS_SECRET, RS_TIMESTAMP);
        let rs_ts = RS_TIMESTAMP.to_string();
        let rs_check = |signature: &str| {
            rs.verify(&standard_headers(RS_MSG_ID, &rs_ts, signature), RS_PAYLOAD)
        };
        assert_eq!(rs_check(RS_WRONG), Err(SignatureError::Mismatch));
        let [a, b, c] = RS_DECOYS;
        assert_eq!(rs_check(&format!("{a} {b} {RS_SIGNATURE} {c}")), Ok(()));
        assert_eq!(
            rs_check(&format!("{a} {b} {c}")),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn standard_window_old_and_future_one_second_off() {
        let headers = standard_headers(SW_MSG_ID, &SW_TIMESTAMP.to_string(), SW_SIGNATURE);
        for (now, expected) in [
            (SW_TIMESTAMP, Ok(())),
            (SW_TIMESTAMP + 300, Ok(())),
            (SW_TIMESTAMP - 300, Ok(())),
            (
                SW_TIMESTAMP + 301,
                Err(SignatureError::TimestampOutOfWindow),
            ),
            (
                SW_TIMESTAMP - 301,
                Err(SignatureError::TimestampOutOfWindow),
            ),
            (
                SW_TIMESTAMP + 86_400,
                Err(SignatureError::TimestampOutOfWindow),
            ),
        ] {
            assert_eq!(
                standard_verifier(SW_SECRET, now).verify(&headers, SW_PAYLOAD),
                expected,
                "now {now}"
            );
        }
        // A configurable window, and none at all.
        let clock = ManualClock::at_unix(SW_TIMESTAMP + 3_600);
        let secrets = || SecretSet::new([Secret::from_standard(SW_SECRET).unwrap()]).unwrap();
        let hour = Verifier::new(
            SignatureScheme::standard()
                .with_tolerance(Some(Duration::from_secs(3_600)))
                .with_clock(clock.clone()),
            secrets(),
        );
        assert_eq!(hour.verify(&headers, SW_PAYLOAD), Ok(()));
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            hour.verify(&headers, SW_PAYLOAD),
            Err(SignatureError::TimestampOutOfWindow)
        );
        let off = Verifier::new(
            SignatureScheme::standard()
                .with_tolerance(None)
                .with_clock(clock),
            secrets(),
        );
        assert_eq!(off.scheme().tolerance(), None);
        assert_eq!(off.verify(&headers, SW_PAYLOAD), Ok(()));
        // With the window off, the timestamp is still signed.
        let moved = standard_headers(SW_MSG_ID, "946684800", SW_SIGNATURE);
        assert_eq!(
            off.verify(&moved, SW_PAYLOAD),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn svix_header_names() {
        let scheme = SignatureScheme::svix().with_clock(ManualClock::at_unix(SW_TIMESTAMP));
        let mut headers = HeaderMap::new();
        headers.insert("svix-id", HeaderValue::from_static(SW_MSG_ID));
        headers.insert("svix-timestamp", HeaderValue::from(SW_TIMESTAMP));
        headers.insert("svix-signature", HeaderValue::from_static(SW_SIGNATURE));
        let v = Verifier::new(
            scheme,
            SecretSet::new([Secret::from_standard(SW_SECRET).unwrap()]).unwrap(),
        );
        assert_eq!(v.verify(&headers, SW_PAYLOAD), Ok(()));
    }

    // ---- The parts ----

    #[test]
    fn templates_round_trip_and_refuse_nonsense() {
        for template in [
            "{body}",
            "{timestamp}.{body}",
            "{header:webhook-id}.{timestamp}.{body}",
            "v0:{timestamp}:{body}",
            "{{literal}}{body}",
        ] {
            let content = SignedContent::template(template).unwrap();
            assert_eq!(content.to_string(), template);
        }
        assert_eq!(
            SignedContent::template("{header:X-Id}|{body}")
                .unwrap()
                .parts(),
            [
                ContentPart::Header(HeaderName::from_static("x-id")),
                ContentPart::Literal("|".into()),
                ContentPart::Body
            ]
        );
        for bad in ["", "{timestamp}", "{body", "{bdy}", "{body}}", "x}{body}"] {
            assert!(
                matches!(
                    SignedContent::template(bad),
                    Err(ConfigError::InvalidSignedContent(_))
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            SignedContent::template("{header:bad name}{body}"),
            Err(ConfigError::InvalidHeaderName(_))
        ));
        assert!(SignedContent::from_parts([ContentPart::Timestamp]).is_err());
    }

    #[test]
    fn validate_catches_parts_that_do_not_fit() {
        let signed_timestamp = SignatureScheme::claimr()
            .with_signed_content(SignedContent::template("{timestamp}.{body}").unwrap());
        assert!(signed_timestamp.validate().is_err());
        let key_in_a_list =
            SignatureScheme::claimr().with_timestamp(TimestampSource::SignatureKey("t".into()));
        assert!(key_in_a_list.validate().is_err());
        assert!(SignatureScheme::claimr().validate().is_ok());
        assert_eq!(SignatureScheme::claimr().tolerance(), None);
        assert_eq!(
            SignatureScheme::standard().tolerance(),
            Some(DEFAULT_TOLERANCE)
        );
    }

    #[test]
    fn candidates_are_bounded() {
        let good = hmac_hex(b"k1", BODY);
        let decoy = hmac_hex(b"decoy", BODY);
        let v = verifier(&["k1"]);
        let mut values = vec![decoy.as_str(); MAX_CANDIDATES - 1];
        values.push(&good);
        assert_eq!(v.verify(&headers_with(&[&values.join(",")]), BODY), Ok(()));
        let mut values = vec![decoy.as_str(); MAX_CANDIDATES];
        values.push(&good);
        assert_eq!(
            v.verify(&headers_with(&[&values.join(",")]), BODY),
            Err(SignatureError::Mismatch),
            "a signature past the bound is not read"
        );
    }
}
