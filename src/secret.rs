//! Receiver secrets, the HMAC keys built from them, the ed25519 keys of Standard Webhooks'
//! asymmetric signatures, and the handles that replace them at run time.
//!
//! A receiver accepts deliveries signed with any secret of its [`SecretSet`]. To rotate a
//! secret without a restart, keep the provider's [`SecretsHandle`] and
//! [`replace`](SecretsHandle::replace) the set: requests already being checked finish
//! with the set they started with, later ones use the new set.
//!
//! Every key is read here, in the forms senders show them: a `whsec_` secret
//! ([`Secret::from_standard`]), a `whpk_` public key ([`PublicKey::from_standard`]) and a
//! `whsk_` signing key ([`SigningKey::from_standard`]). Public keys rotate as secrets do,
//! through a [`PublicKeysHandle`].
//!
//! ```
//! use hookguard::Claimr;
//!
//! let claimr = Claimr::new("old-secret")?;
//! let secrets = claimr.secrets_handle();
//! // The sender starts signing with the new secret: accept both for a while...
//! secrets.replace(["new-secret", "old-secret"])?;
//! assert_eq!(secrets.current().len(), 2);
//! // ...then drop the old one.
//! secrets.replace(["new-secret"])?;
//! assert!(secrets.replace(Vec::<String>::new()).is_err(), "an empty set is refused");
//! assert_eq!(claimr.verifier().secrets().len(), 1);
//! # Ok::<(), hookguard::ConfigError>(())
//! ```

use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use ed25519_dalek::VerifyingKey;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::ConfigError;

/// The prefix Standard Webhooks (and Svix) put before a base64 secret.
pub const WHSEC_PREFIX: &str = "whsec_";

/// The prefix Standard Webhooks puts before an ed25519 public key (base64 of its 32
/// bytes).
pub const WHPK_PREFIX: &str = "whpk_";

/// The prefix Standard Webhooks puts before an ed25519 signing key (base64 of its 32-byte
/// seed).
pub const WHSK_PREFIX: &str = "whsk_";

/// The length of an ed25519 public key, and of the seed a signing key is written as.
pub const ED25519_KEY_LEN: usize = 32;

/// Standard base64, with or without padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The HMAC-SHA256 type every scheme in this crate uses.
pub(crate) type HmacSha256 = Hmac<Sha256>;

/// A shared webhook secret, as the provider's dashboard shows it.
///
/// Its bytes never appear in `Debug` output, logs or errors.
///
/// ```
/// use hookguard::Secret;
///
/// let secret = Secret::new("s3cr3t").unwrap();
/// assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
/// assert!(Secret::new("").is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<[u8]>);

impl Secret {
    /// A secret keyed by these bytes (a string's UTF-8 bytes, as the providers use it).
    ///
    /// # Errors
    ///
    /// [`ConfigError::EmptySecret`] when `bytes` is empty: an empty key would let anyone sign.
    pub fn new(bytes: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let bytes = bytes.as_ref();
        if bytes.is_empty() {
            return Err(ConfigError::EmptySecret);
        }
        Ok(Self(Arc::from(bytes)))
    }

    /// A secret given as standard base64 (padding optional), keyed by the decoded bytes.
    ///
    /// # Errors
    ///
    /// [`ConfigError::SecretEncoding`] when `text` is not base64,
    /// [`ConfigError::EmptySecret`] when it decodes to nothing.
    pub fn from_base64(text: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let bytes = BASE64
            .decode(text.as_ref())
            .map_err(|_| ConfigError::SecretEncoding { encoding: "base64" })?;
        Self::new(bytes)
    }

    /// A Standard Webhooks secret: base64, with or without the `whsec_` prefix, as
    /// senders show it (`whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`).
    ///
    /// ```
    /// use hookguard::Secret;
    ///
    /// let with = Secret::from_standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
    /// let without = Secret::from_standard("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
    /// assert_eq!(with, without);
    /// assert_eq!(with.expose().len(), 24);
    /// assert!(Secret::from_standard("whsec_not base64!").is_err());
    /// # Ok::<(), hookguard::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Secret::from_base64`].
    pub fn from_standard(text: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let text = text.as_ref();
        // A public key is published: used as an HMAC secret, anyone could sign with it.
        for given in [WHPK_PREFIX, WHSK_PREFIX] {
            if text.starts_with(given.as_bytes()) {
                return Err(ConfigError::WrongKeyPrefix {
                    expected: WHSEC_PREFIX,
                    given,
                });
            }
        }
        let text = text.strip_prefix(WHSEC_PREFIX.as_bytes()).unwrap_or(text);
        Self::from_base64(text)
    }

    /// The secret's bytes, for signing in tests and tools.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The HMAC key, built once; verification clones it per request.
    pub(crate) fn hmac_key(&self) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail; the match keeps the
        // request path free of `expect` all the same.
        match HmacSha256::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable_key_length(),
        }
    }
}

#[cold]
fn unreachable_key_length() -> HmacSha256 {
    // `Hmac::new_from_slice` only fails for fixed-length-key MACs, which HMAC is not.
    panic!("HMAC rejected a key length, which it never does")
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The secrets a receiver accepts at once, so that a secret can be rotated without
/// refusing deliveries signed with the old one.
///
/// The HMAC key of each is built once, here; verification clones the built key.
#[derive(Clone)]
pub struct SecretSet {
    keys: Arc<[HmacSha256]>,
}

impl SecretSet {
    /// A set holding these secrets.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoSecret`] when `secrets` is empty.
    pub fn new(secrets: impl IntoIterator<Item = Secret>) -> Result<Self, ConfigError> {
        let keys: Arc<[HmacSha256]> = secrets.into_iter().map(|s| s.hmac_key()).collect();
        if keys.is_empty() {
            return Err(ConfigError::NoSecret);
        }
        Ok(Self { keys })
    }

    /// How many secrets the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// False for every set built with [`SecretSet::new`], which holds at least one
    /// secret; true only for the secrets of a Standard Webhooks receiver that checks
    /// public keys alone ([`Standard::from_public_keys`](crate::Standard::from_public_keys)).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub(crate) fn keys(&self) -> &[HmacSha256] {
        &self.keys
    }

    /// The set of a receiver that checks public keys alone
    /// ([`Standard::from_public_keys`](crate::Standard::from_public_keys)): no HMAC
    /// signature verifies against it.
    pub(crate) fn empty() -> Self {
        Self {
            keys: Arc::from(Vec::new()),
        }
    }
}

impl fmt::Debug for SecretSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretSet({} secret(s), <redacted>)", self.keys.len())
    }
}

/// How a provider turns the secrets its users give into [`Secret`]s.
pub(crate) type SecretDecoder = fn(&[u8]) -> Result<Secret, ConfigError>;

pub(crate) fn raw_secret(bytes: &[u8]) -> Result<Secret, ConfigError> {
    Secret::new(bytes)
}

pub(crate) fn standard_secret(bytes: &[u8]) -> Result<Secret, ConfigError> {
    Secret::from_standard(bytes)
}

/// The secrets a running receiver accepts, replaceable without a restart.
///
/// Every clone of a provider (and every clone of the layer built from it) shares one
/// handle, so a replacement takes effect for all of them at once. Reads are lock-free:
/// a request loads the current set once and checks against it. The HMAC keys are built
/// once per replacement, never per request. See the [module docs](self).
#[derive(Clone)]
pub struct SecretsHandle {
    current: Arc<ArcSwap<SecretSet>>,
    decode: SecretDecoder,
}

impl SecretsHandle {
    pub(crate) fn new(set: SecretSet, decode: SecretDecoder) -> Self {
        Self {
            current: Arc::new(ArcSwap::from_pointee(set)),
            decode,
        }
    }

    /// Replaces the accepted secrets with `secrets`, read as the provider reads its
    /// secrets (UTF-8 bytes for claimr and ChainVine, `whsec_` base64 for Standard
    /// Webhooks). Nothing changes when one of them is refused.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoSecret`] when `secrets` is empty, [`ConfigError::EmptySecret`]
    /// or [`ConfigError::SecretEncoding`] for a secret that cannot be used.
    pub fn replace<T: AsRef<[u8]>>(
        &self,
        secrets: impl IntoIterator<Item = T>,
    ) -> Result<(), ConfigError> {
        let secrets = secrets
            .into_iter()
            .map(|secret| (self.decode)(secret.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        self.replace_set(SecretSet::new(secrets)?);
        Ok(())
    }

    /// Replaces the accepted secrets with an already built set.
    pub fn replace_set(&self, set: SecretSet) {
        self.current.store(Arc::new(set));
    }

    /// The secrets accepted now.
    pub fn current(&self) -> SecretSet {
        SecretSet::clone(&self.current.load())
    }

    /// The current set, for one check.
    pub(crate) fn load(&self) -> arc_swap::Guard<Arc<SecretSet>> {
        self.current.load()
    }
}

impl fmt::Debug for SecretsHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SecretsHandle")
            .field(&*self.current.load())
            .finish()
    }
}

/// The 32 bytes after `prefix` (optional) in base64; `key` names the kind in errors.
fn decode_key(
    text: &[u8],
    prefix: &str,
    key: &'static str,
) -> Result<[u8; ED25519_KEY_LEN], ConfigError> {
    let text = text.strip_prefix(prefix.as_bytes()).unwrap_or(text);
    let bytes = BASE64
        .decode(text)
        .map_err(|_| ConfigError::KeyEncoding { key })?;
    <[u8; ED25519_KEY_LEN]>::try_from(bytes.as_slice()).map_err(|_| ConfigError::KeyLength {
        key,
        expected: ED25519_KEY_LEN,
        given: bytes.len(),
    })
}

/// `bytes` in base64 after `prefix`, as Standard Webhooks writes keys.
fn encode_key(prefix: &str, bytes: &[u8]) -> String {
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// A sender's ed25519 public key, with which a receiver checks Standard Webhooks'
/// asymmetric (`v1a`) signatures: whoever holds it can verify, and cannot sign.
///
/// Written `whpk_<base64 of 32 bytes>` ([`Display`](fmt::Display) writes it so); a public
/// key is no secret, so `Debug` shows it too.
///
/// ```
/// use hookguard::secret::PublicKey;
/// use hookguard::ConfigError;
///
/// let key = PublicKey::from_standard("whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=")?;
/// assert_eq!(key, PublicKey::from_standard("ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g")?);
/// assert_eq!(key.to_string(), "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=");
/// assert_eq!(
///     PublicKey::from_standard("whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk="),
///     Err(ConfigError::SigningKeyAsPublicKey),
/// );
/// # Ok::<(), ConfigError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// A public key as Standard Webhooks writes it: base64 of its 32 bytes (padding
    /// optional), with or without `whpk_`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::SigningKeyAsPublicKey`] for a `whsk_` key (the sender's signing
    /// key, which a receiver must not hold), [`ConfigError::WrongKeyPrefix`] for a
    /// `whsec_` secret, [`ConfigError::KeyEncoding`] when it is not base64,
    /// [`ConfigError::KeyLength`] unless it decodes to 32 bytes, and as
    /// [`PublicKey::from_bytes`].
    pub fn from_standard(text: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let text = text.as_ref();
        if text.starts_with(WHSK_PREFIX.as_bytes()) {
            return Err(ConfigError::SigningKeyAsPublicKey);
        }
        if text.starts_with(WHSEC_PREFIX.as_bytes()) {
            return Err(ConfigError::WrongKeyPrefix {
                expected: WHPK_PREFIX,
                given: WHSEC_PREFIX,
            });
        }
        Self::from_bytes(&decode_key(text, WHPK_PREFIX, "public key")?)
    }

    /// A public key from its 32 bytes (a compressed Edwards point).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidPublicKey`] when the bytes are not a point of the curve, or
    /// are a point of small order: strict verification accepts no signature under such a
    /// key, so a receiver configured with one would refuse every delivery.
    pub fn from_bytes(bytes: &[u8; ED25519_KEY_LEN]) -> Result<Self, ConfigError> {
        let key = VerifyingKey::from_bytes(bytes)
            .map_err(|_| ConfigError::InvalidPublicKey("not a point of the curve"))?;
        if key.is_weak() {
            return Err(ConfigError::InvalidPublicKey("a point of small order"));
        }
        // One point, one spelling: a key written with a y past the field's prime names
        // a point whose own encoding differs (and under which nothing would verify).
        if key.to_edwards().compress().to_bytes() != *bytes {
            return Err(ConfigError::InvalidPublicKey(
                "not the canonical encoding of its point",
            ));
        }
        Ok(Self(key))
    }

    /// The key's 32 bytes.
    pub fn to_bytes(&self) -> [u8; ED25519_KEY_LEN] {
        self.0.to_bytes()
    }

    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }
}

impl fmt::Display for PublicKey {
    /// `whpk_` and the key's base64, as Standard Webhooks senders show it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode_key(WHPK_PREFIX, self.0.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl std::str::FromStr for PublicKey {
    type Err = ConfigError;

    fn from_str(text: &str) -> Result<Self, ConfigError> {
        Self::from_standard(text)
    }
}

/// A sender's ed25519 signing key, for signing Standard Webhooks' asymmetric (`v1a`)
/// signatures in tests and tools; a receiver needs only the [`PublicKey`].
///
/// Written `whsk_<base64 of the 32-byte seed>`, as the Standard Webhooks reference
/// libraries read it (the spec names "a standard ed25519 key pair", base64 after `whsk_`;
/// the 64-byte seed-and-public-key form some libraries keep is refused by its length).
/// Its bytes never appear in `Debug` output, which shows its public key instead.
///
/// ```
/// use hookguard::secret::SigningKey;
///
/// let key = SigningKey::from_standard("whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=")?;
/// assert_eq!(
///     key.public_key().to_string(),
///     "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g="
/// );
/// assert!(!format!("{key:?}").contains("VEVTVFNJ"));
/// # Ok::<(), hookguard::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// A signing key as Standard Webhooks writes it: base64 of its 32-byte seed (padding
    /// optional), with or without `whsk_`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::WrongKeyPrefix`] for a `whpk_` public key or a `whsec_` secret,
    /// [`ConfigError::KeyEncoding`] when it is not base64, [`ConfigError::KeyLength`]
    /// unless it decodes to 32 bytes.
    pub fn from_standard(text: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let text = text.as_ref();
        for other in [WHPK_PREFIX, WHSEC_PREFIX] {
            if text.starts_with(other.as_bytes()) {
                return Err(ConfigError::WrongKeyPrefix {
                    expected: WHSK_PREFIX,
                    given: other,
                });
            }
        }
        Ok(Self::from_seed(decode_key(
            text,
            WHSK_PREFIX,
            "signing key",
        )?))
    }

    /// The signing key whose seed is `seed` (32 random bytes make a new key pair).
    pub fn from_seed(seed: [u8; ED25519_KEY_LEN]) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// The public key to give receivers.
    pub fn public_key(&self) -> PublicKey {
        // A key derived from a seed is a clamped multiple of the base point: never of
        // small order, so no check can fail here.
        PublicKey(self.0.verifying_key())
    }

    /// The key as `whsk_` and the base64 of its seed, for the sender's configuration.
    pub fn expose_standard(&self) -> String {
        encode_key(WHSK_PREFIX, self.0.as_bytes())
    }

    /// The ed25519 signature of `message`.
    // Only test signers sign: a receiver verifies.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer as _;
        self.0.sign(message).to_bytes()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(<redacted>, public {})", self.public_key())
    }
}

/// The public keys a receiver accepts `v1a` signatures from at once, so that a sender's
/// key pair can be rotated without refusing deliveries signed with the old one.
///
/// Each key is decompressed once, here; verification uses the decompressed point.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKeySet {
    keys: Arc<[PublicKey]>,
}

impl PublicKeySet {
    /// A set holding these keys.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoPublicKey`] when `keys` is empty.
    pub fn new(keys: impl IntoIterator<Item = PublicKey>) -> Result<Self, ConfigError> {
        let keys: Arc<[PublicKey]> = keys.into_iter().collect();
        if keys.is_empty() {
            return Err(ConfigError::NoPublicKey);
        }
        Ok(Self { keys })
    }

    /// The keys of a receiver that checks no asymmetric signature (a Standard Webhooks
    /// receiver built from secrets alone, until keys are given to its handle).
    pub(crate) fn empty() -> Self {
        Self {
            keys: Arc::from(Vec::new()),
        }
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// False for every set built with [`PublicKeySet::new`]; true only for the keys of
    /// a Standard Webhooks receiver built from secrets alone.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys, in the order given.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }
}

impl fmt::Debug for PublicKeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PublicKeySet").field(&&*self.keys).finish()
    }
}

/// The public keys a running receiver accepts, replaceable without a restart, as
/// [`SecretsHandle`] replaces secrets: every clone of the provider (and of the layers
/// built from it) shares it, reads are lock-free, and a replacement that is refused
/// changes nothing.
///
/// ```
/// use hookguard::Standard;
///
/// let standard = Standard::from_public_keys(["whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g="])?;
/// let keys = standard.public_keys_handle();
/// // The sender adds a new key pair: accept both while it signs with each...
/// keys.replace([
///     "whpk_4rQZjjkCnn4m/ciYBaRPSZTA+Y/UwqgD6hgxOllF28g=",
///     "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=",
/// ])?;
/// assert_eq!(standard.verifier().public_keys().map(|set| set.len()), Some(2));
/// // ...then drop the old one.
/// keys.replace(["whpk_4rQZjjkCnn4m/ciYBaRPSZTA+Y/UwqgD6hgxOllF28g="])?;
/// assert!(keys.replace(Vec::<String>::new()).is_err(), "an empty set is refused");
/// assert_eq!(keys.current().len(), 1);
/// # Ok::<(), hookguard::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct PublicKeysHandle {
    current: Arc<ArcSwap<PublicKeySet>>,
}

impl PublicKeysHandle {
    pub(crate) fn new(set: PublicKeySet) -> Self {
        Self {
            current: Arc::new(ArcSwap::from_pointee(set)),
        }
    }

    /// Replaces the accepted public keys with `keys`, read as
    /// [`PublicKey::from_standard`] reads them (`whpk_` base64). Nothing changes when
    /// one of them is refused.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoPublicKey`] when `keys` is empty, and as
    /// [`PublicKey::from_standard`] for a key that cannot be used.
    pub fn replace<T: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = T>,
    ) -> Result<(), ConfigError> {
        let keys = keys
            .into_iter()
            .map(PublicKey::from_standard)
            .collect::<Result<Vec<_>, _>>()?;
        self.replace_set(PublicKeySet::new(keys)?);
        Ok(())
    }

    /// Replaces the accepted public keys with an already built set.
    pub fn replace_set(&self, set: PublicKeySet) {
        self.current.store(Arc::new(set));
    }

    /// The public keys accepted now.
    pub fn current(&self) -> PublicKeySet {
        PublicKeySet::clone(&self.current.load())
    }

    /// The current set, for one check.
    pub(crate) fn load(&self) -> arc_swap::Guard<Arc<PublicKeySet>> {
        self.current.load()
    }
}

impl fmt::Debug for PublicKeysHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PublicKeysHandle")
            .field(&*self.current.load())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_whsec_secrets() {
        let key = Secret::from_standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            key,
            Secret::from_standard("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
        );
        assert_eq!(
            key,
            Secret::from_base64("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
        );
        // Padding is optional.
        assert_eq!(Secret::from_base64("YWI=").unwrap().expose(), b"ab");
        assert_eq!(Secret::from_base64("YWI").unwrap().expose(), b"ab");
        assert_eq!(
            Secret::from_standard("whsec_"),
            Err(ConfigError::EmptySecret)
        );
        assert_eq!(
            Secret::from_standard("whsec_***"),
            Err(ConfigError::SecretEncoding { encoding: "base64" })
        );
    }

    #[test]
    fn a_handle_replaces_for_every_clone_and_refuses_bad_sets() {
        let handle = SecretsHandle::new(
            SecretSet::new([Secret::new("a").unwrap()]).unwrap(),
            raw_secret,
        );
        let clone = handle.clone();
        handle.replace(["bee-secret", "cat-secret"]).unwrap();
        assert_eq!(clone.current().len(), 2);
        assert_eq!(handle.replace([""]), Err(ConfigError::EmptySecret));
        assert!(matches!(
            handle.replace(Vec::<&str>::new()),
            Err(ConfigError::NoSecret)
        ));
        assert_eq!(
            clone.current().len(),
            2,
            "a refused replacement changes nothing"
        );
        assert!(!format!("{handle:?}").contains("bee"));
    }

    #[test]
    fn empty_secrets_and_sets_are_refused() {
        assert_eq!(Secret::new(b""), Err(ConfigError::EmptySecret));
        assert!(matches!(SecretSet::new([]), Err(ConfigError::NoSecret)));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = Secret::new("hunter2").unwrap();
        let set = SecretSet::new([secret.clone()]).unwrap();
        assert!(!format!("{secret:?}{set:?}").contains("hunter2"));
    }
    #[test]
    fn public_keys_are_read_as_standard_webhooks_writes_them() {
        // The reference libraries' test signing key ("TESTSIGNINGKEYDONOTUSETHISFORANY")
        // and its public key, derived by PyNaCl.
        let signing =
            SigningKey::from_standard("whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=").unwrap();
        let public = signing.public_key();
        assert_eq!(
            public.to_string(),
            "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g="
        );
        for text in [
            "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=",
            "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g",
            "ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=",
        ] {
            assert_eq!(PublicKey::from_standard(text), Ok(public), "{text}");
        }
        assert_eq!(
            SigningKey::from_standard("VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk")
                .unwrap()
                .public_key(),
            public
        );
        assert_eq!(
            signing.expose_standard(),
            "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk="
        );
        assert_eq!(
            format!("{public:?}"),
            "PublicKey(whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=)"
        );
        assert!(!format!("{signing:?}").contains("VEVTVFNJ"));
        assert!(format!("{signing:?}").contains("<redacted>"));
    }

    #[test]
    fn unusable_keys_are_refused_with_what_is_wrong() {
        use ConfigError::*;
        assert_eq!(
            PublicKey::from_standard("whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk="),
            Err(SigningKeyAsPublicKey)
        );
        assert_eq!(
            PublicKey::from_standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(WrongKeyPrefix {
                expected: "whpk_",
                given: "whsec_"
            })
        );
        assert_eq!(
            PublicKey::from_standard("whpk_not base64!"),
            Err(KeyEncoding { key: "public key" })
        );
        assert_eq!(
            PublicKey::from_standard("whpk_"),
            Err(KeyLength {
                key: "public key",
                expected: 32,
                given: 0
            })
        );
        // 31 and 33 bytes.
        for (text, given) in [
            ("whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248cw==", 31),
            ("whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/gA", 33),
        ] {
            assert_eq!(
                PublicKey::from_standard(text),
                Err(KeyLength {
                    key: "public key",
                    expected: 32,
                    given
                }),
                "{text}"
            );
        }
        // The identity point (small order) and a y with no point on the curve.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            PublicKey::from_bytes(&identity),
            Err(InvalidPublicKey("a point of small order"))
        );
        let mut off_curve = [0u8; 32];
        off_curve[0] = 2;
        assert_eq!(
            PublicKey::from_bytes(&off_curve),
            Err(InvalidPublicKey("not a point of the curve"))
        );
        assert_eq!(
            SigningKey::from_standard("whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=")
                .unwrap_err(),
            WrongKeyPrefix {
                expected: "whsk_",
                given: "whpk_"
            }
        );
        // The 64-byte seed-and-public-key form is not the spec's.
        let long = format!(
            "whsk_{}",
            base64::engine::general_purpose::STANDARD.encode([7u8; 64])
        );
        assert_eq!(
            SigningKey::from_standard(long).unwrap_err(),
            KeyLength {
                key: "signing key",
                expected: 32,
                given: 64
            }
        );
        assert!(matches!(PublicKeySet::new([]), Err(NoPublicKey)));
    }

    #[test]
    fn a_public_key_handle_replaces_for_every_clone_and_refuses_bad_sets() {
        let first = SigningKey::from_seed([1; 32]).public_key();
        let second = SigningKey::from_seed([2; 32]).public_key();
        let handle = PublicKeysHandle::new(PublicKeySet::new([first]).unwrap());
        let clone = handle.clone();
        handle
            .replace([second.to_string(), first.to_string()])
            .unwrap();
        assert_eq!(clone.current().keys(), [second, first]);
        assert_eq!(
            handle.replace(["whsk_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="]),
            Err(ConfigError::SigningKeyAsPublicKey)
        );
        assert_eq!(
            handle.replace(Vec::<&str>::new()),
            Err(ConfigError::NoPublicKey)
        );
        assert_eq!(
            clone.current().len(),
            2,
            "a refused replacement changes nothing"
        );
    }

    #[test]
    fn a_key_given_as_a_secret_is_refused() {
        // Anyone can sign with a published key: never an HMAC secret.
        let public = SigningKey::from_seed([5; 32]).public_key().to_string();
        assert_eq!(
            Secret::from_standard(&public),
            Err(ConfigError::WrongKeyPrefix {
                expected: WHSEC_PREFIX,
                given: WHPK_PREFIX
            })
        );
        let signing = SigningKey::from_seed([5; 32]).expose_standard();
        assert!(matches!(
            Secret::from_standard(&*signing),
            Err(ConfigError::WrongKeyPrefix {
                given: WHSK_PREFIX,
                ..
            })
        ));
        assert!(Secret::from_standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
    }

    #[test]
    fn a_public_key_in_a_non_canonical_encoding_is_refused() {
        // y = 3 + p: decompresses to the point of y = 3, whose own encoding differs.
        let mut bytes = [0xffu8; 32];
        bytes[0] = 0xf0; // 3 + (2^255 - 19) = 2^255 - 16, little-endian
        bytes[31] = 0x7f;
        let mut canonical = [0u8; 32];
        canonical[0] = 3;
        assert!(PublicKey::from_bytes(&canonical).is_ok());
        assert_eq!(
            PublicKey::from_bytes(&bytes),
            Err(ConfigError::InvalidPublicKey(
                "not the canonical encoding of its point"
            ))
        );
    }
}
