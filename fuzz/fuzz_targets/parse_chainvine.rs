//! ChainVine bodies: any bytes give an event or a parse error, never a panic, with the
//! default event names and with a renamed payment request; amounts are exact decimals,
//! the raw data is JSON, and the payout key and fingerprint are computed without a panic.
#![no_main]

use hookguard::chainvine::{Event, EventKind, EventNames};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let renamed = EventNames::default().with_payment_request("PAYOUT_REQUESTED");
    for parsed in [
        Event::from_slice(data),
        Event::from_slice_with(data, &renamed),
    ] {
        let Ok(event) = parsed else {
            continue;
        };
        assert!(
            std::str::from_utf8(data).is_ok(),
            "accepted a body that is not UTF-8"
        );
        let kind = event.kind();
        match EventKind::from_name(event.name()) {
            EventKind::Unknown => assert!(matches!(
                kind,
                EventKind::Unknown | EventKind::PaymentRequest
            )),
            named => assert_eq!(named, kind),
        }
        assert_eq!(
            event.payment_request().is_some(),
            kind == EventKind::PaymentRequest
        );
        if let Some(amount) = event.payment_request().and_then(|r| r.amount()) {
            let text = amount.as_str();
            assert!(text.parse::<hookguard::amount::Amount>().is_ok(), "{text}");
        }
        let _ = event.id();
        // What a payout handler reads: none of it may panic on an accepted body.
        let _ = format!("{event:?}");
        let _ = hookguard::payout::idempotency_key(&event);
        if let Some(request) = event.payment_request() {
            // Read as the serde path keeps it (`RawValue`), which is what the library
            // accepts: deeper nesting than a `Value` reads, and lone surrogate escapes.
            let raw = request.raw();
            assert!(serde_json::from_str::<Box<serde_json::value::RawValue>>(raw.get()).is_ok());
            let _ = hookguard::payout::fingerprint(request);
        }
        serde_json::to_vec(&event).expect("an event serializes");
    }
});
