//! Receiver secrets, the HMAC keys built from them, and the handle that replaces them
//! at run time.
//!
//! A receiver accepts deliveries signed with any secret of its [`SecretSet`]. To rotate a
//! secret without a restart, keep the provider's [`SecretsHandle`] and
//! [`replace`](SecretsHandle::replace) the set: requests already being checked finish
//! with the set they started with, later ones use the new set.
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
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::ConfigError;

/// The prefix Standard Webhooks (and Svix) put before a base64 secret.
pub const WHSEC_PREFIX: &str = "whsec_";

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

    /// Always false: a set holds at least one secret.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub(crate) fn keys(&self) -> &[HmacSha256] {
        &self.keys
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
}
