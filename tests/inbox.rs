//! The inbox in process: stored once, answered before the handler runs, retried with
//! backoff, dead and requeued, never for payouts, drained at shutdown, shared between
//! two "processes" (two pools) on PostgreSQL.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookguard::idempotency::MemoryStore;
use hookguard::inbox::{DeliveryFilter, DeliveryState, DeliveryStore, Inbox};
use hookguard::{claimr, ChainVine, Claimr, ConfigError, Dispatcher, HandlerError, WebhookLayer};
use http::StatusCode;
use support::*;
use tower::ServiceExt;

/// A claimr delivery with message id `id`.
fn claimr_body(id: &str) -> Vec<u8> {
    String::from_utf8(fixture("claimr/user_reward.json"))
        .unwrap()
        .replace("f7d2a9c0-1e4b-4a3d-b6c8-9e0f1a2b3c4d", id)
        .into_bytes()
}

fn temp_db(name: &str) -> String {
    std::env::temp_dir()
        .join(format!("{}.db", unique_name(name)))
        .to_str()
        .unwrap()
        .to_owned()
}

/// A fast inbox for tests: short retries, no jitter, quick polls.
async fn fast_inbox(target: &str) -> Inbox {
    Inbox::open(target)
        .await
        .unwrap()
        .with_retry_base(Duration::from_millis(50))
        .with_jitter(0.0)
        .with_poll_interval(Duration::from_millis(20))
}

/// Attempt numbers seen per delivery id.
type Seen = Arc<Mutex<HashMap<String, Vec<u32>>>>;

/// A claimr receiver whose handler records each attempt and fails the first `fail_first`.
fn receiver(
    inbox: &Inbox,
    seen: Seen,
    fail_first: u32,
) -> impl tower::Service<
    http::Request<http_body_util::Full<bytes::Bytes>>,
    Response = http::Response<
        impl http_body::Body<Data = bytes::Bytes, Error = std::convert::Infallible>,
    >,
    Error = std::convert::Infallible,
> + Clone {
    let claimr = Claimr::new(CLAIMR_SECRET).unwrap();
    let handlers = Dispatcher::new()
        .on(claimr::EventKind::UserReward, move |event| {
            let seen = Arc::clone(&seen);
            async move {
                seen.lock()
                    .unwrap()
                    .entry(event.id().to_owned())
                    .or_default()
                    .push(event.attempt());
                if event.attempt() <= fail_first {
                    return Err(HandlerError::msg(format!(
                        "attempt {} fails",
                        event.attempt()
                    )));
                }
                Ok(())
            }
        })
        .with_inbox(inbox, claimr.clone())
        .unwrap();
    WebhookLayer::new(claimr).layer(handlers)
}

/// Waits until `done` holds, for up to `limit`.
async fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done()
}

async fn state_of(store: &DeliveryStore, id: &str) -> Option<DeliveryState> {
    store
        .show(Some("claimr"), id)
        .await
        .unwrap()
        .map(|record| record.summary.state)
}

/// Waits up to five seconds for delivery `id` to reach `state`.
async fn reaches(store: &DeliveryStore, id: &str, state: DeliveryState) -> bool {
    for _ in 0..500 {
        if state_of(store, id).await == Some(state) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_is_stored_before_the_answer_and_handled_once_however_often_it_comes() {
    let inbox = fast_inbox(&temp_db("inbox_dup")).await;
    let seen = Seen::default();
    let service = receiver(&inbox, Arc::clone(&seen), 0);
    // The same delivery five times at once.
    let body = claimr_body("dup-1");
    let answers = futures_util::future::join_all(
        (0..5).map(|_| service.clone().oneshot(claimr_request(body.clone()))),
    )
    .await;
    for answer in answers {
        let answer = answer.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
    }
    // Answered: it is in the store already, whatever the worker has done.
    assert!(inbox
        .store()
        .show(Some("claimr"), "dup-1")
        .await
        .unwrap()
        .is_some());
    assert!(
        eventually(Duration::from_secs(5), || seen
            .lock()
            .unwrap()
            .contains_key("dup-1"))
        .await
    );
    assert!(reaches(inbox.store(), "dup-1", DeliveryState::Handled).await);
    // And once more after it was handled: still one run.
    let again = service.clone().oneshot(claimr_request(body)).await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(body_text(again.into_body()).await, "already stored");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(seen.lock().unwrap()["dup-1"], vec![1]);
    let listed = inbox.store().list(&DeliveryFilter::new()).await.unwrap();
    assert_eq!(listed.len(), 1);
    inbox.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_handler_is_retried_with_growing_waits_until_it_succeeds() {
    let inbox = fast_inbox(&temp_db("inbox_retry")).await;
    let seen = Seen::default();
    let service = receiver(&inbox, Arc::clone(&seen), 2);
    let started = tokio::time::Instant::now();
    let answer = service
        .oneshot(claimr_request(claimr_body("retry-1")))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let store = inbox.store().clone();
    assert!(
        reaches(&store, "retry-1", DeliveryState::Handled).await,
        "not handled: {:?}",
        store.show(None, "retry-1").await.unwrap()
    );
    // Waits of 50 ms then 100 ms between the three attempts.
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(seen.lock().unwrap()["retry-1"], vec![1, 2, 3]);
    let record = store
        .show(Some("claimr"), "retry-1")
        .await
        .unwrap()
        .unwrap();
    let outcomes: Vec<(u32, &str)> = record
        .attempts
        .iter()
        .map(|a| (a.number, a.outcome.as_str()))
        .collect();
    assert_eq!(outcomes, vec![(1, "failed"), (2, "failed"), (3, "handled")]);
    assert_eq!(record.attempts[0].error.as_deref(), Some("attempt 1 fails"));
    assert_eq!(record.summary.attempts, 3);
    assert_eq!(
        record.headers.get("content-type").unwrap(),
        "application/json"
    );
    assert_eq!(record.body, claimr_body("retry-1"));
    inbox.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_out_of_attempts_is_dead_until_requeued() {
    let db = temp_db("inbox_dead");
    let inbox = fast_inbox(&db).await.with_max_attempts(2);
    let seen = Seen::default();
    // Fails its first three attempts: two are allowed, so it dies.
    let service = receiver(&inbox, Arc::clone(&seen), 3);
    let answer = service
        .oneshot(claimr_request(claimr_body("dead-1")))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let store = inbox.store().clone();
    assert!(reaches(&store, "dead-1", DeliveryState::Dead).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        seen.lock().unwrap()["dead-1"],
        vec![1, 2],
        "no run after it died"
    );
    let record = store.show(None, "dead-1").await.unwrap().unwrap();
    assert_eq!(record.attempts.last().unwrap().outcome, "dead");
    assert_eq!(
        record.summary.last_error.as_deref(),
        Some("attempt 2 fails")
    );
    // An operator retries it: two fresh attempts, the first of which (attempt 3) still
    // fails, the next succeeds.
    let key = record.summary.key.clone();
    assert!(store
        .requeue("claimr", &key, Some(DeliveryState::Dead))
        .await
        .unwrap());
    assert!(
        reaches(&store, "dead-1", DeliveryState::Handled).await,
        "{:?}",
        store.show(None, "dead-1").await.unwrap()
    );
    assert_eq!(seen.lock().unwrap()["dead-1"], vec![1, 2, 3, 4]);
    // Requeueing only dead ones leaves a handled one alone.
    assert!(!store
        .requeue("claimr", &key, Some(DeliveryState::Dead))
        .await
        .unwrap());
    inbox.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn payouts_never_go_through_the_inbox() {
    let inbox = fast_inbox(&temp_db("inbox_payout")).await;
    let chainvine = ChainVine::new(CHAINVINE_SECRET).unwrap();
    let refused = Dispatcher::new()
        .on_payment_request(MemoryStore::new(), |_payout| async { Ok(()) })
        .with_inbox(&inbox, chainvine.clone());
    assert_eq!(refused.err(), Some(ConfigError::PayoutsInInbox));
    // A ChainVine inbox for other events: a payment request reaching it is refused, not
    // stored, so it is never acknowledged unpaid.
    let handlers = Dispatcher::<hookguard::chainvine::Event>::new()
        .on_any(|_event| async { Ok(()) })
        .with_inbox(&inbox, chainvine.clone())
        .unwrap();
    let service = WebhookLayer::new(chainvine).layer(handlers);
    let answer = service
        .clone()
        .oneshot(chainvine_request(payment_request_body(1, 1)))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(inbox
        .store()
        .list(&DeliveryFilter::new())
        .await
        .unwrap()
        .is_empty());
    // Its other events are stored.
    let earning = fixture("chainvine/earning_created.json");
    let answer = service.oneshot(chainvine_request(earning)).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        inbox
            .store()
            .list(&DeliveryFilter::new())
            .await
            .unwrap()
            .len(),
        1
    );
    inbox.shutdown(Duration::from_secs(1)).await;
}

#[test]
fn attaching_outside_a_runtime_is_a_configuration_error() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let inbox = runtime.block_on(fast_inbox(&temp_db("inbox_no_runtime")));
    let attached = Dispatcher::<claimr::Event>::new()
        .on_any(|_event| async { Ok(()) })
        .with_inbox(&inbox, Claimr::new(CLAIMR_SECRET).unwrap());
    assert_eq!(attached.err(), Some(ConfigError::NoRuntime));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_running_handlers_finish_within_the_grace_period() {
    let db = temp_db("inbox_drain");
    let inbox = fast_inbox(&db).await;
    let started = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let claimr = Claimr::new(CLAIMR_SECRET).unwrap();
    let (s, f) = (Arc::clone(&started), Arc::clone(&finished));
    let handlers = Dispatcher::new()
        .on(claimr::EventKind::UserReward, move |_event| {
            let (s, f) = (Arc::clone(&s), Arc::clone(&f));
            async move {
                s.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(300)).await;
                f.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        })
        .with_inbox(&inbox, claimr.clone())
        .unwrap();
    let service = WebhookLayer::new(claimr).layer(handlers);
    let answer = service
        .oneshot(claimr_request(claimr_body("drain-1")))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(
        eventually(Duration::from_secs(5), || started.load(Ordering::SeqCst)
            == 1)
        .await
    );
    let report = inbox.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.interrupted, 0);
    assert_eq!(
        finished.load(Ordering::SeqCst),
        1,
        "the running handler finished"
    );
    assert_eq!(
        state_of(inbox.store(), "drain-1").await,
        Some(DeliveryState::Handled)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_at_shutdown_runs_again_at_the_next_start() {
    let db = temp_db("inbox_interrupt");
    let seen = Seen::default();
    {
        let inbox = fast_inbox(&db).await;
        let claimr = Claimr::new(CLAIMR_SECRET).unwrap();
        let recorded = Arc::clone(&seen);
        let handlers = Dispatcher::new()
            .on(claimr::EventKind::UserReward, move |event| {
                let seen = Arc::clone(&recorded);
                async move {
                    seen.lock()
                        .unwrap()
                        .entry(event.id().to_owned())
                        .or_default()
                        .push(event.attempt());
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    Ok(())
                }
            })
            .with_inbox(&inbox, claimr.clone())
            .unwrap();
        let service = WebhookLayer::new(claimr).layer(handlers);
        let answer = service
            .oneshot(claimr_request(claimr_body("slow-1")))
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        assert!(
            eventually(Duration::from_secs(5), || seen
                .lock()
                .unwrap()
                .contains_key("slow-1"))
            .await
        );
        let report = inbox.shutdown(Duration::from_millis(50)).await;
        assert_eq!(report.interrupted, 1);
        assert_eq!(
            state_of(inbox.store(), "slow-1").await,
            Some(DeliveryState::Pending)
        );
    }
    // The next start runs it again, as attempt 2.
    let inbox = fast_inbox(&db).await;
    let _service = receiver(&inbox, Arc::clone(&seen), 0);
    assert!(
        eventually(Duration::from_secs(5), || seen.lock().unwrap()["slow-1"]
            .len()
            == 2)
        .await
    );
    assert_eq!(seen.lock().unwrap()["slow-1"], vec![1, 2]);
    inbox.shutdown(Duration::from_secs(1)).await;
}

#[test]
fn a_run_whose_process_died_is_run_again_after_its_lease() {
    let db = temp_db("inbox_lease");
    // A "process" that stored the delivery and took it, then died: its runtime is torn
    // down with the handler mid-run, nothing given back, the outcome never written.
    let crashed = tokio::runtime::Runtime::new().unwrap();
    crashed.block_on(async {
        let inbox = fast_inbox(&db).await.with_lease(Duration::from_secs(1));
        let claimr = Claimr::new(CLAIMR_SECRET).unwrap();
        let handlers = Dispatcher::new()
            .on(claimr::EventKind::UserReward, |_event| {
                std::future::pending()
            })
            .with_inbox(&inbox, claimr.clone())
            .unwrap();
        let service = WebhookLayer::new(claimr).layer(handlers);
        let answer = service
            .oneshot(claimr_request(claimr_body("crash-1")))
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        assert!(reaches(inbox.store(), "crash-1", DeliveryState::Running).await);
    });
    crashed.shutdown_background();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let seen = Seen::default();
        let inbox = fast_inbox(&db).await;
        let _service = receiver(&inbox, Arc::clone(&seen), 0);
        assert!(reaches(inbox.store(), "crash-1", DeliveryState::Handled).await);
        // The dead run was attempt 1; its rerun, after the lease, attempt 2.
        assert_eq!(seen.lock().unwrap()["crash-1"], vec![2]);
        let record = inbox.store().show(None, "crash-1").await.unwrap().unwrap();
        let numbers: Vec<u32> = record.attempts.iter().map(|a| a.number).collect();
        assert_eq!(numbers, vec![2], "attempt 1 never ended: no record of it");
        inbox.shutdown(Duration::from_secs(1)).await;
    });
}

#[tokio::test]
async fn a_chainvine_event_of_unknown_name_is_refused_unless_unknown_events_are_answered() {
    let inbox = fast_inbox(&temp_db("inbox_unknown_name")).await;
    let chainvine = ChainVine::new(CHAINVINE_SECRET).unwrap();
    // A payment request under a name nobody configured: for this receiver, unknown.
    let renamed = String::from_utf8(payment_request_body(7, 1))
        .unwrap()
        .replace("PAYMENT_REQUEST", "PAYOUT_REQUESTED");
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    let handlers = Dispatcher::<hookguard::chainvine::Event>::new()
        .on_any(move |_event| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Ok(()) }
        })
        .with_inbox(&inbox, chainvine.clone())
        .unwrap();
    let service = WebhookLayer::new(chainvine).layer(handlers);
    let answer = service
        .oneshot(chainvine_request(renamed.clone()))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(inbox
        .store()
        .list(&DeliveryFilter::new())
        .await
        .unwrap()
        .is_empty());
    inbox.shutdown(Duration::from_secs(1)).await;

    // Told to answer unknown events 500 (and with no catch-all), the inbox refuses them
    // as its dispatcher would: not stored, not acknowledged.
    let inbox = fast_inbox(&temp_db("inbox_unknown_name_500")).await;
    let chainvine = ChainVine::new(CHAINVINE_SECRET).unwrap();
    let handlers = Dispatcher::<hookguard::chainvine::Event>::new()
        .on(
            hookguard::chainvine::EventKind::EarningCreated,
            |_event| async { Ok(()) },
        )
        .with_unknown_status(StatusCode::INTERNAL_SERVER_ERROR)
        .with_inbox(&inbox, chainvine.clone())
        .unwrap();
    let service = WebhookLayer::new(chainvine).layer(handlers);
    let answer = service
        .oneshot(chainvine_request(renamed.clone()))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(inbox
        .store()
        .list(&DeliveryFilter::new())
        .await
        .unwrap()
        .is_empty());
    inbox.shutdown(Duration::from_secs(1)).await;

    // Told how unknown events are answered, the inbox stores them; but a worker whose
    // provider knows the name as a payment request never runs it.
    let inbox = fast_inbox(&temp_db("inbox_unknown_name_2")).await;
    let layer_provider = ChainVine::new(CHAINVINE_SECRET).unwrap();
    let worker_provider = ChainVine::new(CHAINVINE_SECRET).unwrap().with_event_names(
        hookguard::chainvine::EventNames::default().with_payment_request("PAYOUT_REQUESTED"),
    );
    let counted = Arc::clone(&runs);
    let handlers = Dispatcher::<hookguard::chainvine::Event>::new()
        .on_any(move |_event| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Ok(()) }
        })
        .with_unknown_status(StatusCode::OK)
        .with_inbox(&inbox, worker_provider)
        .unwrap();
    let service = WebhookLayer::new(layer_provider).layer(handlers);
    let answer = service.oneshot(chainvine_request(renamed)).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let listed = inbox.store().list(&DeliveryFilter::new()).await.unwrap();
    assert_eq!(listed.len(), 1);
    let id = listed[0].id.clone();
    let store = inbox.store().clone();
    let mut dead = false;
    for _ in 0..500 {
        let record = store.show(None, &id).await.unwrap().unwrap();
        if record.summary.state == DeliveryState::Dead {
            assert_eq!(
                record.summary.last_error.as_deref(),
                Some("a payment request is never handled from the inbox")
            );
            dead = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(dead);
    assert_eq!(runs.load(Ordering::SeqCst), 0, "no handler ran");
    inbox.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn one_inbox_serves_one_dispatcher_per_provider_name() {
    let inbox = fast_inbox(&temp_db("inbox_names")).await;
    let first = Dispatcher::<claimr::Event>::new()
        .on_any(|_event| async { Ok(()) })
        .with_inbox(&inbox, Claimr::new(CLAIMR_SECRET).unwrap());
    assert!(first.is_ok());
    let second = Dispatcher::<claimr::Event>::new()
        .on_any(|_event| async { Ok(()) })
        .with_inbox(&inbox, Claimr::new("another-secret").unwrap());
    assert_eq!(
        second.err(),
        Some(ConfigError::InboxProviderTaken("claimr".to_owned()))
    );
    inbox.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pruned_delivery_sent_again_is_not_handled_again() {
    let inbox = fast_inbox(&temp_db("inbox_prune")).await;
    let seen = Seen::default();
    let service = receiver(&inbox, Arc::clone(&seen), 0);
    let body = claimr_body("prune-1");
    let answer = service
        .clone()
        .oneshot(claimr_request(body.clone()))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(reaches(inbox.store(), "prune-1", DeliveryState::Handled).await);
    assert_eq!(inbox.store().prune(Duration::ZERO).await.unwrap(), 1);
    let record = inbox.store().show(None, "prune-1").await.unwrap().unwrap();
    assert!(record.pruned_at.is_some());
    assert!(record.body.is_empty() && record.headers.is_empty());
    // A captured copy replayed after the retention: recognised, not run again.
    let answer = service.oneshot(claimr_request(body)).await.unwrap();
    assert_eq!(body_text(answer.into_body()).await, "already stored");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(seen.lock().unwrap()["prune-1"], vec![1]);
    // And a pruned delivery cannot be requeued (its body is gone).
    assert!(!inbox
        .store()
        .requeue("claimr", &record.summary.key, None)
        .await
        .unwrap());
    inbox.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_loses_its_lease_is_stopped() {
    let db = temp_db("inbox_lease_lost");
    let inbox = fast_inbox(&db).await.with_lease(Duration::from_secs(1));
    let (started, stopped) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    struct CountDrop(Arc<AtomicUsize>);
    impl Drop for CountDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let claimr = Claimr::new(CLAIMR_SECRET).unwrap();
    let (s, d) = (Arc::clone(&started), Arc::clone(&stopped));
    let handlers = Dispatcher::new()
        .on(claimr::EventKind::UserReward, move |_event| {
            let (s, d) = (Arc::clone(&s), Arc::clone(&d));
            async move {
                let _dropped = CountDrop(d);
                s.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(())
            }
        })
        .with_inbox(&inbox, claimr.clone())
        .unwrap();
    let service = WebhookLayer::new(claimr).layer(handlers);
    let answer = service
        .oneshot(claimr_request(claimr_body("lost-1")))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(
        eventually(Duration::from_secs(5), || started.load(Ordering::SeqCst)
            == 1)
        .await
    );
    // Another process takes the delivery over (as after a clock step expired its lease).
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{db}"))
        .await
        .unwrap();
    sqlx::query("UPDATE hookguard_inbox SET lease_owner = 'another process'")
        .execute(&pool)
        .await
        .unwrap();
    // Within a renewal (a third of the lease) the handler is dropped.
    assert!(
        eventually(Duration::from_secs(3), || stopped.load(Ordering::SeqCst)
            == 1)
        .await
    );
    // Nothing was written over the other run's claim.
    let record = inbox.store().show(None, "lost-1").await.unwrap().unwrap();
    assert_eq!(record.summary.state, DeliveryState::Running);
    assert!(record.attempts.is_empty());
    inbox.shutdown(Duration::from_secs(1)).await;
}

#[test]
fn attempts_that_never_ended_use_up_the_budget() {
    let db = temp_db("inbox_no_outcome");
    let runs = Arc::new(AtomicUsize::new(0));
    // Twice a "process" takes the delivery and dies mid-run (its runtime torn down).
    for _ in 0..2 {
        let crashed = tokio::runtime::Runtime::new().unwrap();
        let counted = Arc::clone(&runs);
        crashed.block_on(async {
            let inbox = fast_inbox(&db)
                .await
                .with_lease(Duration::from_secs(1))
                .with_max_attempts(2);
            let claimr = Claimr::new(CLAIMR_SECRET).unwrap();
            let handlers = Dispatcher::new()
                .on(claimr::EventKind::UserReward, move |_event| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    std::future::pending()
                })
                .with_inbox(&inbox, claimr.clone())
                .unwrap();
            let service = WebhookLayer::new(claimr).layer(handlers);
            let answer = service
                .oneshot(claimr_request(claimr_body("doomed-1")))
                .await
                .unwrap();
            assert_eq!(answer.status(), StatusCode::OK);
            assert!(reaches(inbox.store(), "doomed-1", DeliveryState::Running).await);
            // Past the lease, so that the next "process" can take it at once.
            tokio::time::sleep(Duration::from_millis(1200)).await;
        });
        crashed.shutdown_background();
    }
    // Both attempts are spent: the next claim marks it dead without running it.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let inbox = fast_inbox(&db).await.with_max_attempts(2);
        let seen = Seen::default();
        let _service = receiver(&inbox, Arc::clone(&seen), 0);
        assert!(reaches(inbox.store(), "doomed-1", DeliveryState::Dead).await);
        assert!(seen.lock().unwrap().is_empty(), "not run a third time");
        let record = inbox.store().show(None, "doomed-1").await.unwrap().unwrap();
        assert!(record
            .summary
            .last_error
            .as_deref()
            .unwrap()
            .starts_with("no attempts left"));
        inbox.shutdown(Duration::from_secs(1)).await;
    });
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_holding_nul_is_stored_and_handled_on_postgresql() {
    let Some(target) = postgres_schema_url("hg_inbox").await else {
        return;
    };
    let inbox = fast_inbox(&target).await;
    let seen = Seen::default();
    let service = receiver(&inbox, Arc::clone(&seen), 1);
    // PostgreSQL's text refuses NUL; a signed body may still carry one in its id.
    let answer = service
        .oneshot(claimr_request(claimr_body("nul\\u0000id")))
        .await
        .unwrap();
    assert_eq!(
        answer.status(),
        StatusCode::OK,
        "{}",
        body_text(answer.into_body()).await
    );
    assert!(
        eventually(Duration::from_secs(5), || {
            seen.lock()
                .unwrap()
                .get("nul\0id")
                .is_some_and(|a| a.len() == 2)
        })
        .await
    );
    let listed = inbox.store().list(&DeliveryFilter::new()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, "nul\u{fffd}id");
    assert!(listed[0].key.starts_with("key-sha256:"));
    assert!(reaches_key(inbox.store(), &listed[0].key, DeliveryState::Handled).await);
    inbox.shutdown(Duration::from_secs(1)).await;
}

/// Waits up to five seconds for the delivery under `key` to reach `state`.
#[cfg(feature = "postgres")]
async fn reaches_key(store: &DeliveryStore, key: &str, state: DeliveryState) -> bool {
    for _ in 0..500 {
        if store
            .show(None, key)
            .await
            .unwrap()
            .map(|r| r.summary.state)
            == Some(state)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_too_long_for_an_index_is_stored_and_handled_on_postgresql() {
    let Some(target) = postgres_schema_url("hg_inbox").await else {
        return;
    };
    let inbox = fast_inbox(&target).await;
    let seen = Seen::default();
    let service = receiver(&inbox, Arc::clone(&seen), 0);
    let id = "x".repeat(3000);
    let answer = service
        .oneshot(claimr_request(claimr_body(&id)))
        .await
        .unwrap();
    assert_eq!(
        answer.status(),
        StatusCode::OK,
        "{}",
        body_text(answer.into_body()).await
    );
    assert!(
        eventually(Duration::from_secs(5), || seen
            .lock()
            .unwrap()
            .contains_key(&id))
        .await
    );
    let listed = inbox.store().list(&DeliveryFilter::new()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].key.starts_with("key-sha256:"));
    assert_eq!(listed[0].id.len(), 1024);
    assert!(reaches_key(inbox.store(), &listed[0].key, DeliveryState::Handled).await);
    inbox.shutdown(Duration::from_secs(1)).await;
}
