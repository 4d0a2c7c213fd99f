//! claimr: its provider, its signing scheme, its events, and (feature `testing`) its
//! signer and samples.
//!
//! claimr's webhooks are one flat JSON payload, whose `scope` names the hook that fired.
//! [`Claimr`] checks their signature; the layer hands handlers an [`Event`].
//!
//! claimr's dashboard offers four hooks — user activity, user login, user reward and
//! referral — and sends the same flat [`Payload`] for each; the `scope` field
//! (`user_activity`, `user_login`, `user_reward`, `referral`) says which one it is.
//! [`Event::from_slice`] parses a verified body into an [`Event`] with one variant per
//! hook. A `scope` this crate does not know becomes [`Event::Unknown`], which keeps the
//! body's raw JSON, so new hooks never make deliveries fail.
//!
//! claimr documents the payload's fields but not their JSON types. This module types
//! them from the field list and is lenient where a real sender could reasonably differ:
//! every field but `id` and `scope` is optional and may be `null`, ids sent as JSON
//! numbers are kept as strings, unknown fields are ignored.
//!
//! ```
//! use hookguard::claimr::{Event, EventKind};
//!
//! let body = br#"{
//!     "id": "wh_01HXZ3V8Q4",
//!     "scope": "user_activity",
//!     "user": "u_7Kq2",
//!     "campaign": { "id": "cmp_42", "name": "Spring quests" },
//!     "event": { "type": "action_completed", "data": { "xp": 50 } },
//!     "total_xp": 1250
//! }"#;
//!
//! let event = Event::from_slice(body)?;
//! assert_eq!(event.kind(), EventKind::UserActivity);
//! assert_eq!(event.id(), "wh_01HXZ3V8Q4");
//! let payload = event.payload().expect("a known scope carries a payload");
//! assert_eq!(payload.campaign().map(|c| c.id()), Some("cmp_42"));
//! assert_eq!(payload.total_xp(), Some(1250.0));
//! # Ok::<(), hookguard::event::ParseError>(())
//! ```

mod de;
mod event;
mod payload;
mod scan;

#[cfg(any(test, feature = "testing"))]
pub(crate) use scan::agrees as fast_path_agrees;
#[cfg(feature = "testing")]
mod samples;

use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;

pub use event::{Event, EventKind, Unknown};
pub use payload::{Action, ActivityData, ActivityEvent, Campaign, Payload};

use crate::error::ConfigError;
use crate::event::ParseError;
use crate::provider::Provider;
use crate::secret::SecretsHandle;
use crate::signature::{SignatureScheme, Verifier};

/// claimr webhooks, checked with the receiver's secret(s).
///
/// ```
/// use hookguard::{Claimr, SignatureScheme};
///
/// let claimr = Claimr::new("my-claimr-secret")?
///     .with_scheme(SignatureScheme::new("X-Signature")?)?;
/// # Ok::<(), hookguard::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Claimr {
    verifier: Arc<Verifier>,
}

impl Claimr {
    /// Receives claimr webhooks signed with `secret` under the default scheme
    /// ([`Claimr::default_scheme`]).
    ///
    /// # Errors
    ///
    /// [`ConfigError::EmptySecret`] when the secret is empty.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Self::with_secrets([secret])
    }

    /// Accepts deliveries signed with any of `secrets`, for rotation.
    ///
    /// # Errors
    ///
    /// [`ConfigError::EmptySecret`] or [`ConfigError::NoSecret`].
    pub fn with_secrets<T: AsRef<[u8]>>(
        secrets: impl IntoIterator<Item = T>,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            verifier: Arc::new(Verifier::from_secrets(Self::default_scheme(), secrets)?),
        })
    }

    /// The scheme assumed for claimr, which publishes none: a hex HMAC-SHA256 of the raw
    /// body in `X-Claimr-Signature`, optionally after `sha256=`.
    pub fn default_scheme() -> SignatureScheme {
        SignatureScheme::preset("x-claimr-signature")
    }

    /// Checks signatures as `scheme` says, keeping the secrets (and their handle).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when the scheme's parts do not fit together
    /// ([`SignatureScheme::validate`]).
    pub fn with_scheme(self, scheme: SignatureScheme) -> Result<Self, ConfigError> {
        scheme.validate()?;
        Ok(Self {
            verifier: Arc::new(self.verifier.rescheme(scheme)),
        })
    }

    /// The signature check in use.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The handle that replaces the secrets while the receiver runs (for rotation),
    /// shared by every clone of this provider and of the layers built from it.
    pub fn secrets_handle(&self) -> SecretsHandle {
        self.verifier.secrets_handle()
    }
}

impl Provider for Claimr {
    type Event = Event;

    fn name(&self) -> &str {
        "claimr"
    }

    fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    fn parse(&self, _headers: &HeaderMap, body: &Bytes) -> Result<Event, ParseError> {
        Event::from_bytes(body.clone())
    }
}
