//! Requests signed as a provider signs them.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Request};
use http_body_util::Full;

use super::samples::{fresh_id, Sample};
use crate::error::ConfigError;
use crate::event::WebhookEvent;
use crate::secret::{Secret, SigningKey};
use crate::signature::{ContentPart, SignatureError, SignatureScheme, TimestampSource};

/// Why a signed request could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The scheme could not sign (a header it signs could not be written).
    #[error("cannot sign: {0}")]
    Signature(#[from] SignatureError),
    /// The URI or a header value is not valid HTTP.
    #[error("invalid request: {0}")]
    Request(#[from] http::Error),
    /// The event could not be written as JSON.
    #[error("cannot serialize the event: {0}")]
    Json(#[from] serde_json::Error),
}

/// Signs bodies under a [`SignatureScheme`] with a [`Secret`] (and, for Standard
/// Webhooks' asymmetric signatures, a [`SigningKey`]), as the provider would.
///
/// Every header the scheme needs is written: the signature, a timestamp header set to
/// the signing time, and any signed header the request lacks (a message id such as
/// `webhook-id`, fresh per request unless given). A signer with both a secret and a
/// signing key writes both entries, space-separated (`v1,… v1a,…`), as a sender moving
/// from one to the other does; [`Standard::asymmetric_signer`](crate::Standard::asymmetric_signer)
/// signs with a key alone.
///
/// ```
/// use hookguard::Standard;
///
/// let headers = Standard::signer("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?
///     .at(1_700_000_000)
///     .with_message_id("msg_1")
///     .headers(br#"{"type":"invoice.paid"}"#)?;
/// assert_eq!(headers["webhook-id"], "msg_1");
/// assert_eq!(headers["webhook-timestamp"], "1700000000");
/// assert!(headers["webhook-signature"].to_str()?.starts_with("v1,"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Signer {
    scheme: SignatureScheme,
    secret: Option<Secret>,
    signing_key: Option<SigningKey>,
    timestamp: Option<i64>,
    message_id: Option<String>,
}

impl Signer {
    /// Signs under `scheme` with `secret`, at the time the scheme's clock gives.
    pub fn new(scheme: SignatureScheme, secret: Secret) -> Self {
        Self {
            scheme,
            secret: Some(secret),
            signing_key: None,
            timestamp: None,
            message_id: None,
        }
    }

    /// Signs the asymmetric signatures of `scheme` (which has them) with `key` alone.
    pub(crate) fn asymmetric(scheme: SignatureScheme, key: SigningKey) -> Self {
        Self {
            scheme,
            secret: None,
            signing_key: Some(key),
            timestamp: None,
            message_id: None,
        }
    }

    /// Also signs with the ed25519 `key`, writing its `v1a` entry after the secret's
    /// (or in place of any earlier key's).
    ///
    /// ```
    /// use hookguard::secret::SigningKey;
    /// use hookguard::Standard;
    ///
    /// let key = SigningKey::from_standard("whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=")?;
    /// let headers = Standard::signer("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?
    ///     .with_signing_key(key.clone())?
    ///     .headers(br#"{"type":"invoice.paid"}"#)?;
    /// let value = headers["webhook-signature"].to_str()?;
    /// assert!(value.starts_with("v1,") && value.contains(" v1a,"), "{value}");
    ///
    /// // Only a receiver holding the public key (or the secret) accepts it.
    /// let receiver = Standard::from_public_keys([key.public_key().to_string()])?;
    /// assert_eq!(receiver.verifier().verify(&headers, br#"{"type":"invoice.paid"}"#), Ok(()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoAsymmetricSignatures`] when the scheme has no asymmetric
    /// signatures (any but Standard Webhooks').
    pub fn with_signing_key(mut self, key: SigningKey) -> Result<Self, ConfigError> {
        if self.scheme.asymmetric_version().is_none() {
            return Err(ConfigError::NoAsymmetricSignatures);
        }
        self.signing_key = Some(key);
        Ok(self)
    }

    /// Signs as of `unix_seconds` instead of now: to test the tolerance window.
    #[must_use]
    pub fn at(mut self, unix_seconds: i64) -> Self {
        self.timestamp = Some(unix_seconds);
        self
    }

    /// Uses `id` for the signed headers a request lacks (Standard Webhooks'
    /// `webhook-id`) instead of a fresh one per request.
    #[must_use]
    pub fn with_message_id(mut self, id: impl Into<String>) -> Self {
        self.message_id = Some(id.into());
        self
    }

    /// The scheme signed under.
    pub fn scheme(&self) -> &SignatureScheme {
        &self.scheme
    }

    /// The headers to send with `body`: `content-type: application/json`, the
    /// scheme's timestamp and signed headers, and the signature.
    ///
    /// # Errors
    ///
    /// [`SignError::Signature`] when the scheme cannot sign, [`SignError::Request`]
    /// when the message id is not a valid header value.
    pub fn headers(&self, body: &[u8]) -> Result<HeaderMap, SignError> {
        self.headers_with_id(body, self.message_id.as_deref())
    }

    fn headers_with_id(&self, body: &[u8], id: Option<&str>) -> Result<HeaderMap, SignError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let timestamp = self
            .timestamp
            .unwrap_or_else(|| self.scheme.shared_clock().now().unix_timestamp());
        if let Some(TimestampSource::Header(name)) = self.scheme.timestamp_source() {
            headers.insert(name.clone(), HeaderValue::from(timestamp));
        }
        for part in self.scheme.signed_content().parts() {
            if let ContentPart::Header(name) = part {
                if !headers.contains_key(name) {
                    let id = id.map_or_else(|| format!("msg_{}", fresh_id()), str::to_owned);
                    let value = HeaderValue::try_from(id).map_err(http::Error::from)?;
                    headers.insert(name.clone(), value);
                }
            }
        }
        let mut values = Vec::with_capacity(2);
        if let Some(secret) = &self.secret {
            values.push(self.scheme.sign_at(secret, &headers, body, timestamp)?);
        }
        if let Some(key) = &self.signing_key {
            values.push(
                self.scheme
                    .sign_asymmetric_at(key, &headers, body, timestamp)?,
            );
        }
        let signature = match values.as_slice() {
            [one] => one.clone(),
            _ => {
                // Versioned entries are space-separated.
                let joined = values
                    .iter()
                    .map(HeaderValue::as_bytes)
                    .collect::<Vec<_>>()
                    .join(&b' ');
                HeaderValue::from_bytes(&joined).map_err(http::Error::from)?
            }
        };
        headers.insert(self.scheme.header(), signature);
        Ok(headers)
    }

    /// A signed POST of `body` to `uri`, ready for `tower::ServiceExt::oneshot` or an
    /// HTTP client.
    ///
    /// # Errors
    ///
    /// As [`headers`](Self::headers), and [`SignError::Request`] when `uri` is invalid.
    pub fn request(
        &self,
        uri: &str,
        body: impl Into<Bytes>,
    ) -> Result<Request<Full<Bytes>>, SignError> {
        let body = body.into();
        let headers = self.headers(&body)?;
        build(uri, headers, body)
    }

    /// A signed POST of `sample` to `uri`; the sample's id is the message id when the
    /// scheme signs one (as Standard Webhooks' `webhook-id` is).
    ///
    /// # Errors
    ///
    /// As [`request`](Self::request).
    pub fn sample_request(
        &self,
        uri: &str,
        sample: &Sample,
    ) -> Result<Request<Full<Bytes>>, SignError> {
        let body = sample.body();
        let id = self.message_id.as_deref().unwrap_or(sample.id());
        let headers = self.headers_with_id(&body, Some(id))?;
        build(uri, headers, body)
    }
}

impl Signer {
    /// A signed POST of a typed `event`, written as JSON, to `uri`; the event's id is the
    /// message id when the scheme signs one.
    ///
    /// ```
    /// use hookguard::{claimr, Claimr};
    ///
    /// let event = claimr::Event::from_slice(&Claimr::sample(claimr::EventKind::Referral).body())?;
    /// let request = Claimr::signer("s")?.event_request("/webhooks/claimr", &event)?;
    /// let (parts, body) = request.into_parts();
    /// # let body = futures_util::FutureExt::now_or_never(http_body_util::BodyExt::collect(body))
    /// #     .unwrap()?.to_bytes();
    /// assert_eq!(Claimr::new("s")?.verifier().verify(&parts.headers, &body), Ok(()));
    /// assert_eq!(claimr::Event::from_slice(&body)?.id(), event.id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`SignError::Json`] when the event does not serialize, and as
    /// [`request`](Self::request).
    pub fn event_request<E: WebhookEvent + serde::Serialize>(
        &self,
        uri: &str,
        event: &E,
    ) -> Result<Request<Full<Bytes>>, SignError> {
        let body = Bytes::from(serde_json::to_vec(event)?);
        let id = self.message_id.as_deref().unwrap_or(event.id());
        let headers = self.headers_with_id(&body, Some(id))?;
        build(uri, headers, body)
    }
}

fn build(uri: &str, headers: HeaderMap, body: Bytes) -> Result<Request<Full<Bytes>>, SignError> {
    let mut request = Request::post(uri).body(Full::new(body))?;
    request.headers_mut().extend(headers);
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SecretSet;
    use crate::signature::Verifier;
    use crate::{ChainVine, Claimr, HmacSender, Standard};

    #[test]
    fn every_preset_verifies_its_own_signature() {
        let body = br#"{"type":"ping"}"#;
        let standard_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let headers = Claimr::signer("s").unwrap().headers(body).unwrap();
        assert_eq!(
            Claimr::new("s").unwrap().verifier().verify(&headers, body),
            Ok(())
        );
        let headers = ChainVine::signer("s").unwrap().headers(body).unwrap();
        assert_eq!(
            ChainVine::new("s")
                .unwrap()
                .verifier()
                .verify(&headers, body),
            Ok(())
        );
        let headers = Standard::signer(standard_secret)
            .unwrap()
            .headers(body)
            .unwrap();
        assert_eq!(
            Standard::new(standard_secret)
                .unwrap()
                .verifier()
                .verify(&headers, body),
            Ok(())
        );
        for signer in [
            HmacSender::github_signer("s").unwrap(),
            HmacSender::stripe_signer("s").unwrap(),
        ] {
            let headers = signer.headers(body).unwrap();
            let verifier = Verifier::new(
                signer.scheme().clone(),
                SecretSet::new([Secret::new("s").unwrap()]).unwrap(),
            );
            assert_eq!(verifier.verify(&headers, body), Ok(()));
        }
    }

    #[test]
    fn an_old_timestamp_is_signed_and_refused_by_the_window() {
        let body = b"{}";
        let headers = HmacSender::stripe_signer("s")
            .unwrap()
            .at(1_000)
            .headers(body)
            .unwrap();
        assert!(headers["stripe-signature"]
            .to_str()
            .unwrap()
            .starts_with("t=1000,v1="));
        let verifier = Verifier::new(
            HmacSender::stripe_scheme(),
            SecretSet::new([Secret::new("s").unwrap()]).unwrap(),
        );
        assert_eq!(
            verifier.verify(&headers, body),
            Err(SignatureError::TimestampOutOfWindow)
        );
    }

    #[test]
    fn signing_keys_sign_standard_webhooks_only() {
        let key = SigningKey::from_seed([5; 32]);
        assert_eq!(
            Claimr::signer("s")
                .unwrap()
                .with_signing_key(key.clone())
                .unwrap_err(),
            ConfigError::NoAsymmetricSignatures
        );
        let body = b"{}";
        let headers = Standard::asymmetric_signer(&key.expose_standard())
            .unwrap()
            .at(1_700_000_000)
            .with_message_id("msg_1")
            .headers(body)
            .unwrap();
        let value = headers["webhook-signature"].to_str().unwrap();
        assert!(value.starts_with("v1a,") && !value.contains(' '), "{value}");
        let receiver = Standard::from_public_keys([key.public_key().to_string()])
            .unwrap()
            .without_tolerance();
        assert_eq!(receiver.verifier().verify(&headers, body), Ok(()));
        assert_eq!(
            receiver.verifier().verify(&headers, b"{ }"),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn standard_requests_get_fresh_message_ids() {
        let signer = Standard::signer("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let a = signer.headers(b"{}").unwrap();
        let b = signer.headers(b"{}").unwrap();
        assert_ne!(a["webhook-id"], b["webhook-id"]);
    }
}
