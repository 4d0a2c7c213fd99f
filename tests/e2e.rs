//! End to end over real loopback HTTP: an axum app served on a port, and the example
//! receiver run as a process, both sent real signed requests.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use hookguard::idempotency::MemoryStore;
use hookguard::{chainvine, claimr, ChainVine, Claimr, Dispatcher, Payout, Verified, WebhookLayer};
use http::{Request, StatusCode};
use http_body_util::Full;
use support::*;

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn an_axum_app_on_loopback_takes_signed_deliveries() {
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let record_claimr = {
        let seen = seen.clone();
        move |event: Verified<claimr::Event>| {
            let seen = seen.clone();
            async move {
                seen.lock()
                    .unwrap()
                    .push(format!("claimr:{}", event.name()));
                Ok(())
            }
        }
    };
    let paid = Arc::new(Mutex::new(Vec::<String>::new()));
    let pay = {
        let paid = paid.clone();
        move |payout: Payout| {
            let paid = paid.clone();
            async move {
                paid.lock()
                    .unwrap()
                    .push(payout.idempotency_key().to_owned());
                Ok(())
            }
        }
    };
    // The extractor style, for a third route.
    async fn extracted(event: Verified<chainvine::Event>) -> String {
        event.event_id().to_owned()
    }

    let app = Router::new()
        .route_service(
            "/webhooks/claimr",
            WebhookLayer::new(Claimr::new(CLAIMR_SECRET).unwrap())
                .layer(Dispatcher::<claimr::Event>::new().on_any(record_claimr)),
        )
        .route_service(
            "/webhooks/chainvine",
            WebhookLayer::new(ChainVine::new(CHAINVINE_SECRET).unwrap())
                .layer(Dispatcher::new().on_payment_request(MemoryStore::new(), pay)),
        )
        .route(
            "/webhooks/extracted",
            post(extracted).layer(WebhookLayer::new(ChainVine::new(CHAINVINE_SECRET).unwrap())),
        );
    let base = serve(app).await;
    let client = http_client();

    for name in ["user_activity", "user_login", "user_reward", "referral"] {
        let body = fixture(&format!("claimr/{name}.json"));
        let (status, _) = send_to(&client, &base, claimr_request(body)).await;
        assert_eq!(status, StatusCode::OK, "{name}");
    }
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "claimr:user_activity",
            "claimr:user_login",
            "claimr:user_reward",
            "claimr:referral"
        ]
    );

    // Tampered and unsigned deliveries are refused over the wire too.
    let mut bad = claimr_request(fixture("claimr/user_login.json"));
    *bad.body_mut() = Full::new(Bytes::from_static(
        b"{\"id\":\"x\",\"scope\":\"user_login\"}",
    ));
    assert_eq!(
        send_to(&client, &base, bad).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(seen.lock().unwrap().len(), 4);

    let payment = fixture("chainvine/payment_request.json");
    let (status, _) = send_to(&client, &base, chainvine_request(payment.clone())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(paid.lock().unwrap().len(), 1);

    let mut extracted_request = chainvine_request(fixture("chainvine/earning_created.json"));
    *extracted_request.uri_mut() = "/webhooks/extracted".parse().unwrap();
    let (status, text) = send_to(&client, &base, extracted_request).await;
    assert_eq!(status, StatusCode::OK);
    let event = chainvine::Event::from_slice(&fixture("chainvine/earning_created.json")).unwrap();
    assert_eq!(text, event.event_id());

    // The layer's GET refusal, through axum's router.
    let get = Request::get(format!("{base}/webhooks/extracted"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let status = client.request(get).await.unwrap().status();
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_example_receiver_prints_one_json_line_per_event() {
    let receiver = start_example_receiver();
    let client = http_client();
    let mut expected = Vec::new();

    for name in [
        "user_activity",
        "user_login",
        "user_reward",
        "referral",
        "unknown_scope",
    ] {
        let body = fixture(&format!("claimr/{name}.json"));
        let event = claimr::Event::from_slice(&body).unwrap();
        expected.push(
            serde_json::json!({"provider": "claimr", "event": event.name(), "id": event.id()}),
        );
        let (status, _) = send_to(&client, &receiver.base, claimr_request(body)).await;
        assert_eq!(status, StatusCode::OK, "{name}");
    }
    for name in [
        "user_joined_campaign",
        "referral_conversion",
        "earning_created",
        "payment_request",
        "unknown_event",
    ] {
        let body = fixture(&format!("chainvine/{name}.json"));
        let event = chainvine::Event::from_slice(&body).unwrap();
        expected.push(
            serde_json::json!({"provider": "chainvine", "event": event.name(), "id": event.id()}),
        );
        let (status, _) = send_to(&client, &receiver.base, chainvine_request(body)).await;
        assert_eq!(status, StatusCode::OK, "{name}");
    }
    for (id, body) in [
        (
            "msg_e2e_1",
            &br#"{"type":"invoice.paid","timestamp":"2024-05-14T09:31:02Z","data":{}}"#[..],
        ),
        ("msg_e2e_2", &br#"{"data":{"untyped":true}}"#[..]),
    ] {
        let event = hookguard::standard::Event::from_parts(id, body).unwrap();
        expected.push(serde_json::json!({"provider": "standard", "event": event.name(), "id": id}));
        let request = standard_request(id, unix_now(), body);
        let (status, _) = send_to(&client, &receiver.base, request).await;
        assert_eq!(status, StatusCode::OK, "{id}");
    }
    // A refused delivery prints nothing.
    let unsigned = Request::post("/webhooks/claimr")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(fixture("claimr/user_login.json"))))
        .unwrap();
    assert_eq!(
        send_to(&client, &receiver.base, unsigned).await.0,
        StatusCode::UNAUTHORIZED
    );

    let mut got = Vec::new();
    for _ in 0..expected.len() {
        let line = receiver
            .lines
            .recv_timeout(Duration::from_secs(10))
            .expect("a JSON line per event");
        // Scripts may match the line as text: the keys come in the documented order.
        assert!(
            line.starts_with("{\"provider\":")
                && line.contains("\",\"event\":")
                && line.contains("\",\"id\":"),
            "{line}"
        );
        got.push(serde_json::from_str::<serde_json::Value>(&line).unwrap());
    }
    assert_eq!(got, expected);
    assert!(
        receiver
            .lines
            .recv_timeout(Duration::from_millis(300))
            .is_err(),
        "no line for the refused delivery"
    );
}

/// The example's logs go to stderr; written to a file (as a service manager or a pipe
/// takes them) they carry no colour codes, which would otherwise litter every log line.
#[tokio::test]
async fn the_example_receiver_logs_without_colour_codes_to_a_file() {
    let log = std::env::temp_dir().join(format!("{}.log", unique_name("hookguard_stderr")));
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = std::process::Command::new(example_path("receiver"))
        .env("HOOKGUARD_ADDR", &addr)
        .env("CLAIMR_SECRET", CLAIMR_SECRET)
        .env("CHAINVINE_SECRET", CHAINVINE_SECRET)
        .env("STANDARD_SECRET", STANDARD_SECRET)
        .env(
            "HOOKGUARD_DB",
            std::env::temp_dir().join(format!("{}.db", unique_name("hookguard_receiver"))),
        )
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the receiver did not listen"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A refused delivery is logged at warn.
    let unsigned = Request::post("/webhooks/claimr")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(fixture("claimr/user_login.json"))))
        .unwrap();
    let status = send_to(&http_client(), &format!("http://{addr}"), unsigned)
        .await
        .0;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let mut text = String::new();
    for _ in 0..100 {
        text = std::fs::read_to_string(&log).unwrap();
        if text.contains("webhook delivery refused") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&log);
    assert!(text.contains("webhook delivery refused"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in a log file: {text:?}"
    );
}

/// The example receiver serves its metrics as Prometheus text: after a delivery, the
/// answer's count by provider and status, and the handler's time.
#[tokio::test]
async fn the_example_receiver_serves_prometheus_metrics() {
    let receiver = start_example_receiver();
    let client = http_client();
    let body = fixture("claimr/user_login.json");
    let (status, _) = send_to(&client, &receiver.base, claimr_request(body)).await;
    assert_eq!(status, StatusCode::OK);
    let unsigned = Request::post("/webhooks/claimr")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(fixture("claimr/user_login.json"))))
        .unwrap();
    assert_eq!(
        send_to(&client, &receiver.base, unsigned).await.0,
        StatusCode::UNAUTHORIZED
    );

    let get = Request::get("/metrics")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, text) = send_to(&client, &receiver.base, get).await;
    assert_eq!(status, StatusCode::OK);
    let series = |name: &str, labels: &[&str]| {
        text.lines().any(|line| {
            line.starts_with(&format!("{name}{{")) && labels.iter().all(|l| line.contains(l))
        })
    };
    assert!(
        series(
            "hookguard_deliveries_total",
            &[
                "provider=\"claimr\"",
                "event=\"user_login\"",
                "status=\"200\""
            ]
        ),
        "{text}"
    );
    assert!(
        series(
            "hookguard_deliveries_total",
            &["provider=\"claimr\"", "status=\"401\""]
        ),
        "{text}"
    );
    assert!(
        series(
            "hookguard_refusals_total",
            &["provider=\"claimr\"", "reason=\"missing_signature\""]
        ),
        "{text}"
    );
    assert!(
        series(
            "hookguard_handler_duration_seconds",
            &["provider=\"claimr\"", "outcome=\"ok\""]
        ) || series(
            "hookguard_handler_duration_seconds_count",
            &["provider=\"claimr\"", "outcome=\"ok\""]
        ),
        "{text}"
    );
    // The stdout lines are as they were: one per dispatched event.
    let line = receiver
        .lines
        .recv_timeout(Duration::from_secs(10))
        .expect("a JSON line for the delivery");
    assert!(line.contains("\"event\":\"user_login\""), "{line}");
}
