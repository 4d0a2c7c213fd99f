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
    /// A dispatcher limited to no campaign at all would skip every delivery.
    #[error("a dispatcher limited to campaigns needs at least one campaign")]
    NoCampaigns,
    /// A blank campaign id, which no delivery names.
    #[error("a campaign id must not be blank")]
    BlankCampaign,
}
