//! The provider trait: what the layer needs to know of a sender.
//!
//! Each built-in sender is a module of its own ([`claimr`](crate::claimr),
//! [`chainvine`](crate::chainvine), [`standard`](crate::standard),
//! [`hmac_sender`](crate::hmac_sender)) holding its provider type, its default scheme,
//! its events and its test helpers. Implement [`Provider`] for any other sender.

use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;

use crate::event::{ParseError, WebhookEvent};
use crate::rejection::Rejection;
use crate::signature::{SignatureError, Verifier};
use crate::verified::Verified;

/// A webhook sender: its name, its signature check and its event parser.
///
/// [`Claimr`](crate::Claimr), [`ChainVine`](crate::ChainVine),
/// [`Standard`](crate::Standard) and [`HmacSender`](crate::HmacSender) are built in.
pub trait Provider: Clone + Send + Sync + 'static {
    /// The typed event the provider's bodies parse into: what its handlers receive.
    type Event: WebhookEvent;

    /// The provider's name in logs and delivery keys (`"claimr"`, `"github"`).
    fn name(&self) -> &str;

    /// The signature check, with its scheme and secrets.
    fn verifier(&self) -> &Verifier;

    /// Parses a body into the provider's event, in one pass; `headers` are the
    /// delivery's, for senders that put part of the event there (Standard Webhooks'
    /// `webhook-id`).
    ///
    /// # Errors
    ///
    /// A [`ParseError`]: malformed JSON or a body of the wrong shape.
    fn parse(&self, headers: &HeaderMap, body: &[u8]) -> Result<Self::Event, ParseError>;

    /// Checks a parsed event against what the signature alone cannot, such as
    /// ChainVine's `sent_at` window. `signed` is false only for a delivery with no
    /// signature header that the verifier lets through
    /// ([`Verifier::allows_unsigned`]); by default such a delivery is refused and every
    /// signed one accepted.
    ///
    /// # Errors
    ///
    /// A [`SignatureError`] (401) when the delivery must be refused.
    fn check(&self, event: &Self::Event, signed: bool) -> Result<(), SignatureError> {
        let _ = event;
        if signed {
            Ok(())
        } else {
            Err(SignatureError::Missing)
        }
    }
}

/// Verifies, parses and checks one buffered delivery: what the layer does with a body.
pub(crate) fn accept<P: Provider>(
    provider: &P,
    name: &Arc<str>,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Verified<P::Event>, Rejection> {
    let verifier = provider.verifier();
    let signed = if verifier.has_signature(headers) {
        verifier.verify(headers, &body)?;
        true
    } else if verifier.allows_unsigned() {
        false
    } else {
        return Err(SignatureError::Missing.into());
    };
    let event = provider.parse(headers, &body)?;
    provider.check(&event, signed)?;
    Ok(Verified::new(Arc::clone(name), event, body, signed))
}
