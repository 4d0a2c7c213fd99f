//! The whole layer and dispatcher over arbitrary requests: method, content type,
//! signature (right, absent, garbage, or the right one among decoys), a body sent whole
//! or in chunks that may stall or fail. Time is tokio's paused clock, so the body
//! timeout fires at once.
//!
//! Checked: never a panic; a status from the documented set; a handler runs only for a
//! correctly signed, well-formed POST, and always for one.
//!
//! Input: two bytes of choices, then the body (or, for a garbage signature, the header
//! value and the body, split at the first newline).
#![no_main]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use hookguard::idempotency::MemoryStore;
use hookguard::{
    chainvine, claimr, ChainVine, Claimr, Dispatcher, Provider, Secret, WebhookEvent, WebhookLayer,
};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

const SECRET: &str = "fuzz-secret";
const LIMIT: usize = 4096;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type FuzzBody = UnsyncBoxBody<Bytes, BoxError>;

static CALLS: LazyLock<Arc<AtomicUsize>> = LazyLock::new(Default::default);

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
});

fn counting<E: WebhookEvent>() -> Dispatcher<E> {
    Dispatcher::new()
        .with_handler_timeout(Duration::from_secs(5))
        .on_any(|_| async {
            CALLS.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
}

fn layer<P: Provider>(provider: P) -> WebhookLayer<P> {
    WebhookLayer::new(provider)
        .with_body_limit(LIMIT)
        .unwrap()
        .with_body_timeout(Duration::from_secs(1))
}

#[derive(Clone, Copy, PartialEq)]
enum Signature {
    Right,
    Absent,
    Garbage,
    AmongDecoys,
}

#[derive(Clone, Copy, PartialEq)]
enum End {
    Whole,
    Chunked,
    Stalls,
    Fails,
}

fn body(bytes: Bytes, end: End, chunk: usize) -> FuzzBody {
    if end == End::Whole {
        return Full::new(bytes)
            .map_err(|never| match never {})
            .boxed_unsync();
    }
    let chunks: Vec<Bytes> = bytes.chunks(chunk).map(Bytes::copy_from_slice).collect();
    let frames = futures_util::stream::iter(chunks.into_iter().map(|c| Ok(Frame::data(c))));
    match end {
        End::Stalls => {
            StreamBody::new(frames.chain(futures_util::stream::pending())).boxed_unsync()
        }
        End::Fails => StreamBody::new(frames.chain(futures_util::stream::once(async {
            Err::<Frame<Bytes>, BoxError>("connection reset".into())
        })))
        .boxed_unsync(),
        _ => StreamBody::new(frames).boxed_unsync(),
    }
}

fuzz_target!(|data: &[u8]| {
    let [a, b, rest @ ..] = data else {
        return;
    };
    let chainvine = a & 1 == 1;
    let method = match (a >> 1) & 7 {
        0 => Method::GET,
        1 => Method::PUT,
        _ => Method::POST,
    };
    let content_type: Option<&[u8]> = match (a >> 4) & 3 {
        0 => None,
        1 => Some(b"text/plain"),
        2 => Some(b"application/vnd.chainvine+json; charset=utf-8"),
        _ => Some(b"application/json"),
    };
    let signature = match a >> 6 {
        0 => Signature::Absent,
        1 => Signature::Garbage,
        2 => Signature::AmongDecoys,
        _ => Signature::Right,
    };
    let end = match b & 3 {
        0 => End::Chunked,
        1 => End::Stalls,
        2 => End::Fails,
        _ => End::Whole,
    };
    let chunk = usize::from(b >> 2) + 1;
    let declare_length = b & 0x80 != 0;

    let (garbage, payload) = match signature {
        Signature::Garbage => match rest.iter().position(|&c| c == b'\n') {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (rest, &[][..]),
        },
        _ => (&[][..], rest),
    };
    let payload = Bytes::copy_from_slice(payload);

    let scheme = if chainvine {
        ChainVine::default_scheme()
    } else {
        Claimr::default_scheme()
    };
    let right = scheme
        .sign(&Secret::new(SECRET).unwrap(), &HeaderMap::new(), &payload)
        .unwrap();
    let mut request = Request::builder().method(method.clone()).uri("/webhook");
    if let Some(content_type) = content_type {
        request = request.header(
            "content-type",
            HeaderValue::from_bytes(content_type).unwrap(),
        );
    }
    if declare_length {
        request = request.header("content-length", payload.len());
    }
    match signature {
        Signature::Right => request = request.header(scheme.header(), right.clone()),
        Signature::AmongDecoys => {
            let decoy = format!("sha256={}", "0f".repeat(32));
            request = request
                .header(scheme.header(), HeaderValue::from_str(&decoy).unwrap())
                .header(scheme.header(), right.clone())
                .header(scheme.header(), "v1,");
        }
        Signature::Garbage => {
            if let Ok(value) = HeaderValue::from_bytes(garbage) {
                request = request.header(scheme.header(), value);
            }
        }
        Signature::Absent => {}
    }
    let request = request.body(body(payload.clone(), end, chunk)).unwrap();

    // What a delivered ChainVine event is answered with, when not 200 with one call: the
    // dispatcher pays, so it refuses unknown events (500), and a payment request with no
    // usable id is refused (422); neither runs a handler.
    let mut refused_as = None;
    let parses = if chainvine {
        match ChainVine::new(SECRET)
            .unwrap()
            .parse(&http::HeaderMap::new(), &payload)
        {
            Ok(event) => {
                if event.is_unknown() {
                    refused_as = Some(StatusCode::INTERNAL_SERVER_ERROR);
                } else if event.payment_request().is_some()
                    && hookguard::payout::idempotency_key(&event).is_err()
                {
                    refused_as = Some(StatusCode::UNPROCESSABLE_ENTITY);
                }
                true
            }
            Err(_) => false,
        }
    } else {
        Claimr::new(SECRET)
            .unwrap()
            .parse(&http::HeaderMap::new(), &payload)
            .is_ok()
    };
    let signed = matches!(signature, Signature::Right | Signature::AmongDecoys);
    let json = (a >> 4) & 3 >= 2;
    let complete = matches!(end, End::Whole | End::Chunked);

    CALLS.store(0, Ordering::SeqCst);
    let status = RUNTIME.block_on(async {
        let response = if chainvine {
            let service = layer(ChainVine::new(SECRET).unwrap()).layer(
                counting::<chainvine::Event>().on_payment_request(MemoryStore::new(), |_| async {
                    CALLS.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }),
            );
            service.oneshot(request).await.map(|r| r.status())
        } else {
            let service = layer(Claimr::new(SECRET).unwrap()).layer(counting::<claimr::Event>());
            service.oneshot(request).await.map(|r| r.status())
        };
        match response {
            Ok(status) => status,
            Err(never) => match never {},
        }
    });
    let calls = CALLS.load(Ordering::SeqCst);

    assert!(
        [200, 400, 401, 405, 408, 413, 415, 422, 500].contains(&status.as_u16()),
        "undocumented status {status}"
    );
    let deliverable =
        method == Method::POST && json && signed && complete && payload.len() <= LIMIT && parses;
    if calls > 0 {
        assert!(
            deliverable,
            "a handler ran for a refused delivery ({status})"
        );
        assert_eq!((calls, status), (1, StatusCode::OK));
    }
    if deliverable {
        let expected = match refused_as {
            Some(refusal) => (0, refusal),
            None => (1, StatusCode::OK),
        };
        assert_eq!((calls, status), expected, "a good delivery was refused");
    } else {
        assert_ne!(
            status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "a refusal answered 500"
        );
    }
});
