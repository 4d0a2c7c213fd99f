//! Errors in configuration, caught when a receiver is built rather than when a request
//! arrives; and the boxed error handlers and stores may carry.

/// A boxed error, as handlers may return and stores report.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A receiver configuration that cannot be used safely.
///
/// hookguard never fails open: anything that would make every request verify (an empty
/// secret, no secret at all) or none fit (a zero body cap) is refused here, at construction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A secret with no bytes would let anyone sign.
    #[error("a webhook secret must not be empty")]
    EmptySecret,
    /// A verifier with no secret at all.
    #[error("at least one webhook secret is needed")]
    NoSecret,
    /// A secret given in an encoding (such as `whsec_` base64) that did not decode.
    #[error("the webhook secret is not valid {encoding}")]
    SecretEncoding {
        /// The encoding that was expected.
        encoding: &'static str,
    },
    /// A receiver of Standard Webhooks' asymmetric signatures with no public key at all.
    #[error("at least one public key is needed")]
    NoPublicKey,
    /// A `whsk_` signing key where a `whpk_` public key is expected. The signing key is
    /// the sender's alone: a receiver holding it could forge deliveries, so it is refused
    /// rather than turned into its public key. (If it was handed to the receiver's
    /// operators, the sender should replace it.)
    #[error(
        "a `whsk_` signing key was given where a `whpk_` public key is expected: \
             configure the sender's public key; the signing key must stay with the sender"
    )]
    SigningKeyAsPublicKey,
    /// A key written with another kind's prefix: a `whsec_` secret where a `whpk_` public
    /// key is expected, or a `whpk_` or `whsec_` key where a `whsk_` signing key is.
    #[error("a `{given}` key was given where a `{expected}` key is expected")]
    WrongKeyPrefix {
        /// The prefix a key of the expected kind has.
        expected: &'static str,
        /// The prefix of the key given.
        given: &'static str,
    },
    /// An ed25519 key (public or signing) that is not base64.
    #[error("the {key} is not valid base64")]
    KeyEncoding {
        /// Which key: `"public key"` or `"signing key"`.
        key: &'static str,
    },
    /// An ed25519 key that does not decode to the length of its kind.
    #[error("an ed25519 {key} is {expected} bytes, not {given}")]
    KeyLength {
        /// Which key: `"public key"` or `"signing key"`.
        key: &'static str,
        /// The length of a key of this kind: 32 bytes (a public key, or a signing key's
        /// seed).
        expected: usize,
        /// The length it decoded to.
        given: usize,
    },
    /// 32 bytes that are no usable ed25519 public key: not a point of the curve, or a
    /// point of small order (which strict verification never accepts a signature for).
    #[error("not a valid ed25519 public key ({0})")]
    InvalidPublicKey(&'static str),
    /// A signing key for a scheme with no asymmetric signatures: only Standard Webhooks
    /// (and its Svix spelling) has them (`v1a`).
    #[error("this scheme has no asymmetric (ed25519) signatures")]
    NoAsymmetricSignatures,
    /// A body cap of zero bytes would refuse every delivery.
    #[error("the body limit must be at least one byte")]
    ZeroBodyLimit,
    /// A store table name that is not a plain SQL identifier.
    #[error("`{0}` is not a valid table name (letters, digits and `_` only)")]
    InvalidTableName(String),
    /// Signed content that cannot be used: an unreadable template, one that leaves the
    /// body unsigned, or parts that do not fit the scheme.
    #[error("invalid signed content: {0}")]
    InvalidSignedContent(String),
    /// A claim lease outside what the claim protocol accepts: a zero lease would let a
    /// duplicate take over every run at once, and one beyond the bound would leave a
    /// crashed payout unrecoverable for that long.
    #[error("a claim lease must be between {min:?} and {max:?}, not {given:?}")]
    InvalidLease {
        /// The lease given.
        given: std::time::Duration,
        /// The shortest lease accepted.
        min: std::time::Duration,
        /// The longest lease accepted.
        max: std::time::Duration,
    },
    /// A header name that HTTP does not allow.
    #[error("`{0}` is not a valid header name")]
    InvalidHeaderName(String),
    /// A sender's name that would share delivery keys with another sender: empty,
    /// holding `:` (the keys' separator) or a built-in provider's name.
    #[error("`{0}` cannot name a sender: it must be non-empty, without `:`, and not a built-in provider's name")]
    InvalidProviderName(String),
    /// A dispatcher that pays ([`on_payment_request`](crate::Dispatcher::on_payment_request))
    /// given an inbox: a payment request's 2xx tells the sender the payout was made, so
    /// it can never be answered before its handler has run.
    #[error("a dispatcher that pays cannot use the inbox: a payment request is answered 2xx only once it is paid")]
    PayoutsInInbox,
    /// A second dispatcher attached to one inbox under a provider name already taken:
    /// the workers of each would take the other's deliveries.
    #[error(
        "the inbox already serves a dispatcher for provider `{0}`: give each sender its own name"
    )]
    InboxProviderTaken(String),
    /// An inbox attached outside a tokio runtime, where its workers cannot start.
    #[error("the inbox's workers run on the tokio runtime: attach it from inside one")]
    NoRuntime,
    /// A dispatcher limited to no campaign at all would skip every delivery.
    #[error("a dispatcher limited to campaigns needs at least one campaign")]
    NoCampaigns,
    /// A blank campaign id, which no delivery names.
    #[error("a campaign id must not be blank")]
    BlankCampaign,
}
