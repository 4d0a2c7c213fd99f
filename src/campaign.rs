//! Campaigns: a dispatcher that serves only some campaigns, or one dispatcher per
//! campaign behind one layer.
//!
//! claimr and ChainVine deliveries carry the campaign they belong to
//! ([`Verified::campaign`]: claimr's `campaign.id`, ChainVine's `source.campaign.id`).
//! [`Dispatcher::for_campaigns`] limits a dispatcher to some of them;
//! [`CampaignRouter`] sends each campaign's deliveries to a dispatcher of its own, and
//! the rest to an [`otherwise`](CampaignRouter::otherwise) dispatcher. A delivery that
//! no dispatcher serves (another campaign, or none) is answered 200 and skipped, with a
//! debug log: it is not yours to handle, and an error would only make the sender retry
//! it for ever.
//!
//! **Money first.** A ChainVine payment request answered 2xx is marked *paid*. So a
//! payment request that is not served, in a dispatcher that pays
//! ([`on_payment_request`](Dispatcher::on_payment_request)) or in a router any of whose
//! dispatchers pays, is never skipped: it is answered 500 (the sender retries, and the
//! request stays unpaid, visibly) with an error log naming its campaign. So is an
//! unknown event there, since it may be a payment request under a name nobody
//! configured, unless the dispatcher that pays was given
//! [`with_unknown_status`](Dispatcher::with_unknown_status). Route the campaign to a
//! dispatcher that pays, or fix the campaign list, and the retries are paid.
//!
//! ```
//! use hookguard::{chainvine, CampaignRouter, Dispatcher, Secret, WebhookLayer};
//! use hookguard::idempotency::MemoryStore;
//! use http::{HeaderMap, Request, StatusCode};
//! use tower::ServiceExt;
//!
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
//! # rt.block_on(async {
//! let spring = Dispatcher::new()
//!     .on(chainvine::EventKind::ReferralConversion, |_event| async { Ok(()) });
//! let autumn = Dispatcher::new()
//!     .on_payment_request(MemoryStore::new(), |_payout| async { Ok(()) });
//! let router = CampaignRouter::new()
//!     .campaign("spring", spring)?
//!     .campaign("autumn", autumn)?;
//! let receiver = WebhookLayer::new(hookguard::ChainVine::new("secret")?).layer(router);
//!
//! let payment = |campaign: &str| {
//!     let body = format!(
//!         r#"{{"source":{{"campaign":{{"name":"C","created_on":"2024-01-01","id":"{campaign}"}},
//!         "community":{{"name":"Acme","id":"com_1"}}}},
//!         "event":{{"name":"PAYMENT_REQUEST","data":{{"id":"pr_1","amount":"5"}}}},
//!         "version":"1","secure_request":true,"request_id":"r","event_id":"e",
//!         "sent_at":"2024-01-01T00:00:00Z"}}"#
//!     );
//!     let scheme = hookguard::ChainVine::default_scheme();
//!     let signature = scheme.sign(&Secret::new("secret")?, &HeaderMap::new(), body.as_bytes())?;
//!     Request::post("/webhooks/chainvine")
//!         .header("content-type", "application/json")
//!         .header(scheme.header(), signature)
//!         .body(http_body_util::Full::new(bytes::Bytes::from(body)))
//!         .map_err(Box::<dyn std::error::Error + Send + Sync>::from)
//! };
//! // Paid in its campaign's dispatcher...
//! let paid = receiver.clone().oneshot(payment("autumn")?).await?;
//! assert_eq!(paid.status(), StatusCode::OK);
//! // ...and never acknowledged from a campaign that no dispatcher pays for.
//! let unrouted = receiver.oneshot(payment("winter")?).await?;
//! assert_eq!(unrouted.status(), StatusCode::INTERNAL_SERVER_ERROR);
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(()) })?;
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! ```

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tower_service::Service;

use crate::dispatch::{DispatchFuture, Dispatcher, Routed};
use crate::error::ConfigError;
use crate::event::WebhookEvent;
use crate::layer::VerifiedBody;
use crate::metrics::{self, PayoutOutcome};
use crate::rejection::plain_response;
use crate::verified::Verified;

/// The campaigns a dispatcher serves.
#[derive(Debug)]
pub(crate) struct Campaigns(HashSet<Box<str>>);

impl Campaigns {
    /// The campaigns `ids`, at least one, none blank.
    fn new<I>(ids: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let ids = ids
            .into_iter()
            .map(|id| campaign_id(id.into()))
            .collect::<Result<HashSet<_>, _>>()?;
        if ids.is_empty() {
            return Err(ConfigError::NoCampaigns);
        }
        Ok(Campaigns(ids))
    }

    /// Whether a delivery of `campaign` is served; one naming none is not.
    pub(crate) fn serves(&self, campaign: Option<&str>) -> bool {
        campaign.is_some_and(|campaign| self.0.contains(campaign))
    }
}

/// A campaign id as given, unless it is blank (no delivery names a blank campaign).
fn campaign_id(id: String) -> Result<Box<str>, ConfigError> {
    if id.trim().is_empty() {
        return Err(ConfigError::BlankCampaign);
    }
    Ok(id.into_boxed_str())
}

impl<E: WebhookEvent> Dispatcher<E> {
    /// Serves only deliveries of `campaigns` (ids as the sender sends them: claimr's
    /// `campaign.id`, ChainVine's `source.campaign.id`; matched exactly). A delivery of
    /// another campaign, or of none, is answered 200 and skipped, with a debug log:
    /// the sender does not retry it, and no handler runs.
    ///
    /// Except where a 2xx would say "paid": in a dispatcher that pays
    /// ([`on_payment_request`](Dispatcher::on_payment_request)), a payment request of
    /// another campaign (and an unknown event, unless
    /// [`with_unknown_status`](Dispatcher::with_unknown_status) is set) is answered 500
    /// with an error log naming its campaign, never 2xx, so that it is retried, and paid
    /// once its campaign is served (see the [module docs](crate::campaign)). Calling it
    /// again replaces the list.
    ///
    /// ```
    /// use hookguard::{claimr, Dispatcher};
    ///
    /// let spring_only = Dispatcher::new()
    ///     .on(claimr::EventKind::UserReward, |_event| async { Ok(()) })
    ///     .for_campaigns(["66421b0c9e8f7a6b5c4d3e2f"])?;
    /// assert!(spring_only.handles(claimr::EventKind::UserReward));
    /// assert!(Dispatcher::<claimr::Event>::new().for_campaigns([" "]).is_err());
    /// # Ok::<(), hookguard::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoCampaigns`] for an empty list (which would skip everything), and
    /// [`ConfigError::BlankCampaign`] for a blank id.
    pub fn for_campaigns<I>(self, campaigns: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Ok(self.limit_campaigns(Campaigns::new(campaigns)?))
    }
}

/// One [`Dispatcher`] per campaign behind one [`WebhookLayer`](crate::WebhookLayer):
/// each delivery goes to the dispatcher of its campaign
/// ([`Verified::campaign`]), else to the [`otherwise`](CampaignRouter::otherwise)
/// dispatcher, else it is answered as the [module docs](crate::campaign) say: 200 and
/// skipped, but never 2xx for a payment request (or an unknown event) when any of the
/// router's dispatchers pays, nor when it reaches a dispatcher that does not pay while
/// another one does.
///
/// A tower service over the same requests as a dispatcher, so it goes wherever a
/// dispatcher goes; the dispatchers fix the event type, so their handlers need no
/// annotations and a router of ChainVine dispatchers behind a claimr layer does not
/// compile.
///
/// ```
/// use hookguard::{claimr, CampaignRouter, Claimr, Dispatcher, WebhookLayer};
///
/// let router = CampaignRouter::new()
///     .campaign(
///         "66421b0c9e8f7a6b5c4d3e2f",
///         Dispatcher::new().on(claimr::EventKind::UserReward, |_event| async { Ok(()) }),
///     )?
///     .otherwise(Dispatcher::new().on(claimr::EventKind::UserLogin, |_event| async { Ok(()) }));
/// assert!(router.routes("66421b0c9e8f7a6b5c4d3e2f"));
/// assert!(!router.routes("another"));
/// let app: axum::Router = axum::Router::new()
///     .route_service("/webhooks/claimr", WebhookLayer::new(Claimr::new("s")?).layer(router));
/// # Ok::<(), hookguard::ConfigError>(())
/// ```
pub struct CampaignRouter<E: WebhookEvent> {
    routes: Arc<Routes<E>>,
}

struct Routes<E: WebhookEvent> {
    campaigns: HashMap<Box<str>, Dispatcher<E>>,
    otherwise: Option<Dispatcher<E>>,
}

impl<E: WebhookEvent> Clone for Routes<E> {
    fn clone(&self) -> Self {
        Routes {
            campaigns: self.campaigns.clone(),
            otherwise: self.otherwise.clone(),
        }
    }
}

impl<E: WebhookEvent> Clone for CampaignRouter<E> {
    fn clone(&self) -> Self {
        CampaignRouter {
            routes: Arc::clone(&self.routes),
        }
    }
}

impl<E: WebhookEvent> Default for CampaignRouter<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: WebhookEvent> fmt::Debug for CampaignRouter<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CampaignRouter")
            .field("campaigns", &self.routes.campaigns)
            .field("otherwise", &self.routes.otherwise)
            .finish()
    }
}

impl<E: WebhookEvent> CampaignRouter<E> {
    /// A router with no campaigns: every delivery is answered as one of no campaign.
    pub fn new() -> Self {
        CampaignRouter {
            routes: Arc::new(Routes {
                campaigns: HashMap::new(),
                otherwise: None,
            }),
        }
    }

    /// Sends deliveries of campaign `id` (matched exactly) to `dispatcher`, replacing
    /// any dispatcher given for it before.
    ///
    /// # Errors
    ///
    /// [`ConfigError::BlankCampaign`] when `id` is blank.
    pub fn campaign(
        mut self,
        id: impl Into<String>,
        dispatcher: Dispatcher<E>,
    ) -> Result<Self, ConfigError> {
        let id = campaign_id(id.into())?;
        Arc::make_mut(&mut self.routes)
            .campaigns
            .insert(id, dispatcher);
        Ok(self)
    }

    /// Sends deliveries of every other campaign, and of none, to `dispatcher`.
    #[must_use]
    pub fn otherwise(mut self, dispatcher: Dispatcher<E>) -> Self {
        Arc::make_mut(&mut self.routes).otherwise = Some(dispatcher);
        self
    }

    /// Whether a dispatcher is given for campaign `id` itself.
    pub fn routes(&self, id: &str) -> bool {
        self.routes.campaigns.contains_key(id)
    }

    /// Routes one verified delivery and answers as the type docs say.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with time enabled, where the handler timeout has no timer.
    pub async fn dispatch(&self, delivery: Verified<E>) -> Response<Full<Bytes>> {
        match self.route(delivery) {
            Routed::Run(run) => run.await,
            Routed::Answered(response) => response,
        }
    }

    fn dispatchers(&self) -> impl Iterator<Item = &Dispatcher<E>> {
        self.routes
            .campaigns
            .values()
            .chain(self.routes.otherwise.as_ref())
    }

    fn route(&self, delivery: Verified<E>) -> Routed {
        let target = delivery
            .campaign()
            .and_then(|campaign| self.routes.campaigns.get(campaign))
            .or(self.routes.otherwise.as_ref());
        // What any dispatcher here would never acknowledge unhandled (a payment request,
        // an unknown event where one pays) goes only to a dispatcher that takes it so.
        let guarded = self
            .dispatchers()
            .any(|dispatcher| dispatcher.never_skips(&delivery));
        match target {
            Some(dispatcher) if !guarded || dispatcher.never_skips(&delivery) => {
                dispatcher.route(delivery)
            }
            _ => {
                let kind = delivery.kind();
                let payout = self.dispatchers().any(|d| d.pays_for(&kind));
                Routed::Answered(outside(&delivery, guarded, payout))
            }
        }
    }
}

/// Behind a [`WebhookLayer`](crate::WebhookLayer) of the same provider, as a
/// [`Dispatcher`] is.
impl<E: WebhookEvent> Service<Request<VerifiedBody<E>>> for CampaignRouter<E> {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = DispatchFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<VerifiedBody<E>>) -> DispatchFuture {
        match request.extensions_mut().remove::<Verified<E>>() {
            Some(delivery) => DispatchFuture::routed(self.route(delivery)),
            None => DispatchFuture::layer_missing(),
        }
    }
}

/// The answer to a delivery of a campaign not served: skipped with 200, or, when a 2xx
/// could be taken for "paid" (`refuse`), 500 and an error log naming the campaign;
/// `payout` when it is a payment request, for the payout count.
pub(crate) fn outside<E: WebhookEvent>(
    delivery: &Verified<E>,
    refuse: bool,
    payout: bool,
) -> Response<Full<Bytes>> {
    let campaign = delivery.campaign().unwrap_or("");
    let span = tracing::Span::current();
    if refuse {
        tracing::error!(
            provider = delivery.provider(),
            event = delivery.name(),
            id = delivery.id(),
            campaign,
            "event of a campaign not served refused with 500, not skipped: it is (or may \
             be) a payment request, which a 2xx would mark paid; serve the campaign in a \
             dispatcher that pays and the retries will be paid"
        );
        if payout {
            metrics::payout_answered(PayoutOutcome::OutsideCampaigns);
        }
        span.record("outcome", "outside_campaigns");
        plain_response(StatusCode::INTERNAL_SERVER_ERROR, "campaign not served")
    } else {
        tracing::debug!(
            provider = delivery.provider(),
            event = delivery.name(),
            id = delivery.id(),
            campaign,
            "event of a campaign not served here skipped"
        );
        span.record("outcome", "skipped");
        plain_response(StatusCode::OK, "skipped: campaign not served")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_campaign_list_is_never_empty_or_blank() {
        assert_eq!(
            Campaigns::new(Vec::<String>::new()).err(),
            Some(ConfigError::NoCampaigns)
        );
        assert_eq!(
            Campaigns::new(["c1", "  "]).err(),
            Some(ConfigError::BlankCampaign)
        );
        let campaigns = Campaigns::new(["c1", "c2"]).expect("two campaigns");
        assert!(campaigns.serves(Some("c2")));
        assert!(!campaigns.serves(Some("C2")), "matched exactly");
        assert!(!campaigns.serves(None));
    }
}
