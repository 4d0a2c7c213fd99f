//! Why a signature was refused.

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
