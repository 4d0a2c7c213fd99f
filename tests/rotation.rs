//! Secrets replaced at run time, under load: concurrent signed requests go through the
//! layer while the secrets move from A to A+B to B.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hookguard::{claimr, Claimr, Dispatcher, WebhookLayer};
use http::StatusCode;
use support::*;
use tower::ServiceExt;

const A: &str = "secret-a";
const B: &str = "secret-b";
const NEVER: &str = "secret-never";

/// The accepted sets, by stable phase; odd phases are the moments of a swap.
const SETS: [&[&str]; 3] = [&[A], &[A, B], &[B]];

/// The sets a request may have been checked against, if it saw `before` when it was
/// sent and `after` once answered.
fn possible_sets(before: usize, after: usize) -> &'static [&'static [&'static str]] {
    // Phase 2k is set k, settled; phase 2k+1 is the swap from set k to set k+1.
    let first = before / 2;
    let last = after.div_ceil(2);
    &SETS[first..=last.min(SETS.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_swapped_under_load_never_refuse_a_good_request_nor_panic() {
    let claimr = Claimr::new(A).unwrap();
    let secrets = claimr.secrets_handle();
    let handled = Arc::new(AtomicUsize::new(0));
    let service = {
        let handled = handled.clone();
        WebhookLayer::new(claimr).layer(Dispatcher::<claimr::Event>::new().on_any(move |_| {
            let handled = handled.clone();
            async move {
                handled.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        }))
    };
    let phase = Arc::new(AtomicUsize::new(0));
    let body = Bytes::from(fixture("claimr/user_login.json"));

    let mut workers = Vec::new();
    for worker in 0..8usize {
        let (service, phase, body) = (service.clone(), phase.clone(), body.clone());
        workers.push(tokio::spawn(async move {
            let mut checked = [0usize; 2]; // must-accept, must-refuse outcomes seen
            let deadline = Instant::now() + Duration::from_secs(20);
            for n in 0..20_000usize {
                let secret = [A, B, NEVER][(worker + n) % 3];
                let before = phase.load(Ordering::SeqCst);
                if before == 4 && n % 64 == 0 || Instant::now() > deadline {
                    break;
                }
                let request = signed_request(
                    "/webhooks/claimr",
                    &Claimr::default_scheme(),
                    secret,
                    body.clone(),
                );
                let status = service.clone().oneshot(request).await.unwrap().status();
                let after = phase.load(Ordering::SeqCst);
                let sets = possible_sets(before, after);
                if sets.iter().all(|set| set.contains(&secret)) {
                    assert_eq!(
                        status,
                        StatusCode::OK,
                        "{secret} in phases {before}..={after}"
                    );
                    checked[0] += 1;
                } else if sets.iter().all(|set| !set.contains(&secret)) {
                    assert_eq!(
                        status,
                        StatusCode::UNAUTHORIZED,
                        "{secret} in phases {before}..={after}"
                    );
                    checked[1] += 1;
                } else {
                    assert!(
                        status == StatusCode::OK || status == StatusCode::UNAUTHORIZED,
                        "{status}"
                    );
                }
                if n % 8 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            checked
        }));
    }

    // The rotation: A, then A and B while the sender switches, then B alone.
    for (next, set) in [(1usize, &[A, B][..]), (3, &[B][..])] {
        tokio::time::sleep(Duration::from_millis(150)).await;
        phase.store(next, Ordering::SeqCst);
        secrets.replace(set).unwrap();
        phase.store(next + 1, Ordering::SeqCst);
    }
    tokio::time::sleep(Duration::from_millis(150)).await;

    let mut totals = [0usize; 2];
    for worker in workers {
        // A panic in a worker (or in the service) fails the test here.
        let checked = worker.await.unwrap();
        totals[0] += checked[0];
        totals[1] += checked[1];
    }
    assert!(totals[0] > 100, "too few requests ran: {totals:?}");
    assert!(totals[1] > 100, "too few refusals checked: {totals:?}");
    assert!(handled.load(Ordering::SeqCst) >= totals[0]);

    // After the swap, A is refused and B accepted, for every clone of the service.
    let scheme = Claimr::default_scheme();
    let with = |secret| signed_request("/webhooks/claimr", &scheme, secret, body.clone());
    let status = service.clone().oneshot(with(A)).await.unwrap().status();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let status = service.clone().oneshot(with(B)).await.unwrap().status();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(secrets.current().len(), 1);
}

#[test]
fn the_phase_arithmetic_is_right() {
    assert_eq!(possible_sets(0, 0), &SETS[0..=0]);
    assert_eq!(possible_sets(0, 1), &SETS[0..=1]);
    assert_eq!(possible_sets(1, 2), &SETS[0..=1]);
    assert_eq!(possible_sets(2, 2), &SETS[1..=1]);
    assert_eq!(possible_sets(2, 3), &SETS[1..=2]);
    assert_eq!(possible_sets(4, 4), &SETS[2..=2]);
    assert_eq!(possible_sets(0, 4), &SETS[0..=2]);
}
