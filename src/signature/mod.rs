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
//!   directions by default) read from a [`Clock`](crate::clock::Clock).
//!
//! Beside the HMAC, a versioned scheme may read asymmetric signatures: Standard
//! Webhooks' `v1a,<base64 ed25519 signature>` entries, over the same signed content,
//! checked against the receiver's [`PublicKey`](crate::secret::PublicKey)s (`ed25519.rs`,
//! with `ed25519-dalek`'s strict verification). A delivery is authentic when any entry
//! verifies with a key of its kind: a `v1` tag with a secret, a `v1a` signature with a
//! public key.
//!
//! Each provider holds its own preset: [`Claimr::default_scheme`](crate::Claimr::default_scheme),
//! [`ChainVine::default_scheme`](crate::ChainVine::default_scheme),
//! [`Standard::default_scheme`](crate::Standard::default_scheme) and
//! [`svix_scheme`](crate::Standard::svix_scheme),
//! [`HmacSender::github_scheme`](crate::HmacSender::github_scheme) and
//! [`stripe_scheme`](crate::HmacSender::stripe_scheme).
//!
//! The module is laid out in the order a delivery meets it: the [`Verifier`]
//! (`verifier.rs`, the constant-time check), the [`SignatureScheme`] it follows
//! (`scheme.rs`, with signing for tests and tools), the [`SignedContent`] template
//! (`content.rs`), the [`Encoding`] and [`SignatureFormat`] of the header (`format.rs`),
//! the ed25519 check of asymmetric signatures (`ed25519.rs`), and the [`SignatureError`]
//! a refusal carries (`error.rs`).
//!
//! ```
//! use hookguard::secret::SecretSet;
//! use hookguard::signature::Verifier;
//! use hookguard::{Claimr, Secret};
//! use http::HeaderMap;
//!
//! let secret = Secret::new("whsec-demo").unwrap();
//! let scheme = Claimr::default_scheme();
//! let body = br#"{"id":"1","scope":"user_login"}"#;
//!
//! let mut headers = HeaderMap::new();
//! headers.insert(scheme.header(), scheme.sign(&secret, &headers, body).unwrap());
//!
//! let verifier = Verifier::new(scheme, SecretSet::new([secret]).unwrap());
//! assert!(verifier.verify(&headers, body).is_ok());
//! assert!(verifier.verify(&headers, b"{}").is_err());
//! ```

mod content;
mod ed25519;
mod error;
mod format;
mod scheme;
#[cfg(test)]
mod tests;
mod verifier;

use std::time::Duration;

pub use content::{ContentPart, SignedContent};
pub use ed25519::{MAX_ASYMMETRIC_CANDIDATES, SIGNATURE_LEN};
pub use error::SignatureError;
pub use format::{Encoding, SignatureFormat};
pub use scheme::{SignatureScheme, TimestampSource};
pub use verifier::Verifier;

/// Bytes in an HMAC-SHA256 tag.
pub const TAG_LEN: usize = 32;

/// At most this many candidate signatures (or key/value pairs) are read from one
/// delivery's headers, so that a request cannot make the receiver do unbounded work.
pub const MAX_CANDIDATES: usize = 16;

/// How far a signed timestamp may be from now, in either direction, unless a scheme says
/// otherwise: five minutes, as Standard Webhooks and Stripe use.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);
