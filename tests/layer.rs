//! The layer and dispatcher driven as tower services: every refusal status with no
//! handler run, handler errors, panics, unknown events, payouts.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod support;

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hookguard::idempotency::MemoryStore;
use hookguard::layer::VerifiedBody;
use hookguard::{
    chainvine, claimr, standard, ChainVine, Claimr, Dispatcher, HandlerError, Payout, PayoutError,
    Verified, WebhookLayer,
};
use http::{header, Request, StatusCode};
use http_body::{Body, Frame};
use http_body_util::Full;
use support::*;
use tower::{Service, ServiceExt};

type Counter = Arc<AtomicUsize>;

/// A claimr receiver whose every handler counts its calls.
fn claimr_service(
    calls: Counter,
) -> impl Service<
    Request<Full<Bytes>>,
    Response = http::Response<impl Body<Data = Bytes, Error = std::convert::Infallible>>,
    Error = std::convert::Infallible,
> + Clone {
    let dispatcher = Dispatcher::<claimr::Event>::new().on_any(move |_| {
        let calls = calls.clone();
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    });
    WebhookLayer::new(Claimr::new(CLAIMR_SECRET).unwrap())
        .with_body_limit(4096)
        .unwrap()
        .layer(dispatcher)
}

async fn status_and_text<S, B>(service: S, request: Request<Full<Bytes>>) -> (StatusCode, String)
where
    S: Service<Request<Full<Bytes>>, Response = http::Response<B>>,
    S::Error: std::fmt::Debug,
    B: Body,
    B::Error: std::fmt::Debug,
{
    let response = service.oneshot(request).await.unwrap();
    let status = response.status();
    (status, body_text(response.into_body()).await)
}

#[tokio::test]
async fn a_signed_claimr_event_reaches_its_handler() {
    let calls = Counter::default();
    let body = fixture("claimr/user_activity.json");
    let (status, text) = status_and_text(claimr_service(calls.clone()), claimr_request(body)).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "ok"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn every_refusal_has_its_status_and_runs_no_handler() {
    let valid = fixture("claimr/user_activity.json");
    let scheme = Claimr::default_scheme();
    let sig = signature(&scheme, CLAIMR_SECRET, &valid);
    let post = || {
        Request::post("/webhooks/claimr")
            .header("content-type", "application/json")
            .header(scheme.header(), sig.clone())
    };
    let mut tampered = valid.clone();
    tampered[20] ^= 0x01;

    let cases: Vec<(&str, Request<Full<Bytes>>, StatusCode, &str)> = vec![
        (
            "GET",
            Request::get("/webhooks/claimr")
                .header("content-type", "application/json")
                .header(scheme.header(), sig.clone())
                .body(Full::new(Bytes::from(valid.clone())))
                .unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed",
        ),
        (
            "text/plain",
            Request::post("/webhooks/claimr")
                .header("content-type", "text/plain")
                .header(scheme.header(), sig.clone())
                .body(Full::new(Bytes::from(valid.clone())))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported media type",
        ),
        (
            "no content type",
            Request::post("/webhooks/claimr")
                .header(scheme.header(), sig.clone())
                .body(Full::new(Bytes::from(valid.clone())))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported media type",
        ),
        (
            "declared length over the cap",
            post()
                .header(header::CONTENT_LENGTH, "4097")
                .body(Full::new(Bytes::from(vec![b' '; 4097])))
                .unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload too large",
        ),
        (
            "undeclared body over the cap",
            post()
                .body(Full::new(Bytes::from(vec![b' '; 5000])))
                .unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload too large",
        ),
        (
            "missing signature",
            Request::post("/webhooks/claimr")
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(valid.clone())))
                .unwrap(),
            StatusCode::UNAUTHORIZED,
            "unauthorized: missing signature",
        ),
        (
            "tampered body",
            post().body(Full::new(Bytes::from(tampered))).unwrap(),
            StatusCode::UNAUTHORIZED,
            "unauthorized: signature mismatch",
        ),
        (
            "wrong secret",
            signed_request("/", &scheme, "another-secret", valid.clone()),
            StatusCode::UNAUTHORIZED,
            "unauthorized: signature mismatch",
        ),
        (
            "truncated signature",
            Request::post("/webhooks/claimr")
                .header("content-type", "application/json")
                .header(scheme.header(), &sig.to_str().unwrap()[..40])
                .body(Full::new(Bytes::from(valid.clone())))
                .unwrap(),
            StatusCode::UNAUTHORIZED,
            "unauthorized: malformed signature",
        ),
        (
            "prefix only",
            Request::post("/webhooks/claimr")
                .header("content-type", "application/json")
                .header(scheme.header(), "sha256=")
                .body(Full::new(Bytes::from(valid.clone())))
                .unwrap(),
            StatusCode::UNAUTHORIZED,
            "unauthorized: malformed signature",
        ),
        (
            "malformed JSON, validly signed",
            claimr_request(&b"{\"id\": \"1\", \"scope\": "[..]),
            StatusCode::BAD_REQUEST,
            "malformed JSON",
        ),
        (
            "wrong shape, validly signed",
            claimr_request(
                &br#"{"id":"1","scope":"user_activity","campaign":{"id":"c","name":7}}"#[..],
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid event at `campaign.name`",
        ),
        (
            "missing scope, validly signed",
            claimr_request(&br#"{"id":"1"}"#[..]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "scope",
        ),
    ];

    for (name, request, status, text) in cases {
        let calls = Counter::default();
        let (got_status, got_text) = status_and_text(claimr_service(calls.clone()), request).await;
        assert_eq!(got_status, status, "{name}: {got_text}");
        assert!(
            got_text.contains(text),
            "{name}: body {got_text:?} lacks {text:?}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 0, "{name}: a handler ran");
    }
}

#[tokio::test]
async fn method_not_allowed_names_post() {
    let response = claimr_service(Counter::default())
        .oneshot(Request::put("/").body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()[header::ALLOW], "POST");
}

/// A body that never ends, counting the bytes it hands out.
struct EndlessBody {
    served: Counter,
}

impl Body for EndlessBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.served.fetch_add(1024, Ordering::SeqCst);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b' '; 1024])))))
    }
}

#[tokio::test]
async fn a_chunked_body_past_the_cap_is_refused_without_reading_on() {
    let served = Counter::default();
    let calls = Counter::default();
    let dispatcher = Dispatcher::<claimr::Event>::new().on_any({
        let calls = calls.clone();
        move |_| {
            let calls = calls.clone();
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        }
    });
    let service = WebhookLayer::new(Claimr::new(CLAIMR_SECRET).unwrap())
        .with_body_limit(4096)
        .unwrap()
        .layer(dispatcher);
    let request = Request::post("/")
        .header("content-type", "application/json")
        .header("x-claimr-signature", "00".repeat(32))
        .body(EndlessBody {
            served: served.clone(),
        })
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // The cap is 4 KiB: reading stops within one chunk of it.
    assert!(served.load(Ordering::SeqCst) <= 4096 + 1024);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn handler_errors_answer_retryable_statuses() {
    let service = WebhookLayer::new(Claimr::new(CLAIMR_SECRET).unwrap()).layer(
        Dispatcher::new()
            .on(claimr::EventKind::UserActivity, |_| async {
                let write: Result<(), std::io::Error> = Err(std::io::Error::other("database down"));
                write?;
                Ok(())
            })
            .on(claimr::EventKind::UserLogin, |_| async {
                Err(HandlerError::msg("busy")
                    .with_status(StatusCode::SERVICE_UNAVAILABLE)
                    .with_retry_after(Duration::from_secs(7)))
            }),
    );
    let response = service
        .clone()
        .oneshot(claimr_request(fixture("claimr/user_activity.json")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let text = body_text(response.into_body()).await;
    assert_eq!(text, "handler failed", "the error itself is not sent back");

    let response = service
        .oneshot(claimr_request(fixture("claimr/user_login.json")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[header::RETRY_AFTER], "7");
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_service_keeps_serving() {
    let calls = Counter::default();
    let service = WebhookLayer::new(Claimr::new(CLAIMR_SECRET).unwrap()).layer(
        Dispatcher::new()
            .on(claimr::EventKind::UserActivity, |_| async {
                if true {
                    panic!("handler bug");
                }
                Ok(())
            })
            .on(
                claimr::EventKind::UserReward,
                |_| -> std::future::Ready<Result<(), HandlerError>> {
                    panic!("panics before returning a future")
                },
            )
            .on_any({
                let calls = calls.clone();
                move |_| {
                    let calls = calls.clone();
                    async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    }
                }
            }),
    );
    for fixture_name in ["claimr/user_activity.json", "claimr/user_reward.json"] {
        let (status, text) =
            status_and_text(service.clone(), claimr_request(fixture(fixture_name))).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{fixture_name}");
        assert_eq!(text, "handler panicked");
    }
    let (status, _) =
        status_and_text(service, claimr_request(fixture("claimr/referral.json"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn unknown_events_are_acknowledged_and_keep_their_raw_json() {
    let body = fixture("claimr/unknown_scope.json");
    // With no catch-all: 200 by default, and the configured status otherwise.
    let (status, _) = status_and_text(
        WebhookLayer::new(Claimr::new(CLAIMR_SECRET).unwrap())
            .layer(Dispatcher::<claimr::Event>::new()),
        claimr_request(body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = status_and_text(
        WebhookLayer::new(Claimr::new(CLAIMR_SECRET).unwrap())
            .layer(Dispatcher::<claimr::Event>::new().with_unknown_status(StatusCode::ACCEPTED)),
        claimr_request(body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);

    // A catch-all sees the unknown event with its raw JSON intact.
    let seen = Arc::new(std::sync::Mutex::new(None));
    let service = WebhookLayer::new(Claimr::new(CLAIMR_SECRET).unwrap()).layer(
        Dispatcher::<claimr::Event>::new().on_any({
            let seen = seen.clone();
            move |event| {
                let seen = seen.clone();
                async move {
                    if let claimr::Event::Unknown(unknown) = event.event() {
                        *seen.lock().unwrap() =
                            Some((unknown.scope.clone(), unknown.raw.get().to_owned()));
                    }
                    Ok(())
                }
            }
        }),
    );
    let (status, _) = status_and_text(service, claimr_request(body.clone())).await;
    assert_eq!(status, StatusCode::OK);
    let (scope, raw) = seen.lock().unwrap().clone().expect("the catch-all ran");
    assert!(!["user_activity", "user_login", "user_reward", "referral"].contains(&&*scope));
    assert_eq!(raw.as_bytes(), body.trim_ascii());
}

fn chainvine_payout_service(
    paid: Counter,
    outcome: fn(&Payout) -> Result<(), PayoutError>,
) -> impl Service<
    Request<Full<Bytes>>,
    Response = http::Response<impl Body<Data = Bytes, Error = std::convert::Infallible>>,
    Error = std::convert::Infallible,
> + Clone {
    WebhookLayer::new(ChainVine::new(CHAINVINE_SECRET).unwrap()).layer(
        Dispatcher::new().on_payment_request(MemoryStore::new(), move |payout| {
            let paid = paid.clone();
            async move {
                outcome(&payout)?;
                paid.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        }),
    )
}

#[tokio::test]
async fn payout_ok_is_200_and_err_is_503_with_retry_after() {
    let body = fixture("chainvine/payment_request.json");
    let paid = Counter::default();
    let service = chainvine_payout_service(paid.clone(), |payout| {
        assert_eq!(payout.attempt(), 1);
        assert!(!payout.idempotency_key().is_empty());
        assert!(payout.request().amount().is_some());
        Ok(())
    });
    let (status, _) = status_and_text(service, chainvine_request(body.clone())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(paid.load(Ordering::SeqCst), 1);

    let service = chainvine_payout_service(paid.clone(), |_| Err(PayoutError::msg("bank down")));
    let response = service
        .oneshot(chainvine_request(body.clone()))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[header::RETRY_AFTER], "30");
    assert_eq!(paid.load(Ordering::SeqCst), 1);

    let service = chainvine_payout_service(paid.clone(), |_| {
        Err(PayoutError::msg("refused")
            .with_status(StatusCode::OK)
            .without_retry_after())
    });
    let response = service.oneshot(chainvine_request(body)).await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "an error can never answer 2xx"
    );
    assert!(response.headers().get(header::RETRY_AFTER).is_none());
}

#[tokio::test]
async fn the_payout_key_names_the_payment_request_not_the_attempt() {
    let body = fixture("chainvine/payment_request.json");
    let event = chainvine::Event::from_slice(&body).unwrap();
    let key = hookguard::payout::idempotency_key(&event).unwrap();
    let community = event.source().community().id();
    let expected = match event.payment_request().and_then(|r| r.id()) {
        Some(id) => format!("chainvine:{community}:payment:{id}"),
        None => format!("chainvine:{community}:event:{}", event.event_id()),
    };
    assert_eq!(key, expected);
    assert!(!key.contains(event.request_id()));
}

#[tokio::test]
async fn insecure_chainvine_requests_are_refused_unless_opted_in() {
    let body = fixture("chainvine/referral_conversion.json");
    let insecure = String::from_utf8(body)
        .unwrap()
        .replace("\"secure_request\": true", "\"secure_request\": false");
    assert!(
        insecure.contains("\"secure_request\": false"),
        "fixture layout changed"
    );
    let unsigned = || {
        Request::post("/")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(insecure.clone())))
            .unwrap()
    };
    let seen_unsigned = Counter::default();
    let dispatcher = Dispatcher::<chainvine::Event>::new().on_any({
        let seen = seen_unsigned.clone();
        move |event| {
            let seen = seen.clone();
            async move {
                if !event.is_signed() {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
                Ok(())
            }
        }
    });
    let strict =
        WebhookLayer::new(ChainVine::new(CHAINVINE_SECRET).unwrap()).layer(dispatcher.clone());
    assert_eq!(
        strict.oneshot(unsigned()).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    let lenient = WebhookLayer::new(
        ChainVine::new(CHAINVINE_SECRET)
            .unwrap()
            .accept_unsigned_insecure_requests(),
    )
    .layer(dispatcher);
    assert_eq!(
        lenient.clone().oneshot(unsigned()).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(seen_unsigned.load(Ordering::SeqCst), 1);

    // A body that claims to be secure still needs its signature.
    let secure = fixture("chainvine/referral_conversion.json");
    let request = Request::post("/")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(secure)))
        .unwrap();
    assert_eq!(
        lenient.clone().oneshot(request).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    // And a wrong signature is never excused by `secure_request: false`.
    let request = signed_request("/", &ChainVine::default_scheme(), "wrong", insecure.clone());
    assert_eq!(
        lenient.oneshot(request).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn every_chainvine_event_is_dispatched_by_kind() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = |seen: Arc<std::sync::Mutex<Vec<String>>>| {
        move |event: Verified<chainvine::Event>| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(event.name().to_owned());
                Ok(())
            }
        }
    };
    let service = WebhookLayer::new(ChainVine::new(CHAINVINE_SECRET).unwrap()).layer(
        Dispatcher::new()
            .on(
                chainvine::EventKind::UserJoinedCampaign,
                record(seen.clone()),
            )
            .on(
                chainvine::EventKind::ReferralConversion,
                record(seen.clone()),
            )
            .on(chainvine::EventKind::EarningCreated, record(seen.clone())),
    );
    for name in [
        "user_joined_campaign",
        "referral_conversion",
        "earning_created",
    ] {
        let body = fixture(&format!("chainvine/{name}.json"));
        let (status, _) = status_and_text(service.clone(), chainvine_request(body)).await;
        assert_eq!(status, StatusCode::OK, "{name}");
    }
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "USER_JOINED_CAMPAIGN",
            "REFERRAL_CONVERSION",
            "EARNING_CREATED"
        ]
    );
}

#[tokio::test]
async fn a_dispatcher_without_the_layer_refuses_with_500() {
    let calls = Counter::default();
    let dispatcher = Dispatcher::<claimr::Event>::new().on_any({
        let calls = calls.clone();
        move |_| {
            let calls = calls.clone();
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        }
    });
    // A dispatcher only takes the layer's requests (`Request<VerifiedBody<_>>`): reach it
    // through the layer with the layer's delivery taken out of the request, as a
    // dispatcher installed without the layer would be.
    let without_delivery =
        tower::service_fn(move |mut request: Request<VerifiedBody<claimr::Event>>| {
            request.extensions_mut().remove::<Verified<claimr::Event>>();
            dispatcher.clone().oneshot(request)
        });
    let (status, _) = status_and_text(
        WebhookLayer::new(Claimr::new(CLAIMR_SECRET).unwrap()).layer(without_delivery),
        claimr_request(fixture("claimr/user_activity.json")),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn invalid_configuration_is_refused_at_construction() {
    assert_eq!(
        Claimr::new("").unwrap_err(),
        hookguard::ConfigError::EmptySecret
    );
    assert_eq!(
        ChainVine::new("").unwrap_err(),
        hookguard::ConfigError::EmptySecret
    );
    assert_eq!(
        Claimr::with_secrets(Vec::<String>::new()).unwrap_err(),
        hookguard::ConfigError::NoSecret
    );
    assert_eq!(
        WebhookLayer::new(Claimr::new("s").unwrap())
            .with_body_limit(0)
            .unwrap_err(),
        hookguard::ConfigError::ZeroBodyLimit
    );
}

fn standard_service(
    calls: Counter,
    standard: hookguard::Standard,
) -> impl Service<
    Request<Full<Bytes>>,
    Response = http::Response<impl Body<Data = Bytes, Error = std::convert::Infallible>>,
    Error = std::convert::Infallible,
> + Clone {
    let dispatcher =
        Dispatcher::new().on(standard::EventKind::named("invoice.paid"), move |event| {
            let calls = calls.clone();
            async move {
                assert_eq!(event.id(), "msg_1");
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        });
    WebhookLayer::new(standard).layer(dispatcher)
}

#[tokio::test]
async fn standard_webhooks_deliveries_are_checked_signature_and_window() {
    use hookguard::clock::ManualClock;
    const T: i64 = 1_700_000_000;
    let body = br#"{"type":"invoice.paid","timestamp":"2023-11-14T22:13:20Z","data":{"n":1}}"#;
    let clock = ManualClock::at_unix(T);
    let calls = Counter::default();
    let service = standard_service(
        calls.clone(),
        hookguard::Standard::new(STANDARD_SECRET)
            .unwrap()
            .with_clock(clock.clone()),
    );

    let (status, text) =
        status_and_text(service.clone(), standard_request("msg_1", T, &body[..])).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "ok"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Five minutes either way is in; a second more is out, with its own message.
    for (timestamp, expected) in [
        (T - 300, StatusCode::OK),
        (T + 300, StatusCode::OK),
        (T - 301, StatusCode::UNAUTHORIZED),
        (T + 301, StatusCode::UNAUTHORIZED),
    ] {
        let (status, text) = status_and_text(
            service.clone(),
            standard_request("msg_1", timestamp, &body[..]),
        )
        .await;
        assert_eq!(status, expected, "{timestamp}");
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(text, "unauthorized: timestamp outside the tolerance window");
        }
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    // A replay of an accepted delivery an hour later is refused.
    clock.advance(Duration::from_secs(3_600));
    let (status, _) =
        status_and_text(service.clone(), standard_request("msg_1", T, &body[..])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let now = T + 3_600;
    let mut tampered = standard_request("msg_1", now, &body[..]);
    *tampered.body_mut() = Full::new(Bytes::from_static(br#"{"type":"invoice.paid"}"#));
    let (status, text) = status_and_text(service.clone(), tampered).await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::UNAUTHORIZED, "unauthorized: signature mismatch")
    );

    let mut no_id = standard_request("msg_1", now, &body[..]);
    no_id.headers_mut().remove("webhook-id");
    let (status, text) = status_and_text(service.clone(), no_id).await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::UNAUTHORIZED, "unauthorized: missing signature")
    );

    let mut bad_time = standard_request("msg_1", now, &body[..]);
    bad_time
        .headers_mut()
        .insert("webhook-timestamp", http::HeaderValue::from_static("soon"));
    let (status, text) = status_and_text(service.clone(), bad_time).await;
    assert_eq!(
        (status, text.as_str()),
        (
            StatusCode::UNAUTHORIZED,
            "unauthorized: malformed timestamp"
        )
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn chainvine_sent_at_window_is_opt_in() {
    use hookguard::clock::ManualClock;
    // The fixture's sent_at: 2024-05-14T11:15:30.250Z.
    const SENT_AT: i64 = 1_715_685_330;
    let body = fixture("chainvine/payment_request.json");
    let paid = Counter::default();
    let service = |chainvine: ChainVine| {
        let paid = paid.clone();
        // A store per service: each service below stands for a separate receiver.
        WebhookLayer::new(chainvine).layer(Dispatcher::new().on_payment_request(
            MemoryStore::new(),
            move |_| {
                let paid = paid.clone();
                async move {
                    paid.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            },
        ))
    };

    // Off by default: a payout sent long ago is still paid.
    let (status, _) = status_and_text(
        service(ChainVine::new(CHAINVINE_SECRET).unwrap()),
        chainvine_request(body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let clock = ManualClock::at_unix(SENT_AT + 1_800);
    let windowed = ChainVine::new(CHAINVINE_SECRET)
        .unwrap()
        .with_sent_at_tolerance(Duration::from_secs(3_600))
        .with_clock(clock.clone());
    let (status, _) =
        status_and_text(service(windowed.clone()), chainvine_request(body.clone())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(paid.load(Ordering::SeqCst), 2);

    clock.advance(Duration::from_secs(3_600));
    let (status, text) =
        status_and_text(service(windowed.clone()), chainvine_request(body.clone())).await;
    assert_eq!(
        (status, text.as_str()),
        (
            StatusCode::UNAUTHORIZED,
            "unauthorized: timestamp outside the tolerance window"
        )
    );

    let unreadable = String::from_utf8(body)
        .unwrap()
        .replace("2024-05-14T11:15:30.250Z", "yesterday");
    assert!(unreadable.contains("yesterday"), "fixture layout changed");
    let (status, text) = status_and_text(service(windowed), chainvine_request(unreadable)).await;
    assert_eq!(
        (status, text.as_str()),
        (
            StatusCode::UNAUTHORIZED,
            "unauthorized: malformed timestamp"
        )
    );
    assert_eq!(paid.load(Ordering::SeqCst), 2);
}
