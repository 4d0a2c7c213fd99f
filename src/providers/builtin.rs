//! The built-in senders by name, and what a tool needs of each: its scheme, how its
//! secrets are written, its signer, its samples, and how to name a delivery's event.

use bytes::Bytes;
use http::HeaderMap;

use super::chainvine::{self, ChainVine};
use super::claimr::{self, Claimr};
use super::hmac_sender::HmacSender;
use super::standard::{self, Standard};
use crate::error::ConfigError;
use crate::event::WebhookEvent;
use crate::provider::Provider;
use crate::secret::{Secret, SecretSet};
use crate::signature::{SignatureScheme, Verifier};
use crate::testing::{Sample, Signer};

/// A sender hookguard knows, by name (feature `testing`).
///
/// ```
/// use hookguard::providers::Builtin;
///
/// let claimr = Builtin::from_name("claimr").expect("built in");
/// assert_eq!(claimr.name(), "claimr");
/// assert_eq!(claimr.scheme().header(), "x-claimr-signature");
/// assert_eq!(Builtin::samples().len(), 9);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Builtin {
    /// [`Claimr`].
    Claimr,
    /// [`ChainVine`].
    ChainVine,
    /// [`Standard`] (Standard Webhooks).
    Standard,
    /// [`HmacSender::github`].
    GitHub,
    /// [`HmacSender::stripe`].
    Stripe,
}

impl Builtin {
    /// Every built-in sender.
    pub const ALL: [Builtin; 5] = [
        Builtin::Claimr,
        Builtin::ChainVine,
        Builtin::Standard,
        Builtin::GitHub,
        Builtin::Stripe,
    ];

    /// The sender named `name`, as [`Builtin::name`] spells it (case-insensitive).
    pub fn from_name(name: &str) -> Option<Builtin> {
        Self::ALL
            .into_iter()
            .find(|builtin| builtin.name().eq_ignore_ascii_case(name))
    }

    /// The sender's name, as its provider logs it.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Claimr => "claimr",
            Builtin::ChainVine => "chainvine",
            Builtin::Standard => "standard",
            Builtin::GitHub => "github",
            Builtin::Stripe => "stripe",
        }
    }

    /// The sender's default scheme.
    pub fn scheme(self) -> SignatureScheme {
        match self {
            Builtin::Claimr => Claimr::default_scheme(),
            Builtin::ChainVine => ChainVine::default_scheme(),
            Builtin::Standard => Standard::default_scheme(),
            Builtin::GitHub => HmacSender::github_scheme(),
            Builtin::Stripe => HmacSender::stripe_scheme(),
        }
    }

    /// `text` as this sender keys it: Standard Webhooks secrets are base64 (`whsec_…`),
    /// the others their UTF-8 bytes.
    ///
    /// # Errors
    ///
    /// [`ConfigError::EmptySecret`], or [`ConfigError::SecretEncoding`] for a Standard
    /// Webhooks secret that is not base64.
    pub fn secret(self, text: &str) -> Result<Secret, ConfigError> {
        match self {
            Builtin::Standard => Secret::from_standard(text),
            _ => Secret::new(text),
        }
    }

    /// A signer for this sender's default scheme.
    ///
    /// # Errors
    ///
    /// As [`Builtin::secret`].
    pub fn signer(self, secret: &str) -> Result<Signer, ConfigError> {
        Ok(Signer::new(self.scheme(), self.secret(secret)?))
    }

    /// A verifier for this sender's default scheme.
    ///
    /// # Errors
    ///
    /// As [`Builtin::secret`].
    pub fn verifier(self, secret: &str) -> Result<Verifier, ConfigError> {
        Ok(Verifier::new(
            self.scheme(),
            SecretSet::new([self.secret(secret)?])?,
        ))
    }

    /// The sample of `event` by the name the sender sends (case-insensitive); any name
    /// is a Standard Webhooks `type`. `None` for a name the sender has no sample of, and
    /// for GitHub and Stripe, which have none.
    pub fn sample(self, event: &str) -> Option<Sample> {
        match self {
            Builtin::Claimr => claimr::EventKind::KNOWN
                .into_iter()
                .find(|kind| kind.as_str().eq_ignore_ascii_case(event))
                .map(Claimr::sample),
            Builtin::ChainVine => chainvine::EventKind::KNOWN
                .into_iter()
                .find(|kind| kind.as_str().eq_ignore_ascii_case(event))
                .map(ChainVine::sample),
            Builtin::Standard => Some(Standard::sample(event)),
            Builtin::GitHub | Builtin::Stripe => None,
        }
    }

    /// The names of the events this sender has samples of, as it sends them; empty for
    /// a sender whose every name is free (Standard Webhooks) or that has no samples
    /// (GitHub, Stripe).
    pub fn event_names(self) -> Vec<&'static str> {
        match self {
            Builtin::Claimr => claimr::EventKind::KNOWN
                .map(claimr::EventKind::as_str)
                .to_vec(),
            Builtin::ChainVine => chainvine::EventKind::KNOWN
                .map(chainvine::EventKind::as_str)
                .to_vec(),
            Builtin::Standard | Builtin::GitHub | Builtin::Stripe => Vec::new(),
        }
    }

    /// One sample of every known event: claimr's four, ChainVine's four, and a
    /// Standard Webhooks `invoice.paid`.
    pub fn samples() -> Vec<Sample> {
        claimr::EventKind::KNOWN
            .into_iter()
            .map(Claimr::sample)
            .chain(
                chainvine::EventKind::KNOWN
                    .into_iter()
                    .map(ChainVine::sample),
            )
            .chain([Standard::sample("invoice.paid")])
            .collect()
    }

    /// The event's name and id, when `body` (with `headers`) parses as this sender's
    /// event; the signature is not checked.
    pub fn describe(self, headers: &HeaderMap, body: &[u8]) -> Option<(String, String)> {
        fn pair<E: WebhookEvent>(event: &E) -> (String, String) {
            (event.name().to_owned(), event.id().to_owned())
        }
        match self {
            Builtin::Claimr => claimr::Event::from_slice(body).ok().map(|e| pair(&e)),
            Builtin::ChainVine => chainvine::Event::from_slice(body).ok().map(|e| pair(&e)),
            Builtin::Standard => {
                let id = headers
                    .get("webhook-id")
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .unwrap_or_default();
                standard::Event::from_parts(id, body).ok().map(|e| pair(&e))
            }
            Builtin::GitHub | Builtin::Stripe => {
                // Parsed as the preset parses: GitHub names the event in a header,
                // Stripe's body has `type` and `id`.
                let preset = match self {
                    Builtin::GitHub => HmacSender::github(),
                    _ => HmacSender::stripe(),
                };
                let sender = preset.with_secret("-").build().ok()?;
                sender
                    .parse(headers, &Bytes::copy_from_slice(body))
                    .ok()
                    .map(|e| pair(&e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chainvine;

    #[test]
    fn every_sample_parses_as_its_event() {
        for sample in Builtin::samples() {
            let body = sample.clone().with_user("user-7").body();
            let (name, id, unknown) = match sample.provider() {
                "claimr" => {
                    let event = claimr::Event::from_slice(&body).unwrap();
                    let user = event.payload().and_then(|p| p.user());
                    assert_eq!(user, Some("user-7"));
                    (
                        event.name().to_owned(),
                        event.id().to_owned(),
                        event.is_unknown(),
                    )
                }
                "chainvine" => {
                    let event = chainvine::Event::from_slice(&body).unwrap();
                    (
                        event.name().to_owned(),
                        event.id().to_owned(),
                        event.is_unknown(),
                    )
                }
                _ => {
                    let event = crate::standard::Event::from_parts(sample.id(), &body).unwrap();
                    (
                        event.name().to_owned(),
                        event.id().to_owned(),
                        event.is_unknown(),
                    )
                }
            };
            assert_eq!(name, sample.event());
            assert!(!unknown, "{} is not typed", sample.event());
            assert_eq!(id, sample.id());
        }
    }

    #[test]
    fn payment_requests_carry_the_user() {
        let sample = ChainVine::sample(chainvine::EventKind::PaymentRequest).with_user("u-9");
        let event = chainvine::Event::from_slice(&sample.body()).unwrap();
        let payout = event.payment_request().unwrap();
        assert_eq!(payout.user_id(), Some("u-9"));
    }

    #[test]
    fn bodies_list_fields_in_the_providers_order() {
        let body = Claimr::sample(claimr::EventKind::UserActivity).body();
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.starts_with("{\n  \"id\": \""), "{text}");
        assert!(text.find("\"scope\"") < text.find("\"campaign\""), "{text}");
        assert!(
            text.find("\"total_xp\"") < text.find("\"ugc_xp\""),
            "{text}"
        );
    }

    #[test]
    fn ids_are_fresh() {
        let ids: std::collections::HashSet<_> = (0..100)
            .map(|_| {
                ChainVine::sample(chainvine::EventKind::EarningCreated)
                    .id()
                    .to_owned()
            })
            .collect();
        assert_eq!(ids.len(), 100);
    }
}
