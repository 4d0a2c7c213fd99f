//! Why a delivery was refused, and the response each refusal gets.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;

use crate::event::ParseError;
use crate::signature::SignatureError;

/// Why the layer refused a delivery. No handler runs for any of these.
///
/// | variant | status |
/// |---|---|
/// | [`MethodNotAllowed`](Rejection::MethodNotAllowed) | 405, with `Allow: POST` |
/// | [`UnsupportedMediaType`](Rejection::UnsupportedMediaType) | 415 |
/// | [`PayloadTooLarge`](Rejection::PayloadTooLarge) | 413 |
/// | [`BodyRead`](Rejection::BodyRead) | 400 |
/// | [`Timeout`](Rejection::Timeout) | 408, with `Connection: close` |
/// | [`Signature`](Rejection::Signature) | 401 |
/// | [`MalformedJson`](Rejection::MalformedJson) | 400 |
/// | [`InvalidEvent`](Rejection::InvalidEvent) | 422 |
/// | [`LayerMissing`](Rejection::LayerMissing) | 500 |
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// Webhooks are POST requests.
    #[error("method not allowed: webhooks are POST requests")]
    MethodNotAllowed,
    /// The body is not declared as JSON.
    #[error("unsupported media type: expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// The body is longer than the layer's cap.
    #[error("payload too large: the limit is {limit} bytes")]
    PayloadTooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The body could not be read to its end.
    #[error("failed to read the request body")]
    BodyRead,
    /// The body did not arrive in full within the layer's body timeout.
    #[error("request timeout: the body did not arrive in time")]
    Timeout,
    /// The signature is missing, malformed or wrong, or its signed timestamp is
    /// unreadable or outside the window (see [`SignatureError`]).
    #[error("unauthorized: {0}")]
    Signature(#[from] SignatureError),
    /// The verified body is not well-formed JSON.
    #[error("{0}")]
    MalformedJson(ParseError),
    /// The verified body is JSON of the wrong shape.
    #[error("{0}")]
    InvalidEvent(ParseError),
    /// A handler or extractor looked for a verified delivery and found none: the
    /// webhook layer is not in front of it. A server error, not the sender's fault.
    #[error("internal error: the webhook layer is not installed on this route")]
    LayerMissing,
}

impl From<ParseError> for Rejection {
    fn from(err: ParseError) -> Self {
        match err {
            ParseError::Syntax { .. } => Rejection::MalformedJson(err),
            ParseError::Data { .. } => Rejection::InvalidEvent(err),
        }
    }
}

impl Rejection {
    /// The status this refusal answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Rejection::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Rejection::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::Timeout => StatusCode::REQUEST_TIMEOUT,
            Rejection::BodyRead | Rejection::MalformedJson(_) => StatusCode::BAD_REQUEST,
            Rejection::Signature(_) => StatusCode::UNAUTHORIZED,
            Rejection::InvalidEvent(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Rejection::LayerMissing => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short, stable, snake_case name for why the delivery was refused: the `reason`
    /// label of `hookguard_refusals_total` ([`metrics`](crate::metrics)), fit for your
    /// own logs and alerts. One per kind of refusal; the text never holds request data.
    ///
    /// | refusal | reason |
    /// |---|---|
    /// | [`MethodNotAllowed`](Rejection::MethodNotAllowed) | `method_not_allowed` |
    /// | [`UnsupportedMediaType`](Rejection::UnsupportedMediaType) | `unsupported_media_type` |
    /// | [`PayloadTooLarge`](Rejection::PayloadTooLarge) | `body_too_large` |
    /// | [`BodyRead`](Rejection::BodyRead) | `body_read_failed` |
    /// | [`Timeout`](Rejection::Timeout) | `body_timeout` |
    /// | [`Signature`](Rejection::Signature): [`Missing`](SignatureError::Missing) | `missing_signature` |
    /// | [`Signature`](Rejection::Signature): [`Malformed`](SignatureError::Malformed) | `malformed_signature` |
    /// | [`Signature`](Rejection::Signature): [`Mismatch`](SignatureError::Mismatch) | `signature_mismatch` |
    /// | [`Signature`](Rejection::Signature): [`InvalidTimestamp`](SignatureError::InvalidTimestamp) | `malformed_timestamp` |
    /// | [`Signature`](Rejection::Signature): [`TimestampOutOfWindow`](SignatureError::TimestampOutOfWindow) | `stale_timestamp` |
    /// | [`MalformedJson`](Rejection::MalformedJson) | `malformed_json` |
    /// | [`InvalidEvent`](Rejection::InvalidEvent) | `invalid_payload` |
    /// | [`LayerMissing`](Rejection::LayerMissing) | `layer_missing` |
    ///
    /// ```
    /// use hookguard::{Rejection, SignatureError};
    ///
    /// assert_eq!(Rejection::Signature(SignatureError::Mismatch).reason(), "signature_mismatch");
    /// assert_eq!(Rejection::PayloadTooLarge { limit: 1024 }.reason(), "body_too_large");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::MethodNotAllowed => "method_not_allowed",
            Rejection::UnsupportedMediaType => "unsupported_media_type",
            Rejection::PayloadTooLarge { .. } => "body_too_large",
            Rejection::BodyRead => "body_read_failed",
            Rejection::Timeout => "body_timeout",
            Rejection::Signature(err) => match err {
                SignatureError::Missing => "missing_signature",
                SignatureError::Malformed => "malformed_signature",
                SignatureError::Mismatch => "signature_mismatch",
                SignatureError::InvalidTimestamp => "malformed_timestamp",
                SignatureError::TimestampOutOfWindow => "stale_timestamp",
            },
            Rejection::MalformedJson(_) => "malformed_json",
            Rejection::InvalidEvent(_) => "invalid_payload",
            Rejection::LayerMissing => "layer_missing",
        }
    }

    /// The response: the status, a short plain-text body, `Allow` on a 405, and
    /// `Connection: close` on a 408 (the rest of that body is not going to be read).
    pub fn to_response(&self) -> Response<Full<Bytes>> {
        let mut response = plain_response(self.status(), self.to_string());
        if matches!(self, Rejection::MethodNotAllowed) {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        if matches!(self, Rejection::Timeout) {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// A plain-text response with `status` and `text`.
pub(crate) fn plain_response(status: StatusCode, text: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(text.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(feature = "axum")]
impl axum::response::IntoResponse for Rejection {
    fn into_response(self) -> axum::response::Response {
        self.to_response().map(axum::body::Body::new)
    }
}
