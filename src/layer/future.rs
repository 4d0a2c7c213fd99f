use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;

use super::ResponseBody;

type BoxedResponse<B, E> =
    Pin<Box<dyn Future<Output = Result<Response<ResponseBody<B>>, E>> + Send + 'static>>;

/// The response future of [`Webhook`](super::Webhook).
///
/// Refusals decided from the head alone (method, content type, declared length, missing
/// signature) are ready at once; the rest buffers the body, verifies, parses and calls
/// the inner service.
pub struct ResponseFuture<B, E> {
    kind: Kind<B, E>,
}

enum Kind<B, E> {
    Ready(Option<Response<ResponseBody<B>>>),
    Pending(BoxedResponse<B, E>),
}

impl<B, E> ResponseFuture<B, E> {
    pub(crate) fn ready(response: Response<ResponseBody<B>>) -> Self {
        Self {
            kind: Kind::Ready(Some(response)),
        }
    }

    pub(crate) fn pending(
        future: impl Future<Output = Result<Response<ResponseBody<B>>, E>> + Send + 'static,
    ) -> Self {
        Self {
            kind: Kind::Pending(Box::pin(future)),
        }
    }
}

// Both variants are Unpin whatever `B` is: an `Option` of a response that is only moved
// out, never polled, and a `Box`.
impl<B, E> Unpin for ResponseFuture<B, E> {}

impl<B, E> Future for ResponseFuture<B, E> {
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().kind {
            Kind::Ready(response) => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                None => panic!("ResponseFuture polled after completion"),
            },
            Kind::Pending(future) => future.as_mut().poll(cx),
        }
    }
}

impl<B, E> std::fmt::Debug for ResponseFuture<B, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
