//! Campaigns, through the layer: a dispatcher limited to some campaigns, a router with a
//! dispatcher per campaign, for claimr and ChainVine; and the payment request of a
//! campaign not served, which is never answered 2xx.

#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use hookguard::idempotency::MemoryStore;
use hookguard::layer::VerifiedBody;
use hookguard::metrics::PAYOUTS_TOTAL;
use hookguard::{
    chainvine, claimr, CampaignRouter, ChainVine, Claimr, ConfigError, Dispatcher, Provider,
    WebhookLayer,
};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use serde_json::Value;
use tower::{Service, ServiceBuilder, ServiceExt};

const SECRET: &str = "campaign-test-secret";
/// The campaign of claimr's samples.
const CLAIMR_CAMPAIGN: &str = "66421b0c9e8f7a6b5c4d3e2f";
/// The campaign of ChainVine's samples.
const CHAINVINE_CAMPAIGN: &str = "8f14e45f-ceea-467e-a9f2-3c1b2d4e5f60";

type Counter = Arc<AtomicUsize>;

fn count(counter: &Counter) -> usize {
    counter.load(Ordering::SeqCst)
}

/// A handler that counts its calls.
macro_rules! counting {
    ($counter:expr) => {{
        let counter: Counter = $counter.clone();
        move |_event| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        }
    }};
}

/// A claimr sample of `kind` in `campaign` (`None`: without one), signed.
fn claimr_delivery(kind: claimr::EventKind, campaign: Option<&str>) -> Request<Full<Bytes>> {
    let mut json = Claimr::sample(kind).json().clone();
    match campaign {
        Some(id) => json["campaign"]["id"] = Value::from(id),
        None => {
            json.as_object_mut().unwrap().remove("campaign");
        }
    }
    let body = serde_json::to_vec(&json).unwrap();
    Claimr::signer(SECRET).unwrap().request("/", body).unwrap()
}

/// A ChainVine sample of `kind` in `campaign`, signed.
fn chainvine_delivery(kind: chainvine::EventKind, campaign: &str) -> Request<Full<Bytes>> {
    let mut json = ChainVine::sample(kind).json().clone();
    json["source"]["campaign"]["id"] = Value::from(campaign);
    let body = serde_json::to_vec(&json).unwrap();
    ChainVine::signer(SECRET)
        .unwrap()
        .request("/", body)
        .unwrap()
}

/// `inner` behind the provider's layer, as a receiver puts it.
fn receiver<P, S>(
    provider: P,
    inner: S,
) -> impl Service<
    Request<Full<Bytes>>,
    Response = Response<impl http_body::Body<Data = Bytes, Error = Infallible>>,
    Error = Infallible,
> + Clone
where
    P: Provider,
    S: Service<
            Request<VerifiedBody<P::Event>>,
            Response = Response<Full<Bytes>>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    ServiceBuilder::new()
        .layer(WebhookLayer::new(provider))
        .service(inner)
}

async fn answer<S, B>(service: &S, request: Request<Full<Bytes>>) -> (StatusCode, String)
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let response = service.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn a_claimr_dispatcher_limited_to_campaigns_skips_the_others_with_200() {
    let handled = Counter::default();
    let dispatcher = Dispatcher::<claimr::Event>::new()
        .on_any(counting!(handled))
        .for_campaigns([CLAIMR_CAMPAIGN, "another-served-campaign"])
        .unwrap();
    let service = receiver(Claimr::new(SECRET).unwrap(), dispatcher);

    let served = claimr_delivery(claimr::EventKind::UserActivity, Some(CLAIMR_CAMPAIGN));
    assert_eq!(
        answer(&service, served).await,
        (StatusCode::OK, "ok".into())
    );
    assert_eq!(count(&handled), 1);

    for campaign in [Some("66421b0c9e8f7a6b5c4d3e2e"), None] {
        let (status, text) = answer(
            &service,
            claimr_delivery(claimr::EventKind::UserReward, campaign),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{campaign:?}");
        assert_eq!(text, "skipped: campaign not served");
    }
    assert_eq!(count(&handled), 1, "no handler ran for the others");
}

#[tokio::test]
async fn a_chainvine_dispatcher_limited_to_campaigns_skips_the_others_with_200() {
    let handled = Counter::default();
    let dispatcher = Dispatcher::new()
        .on(chainvine::EventKind::ReferralConversion, counting!(handled))
        .for_campaigns([CHAINVINE_CAMPAIGN])
        .unwrap();
    let service = receiver(ChainVine::new(SECRET).unwrap(), dispatcher);

    let kind = chainvine::EventKind::ReferralConversion;
    let served = chainvine_delivery(kind, CHAINVINE_CAMPAIGN);
    assert_eq!(
        answer(&service, served).await,
        (StatusCode::OK, "ok".into())
    );
    assert_eq!(count(&handled), 1);
    let other = chainvine_delivery(kind, "0d6c2f3e-0000-4000-8000-000000000000");
    assert_eq!(
        answer(&service, other).await,
        (StatusCode::OK, "skipped: campaign not served".into())
    );
    assert_eq!(count(&handled), 1);
}

#[tokio::test]
async fn a_campaign_list_must_name_a_campaign() {
    let empty: [&str; 0] = [];
    assert_eq!(
        Dispatcher::<claimr::Event>::new()
            .for_campaigns(empty)
            .unwrap_err(),
        ConfigError::NoCampaigns
    );
    assert_eq!(
        CampaignRouter::new()
            .campaign("", Dispatcher::<claimr::Event>::new())
            .unwrap_err(),
        ConfigError::BlankCampaign
    );
}

#[tokio::test]
async fn a_claimr_router_sends_each_campaign_to_its_dispatcher() {
    let (spring, autumn, rest) = (Counter::default(), Counter::default(), Counter::default());
    let router = CampaignRouter::new()
        .campaign(
            "spring",
            Dispatcher::new().on(claimr::EventKind::UserLogin, counting!(spring)),
        )
        .unwrap()
        .campaign(
            "autumn",
            Dispatcher::new().on(claimr::EventKind::UserLogin, counting!(autumn)),
        )
        .unwrap();
    let without_otherwise = receiver(Claimr::new(SECRET).unwrap(), router.clone());
    let with_otherwise = receiver(
        Claimr::new(SECRET).unwrap(),
        router.otherwise(Dispatcher::new().on(claimr::EventKind::UserLogin, counting!(rest))),
    );
    let login = |campaign| claimr_delivery(claimr::EventKind::UserLogin, campaign);

    for service in [&without_otherwise, &with_otherwise] {
        assert_eq!(
            answer(service, login(Some("spring"))).await.0,
            StatusCode::OK
        );
        assert_eq!(
            answer(service, login(Some("autumn"))).await.0,
            StatusCode::OK
        );
    }
    assert_eq!((count(&spring), count(&autumn)), (2, 2));

    // Unrouted, with no `otherwise`: skipped with 200.
    for campaign in [Some("winter"), None] {
        assert_eq!(
            answer(&without_otherwise, login(campaign)).await,
            (StatusCode::OK, "skipped: campaign not served".into())
        );
    }
    // Unrouted, with one: the `otherwise` dispatcher takes it.
    for campaign in [Some("winter"), None] {
        assert_eq!(
            answer(&with_otherwise, login(campaign)).await,
            (StatusCode::OK, "ok".into())
        );
    }
    assert_eq!((count(&spring), count(&autumn), count(&rest)), (2, 2, 2));
}

#[tokio::test]
async fn a_chainvine_router_sends_each_campaign_to_its_dispatcher() {
    let (spring, autumn, rest) = (Counter::default(), Counter::default(), Counter::default());
    let kind = chainvine::EventKind::EarningCreated;
    let service = receiver(
        ChainVine::new(SECRET).unwrap(),
        CampaignRouter::new()
            .campaign("spring", Dispatcher::new().on(kind, counting!(spring)))
            .unwrap()
            .campaign(
                CHAINVINE_CAMPAIGN,
                Dispatcher::new().on(kind, counting!(autumn)),
            )
            .unwrap()
            .otherwise(Dispatcher::new().on(kind, counting!(rest))),
    );
    for campaign in ["spring", CHAINVINE_CAMPAIGN, CHAINVINE_CAMPAIGN, "winter"] {
        let (status, _) = answer(&service, chainvine_delivery(kind, campaign)).await;
        assert_eq!(status, StatusCode::OK, "{campaign}");
    }
    assert_eq!((count(&spring), count(&autumn), count(&rest)), (1, 2, 1));
}

/// ChainVine takes a 2xx to a payment request as "paid": one of a campaign not served
/// must be answered with an error, never skipped with 200.
#[tokio::test]
async fn a_payment_request_of_a_campaign_not_served_is_never_answered_2xx() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);

    let (paid, other_events) = (Counter::default(), Counter::default());
    let payouts = Dispatcher::new()
        .on_payment_request(MemoryStore::new(), counting!(paid))
        .on(
            chainvine::EventKind::EarningCreated,
            counting!(other_events),
        )
        .for_campaigns([CHAINVINE_CAMPAIGN])
        .unwrap();
    let service = receiver(ChainVine::new(SECRET).unwrap(), payouts);
    let payment = chainvine::EventKind::PaymentRequest;

    // Served: paid.
    let served = chainvine_delivery(payment, CHAINVINE_CAMPAIGN);
    assert_eq!(answer(&service, served).await.0, StatusCode::OK);
    assert_eq!(count(&paid), 1);

    // Another campaign: 500, retried by the sender, not paid and not acknowledged; so is
    // an unknown event, which may be a payment request under another name.
    for kind in [payment, chainvine::EventKind::Unknown] {
        let (status, text) = answer(&service, chainvine_delivery(kind, "winter")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{kind}");
        assert_eq!(text, "campaign not served");
    }
    assert_eq!(count(&paid), 1);
    // Other events of that campaign are skipped as anywhere else.
    let earning = chainvine_delivery(chainvine::EventKind::EarningCreated, "winter");
    assert_eq!(answer(&service, earning).await.0, StatusCode::OK);
    assert_eq!(count(&other_events), 0);

    let outside = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .find_map(|(key, _, _, v)| {
            let key = key.key();
            let outcome = key.labels().find(|l| l.key() == "outcome")?;
            (key.name() == PAYOUTS_TOTAL && outcome.value() == "outside_campaigns").then_some(v)
        });
    assert_eq!(outside, Some(DebugValue::Counter(1)));
}

/// A router where one dispatcher pays: a payment request of a campaign routed to no
/// dispatcher that pays is never acknowledged, not even by an `otherwise` catch-all.
#[tokio::test]
async fn a_router_that_pays_never_acknowledges_an_unrouted_payment_request() {
    let (paid, caught) = (Counter::default(), Counter::default());
    let router = CampaignRouter::new()
        .campaign(
            CHAINVINE_CAMPAIGN,
            Dispatcher::new().on_payment_request(MemoryStore::new(), counting!(paid)),
        )
        .unwrap();
    let without_otherwise = receiver(ChainVine::new(SECRET).unwrap(), router.clone());
    let with_catch_all = receiver(
        ChainVine::new(SECRET).unwrap(),
        router.otherwise(Dispatcher::<chainvine::Event>::new().on_any(counting!(caught))),
    );
    let payment = chainvine::EventKind::PaymentRequest;

    for service in [&without_otherwise, &with_catch_all] {
        let routed = chainvine_delivery(payment, CHAINVINE_CAMPAIGN);
        assert_eq!(answer(service, routed).await.0, StatusCode::OK);
        for kind in [payment, chainvine::EventKind::Unknown] {
            let (status, text) = answer(service, chainvine_delivery(kind, "winter")).await;
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{kind}");
            assert_eq!(text, "campaign not served");
        }
    }
    assert_eq!(count(&paid), 2);
    assert_eq!(
        count(&caught),
        0,
        "the catch-all never saw a payment request"
    );

    // What is not money still reaches the catch-all, or is skipped without one.
    let joined = || chainvine_delivery(chainvine::EventKind::UserJoinedCampaign, "winter");
    assert_eq!(answer(&with_catch_all, joined()).await.0, StatusCode::OK);
    assert_eq!(count(&caught), 1);
    assert_eq!(
        answer(&without_otherwise, joined()).await,
        (StatusCode::OK, "skipped: campaign not served".into())
    );
}

/// A dispatcher that pays and answers unknown events 500: an unknown event of a campaign
/// it does not serve (it may be a payment request under another name) is not skipped
/// with a 2xx either, limited or routed.
#[tokio::test]
async fn an_unknown_event_outside_the_campaigns_keeps_the_refusal_its_dispatcher_chose() {
    let paying = || {
        Dispatcher::new()
            .on_payment_request(MemoryStore::new(), |_payout| async { Ok(()) })
            .with_unknown_status(StatusCode::INTERNAL_SERVER_ERROR)
    };
    let limited = receiver(
        ChainVine::new(SECRET).unwrap(),
        paying().for_campaigns([CHAINVINE_CAMPAIGN]).unwrap(),
    );
    let routed = receiver(
        ChainVine::new(SECRET).unwrap(),
        CampaignRouter::new()
            .campaign(CHAINVINE_CAMPAIGN, paying())
            .unwrap(),
    );
    for (name, status) in [
        (
            "limited",
            answer(
                &limited,
                chainvine_delivery(chainvine::EventKind::Unknown, "winter"),
            )
            .await
            .0,
        ),
        (
            "routed",
            answer(
                &routed,
                chainvine_delivery(chainvine::EventKind::Unknown, "winter"),
            )
            .await
            .0,
        ),
    ] {
        assert!(!status.is_success(), "{name}: {status}");
    }
    // In its own campaign the same event is answered as the dispatcher says: 500.
    let own = chainvine_delivery(chainvine::EventKind::Unknown, CHAINVINE_CAMPAIGN);
    assert_eq!(
        answer(&limited, own).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}
