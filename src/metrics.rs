//! The metrics hookguard records, through the [`metrics`](https://docs.rs/metrics) facade.
//!
//! Nothing is exported unless the application installs a recorder (the Prometheus
//! exporter `metrics-exporter-prometheus`, StatsD, anything that implements
//! `metrics::Recorder`); without one every call is a no-op. [`describe`] gives the
//! installed recorder each metric's help text and unit.
//!
//! | name | type | labels | what it counts |
//! |---|---|---|---|
//! | `hookguard_deliveries_total` | counter | `provider`, `event`, `status` | deliveries the layer answered, by the status answered (`"200"`, `"401"`); `event` is the event's name as sent, empty for a delivery refused before it was parsed |
//! | `hookguard_refusals_total` | counter | `provider`, `reason` | deliveries the layer refused, by [`Rejection::reason`](crate::Rejection::reason) (`signature_mismatch`, `missing_signature`, `stale_timestamp`, `body_too_large`, `malformed_json`, `invalid_payload`, …) |
//! | `hookguard_verify_duration_seconds` | histogram | `provider` | time to check a buffered delivery: signature, parse, the provider's checks |
//! | `hookguard_handler_duration_seconds` | histogram | `provider`, `event`, `outcome` | time a [`Dispatcher`](crate::Dispatcher) waited for a handler; `outcome` is `ok`, `error`, `panicked` or `timed_out` |
//! | `hookguard_payouts_total` | counter | `outcome` | payment requests answered by a payout handler, by outcome (below) |
//! | `hookguard_inbox_stored_total` | counter | `provider` | new deliveries stored in the inbox |
//! | `hookguard_inbox_duplicates_total` | counter | `provider` | deliveries the inbox already held |
//! | `hookguard_inbox_depth` | gauge | `provider` | inbox deliveries pending or running |
//! | `hookguard_inbox_oldest_pending_seconds` | gauge | `provider` | age of the oldest pending inbox delivery |
//! | `hookguard_inbox_retries_total` | counter | `provider`, `event` | inbox deliveries scheduled for another attempt |
//! | `hookguard_inbox_dead_total` | counter | `provider`, `event` | inbox deliveries given up on |
//! | `hookguard_inbox_handled_total` | counter | `provider`, `event` | inbox deliveries handled |
//!
//! Payout outcomes: `paid`; `already_paid` (acknowledged, not run); `failed` (the handler's
//! `Err`); `outcome_unknown` (its `PayoutError::outcome_unknown`); `panicked`; `busy`
//! (another delivery is paying it); `held` (`RecoveryPolicy::Hold`); `conflict` (the key
//! with another fingerprint); `lost_claim`; `interrupted` (the runtime shut down);
//! `store_unavailable`; `timed_out` (the handler timeout ended the wait; the run goes
//! on and the retry finds its outcome); `unsigned`, `missing_id`, `not_a_payment_request`
//! (refused, nothing claimed); `outside_campaigns` (refused with 500 by a dispatcher
//! limited to other campaigns, see [`campaign`](crate::campaign)). Only `paid` and
//! `already_paid` were answered 2xx.
//!
//! Every label value is bounded: providers are configured names, statuses and outcomes
//! are fixed sets, and `event` comes only from a verified delivery, so only a holder of
//! the secret chooses it; a name longer than 64 bytes, or with characters other than
//! ASCII letters, digits and `_ . - : /`, is counted as `_other`. No id or free text is
//! ever a label.
//!
//! The layer also opens a `tracing` span per delivery, named `webhook`, with the fields
//! `provider`, `event`, `id`, `attempt` (under the claim protocol), `status` (the answer)
//! and `outcome` (the refusal's reason, or what the dispatcher did: `ok`, `error`,
//! `panicked`, `timed_out`, `no_handler`, `unknown_event`, `skipped`,
//! `outside_campaigns`), entered around
//! verification and handling: every log line of the layer, the dispatcher and your
//! handlers carries them.
//!
//! ```
//! use hookguard::{claimr, Claimr, Dispatcher, Secret, WebhookLayer};
//! use http::{HeaderMap, Request};
//! use metrics_util::debugging::{DebugValue, DebuggingRecorder};
//! use tower::ServiceExt;
//!
//! // In a real receiver, a global recorder: `PrometheusBuilder::new().install_recorder()?`.
//! let recorder = DebuggingRecorder::new();
//! let snapshotter = recorder.snapshotter();
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
//! metrics::with_local_recorder(&recorder, || {
//!     runtime.block_on(async {
//!         let receiver = WebhookLayer::new(Claimr::new("secret")?)
//!             .layer(Dispatcher::<claimr::Event>::new().on_any(|_event| async { Ok(()) }));
//!         let body = br#"{"id":"msg_1","scope":"user_login","user_id":"u_1"}"#;
//!         let scheme = Claimr::default_scheme();
//!         let signature = scheme.sign(&Secret::new("secret")?, &HeaderMap::new(), body)?;
//!         let request = Request::post("/webhooks/claimr")
//!             .header("content-type", "application/json")
//!             .header(scheme.header(), signature)
//!             .body(http_body_util::Full::new(bytes::Bytes::from_static(body)))?;
//!         receiver.oneshot(request).await?;
//!         Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//!     })
//! })?;
//!
//! let answered = snapshotter.snapshot().into_vec().into_iter().find_map(|(key, _, _, value)| {
//!     let key = key.key();
//!     let status = key.labels().find(|label| label.key() == "status")?;
//!     (key.name() == hookguard::metrics::DELIVERIES_TOTAL && status.value() == "200").then_some(value)
//! });
//! assert_eq!(answered, Some(DebugValue::Counter(1)));
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! ```

use std::sync::Arc;
use std::time::Duration;

use ::metrics::{counter, gauge, histogram, SharedString, Unit};
use http::StatusCode;

/// Counter: deliveries the layer answered (`provider`, `event`, `status`).
pub const DELIVERIES_TOTAL: &str = "hookguard_deliveries_total";
/// Counter: deliveries the layer refused (`provider`, `reason`).
pub const REFUSALS_TOTAL: &str = "hookguard_refusals_total";
/// Histogram, seconds: time to check a buffered delivery (`provider`).
pub const VERIFY_DURATION_SECONDS: &str = "hookguard_verify_duration_seconds";
/// Histogram, seconds: time a dispatcher waited for a handler (`provider`, `event`,
/// `outcome`).
pub const HANDLER_DURATION_SECONDS: &str = "hookguard_handler_duration_seconds";
/// Counter: payment requests answered by a payout handler (`outcome`).
pub const PAYOUTS_TOTAL: &str = "hookguard_payouts_total";
/// Counter: new deliveries stored in the inbox (`provider`).
pub const INBOX_STORED_TOTAL: &str = "hookguard_inbox_stored_total";
/// Counter: deliveries the inbox already held (`provider`).
pub const INBOX_DUPLICATES_TOTAL: &str = "hookguard_inbox_duplicates_total";
/// Gauge: inbox deliveries pending or running (`provider`).
pub const INBOX_DEPTH: &str = "hookguard_inbox_depth";
/// Gauge, seconds: age of the oldest pending inbox delivery (`provider`).
pub const INBOX_OLDEST_PENDING_SECONDS: &str = "hookguard_inbox_oldest_pending_seconds";
/// Counter: inbox deliveries scheduled for another attempt (`provider`, `event`).
pub const INBOX_RETRIES_TOTAL: &str = "hookguard_inbox_retries_total";
/// Counter: inbox deliveries given up on (`provider`, `event`).
pub const INBOX_DEAD_TOTAL: &str = "hookguard_inbox_dead_total";
/// Counter: inbox deliveries handled (`provider`, `event`).
pub const INBOX_HANDLED_TOTAL: &str = "hookguard_inbox_handled_total";

/// Gives the installed recorder each metric's help text and unit (the Prometheus
/// exporter prints them as `# HELP` lines). Call it once, after installing the recorder;
/// the metrics are recorded whether it is called or not.
///
/// ```
/// use metrics::{Key, KeyName, Metadata, Recorder, SharedString, Unit};
/// use std::sync::Mutex;
///
/// /// A recorder that only keeps what it is told of each metric.
/// #[derive(Default)]
/// struct Descriptions(Mutex<Vec<(String, Option<Unit>)>>);
///
/// impl Recorder for Descriptions {
///     fn describe_counter(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
///         self.0.lock().unwrap().push((key.as_str().to_owned(), unit));
///     }
///     fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
///         self.0.lock().unwrap().push((key.as_str().to_owned(), unit));
///     }
///     fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
///         self.0.lock().unwrap().push((key.as_str().to_owned(), unit));
///     }
///     fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> metrics::Counter {
///         metrics::Counter::noop()
///     }
///     fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> metrics::Gauge {
///         metrics::Gauge::noop()
///     }
///     fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> metrics::Histogram {
///         metrics::Histogram::noop()
///     }
/// }
///
/// let recorder = Descriptions::default();
/// metrics::with_local_recorder(&recorder, hookguard::metrics::describe);
/// let described = recorder.0.lock().unwrap();
/// assert!(described.contains(&(
///     hookguard::metrics::VERIFY_DURATION_SECONDS.to_owned(),
///     Some(Unit::Seconds)
/// )));
/// assert_eq!(described.len(), 12);
/// ```
pub fn describe() {
    use ::metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(DELIVERIES_TOTAL, "Webhook deliveries answered, by status");
    describe_counter!(REFUSALS_TOTAL, "Webhook deliveries refused, by reason");
    describe_histogram!(
        VERIFY_DURATION_SECONDS,
        Unit::Seconds,
        "Time to verify and parse a buffered delivery"
    );
    describe_histogram!(
        HANDLER_DURATION_SECONDS,
        Unit::Seconds,
        "Time a dispatcher waited for a handler, by outcome"
    );
    describe_counter!(PAYOUTS_TOTAL, "Payment requests answered, by outcome");
    describe_counter!(INBOX_STORED_TOTAL, "New deliveries stored in the inbox");
    describe_counter!(INBOX_DUPLICATES_TOTAL, "Deliveries the inbox already held");
    describe_gauge!(INBOX_DEPTH, "Inbox deliveries pending or running");
    describe_gauge!(
        INBOX_OLDEST_PENDING_SECONDS,
        Unit::Seconds,
        "Age of the oldest pending inbox delivery"
    );
    describe_counter!(INBOX_RETRIES_TOTAL, "Inbox deliveries scheduled again");
    describe_counter!(INBOX_DEAD_TOTAL, "Inbox deliveries given up on");
    describe_counter!(INBOX_HANDLED_TOTAL, "Inbox deliveries handled");
}

/// How a handler's run ended, for [`HANDLER_DURATION_SECONDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandlerOutcome {
    /// It returned `Ok`.
    Ok,
    /// It returned `Err` (or the claim protocol refused the run).
    Error,
    /// It panicked.
    Panicked,
    /// It was still running at the handler timeout.
    TimedOut,
}

impl HandlerOutcome {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            HandlerOutcome::Ok => "ok",
            HandlerOutcome::Error => "error",
            HandlerOutcome::Panicked => "panicked",
            HandlerOutcome::TimedOut => "timed_out",
        }
    }
}

/// How a payment request was answered, for [`PAYOUTS_TOTAL`] (the module docs list
/// what each means).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PayoutOutcome {
    Paid,
    AlreadyPaid,
    Failed,
    OutcomeUnknown,
    Panicked,
    Busy,
    Held,
    Conflict,
    LostClaim,
    Interrupted,
    StoreUnavailable,
    TimedOut,
    Unsigned,
    MissingId,
    NotAPaymentRequest,
    OutsideCampaigns,
}

impl PayoutOutcome {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            PayoutOutcome::Paid => "paid",
            PayoutOutcome::AlreadyPaid => "already_paid",
            PayoutOutcome::Failed => "failed",
            PayoutOutcome::OutcomeUnknown => "outcome_unknown",
            PayoutOutcome::Panicked => "panicked",
            PayoutOutcome::Busy => "busy",
            PayoutOutcome::Held => "held",
            PayoutOutcome::Conflict => "conflict",
            PayoutOutcome::LostClaim => "lost_claim",
            PayoutOutcome::Interrupted => "interrupted",
            PayoutOutcome::StoreUnavailable => "store_unavailable",
            PayoutOutcome::TimedOut => "timed_out",
            PayoutOutcome::Unsigned => "unsigned",
            PayoutOutcome::MissingId => "missing_id",
            PayoutOutcome::NotAPaymentRequest => "not_a_payment_request",
            PayoutOutcome::OutsideCampaigns => "outside_campaigns",
        }
    }
}

/// A delivery the layer answered with `status`; `event` is empty when it was refused
/// before it was parsed.
pub(crate) fn delivery_answered(provider: &Arc<str>, event: SharedString, status: StatusCode) {
    counter!(
        DELIVERIES_TOTAL,
        "provider" => provider_label(provider),
        "event" => event,
        "status" => status_label(status),
    )
    .increment(1);
}

/// A delivery the layer refused, for `reason` ([`Rejection::reason`](crate::Rejection::reason)).
pub(crate) fn refused(provider: &Arc<str>, reason: &'static str) {
    counter!(
        REFUSALS_TOTAL,
        "provider" => provider_label(provider),
        "reason" => reason,
    )
    .increment(1);
}

/// A buffered delivery checked (signature, parse, provider checks) in `elapsed`.
pub(crate) fn verified_in(provider: &Arc<str>, elapsed: Duration) {
    histogram!(VERIFY_DURATION_SECONDS, "provider" => provider_label(provider))
        .record(elapsed.as_secs_f64());
}

/// A handler's run for an `event` delivery ended with `outcome` after `elapsed`.
pub(crate) fn handler_finished(
    provider: &Arc<str>,
    event: &Arc<str>,
    outcome: HandlerOutcome,
    elapsed: Duration,
) {
    histogram!(
        HANDLER_DURATION_SECONDS,
        "provider" => provider_label(provider),
        "event" => shared_event_label(event),
        "outcome" => outcome.as_str(),
    )
    .record(elapsed.as_secs_f64());
}

/// A payment request answered with `outcome`.
pub(crate) fn payout_answered(outcome: PayoutOutcome) {
    counter!(PAYOUTS_TOTAL, "outcome" => outcome.as_str()).increment(1);
}

/// A new delivery stored in the inbox of `provider`.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))] // the inbox's
pub(crate) fn inbox_stored(provider: &str) {
    counter!(INBOX_STORED_TOTAL, "provider" => provider.to_owned()).increment(1);
}

/// A delivery of `provider` that the inbox already held.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))] // the inbox's
pub(crate) fn inbox_duplicate(provider: &str) {
    counter!(INBOX_DUPLICATES_TOTAL, "provider" => provider.to_owned()).increment(1);
}

/// The number of `provider`'s inbox deliveries pending or running.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))] // the inbox's
pub(crate) fn inbox_depth(provider: &str, depth: u64) {
    // Exact below 2^53, far beyond any inbox.
    gauge!(INBOX_DEPTH, "provider" => provider.to_owned()).set(depth as f64);
}

/// The age of `provider`'s oldest pending inbox delivery (zero when none is pending).
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))] // the inbox's
pub(crate) fn inbox_oldest_pending(provider: &str, age: Duration) {
    gauge!(INBOX_OLDEST_PENDING_SECONDS, "provider" => provider.to_owned()).set(age.as_secs_f64());
}

/// An inbox delivery scheduled for another attempt.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))] // the inbox's
pub(crate) fn inbox_retried(provider: &str, event: &str) {
    counter!(
        INBOX_RETRIES_TOTAL,
        "provider" => provider.to_owned(),
        "event" => event_label(event),
    )
    .increment(1);
}

/// An inbox delivery given up on.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))] // the inbox's
pub(crate) fn inbox_dead(provider: &str, event: &str) {
    counter!(
        INBOX_DEAD_TOTAL,
        "provider" => provider.to_owned(),
        "event" => event_label(event),
    )
    .increment(1);
}

/// An inbox delivery handled.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))] // the inbox's
pub(crate) fn inbox_handled(provider: &str, event: &str) {
    counter!(
        INBOX_HANDLED_TOTAL,
        "provider" => provider.to_owned(),
        "event" => event_label(event),
    )
    .increment(1);
}

/// The provider's name, shared rather than copied.
fn provider_label(provider: &Arc<str>) -> SharedString {
    SharedString::from(Arc::clone(provider))
}

/// The label value for an event named `name`: the name itself when it is short and
/// plain, `_other` when it is not, so that no body can put free text in a label.
pub(crate) fn event_label(name: &str) -> SharedString {
    match plain(name) {
        Some(true) => SharedString::from(name.to_owned()),
        Some(false) => SharedString::const_str("_other"),
        None => SharedString::const_str(""),
    }
}

/// [`event_label`] of a name already shared: the same, without a copy.
fn shared_event_label(name: &Arc<str>) -> SharedString {
    match plain(name) {
        Some(true) => SharedString::from(Arc::clone(name)),
        Some(false) => SharedString::const_str("_other"),
        None => SharedString::const_str(""),
    }
}

/// Whether `name` may be a label value as it is; `None` when it is empty.
fn plain(name: &str) -> Option<bool> {
    const LONGEST: usize = 64;
    if name.is_empty() {
        return None;
    }
    Some(
        name.len() <= LONGEST
            && name.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b':' | b'/')
            }),
    )
}

/// Every status code's three digits, from 100 to 999, so that a status label is a
/// static string and costs no allocation.
static STATUS_DIGITS: [u8; 2700] = status_digits();

const fn status_digits() -> [u8; 2700] {
    let mut digits = [0u8; 2700];
    let mut code = 100;
    while code < 1000 {
        let at = (code - 100) * 3;
        digits[at] = b'0' + (code / 100) as u8;
        digits[at + 1] = b'0' + (code / 10 % 10) as u8;
        digits[at + 2] = b'0' + (code % 10) as u8;
        code += 1;
    }
    digits
}

/// `status` as its three digits (`"200"`).
fn status_label(status: StatusCode) -> &'static str {
    let at = usize::from(status.as_u16()).saturating_sub(100) * 3;
    STATUS_DIGITS
        .get(at..at + 3)
        .and_then(|digits| std::str::from_utf8(digits).ok())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use ::metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

    use super::*;

    /// A metric's name, its labels (sorted) and its value.
    type Series = (String, Vec<(String, String)>, DebugValue);

    /// One snapshot of a debugging recorder, read by name and labels.
    struct Recorded(Vec<Series>);

    impl Recorded {
        /// Takes a snapshot, which drains the recorder.
        fn take(snapshotter: &Snapshotter) -> Self {
            Recorded(
                snapshotter
                    .snapshot()
                    .into_vec()
                    .into_iter()
                    .map(|(key, _, _, value)| {
                        let key = key.key();
                        let mut labels: Vec<(String, String)> = key
                            .labels()
                            .map(|l| (l.key().to_owned(), l.value().to_owned()))
                            .collect();
                        labels.sort_unstable();
                        (key.name().to_owned(), labels, value)
                    })
                    .collect(),
            )
        }

        /// The value recorded under `name` with exactly `labels` (in any order).
        fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<&DebugValue> {
            let mut wanted: Vec<(String, String)> = labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            wanted.sort_unstable();
            self.0
                .iter()
                .find(|(n, l, _)| n == name && *l == wanted)
                .map(|(_, _, value)| value)
        }
    }

    #[test]
    fn status_labels_are_the_three_digits() {
        for code in [100, 200, 204, 401, 422, 500, 503, 599, 999] {
            let status = StatusCode::from_u16(code).expect("a status");
            assert_eq!(status_label(status), status.as_str());
        }
    }

    #[test]
    fn event_labels_keep_plain_names_only() {
        assert_eq!(&*event_label("user_activity"), "user_activity");
        assert_eq!(&*event_label("invoice.paid"), "invoice.paid");
        assert_eq!(&*event_label(""), "");
        assert_eq!(&*event_label("a b"), "_other");
        assert_eq!(&*event_label("\u{e9}"), "_other");
        assert_eq!(&*event_label(&"x".repeat(65)), "_other");
        assert_eq!(&*event_label(&"x".repeat(64)), "x".repeat(64));
    }

    #[test]
    fn the_inbox_metrics_record_under_their_names_and_labels() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        ::metrics::with_local_recorder(&recorder, || {
            inbox_stored("claimr");
            inbox_stored("claimr");
            inbox_duplicate("claimr");
            inbox_depth("claimr", 7);
            inbox_oldest_pending("claimr", Duration::from_millis(2500));
            inbox_retried("claimr", "user_login");
            inbox_dead("claimr", "user_login");
            inbox_handled("claimr", "user_login");
            inbox_handled("claimr", "free text here");
        });
        let recorded = Recorded::take(&snapshotter);
        let provider = [("provider", "claimr")];
        let event = [("provider", "claimr"), ("event", "user_login")];
        let counter = |n| Some(DebugValue::Counter(n));
        assert_eq!(
            recorded.get(INBOX_STORED_TOTAL, &provider),
            counter(2).as_ref()
        );
        assert_eq!(
            recorded.get(INBOX_DUPLICATES_TOTAL, &provider),
            counter(1).as_ref()
        );
        assert_eq!(
            recorded.get(INBOX_DEPTH, &provider),
            Some(&DebugValue::Gauge(7.0.into()))
        );
        assert_eq!(
            recorded.get(INBOX_OLDEST_PENDING_SECONDS, &provider),
            Some(&DebugValue::Gauge(2.5.into()))
        );
        assert_eq!(
            recorded.get(INBOX_RETRIES_TOTAL, &event),
            counter(1).as_ref()
        );
        assert_eq!(recorded.get(INBOX_DEAD_TOTAL, &event), counter(1).as_ref());
        assert_eq!(
            recorded.get(INBOX_HANDLED_TOTAL, &event),
            counter(1).as_ref()
        );
        // Free text is never a label value.
        assert_eq!(
            recorded.get(
                INBOX_HANDLED_TOTAL,
                &[("provider", "claimr"), ("event", "_other")]
            ),
            counter(1).as_ref()
        );
    }
}
