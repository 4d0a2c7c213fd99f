//! The check of a delivery against a scheme and the receiver's secrets, in constant time.

use hmac::Mac;
use http::header::{GetAll, HeaderValue};
use http::HeaderMap;
use subtle::{Choice, ConstantTimeEq};

use super::ed25519::{self, Signatures};
use super::{
    SignatureError, SignatureFormat, SignatureScheme, TimestampSource, MAX_CANDIDATES, TAG_LEN,
};
use crate::error::ConfigError;
use crate::secret::{raw_secret, PublicKeySet, PublicKeysHandle, Secret, SecretSet, SecretsHandle};

/// A [`SignatureScheme`] with the secrets (and, for Standard Webhooks' asymmetric
/// signatures, the public keys) to check it against.
#[derive(Debug, Clone)]
pub struct Verifier {
    scheme: SignatureScheme,
    secrets: SecretsHandle,
    public_keys: Option<PublicKeysHandle>,
    allow_unsigned: bool,
}

impl Verifier {
    /// Checks deliveries signed as `scheme` with any of `secrets`. A replacement through
    /// [`secrets_handle`](Self::secrets_handle) reads secrets as UTF-8 bytes.
    pub fn new(scheme: SignatureScheme, secrets: SecretSet) -> Self {
        Self::with_handle(scheme, SecretsHandle::new(secrets, raw_secret))
    }

    /// Checks deliveries signed as `scheme` with any of `secrets`, taken as their UTF-8
    /// (or raw) bytes: how claimr and ChainVine key their signatures.
    ///
    /// # Errors
    ///
    /// [`ConfigError::EmptySecret`] or [`ConfigError::NoSecret`].
    pub fn from_secrets<T: AsRef<[u8]>>(
        scheme: SignatureScheme,
        secrets: impl IntoIterator<Item = T>,
    ) -> Result<Self, ConfigError> {
        let secrets = secrets
            .into_iter()
            .map(Secret::new)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(scheme, SecretSet::new(secrets)?))
    }

    /// Checks deliveries signed as `scheme` with the secrets `handle` holds now and
    /// after any replacement.
    pub fn with_handle(scheme: SignatureScheme, handle: SecretsHandle) -> Self {
        Self {
            scheme,
            secrets: handle,
            public_keys: None,
            allow_unsigned: false,
        }
    }

    /// The same check, also accepting the scheme's asymmetric signatures (`v1a`) made
    /// with the keys `handle` holds now and after any replacement.
    pub(crate) fn with_public_keys(self, handle: PublicKeysHandle) -> Self {
        Self {
            public_keys: Some(handle),
            ..self
        }
    }

    /// The same secrets and public keys (the same handles) under another scheme.
    pub(crate) fn rescheme(&self, scheme: SignatureScheme) -> Self {
        Self {
            scheme,
            secrets: self.secrets.clone(),
            public_keys: self.public_keys.clone(),
            allow_unsigned: self.allow_unsigned,
        }
    }

    /// The same check, letting deliveries with no signature header through to the
    /// provider's [`check`](crate::Provider::check), which decides.
    pub(crate) fn allowing_unsigned(&self) -> Self {
        Self {
            allow_unsigned: true,
            ..self.clone()
        }
    }

    /// Whether a delivery with no signature header is handed to the provider's
    /// [`check`](crate::Provider::check) (which refuses it unless the provider says
    /// otherwise) instead of being refused before its body is read. False unless the
    /// provider opted in, as
    /// [`ChainVine::accept_unsigned_insecure_requests`](crate::ChainVine::accept_unsigned_insecure_requests) does.
    pub fn allows_unsigned(&self) -> bool {
        self.allow_unsigned
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

    /// The public keys accepted now, for a verifier of asymmetric signatures (Standard
    /// Webhooks'); `None` for the others.
    pub fn public_keys(&self) -> Option<PublicKeySet> {
        self.public_keys.as_ref().map(PublicKeysHandle::current)
    }

    /// The handle that replaces the public keys at run time, shared with every clone;
    /// `None` for a verifier of no asymmetric signatures.
    pub fn public_keys_handle(&self) -> Option<PublicKeysHandle> {
        self.public_keys.clone()
    }

    /// Whether the delivery's headers carry the signature header at all.
    pub fn has_signature(&self, headers: &HeaderMap) -> bool {
        headers.contains_key(&self.scheme.header)
    }

    /// Checks that `body` (with `headers`) was signed by one of the secrets (or, for an
    /// asymmetric signature, one of the public keys' signing keys), and that a signed
    /// timestamp is within the window.
    ///
    /// Every candidate tag is compared with every secret's tag in constant time, and the
    /// loop does not stop at a match, so timing says nothing about which matched. When no
    /// tag matches, each asymmetric candidate (at most
    /// [`MAX_ASYMMETRIC_CANDIDATES`](super::MAX_ASYMMETRIC_CANDIDATES)) is checked with
    /// each public key by strict ed25519 verification; nothing there is secret. The
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
            signatures: None,
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
        if !read.tags.is_empty() {
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
        }
        if !bool::from(matched) {
            self.verify_asymmetric(&read, headers, timestamp, body)?;
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

impl Verifier {
    /// `Ok` when an asymmetric candidate verifies with a public key, else why the
    /// delivery is refused. Only deliveries that carry one pay for the key set's load and
    /// the signed message's buffer; kept out of line, so that the HMAC path of
    /// [`verify`](Self::verify) stays as small as it was.
    #[cold]
    #[inline(never)]
    fn verify_asymmetric(
        &self,
        read: &Read<'_>,
        headers: &HeaderMap,
        timestamp: Option<&[u8]>,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        let keys = self.public_keys.as_ref().map(|handle| handle.load());
        let keys_configured = keys.as_ref().is_some_and(|keys| !keys.is_empty());
        // A receiver with no public key reads `v1a` entries as it reads any version it
        // does not take: a delivery of nothing else has no signature it can check.
        if !keys_configured && read.tags.is_empty() {
            return Err(SignatureError::Malformed);
        }
        if let (Some(signatures), Some(keys)) = (&read.signatures, &keys) {
            if !keys.is_empty() {
                let message = self
                    .scheme
                    .signed_message(headers, timestamp, body)
                    .ok_or(SignatureError::Missing)?;
                if ed25519::verify_any(keys, &message, signatures.as_slice()) {
                    return Ok(());
                }
            }
        }
        // With no secret (or no tag) to MAC, the HMAC check never looked for the signed
        // headers: an absent one says more than a mismatch.
        if !self.scheme.has_signed_headers(headers) {
            return Err(SignatureError::Missing);
        }
        Err(SignatureError::Mismatch)
    }
}

/// Reading a delivery's candidate tags, as its scheme lays them out.
impl SignatureScheme {
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
        if read.tags.is_empty() && read.signatures.is_none() {
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
                let asymmetric = self.asymmetric_version.as_deref();
                for pair in pairs {
                    if let Some((v, signature)) = pair.split_once(',') {
                        if v == version {
                            read.tags.extend(self.decode_tag(signature.as_bytes()));
                        } else if Some(v) == asymmetric {
                            // Malformed ones (not base64, not 64 bytes) are skipped, as
                            // an HMAC tag of the wrong length is.
                            if let Some(signature) = ed25519::decode_signature(signature.as_bytes())
                            {
                                let signatures =
                                    read.signatures.get_or_insert_with(Signatures::new);
                                signatures.push(signature);
                            }
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
    /// Asymmetric signatures, for a scheme that reads them; `None` (nothing written on
    /// the stack) until the first one decodes.
    signatures: Option<Signatures>,
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
pub(super) fn tags_equal(expected: &[u8], candidate: &[u8; TAG_LEN]) -> Choice {
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
