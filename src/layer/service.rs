use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ::metrics::SharedString;
use bytes::Buf;
use http::{header, Method, Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tower_service::Service;
use tracing::field::Empty;
use tracing::Instrument;

use super::{ResponseBody, ResponseFuture, VerifiedBody};
use crate::metrics;
use crate::provider::{accept, Provider};
use crate::rejection::Rejection;

/// The service built by [`WebhookLayer`](super::WebhookLayer): verifies, parses, and
/// hands verified deliveries to `inner`.
///
/// # Panics
///
/// A call's future panics if polled outside a tokio runtime with time enabled: the body
/// timeout uses tokio's timer.
#[derive(Debug, Clone)]
pub struct Webhook<S, P> {
    inner: S,
    name: Arc<str>,
    provider: Arc<P>,
    body_limit: usize,
    body_timeout: Duration,
}

impl<S, P: Provider> Webhook<S, P> {
    pub(crate) fn new(
        inner: S,
        name: Arc<str>,
        provider: Arc<P>,
        body_limit: usize,
        body_timeout: Duration,
    ) -> Self {
        Self {
            inner,
            name,
            provider,
            body_limit,
            body_timeout,
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, by value.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// Whether the request declares a JSON body (`application/json` or `application/*+json`,
/// any parameters).
fn is_json(headers: &http::HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    // What nearly every sender writes, compared at once rather than split and trimmed.
    if value.as_bytes().eq_ignore_ascii_case(b"application/json") {
        return true;
    }
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || subtype.len() > 5
                && subtype.is_char_boundary(subtype.len() - 5)
                && subtype[subtype.len() - 5..].eq_ignore_ascii_case("+json"))
}

/// The declared length, when there is one that parses.
fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The layer's own answer to a delivery it refuses: logged, counted, and recorded on the
/// delivery's span (the current one, where the layer calls this).
fn reject<B>(provider: &Arc<str>, rejection: &Rejection) -> Response<ResponseBody<B>> {
    let status = rejection.status();
    tracing::warn!(
        provider = &**provider,
        status = status.as_u16(),
        reason = %rejection,
        "webhook delivery refused"
    );
    let span = tracing::Span::current();
    span.record("status", status.as_u16());
    span.record("outcome", rejection.reason());
    metrics::refused(provider, rejection.reason());
    metrics::delivery_answered(provider, SharedString::const_str(""), status);
    rejection.to_response().map(ResponseBody::rejection)
}

impl<S, P, ReqBody, ResBody> Service<Request<ReqBody>> for Webhook<S, P>
where
    S: Service<Request<VerifiedBody<P::Event>>, Response = Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    P: Provider,
    ReqBody: Body + Send + 'static,
    ReqBody::Data: Buf + Send,
    ReqBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    ResBody: 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // One span per delivery, around verification and handling; what is not known
        // yet is recorded as it becomes known. Without a subscriber it is a no-op.
        let span = tracing::info_span!(
            "webhook",
            provider = &*self.name,
            event = Empty,
            id = Empty,
            attempt = Empty,
            status = Empty,
            outcome = Empty,
        );
        // Everything decidable from the head is decided before a byte of body is read.
        let early = if request.method() != Method::POST {
            Some(Rejection::MethodNotAllowed)
        } else if !is_json(request.headers()) {
            Some(Rejection::UnsupportedMediaType)
        } else if content_length(request.headers()).is_some_and(|len| len > self.body_limit as u64)
        {
            Some(Rejection::PayloadTooLarge {
                limit: self.body_limit,
            })
        } else if !self.provider.verifier().allows_unsigned()
            && !self.provider.verifier().has_signature(request.headers())
        {
            Some(Rejection::Signature(
                crate::signature::SignatureError::Missing,
            ))
        } else {
            None
        };
        if let Some(rejection) = early {
            let _entered = span.enter();
            return ResponseFuture::ready(reject(&self.name, &rejection));
        }

        // The inner service was driven to readiness; take that one and leave a clone.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let provider = Arc::clone(&self.provider);
        let name = Arc::clone(&self.name);
        let limit = self.body_limit;
        let timeout = self.body_timeout;
        // Split here rather than in the future, which would then hold the request and
        // its parts side by side: a smaller future stays in the allocator's fast path.
        let (mut parts, body) = request.into_parts();
        let delivery = async move {
            let collected = tokio::time::timeout(timeout, Limited::new(body, limit).collect());
            let body = match collected.await {
                Ok(Ok(collected)) => collected.to_bytes(),
                Err(_elapsed) => return Ok(reject(&name, &Rejection::Timeout)),
                Ok(Err(err)) => {
                    let rejection = if err.is::<LengthLimitError>() {
                        Rejection::PayloadTooLarge { limit }
                    } else {
                        Rejection::BodyRead
                    };
                    return Ok(reject(&name, &rejection));
                }
            };
            // In a block of its own: a local of this body still in scope at the await
            // below is stored in the future, and the verification's result alone would
            // take it past 1 KiB, out of the allocator's per-thread cache.
            let verified = {
                let started = Instant::now();
                let accepted = accept(&*provider, &name, &parts.headers, body.clone());
                metrics::verified_in(&name, started.elapsed());
                match accepted {
                    Ok(verified) => verified,
                    Err(rejection) => return Ok(reject(&name, &rejection)),
                }
            };
            {
                let span = tracing::Span::current();
                span.record("event", verified.name());
                span.record("id", verified.id());
            }
            tracing::debug!(
                provider = &*name,
                event = verified.name(),
                id = verified.id(),
                "webhook delivery verified"
            );
            // Taken now: the delivery moves into the request.
            let event = metrics::event_label(verified.name());
            parts.extensions.insert(verified);
            let request = Request::from_parts(parts, VerifiedBody::new(body));
            let response = inner.call(request).await?;
            tracing::Span::current().record("status", response.status().as_u16());
            metrics::delivery_answered(&name, event, response.status());
            Ok(response.map(ResponseBody::inner))
        };
        ResponseFuture::pending(delivery.instrument(span))
    }
}

#[cfg(test)]
mod tests {
    use super::is_json;
    use http::{header, HeaderMap, HeaderValue};

    #[test]
    fn json_content_types() {
        for (value, expected) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/vnd.chainvine+json", true),
            ("text/plain", false),
            ("application/jsonx", false),
            ("+json", false),
            ("application/+json", false),
            ("APPLICATION/JSON", true),
            ("application/json ", true),
            (" application/json", true),
            ("application/jso", false),
            ("application/json;", true),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            assert_eq!(is_json(&headers), expected, "{value}");
        }
        assert!(!is_json(&HeaderMap::new()));
        // Bytes outside visible ASCII are refused, as `to_str` refuses them.
        for value in [&b"application/json\xff"[..], b"application/json; x=\xe9"] {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_bytes(value).unwrap(),
            );
            assert!(!is_json(&headers), "{value:?}");
        }
    }
}
