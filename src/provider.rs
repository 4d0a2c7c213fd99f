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

    /// The provider's name in logs and delivery keys (`"claimr"`, `"github"`). It scopes
    /// the keys of [`Dispatcher::with_dedup`](crate::Dispatcher::with_dedup): providers
    /// whose deliveries share one store need distinct names, and the built-in ones are
    /// taken.
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
    fn parse(&self, headers: &HeaderMap, body: &Bytes) -> Result<Self::Event, ParseError>;

    /// Checks a parsed event against what the signature alone cannot, such as
    /// ChainVine's `sent_at` window; accepts every event by default.
    ///
    /// # Errors
    ///
    /// A [`SignatureError`] (401) when the delivery must be refused.
    fn check(&self, event: &Self::Event) -> Result<(), SignatureError> {
        let _ = event;
        Ok(())
    }

    /// Whether this delivery, which carries no signature header, is accepted anyway;
    /// asked only when the verifier lets unsigned deliveries through
    /// ([`Verifier::allows_unsigned`]), and false by default: overriding
    /// [`check`](Provider::check) never lets an unsigned delivery in.
    fn accepts_unsigned(&self, event: &Self::Event) -> bool {
        let _ = event;
        false
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
    if !signed && !provider.accepts_unsigned(&event) {
        return Err(SignatureError::Missing.into());
    }
    provider.check(&event)?;
    Ok(Verified::new(Arc::clone(name), event, body, signed))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;
    use crate::chainvine::{self, ChainVine};

    /// A provider of someone else's, reusing a ChainVine verifier that lets unsigned
    /// deliveries through, with a check of its own.
    #[derive(Clone)]
    struct Custom(ChainVine);

    impl Provider for Custom {
        type Event = chainvine::Event;

        fn name(&self) -> &str {
            "custom"
        }

        fn verifier(&self) -> &Verifier {
            self.0.verifier()
        }

        fn parse(&self, headers: &HeaderMap, body: &Bytes) -> Result<Self::Event, ParseError> {
            self.0.parse(headers, body)
        }

        fn check(&self, _event: &Self::Event) -> Result<(), SignatureError> {
            Ok(())
        }
    }

    fn body(secure_request: bool) -> Bytes {
        Bytes::from(format!(
            r#"{{"source":{{"campaign":{{"name":"C","created_on":"2024-01-01","id":"c1"}},
            "community":{{"name":"Acme","id":"com_1"}}}},
            "event":{{"name":"EARNING_CREATED","data":{{"userId":"u","amount":"1",
            "dateCreatedUtc":"2024-01-01","user":{{"id":"u"}},"reward":{{"name":"ETH"}}}}}},
            "version":"1","secure_request":{secure_request},"request_id":"r","event_id":"e",
            "sent_at":"2024-01-01T00:00:00Z"}}"#
        ))
    }

    #[test]
    fn overriding_check_never_lets_an_unsigned_delivery_in() {
        let opted_in = ChainVine::new("s")
            .expect("a secret")
            .accept_unsigned_insecure_requests();
        assert!(opted_in.verifier().allows_unsigned());
        let name = Arc::from("custom");
        let headers = HeaderMap::new();
        for secure_request in [true, false] {
            let refused = accept(
                &Custom(opted_in.clone()),
                &name,
                &headers,
                body(secure_request),
            );
            assert!(
                matches!(refused, Err(Rejection::Signature(SignatureError::Missing))),
                "secure_request {secure_request}: {refused:?}"
            );
        }
        // ChainVine itself takes the one its opt-in names, unsigned, and only that one.
        let taken = accept(&opted_in, &Arc::from("chainvine"), &headers, body(false))
            .expect("accepted by opt-in");
        assert!(!taken.is_signed());
        assert!(accept(&opted_in, &Arc::from("chainvine"), &headers, body(true)).is_err());
        // A signed delivery is checked as ever.
        let mut signed = HeaderMap::new();
        signed.insert(
            "x-chainvine-signature",
            HeaderValue::from_static("sha256=00"),
        );
        assert!(matches!(
            accept(&Custom(opted_in), &name, &signed, body(false)),
            Err(Rejection::Signature(SignatureError::Malformed))
        ));
    }
}
